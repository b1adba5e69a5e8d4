"""`python -m xmodal.index` as a user runs it: build, add, info, and one-line errors."""
import json
import subprocess
import sys

import pytest

from tests.conftest import empty_test_split
from tfrecords_tools.errors import UserError
from xmodal.index import IndexConfig, run


def index(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xmodal.index", *args], capture_output=True, text=True, timeout=300)


def test_build_add_and_info(tiny_model, tiny_data, tmp_path):
    out = str(tmp_path / "index")
    built = index("build", "--model", tiny_model, "--data", tiny_data, "--splits", "train", "--out", out)
    assert built.returncode == 0, built.stderr[-2000:]
    assert "index: 9 shapes, 128 dimensions, exact" in built.stdout
    assert "calibration: 12 matched pairs of the test split, distances " in built.stdout  # the export's, carried
    added = index("add", "--index", out, "--data", tiny_data, "--splits", "test")
    assert added.returncode == 0 and "added 3 objects" in added.stdout and "index: 12 shapes" in added.stdout
    info = index("info", out, "--json")
    description = json.loads(info.stdout)
    assert description["count"] == 12 and description["categories"] == {"car": 12}
    assert [s["splits"] for s in description["sources"]] == [["train"], ["test"]]


@pytest.mark.parametrize("args, words", [
    (("build", "--model", "{model}", "--out", "{tmp}/a"), "nothing to index"),
    (("build", "--model", "{model}", "--data", "{tmp}/missing", "--out", "{tmp}/b"), "does not exist"),
    (("build", "--model", "{model}", "--data", "{data}", "--splits", "val", "--out", "{tmp}/c"), "no split 'val'"),
    (("build", "--model", "{tmp}", "--data", "{data}", "--out", "{tmp}/d"), "is not a SavedModel"),
    (("add", "--index", "{tmp}", "--data", "{data}"), "not an index"),
    (("info", "{tmp}"), "not an index"),
])
def test_mistakes_are_one_line(args, words, tiny_model, tiny_data, tmp_path):
    filled = [a.format(model=tiny_model, data=tiny_data, tmp=tmp_path) for a in args]
    done = index(*filled)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and words in line, line


def test_an_empty_split_is_named(tiny_model, tiny_data, tmp_path):
    data = empty_test_split(tiny_data, tmp_path)
    with pytest.raises(UserError, match=f"nothing to index: {data} holds no objects in its split\\(s\\) test$"):
        run(IndexConfig(out=str(tmp_path / "index"), model=tiny_model, data=(str(data),), splits=("test",)))

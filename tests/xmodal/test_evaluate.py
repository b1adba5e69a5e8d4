"""evaluate and embed on broken datasets (one line naming the shard), on empty splits and with outputs they cannot
write (one line before any work): exit 2, no traceback."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import empty_test_split
from tfrecords_tools.errors import run_cli
from xmodal import embed, evaluate

TEST_SHARD = "test-00000-of-00001.tfrecord"


def broken_copy(data: str, root: Path, lie_views: bool) -> Path:
    """A copy of `data` whose manifest lies about the views, or whose test shard has a flipped bit in its last record."""
    copy = root / "data"
    shutil.copytree(data, copy)
    if lie_views:
        manifest = json.loads((copy / "manifest.json").read_text())
        (copy / "manifest.json").write_text(json.dumps({**manifest, "views": 6}))
    else:
        shard = bytearray((copy / TEST_SHARD).read_bytes())
        shard[-100] ^= 0x10
        (copy / TEST_SHARD).write_bytes(bytes(shard))
    return copy


@pytest.mark.parametrize("module, lie_views, message", [
    ("xmodal.evaluate", True, f"{TEST_SHARD}: record 0 holds 4 views (16 viewpoint values), the manifest says views 6"),
    ("xmodal.evaluate", False, f"{TEST_SHARD}: record index 2 is unreadable (corrupted record at "),
    ("xmodal.embed", False, f"{TEST_SHARD}: record index 2 is unreadable (corrupted record at "),
])
def test_broken_dataset_is_one_line_naming_the_shard(tiny_model, tiny_data, tmp_path, module, lie_views, message):
    data = broken_copy(tiny_data, tmp_path, lie_views)
    extra = ["--logdir", str(tmp_path / "logs")] if module == "xmodal.embed" else []
    done = subprocess.run([sys.executable, "-m", module, "--model", tiny_model, "--data", str(data), *extra],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def in_process(monkeypatch, capsys, module, *args: str) -> tuple[int, str]:
    """(exit status, stderr) of a CLI's main run in this process as `python -m` runs it."""
    monkeypatch.setattr(sys, "argv", [module.__name__, *args])
    try:
        run_cli(module.main)
    except SystemExit as exit:
        return exit.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


@pytest.mark.parametrize("name, args", [
    ("evaluate", ()), ("evaluate", ("--perturb",)), ("embed", ("--logdir", "{tmp}/logs")),
])
def test_an_empty_split_is_one_line(name, args, tiny_model, tiny_data, tmp_path, monkeypatch, capsys):
    data = empty_test_split(tiny_data, tmp_path)
    status, err = in_process(monkeypatch, capsys, {"evaluate": evaluate, "embed": embed}[name], "--model", tiny_model,
                             "--data", str(data), *(a.format(tmp=tmp_path) for a in args))
    assert status == 2 and err.strip().splitlines() == [f"error: split 'test' of {data} is empty" +
                                                        (": no object to embed" if name == "embed" else "")]


@pytest.mark.parametrize("name, args, words", [
    ("evaluate", ("--out", "{tmp}"), "--out {tmp} is a folder: name a file in it"),
    ("evaluate", ("--out", "{unwritable}/m.json"), "--out {unwritable}/m.json: cannot create its folder"),
    ("embed", ("--logdir", "{tmp}/notes.txt"), "--logdir {tmp}/notes.txt is a file, not a folder"),
    ("embed", ("--logdir", "{unwritable}"), "--logdir {unwritable}: cannot create it"),
    ("embed", ("--logdir", "{tmp}/logs", "--tsne", "{tmp}"), "--tsne {tmp} is a folder: name a picture file"),
    ("embed", ("--logdir", "{tmp}/logs", "--tsne", "{tmp}/tsne"), "--tsne {tmp}/tsne: name a picture file ending"),
    ("embed", ("--logdir", "{tmp}/logs", "--tsne", "{tmp}/t.psd"), "--tsne {tmp}/t.psd: name a picture file ending"),
])
def test_a_bad_output_is_one_line_before_any_work(name, args, words, unwritable, tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    values = {"tmp": tmp_path, "unwritable": unwritable}
    status, err = in_process(monkeypatch, capsys, {"evaluate": evaluate, "embed": embed}[name],
                             "--model", str(tmp_path / "no-model-needed"), "--data", str(tmp_path / "no-data-needed"),
                             *(a.format(**values) for a in args))
    [line] = err.strip().splitlines()
    assert status == 2 and line.startswith(f"error: {words.format(**values)}"), line
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_outputs_in_missing_folders_are_made(tiny_model, tiny_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "new" / "deeper" / "metrics.json"
    status, err = in_process(monkeypatch, capsys, evaluate, "--model", tiny_model, "--data", tiny_data, "--out", str(out))
    assert status == 0, err
    assert json.loads(out.read_text())["n_objects"] == 3
    tsne = tmp_path / "other" / "tsne.png"
    status, err = in_process(monkeypatch, capsys, embed, "--model", tiny_model, "--data", tiny_data, "--objects", "2",
                             "--logdir", str(tmp_path / "logs" / "run"), "--tsne", str(tsne))
    assert status == 0, err
    assert tsne.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "logs" / "run" / "projector" / "metadata.tsv").is_file()

"""evaluate and embed on broken datasets: one line naming the shard, exit 2, no traceback."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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

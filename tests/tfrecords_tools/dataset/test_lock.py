"""One writer per output: a second convert or fit on the same output fails at once, naming the holder."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.errors import UserError
from tfrecords_tools.inspect import verify
from tfrecords_tools.dataset.lock import LOCK, output_lock
from xmodal.training.config import FitConfig
from xmodal.fit import fit

FLAGS = ["--voxel-res", "32", "--image-size", "64", "--views", "4", "--workers", "1", "--seed", "3"]


def convert_command(meshes: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "tfrecords_tools", "convert", "--meshes", meshes, "--out", str(out), *FLAGS]


def test_second_convert_fails_at_once_naming_the_first_and_the_lock_dies_with_it(tiny_meshes, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen(convert_command(tiny_meshes, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.time() + 120
        while not ((out / LOCK).is_file() and (out / LOCK).read_text() == f"{first.pid}\n") and time.time() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGSTOP)  # the first stays mid-run, holding its lock, until killed
        second = subprocess.run(convert_command(tiny_meshes, out), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"{out} is in use by process {first.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    with output_lock(out):  # the kernel released the killed holder's lock
        assert (out / LOCK).read_text() == f"{os.getpid()}\n"


def test_fit_refuses_a_run_directory_in_use(tiny_data, tmp_path):
    run = tmp_path / "run"
    with output_lock(run):
        with pytest.raises(UserError, match=f"in use by process {os.getpid()}"):
            fit(FitConfig(data=tiny_data, out=str(run), export=str(tmp_path / "sm"), steps=2, loss="triplet",
                          batch_size=4))
    assert sorted(p.name for p in run.iterdir()) == [LOCK]  # nothing written: no config.json, no checkpoint


def test_convert_refuses_an_output_in_use(tiny_meshes, tmp_path):
    out = tmp_path / "out"
    with output_lock(out), pytest.raises(UserError, match=f"in use by process {os.getpid()}"):
        convert(ConvertConfig(meshes=tiny_meshes, out=str(out), **TINY))


def test_lock_file_is_emptied_after_a_run_and_datasets_still_verify(tiny_data):
    assert (Path(tiny_data) / LOCK).read_text() == ""
    manifest = verify(tiny_data)
    assert LOCK not in str(manifest["splits"])


def test_read_only_output_is_one_line(tiny_meshes, unwritable):
    done = subprocess.run(convert_command(tiny_meshes, unwritable), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"cannot write to {unwritable}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_fit_on_a_read_only_run_directory_is_a_user_error(tiny_data, unwritable, tmp_path):
    with pytest.raises(UserError, match="cannot write to"):
        fit(FitConfig(data=tiny_data, out=str(unwritable), export=str(tmp_path / "sm"), steps=2, loss="triplet",
                      batch_size=4))

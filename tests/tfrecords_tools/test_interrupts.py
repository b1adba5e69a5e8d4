"""Ctrl-C and `kill -9` of a real `convert --workers 2`: it stops within seconds and its workers never outlive it."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY
from tests.tfrecords_tools.test_convert import shard_bytes
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.synth import synth_dataset

FLAGS = ["--voxel-res", "32", "--image-size", "64", "--views", "4", "--workers", "2", "--seed", "3"]  # conftest TINY
INTERRUPTED = "interrupted: finished work is kept; rerun the same command to resume"


def start_convert(meshes: str, out: Path) -> subprocess.Popen:
    """`convert` in a process group of its own, as a terminal starts a command."""
    return subprocess.Popen([sys.executable, "-m", "tfrecords_tools", "convert", "--meshes", meshes, "--out", str(out),
                             *FLAGS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def children(pid: int) -> list[int]:
    """Pids of a process's children (its workers and multiprocessing's resource tracker)."""
    found = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in listing.read_text().split()]
        except OSError:
            pass
    return found


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def workers_started(process: subprocess.Popen) -> list[int]:
    """Wait until both workers run; all children of `process` then."""
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        kids = children(process.pid)
        spawned = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
        if len(spawned) >= 2:
            return kids
        time.sleep(0.05)
    raise AssertionError(f"the workers did not start: {process.communicate()[1][-2000:]}")


def interrupt(process: subprocess.Popen, delay: float) -> None:
    """Ctrl-C to the process group `delay` seconds after the workers started; it must exit 130 within seconds."""
    workers_started(process)
    time.sleep(delay)
    sent = time.time()
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("convert hung after Ctrl-C") from None
    stderr = process.stderr.read()
    assert process.returncode == 130, stderr[-2000:]
    assert time.time() - sent < 15  # mostly the interpreter's own exit with TensorFlow loaded
    assert stderr.rstrip().endswith(INTERRUPTED) and "Traceback" not in stderr and "Error" not in stderr


def test_ctrl_c_while_the_workers_start_exits_130_with_one_line(tiny_meshes, tmp_path):
    interrupt(start_convert(tiny_meshes, tmp_path / "out"), 0.0)


@pytest.fixture(scope="module")
def many_meshes(tmp_path_factory) -> tuple[str, str]:
    """(120 cars, their uninterrupted conversion): enough work that a Ctrl-C after 2 s lands mid-conversion."""
    root = tmp_path_factory.mktemp("many")
    synth_dataset(str(root / "meshes"), 120, seed=1)
    convert(ConvertConfig(meshes=str(root / "meshes"), out=str(root / "data"), **TINY))
    return str(root / "meshes"), str(root / "data")


def test_ctrl_c_while_converting_exits_130_and_a_rerun_gives_the_uninterrupted_shards(many_meshes, tmp_path):
    meshes, uninterrupted = many_meshes
    out = tmp_path / "out"
    interrupt(start_convert(meshes, out), 2.0)
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "convert", "--meshes", meshes, "--out",
                           str(out), *FLAGS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shard_bytes(str(out)) == shard_bytes(uninterrupted)


def test_workers_exit_within_seconds_when_the_parent_is_killed(tiny_meshes, tmp_path):
    process = start_convert(tiny_meshes, tmp_path / "out")
    kids = workers_started(process)
    time.sleep(1.0)
    process.kill()
    process.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(is_running(k) for k in kids):
        time.sleep(0.1)
    assert not [k for k in kids if is_running(k)]

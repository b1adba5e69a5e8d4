"""Ctrl-C and `kill -9` of a real `convert --workers 2`: it stops within seconds and its workers never outlive it."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import TINY
from tests.tfrecords_tools.test_convert import shard_bytes
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.synth.dataset import synth_dataset

FLAGS = ["--voxel-res", "32", "--image-size", "64", "--views", "4", "--workers", "2", "--seed", "3"]  # conftest TINY
INTERRUPTED = "interrupted: finished work is kept; rerun the same command to resume"
MANY = 240  # about 2 s of conversion on 2 quiet cores: the interrupt comes when the first objects are done


def default_ctrl_c() -> None:
    """Let SIGINT interrupt, as in a terminal, even when the tests run where it is ignored (`cmd &` in a script)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_convert(meshes: str, out: Path) -> subprocess.Popen:
    """`convert` in a process group of its own, as a terminal starts a command."""
    return subprocess.Popen([sys.executable, "-m", "tfrecords_tools", "convert", "--meshes", meshes, "--out", str(out),
                             *FLAGS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=default_ctrl_c)


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


class Stderr:
    """A process's standard error as it arrives, read by a thread of its own."""

    def __init__(self, process: subprocess.Popen):
        self.text = ""
        self.thread = threading.Thread(target=self.read, args=(process.stderr,), daemon=True)
        self.thread.start()

    def read(self, stream) -> None:
        for char in iter(lambda: stream.read(1), ""):
            self.text += char


def converted(stderr: str) -> int:
    """Objects done, by the newest progress line of `convert` (0 before the first)."""
    counts = re.findall(r"\| *(\d+)/\d+ \[", stderr)
    return int(counts[-1]) if counts else 0


def interrupt(process: subprocess.Popen, ready: Callable[[str], bool]) -> None:
    """Ctrl-C to the process group once the workers run and `ready(stderr so far)`; it must exit 130 within seconds."""
    workers_started(process)
    stderr = Stderr(process)
    deadline = time.time() + 120
    while not ready(stderr.text) and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    sent = time.time()
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("convert hung after Ctrl-C") from None
    stderr.thread.join(timeout=10)
    assert process.returncode == 130, stderr.text[-2000:]
    assert time.time() - sent < 15  # mostly the interpreter's own exit with TensorFlow loaded
    assert stderr.text.rstrip().endswith(INTERRUPTED) and "Traceback" not in stderr.text and "Error" not in stderr.text


def test_ctrl_c_while_the_workers_start_exits_130_with_one_line(tiny_meshes, tmp_path):
    interrupt(start_convert(tiny_meshes, tmp_path / "out"), lambda stderr: True)


@pytest.fixture(scope="module")
def many_meshes(tmp_path_factory) -> tuple[str, str]:
    """(MANY cars, their uninterrupted conversion): enough work to interrupt mid-conversion."""
    root = tmp_path_factory.mktemp("many")
    synth_dataset(str(root / "meshes"), MANY, seed=1)
    convert(ConvertConfig(meshes=str(root / "meshes"), out=str(root / "data"), **TINY))
    return str(root / "meshes"), str(root / "data")


def test_ctrl_c_while_converting_exits_130_and_a_rerun_gives_the_uninterrupted_shards(many_meshes, tmp_path):
    meshes, uninterrupted = many_meshes
    out = tmp_path / "out"
    interrupt(start_convert(meshes, out), lambda stderr: converted(stderr) > 0)  # some shards' work done, most not
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

"""Quiet TensorFlow (its C++ log level set before it loads, from --verbose), Ctrl-C at any moment, a full disk, a
closed stdout pipe."""
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.tfrecords_tools.test_interrupts import default_ctrl_c
from tfrecords_tools.errors import (INTERRUPTED, is_disk_full, no_space, run_cli, set_tensorflow_log_level,
                                    size_text)

TF_LOG_LINE = re.compile(r"^[IWE]\d{4} ", re.MULTILINE)  # TensorFlow's C++ log lines: I0000, W0000, E0000 ...


def without_log_level() -> dict:
    """This environment without TF_CPP_MIN_LOG_LEVEL (the test process sets it), as a user's shell has it."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def test_fit_is_quiet_by_default(tiny_data, tmp_path):
    """InfoNCE training made grappler's remapper print an E0000 line; no TensorFlow log line reaches stderr."""
    done = subprocess.run([sys.executable, "-m", "xmodal.fit", "--data", tiny_data, "--steps", "3",
                           "--objects-per-batch", "4", "--views-per-object", "2", "--out", str(tmp_path / "run"),
                           "--export", str(tmp_path / "export")],
                          capture_output=True, text=True, timeout=600, env=without_log_level())
    assert done.returncode == 0, done.stderr[-2000:]
    assert not TF_LOG_LINE.search(done.stderr) and "remapper" not in done.stderr, done.stderr[-2000:]


def test_log_level_is_fatal_only_unless_our_cli_runs_verbose(monkeypatch):
    for argv, level in ((["/src/tfrecords_tools/__main__.py", "inspect", "DATA"], "3"),
                        (["/usr/lib/pytest/__main__.py", "--verbose"], "3"),  # another program's --verbose
                        (["-m", "--data", "D", "--verbose"], "0"),  # while `python -m xmodal.fit` loads its package
                        (["/src/tfrecords_tools/__main__.py", "inspect", "DATA", "--verbose"], "0")):
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
        monkeypatch.setattr(sys, "argv", argv)
        set_tensorflow_log_level()
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == level, argv


def test_verbose_brings_tensorflow_logs_back(tiny_data):
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "inspect", tiny_data, "--verbose"],
                          capture_output=True, text=True, timeout=300, env=without_log_level())
    assert done.returncode == 0 and "all shards verified" in done.stdout, done.stderr[-2000:]
    assert TF_LOG_LINE.search(done.stderr)


@pytest.mark.parametrize("delay", [0.5, 4.0])  # while TensorFlow loads; once the run has begun
def test_ctrl_c_at_any_moment_of_fit_exits_130_with_one_line(tiny_data, tmp_path, delay):
    process = subprocess.Popen([sys.executable, "-m", "xmodal.fit", "--data", tiny_data, "--steps", "100000",
                                "--objects-per-batch", "4", "--views-per-object", "2", "--out", str(tmp_path / "run")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=default_ctrl_c)
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert stderr.rstrip().endswith(INTERRUPTED) and "Traceback" not in stderr, stderr[-2000:]


def test_a_full_disk_is_one_line_naming_the_path_and_exit_2(capsys):
    def write() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/shard-0.tfrecord")

    with pytest.raises(SystemExit) as stop:
        run_cli(write)
    line = capsys.readouterr().err
    assert stop.value.code == 2 and line.count("\n") == 1
    assert line.startswith("error: no space left on the device of /data/out/shard-0.tfrecord") and " free" in line


def test_tensorflow_errors_of_a_full_disk_are_recognised_and_others_are_not():
    assert is_disk_full(RuntimeError("ckpt-3_temp/part-0.data; No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_no_space_states_what_is_needed_and_what_is_free(tmp_path):
    message = str(no_space(tmp_path / "missing" / "file", needed=3_400_000))
    free = shutil.disk_usage(tmp_path).free
    assert "needs about 3.4 MB" in message and size_text(free) in message
    assert [size_text(n) for n in (512, 1500, 2_500_000, 7e12)] == ["512 B", "1.5 kB", "2.5 MB", "7000.0 GB"]


@pytest.mark.parametrize("unbuffered", ["", "1"])  # the closed pipe met at the final flush; by a print inside main
def test_a_stdout_pipe_closed_by_its_reader_exits_1_quietly(tiny_data, unbuffered):
    """`inspect DATA | head -0`: the reader is gone before the first line is written; no BrokenPipeError shown."""
    reader, writer = os.pipe()
    os.close(reader)  # closed before the command writes, so its first write meets a closed pipe (no race)
    try:
        process = subprocess.Popen([sys.executable, "-m", "tfrecords_tools", "inspect", tiny_data],
                                   stdout=writer, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": unbuffered})
    finally:
        os.close(writer)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1 and stderr == "", stderr[-2000:]


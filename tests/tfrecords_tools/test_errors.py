"""Quiet TensorFlow: its C++ log level is set before it loads, from --verbose on the command line."""
import os
import re
import subprocess
import sys

from tfrecords_tools.errors import set_tensorflow_log_level

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

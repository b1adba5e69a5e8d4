"""Invalid numeric flags are refused by the parser of every CLI: exit 2, one `error:` line, no traceback."""
import argparse
import importlib
import subprocess
import sys

import pytest

from tfrecords_tools.flags import fraction, positive_float, positive_int, seed

CONVERT = ["convert", "--meshes", "M", "--out", "O"]
RETRIEVE = ["--model", "M", "--index", "I"]
EMBED = ["--model", "M", "--data", "D", "--logdir", "L"]
CASES = [  # (module of main(), argv, bad flag, bad value)
    ("tfrecords_tools.cli", ["synth", "--out", "O"], "--objects", "0"),
    ("tfrecords_tools.cli", ["synth", "--out", "O"], "--seed", "-1"),
    ("tfrecords_tools.cli", CONVERT, "--shard-mb", "0"),
    ("tfrecords_tools.cli", CONVERT, "--seed", "-1"),
    ("tfrecords_tools.cli", CONVERT, "--workers", "0"),
    ("tfrecords_tools.cli", CONVERT, "--voxel-res", "0"),
    ("tfrecords_tools.cli", CONVERT, "--views", "0"),
    ("tfrecords_tools.cli", CONVERT, "--image-size", "-64"),
    ("tfrecords_tools.cli", CONVERT, "--test-fraction", "1.5"),
    ("tfrecords_tools.cli", CONVERT, "--shard-mb", "nan"),
    ("tfrecords_tools.cli", CONVERT, "--light-jitter", "1.5"),
    ("tfrecords_tools.cli", CONVERT, "--fov-jitter", "0.9"),
    ("tfrecords_tools.cli", CONVERT, "--off-centre", "-0.1"),
    ("tfrecords_tools.cli", CONVERT, "--truncation", "nan"),
    ("tfrecords_tools.cli", CONVERT, "--material-jitter", "2"),
    ("pipelines.convert", CONVERT[1:], "--shard-mb", "0"),
    ("pipelines.convert", CONVERT[1:], "--views", "0"),
    ("pipelines.convert", CONVERT[1:], "--off-centre", "1.01"),
    ("xmodal.fit", [], "--learning-rate", "-1"),
    ("xmodal.fit", [], "--steps", "0"),
    ("xmodal.fit", [], "--seed", "-1"),
    ("xmodal.fit", [], "--batch-size", "two"),
    ("xmodal.fit", [], "--temperature", "0"),
    ("xmodal.fit", [], "--checkpoint-every", "0"),
    ("xmodal.retrieve", RETRIEVE, "--k", "0"),
    ("xmodal.embed", EMBED, "--objects", "0"),
]


def entry_point(module: str):
    """The function that parses the flags of a CLI module."""
    loaded = importlib.import_module(module)
    return (lambda: loaded.parse_config()) if module == "xmodal.fit" else loaded.main


@pytest.mark.parametrize("module, argv, flag, value", CASES)
def test_invalid_numeric_flag_is_one_parser_error(module, argv, flag, value, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module, *argv, flag, value])
    with pytest.raises(SystemExit) as exited:
        entry_point(module)()
    assert exited.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and f"argument {flag}" in errors[0]


def test_valid_values_pass_through():
    assert (positive_int("3"), seed("0"), seed("4294967295"), positive_float("1e-4"), fraction("0")) == \
           (3, 0, 4294967295, 1e-4, 0.0)
    for check, text in ((positive_int, "1.5"), (seed, str(2**32)), (positive_float, "inf"), (fraction, "1")):
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


@pytest.mark.parametrize("argv", [
    ["tfrecords_tools", "convert", "--meshes", "M", "--out", "O", "--shard-mb", "0"],
    ["xmodal.fit", "--learning-rate", "-1"],
])
def test_cli_process_exits_2_without_traceback(argv):
    done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [error] = [line for line in done.stderr.splitlines() if "error:" in line]
    assert error.endswith(f"argument {argv[-2]}: must be greater than 0, got {float(argv[-1])}")

"""User-facing errors, the CLI wrapper that turns them into one line and exit status 2, and quiet TensorFlow."""
import argparse
import os
import sys
from pathlib import Path
from typing import Callable

VERBOSE = "--verbose"  # the flag of every TensorFlow-using CLI that brings TensorFlow's own log lines back
PACKAGES = ("tfrecords_tools", "xmodal", "pipelines")  # whose modules are our CLIs


class UserError(Exception):
    """A mistake in the user's input: reported as one line, never as a traceback."""


def first_few(names: list[str], shown: int = 3) -> str:
    """`a, b, c, ...`: the first names of a list, for a message."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def run_cli(main: Callable[[], None]) -> None:
    """Run a CLI entry point; a UserError prints `error: ...` on stderr and exits 2."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
        sys.exit(130)


def verbose() -> bool:
    """Whether one of our CLIs runs with --verbose, read before argparse: TensorFlow reads its log level on import.

    Only our own programs count (`python -m xmodal.fit` has argv[0] "-m" while its package loads,
    then the module's path), so another program's --verbose (pytest's) leaves TensorFlow quiet.
    """
    program = sys.argv[0]
    return (program == "-m" or Path(program).parent.name in PACKAGES) and VERBOSE in sys.argv[1:]


def set_tensorflow_log_level() -> None:
    """TensorFlow's C++ log level before it loads: all lines with --verbose, else fatal only (unless already set)."""
    if verbose():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no I/W/E lines (grappler's remapper); errors still raise


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """The --verbose flag (acted on by set_tensorflow_log_level, at import)."""
    parser.add_argument(VERBOSE, action="store_true", help="show TensorFlow's own log lines (hidden by default)")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up banners (oneDNN, CPU features) kept off stderr, unless --verbose."""
    set_tensorflow_log_level()
    if verbose():
        import tensorflow  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

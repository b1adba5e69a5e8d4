"""User-facing errors and the CLI wrapper that turns them into one line and exit status 2."""
import os
import sys
from typing import Callable


class UserError(Exception):
    """A mistake in the user's input: reported as one line, never as a traceback."""


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


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up banners (oneDNN, CPU features) kept off stderr."""
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

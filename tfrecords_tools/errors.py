"""User-facing errors, the CLI wrapper that turns them into one line and exit status 2 (a full disk too, and
Ctrl-C into 130 at any moment, and a closed stdout pipe into a quiet exit 1), and quiet TensorFlow."""
import argparse
import contextlib
import errno
import multiprocessing
import os
import select
import shutil
import signal
import sys
from pathlib import Path
from typing import Callable, Iterator

VERBOSE = "--verbose"  # the flag of every TensorFlow-using CLI that brings TensorFlow's own log lines back
PACKAGES = ("tfrecords_tools", "xmodal", "pipelines")  # whose modules are our CLIs


INTERRUPTED = "interrupted: finished work is kept; rerun the same command to resume"
DISK_FULL = ("No space left on device", "Disk quota exceeded")  # strerror texts, also inside TensorFlow's messages


class UserError(Exception):
    """A mistake in the user's input: reported as one line, never as a traceback."""


def size_text(size: float) -> str:
    """A byte count for people: `512 B`, `3.4 MB`, `1.2 GB`."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def is_disk_full(error: BaseException) -> bool:
    """Whether an error (an OSError or a TensorFlow error) says the disk or the quota is full."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(error) for text in DISK_FULL)


def free_space(path: str | Path) -> int:
    """Bytes free on the file system of `path` (of its nearest existing parent)."""
    place = Path(path).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free


def no_space(path: str | Path, needed: int | None = None) -> UserError:
    """The one line of a write that found the disk full: where, how much it needs, how much is free."""
    need = f"; it needs about {size_text(needed)}" if needed else ""
    return UserError(f"no space left on the device of {path}{need}, {size_text(free_space(path))} free: "
                     "free some space and rerun the same command (finished work is kept)")


def first_few(names: list[str], shown: int = 3) -> str:
    """`a, b, c, ...`: the first names of a list, for a message."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


@contextlib.contextmanager
def space_for(path: str | Path, needed: int | None = None) -> Iterator[None]:
    """A full disk inside the block (an OSError or a TensorFlow error) becomes one line naming `path` and the space
    the write needs."""
    try:
        yield
    except Exception as error:  # noqa: BLE001  only a full disk is turned into one line; the rest is re-raised
        if not is_disk_full(error):
            raise
        raise no_space(path, needed) from None


def run_cli(main: Callable[[], None]) -> None:
    """Run a CLI entry point; a UserError or a full disk prints `error: ...` on stderr and exits 2, Ctrl-C exits 130,
    a stdout pipe closed by its reader (`| head -1`) exits 1 quietly."""
    if signal.getsignal(signal.SIGINT) is exit_on_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on Ctrl-C raises KeyboardInterrupt
    try:
        main()
        sys.stdout.flush()  # here, not at exit: a closed pipe then raises where it is caught below
    except UserError as error:
        fail(str(error))
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        if not stdout_closed():
            raise  # another pipe (a worker's, a socket): a bug, not the reader of our output leaving
        sys.exit(1)
    except Exception as error:  # noqa: BLE001  only a full disk is turned into one line; the rest is re-raised
        if not is_disk_full(error):
            raise
        fail(str(no_space(getattr(error, "filename", None) or "the output")))
    finally:
        if stdout_closed():  # the output still buffered goes nowhere instead of failing again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), STDOUT)


def stdout_closed() -> bool:
    """Whether standard output is a pipe (or socket) whose reader has gone: writing to it would fail."""
    poll = select.poll()
    poll.register(STDOUT, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def fail(message: str) -> None:
    """Print `error: message` on stderr and exit 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def our_cli() -> bool:
    """Whether the main process of one of our CLIs runs (`python -m xmodal.fit`: argv[0] is "-m" while its package
    loads, then the module's path); not a worker it spawned, not another program importing us (pytest)."""
    program = sys.argv[0]
    return multiprocessing.parent_process() is None and (program == "-m" or Path(program).parent.name in PACKAGES)


def exit_on_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C while a CLI loads (TensorFlow's import takes seconds): one line on the terminal's stderr, exit 130."""
    os.write(STDERR, f"{INTERRUPTED}\n".encode())
    os._exit(130)  # nothing is written yet; SystemExit inside an import would be caught and re-wrapped


def interrupt_quietly_while_loading() -> None:
    """Until run_cli starts, Ctrl-C exits 130 with one line instead of a traceback from inside an import."""
    global STDERR
    if our_cli() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        STDERR = os.dup(2)  # import_tensorflow_quietly points fd 2 at /dev/null for a while
        signal.signal(signal.SIGINT, exit_on_interrupt)


STDERR = 2  # the file descriptor exit_on_interrupt writes to
STDOUT = 1  # the file descriptor of our output (sys.stdout may be replaced, by pytest say)


def verbose() -> bool:
    """Whether one of our CLIs runs with --verbose, read before argparse: TensorFlow reads its log level on import.
    Only our own programs count, so another program's --verbose (pytest's) leaves TensorFlow quiet."""
    return our_cli() and VERBOSE in sys.argv[1:]


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

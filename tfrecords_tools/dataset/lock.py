"""One writer per output folder: an exclusive `fcntl.flock` on a lock file inside it, held for the whole run.

The kernel releases the lock when its holder exits, even when killed. The file stays (removing it
would let two processes lock different files of the same name); it holds the holder's PID while
held and is empty otherwise. Readers of an output ignore it (a hidden file).
"""
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tfrecords_tools.errors import UserError

LOCK = ".lock"


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Create `folder` if needed and hold its lock while the block runs; a UserError naming the holder if taken."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK, "a+")
    except OSError as error:
        raise UserError(f"cannot write to {folder}: {error.strerror}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "(starting)"
            raise UserError(f"{folder} is in use by process {holder}: wait for it to end, "
                            "or choose another output folder") from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield folder
        finally:
            handle.truncate(0)

"""Atomic file writes: write under a temporary name in the same folder, then rename."""
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A hidden temporary sibling of `path`, unique to this process, with the same suffix (the file type)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary name to write; it becomes `path` when the block ends, and is removed if the block fails."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes so that readers see the old file or the whole new one, never a part."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text so that readers see the old file or the whole new one, never a part."""
    write_bytes_atomic(path, text.encode())

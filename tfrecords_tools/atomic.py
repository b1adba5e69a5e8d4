"""Atomic file writes: write under a temporary name in the same folder, then rename."""
import os
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A hidden temporary sibling of `path`, unique to this process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes so that readers see the old file or the whole new one, never a part."""
    tmp = temporary_name(Path(path))
    tmp.write_bytes(data)
    os.replace(tmp, path)

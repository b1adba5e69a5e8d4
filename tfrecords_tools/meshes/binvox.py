"""Reading and writing binvox voxel files.

Format: ASCII header `#binvox 1`, `dim D D D`, `translate tx ty tz`, `scale s`, `data`, then
run-length pairs of bytes (value, count 1..255) over the voxels in the order x outermost, then
z, then y fastest. Grids here are indexed [x, y, z] as everywhere in this package.
"""
import dataclasses
from pathlib import Path

import numpy as np

from tfrecords_tools.dataset.atomic import write_bytes_atomic


class BadBinvox(Exception):
    """A file that is not a readable binvox file; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Binvox:
    """A voxel grid (D, D, D) bool indexed [x, y, z], with the binvox placement of the unit cube."""

    voxels: np.ndarray
    translate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0


def read_binvox(path: Path) -> Binvox:
    """Parse a binvox file; raise BadBinvox with the reason."""
    raw = Path(path).read_bytes()
    header, dims, translate, scale = [], None, (0.0, 0.0, 0.0), 1.0
    offset = 0
    while True:
        end = raw.find(b"\n", offset)
        if end < 0:
            raise BadBinvox("header ends before `data`")
        line = raw[offset:end].decode("ascii", "replace").strip()
        offset = end + 1
        header.append(line)
        if len(header) == 1 and not line.startswith("#binvox"):
            raise BadBinvox("not a binvox file (no `#binvox` line)")
        if line.startswith("dim"):
            dims = tuple(int(v) for v in line.split()[1:4])
        elif line.startswith("translate"):
            translate = tuple(float(v) for v in line.split()[1:4])
        elif line.startswith("scale"):
            scale = float(line.split()[1])
        elif line == "data":
            break
    if dims is None or len(set(dims)) != 1:
        raise BadBinvox(f"needs a cubic `dim`, got {dims}")
    pairs = np.frombuffer(raw[offset:offset + (len(raw) - offset) // 2 * 2], np.uint8).reshape(-1, 2)
    flat = np.repeat(pairs[:, 0].astype(bool), pairs[:, 1])
    if flat.size != np.prod(dims):
        raise BadBinvox(f"run lengths cover {flat.size} voxels, dim says {int(np.prod(dims))}")
    return Binvox(flat.reshape(dims).transpose(0, 2, 1).copy(), translate, scale)  # [x, z, y] -> [x, y, z]


def encode_binvox(grid: Binvox) -> bytes:
    """The bytes of a binvox file of `grid`."""
    d = grid.voxels.shape[0]
    flat = grid.voxels.transpose(0, 2, 1).ravel().astype(np.uint8)  # x, z, y (fastest)
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    lengths = np.diff(np.r_[starts, flat.size])
    pairs = []
    for start, length in zip(starts, lengths):
        full, rest = divmod(int(length), 255)
        pairs += [(flat[start], 255)] * full + ([(flat[start], rest)] if rest else [])
    tx, ty, tz = grid.translate
    header = f"#binvox 1\ndim {d} {d} {d}\ntranslate {tx} {ty} {tz}\nscale {grid.scale}\ndata\n"
    return header.encode() + np.array(pairs, np.uint8).tobytes()


def resample(voxels: np.ndarray, res: int) -> np.ndarray:
    """An (R, R, R) grid from a (D, D, D) one: nearest cell centres (up or down)."""
    d = voxels.shape[0]
    index = np.minimum(((np.arange(res) + 0.5) * d / res).astype(int), d - 1)
    return voxels[np.ix_(index, index, index)]


def write_binvox(path: Path, grid: Binvox) -> None:
    """Write a binvox file atomically."""
    write_bytes_atomic(Path(path), encode_binvox(grid))

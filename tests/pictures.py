"""Picture files for tests: PNGs from arrays, broken ones, and headers that claim huge sizes."""
import io
import struct
import zlib

import numpy as np
from PIL import Image


def png(pixels: np.ndarray, mode: str | None = None) -> bytes:
    """The PNG file of an array of pixels."""
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, format="PNG")
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 8-bit grey pixels, with one tiny data chunk: cheap to write."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def broken_crc(data: bytes) -> bytes:
    """The PNG with the last byte of its IDAT chunk's CRC flipped."""
    end = data.index(b"IEND") - 4  # the IEND chunk starts with its length, 4 bytes before its type
    return data[:end - 1] + bytes([data[end - 1] ^ 0xFF]) + data[end:]

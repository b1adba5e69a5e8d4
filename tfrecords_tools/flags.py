"""Checks of flags: numeric `type=`s (a bad value is one `error:` line from the parser, exit status 2) and output
paths (checked before any work)."""
import argparse
import math
import os
from pathlib import Path
from typing import Callable

from PIL import Image

from tfrecords_tools.errors import UserError


def number(text: str, kind: type) -> int | float:
    """`text` as an int or a finite float; an argparse error otherwise."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def bounded(kind: type, accept: Callable[[int | float], bool], requirement: str) -> Callable[[str], int | float]:
    """An argparse `type=`: the text as `kind`, when `accept` takes it; else one error line stating `requirement`."""

    def check(text: str) -> int | float:
        value = number(text, kind)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {value}")
        return value

    return check


positive_int = bounded(int, lambda v: v >= 1, "must be at least 1")
non_negative_int = bounded(int, lambda v: v >= 0, "must be at least 0")
seed = bounded(int, lambda v: 0 <= v < 2**32, f"must be an integer from 0 to {2**32 - 1}")  # numpy's and Keras' range
positive_float = bounded(float, lambda v: v > 0, "must be greater than 0")
non_negative_float = bounded(float, lambda v: v >= 0, "must be at least 0")
fraction = bounded(float, lambda v: 0 <= v < 1, "must be at least 0 and less than 1")
unit_interval = bounded(float, lambda v: 0 <= v <= 1, "must be from 0 to 1")  # a probability
crop_fraction = bounded(float, lambda v: 0 < v <= 1, "must be greater than 0 and at most 1")  # a share of a side


def writable_folder(folder: Path, what: str, which: str) -> None:
    """Make `folder` if missing; a UserError `what: cannot create <which>` or `what: <which> is not writable`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{what}: cannot create {which}: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{what}: {which} is not writable")


def writable_parent(out: Path, flag: str) -> Path:
    """`out`, its folder made if missing; a UserError when that folder cannot be made or written."""
    writable_folder(out.parent, f"{flag} {out}", "its folder")
    return out


def file_output(path: str, flag: str) -> Path:
    """The path of a file to write for `flag` (a JSON report, say): not a folder, its folder made if missing and
    writable; a UserError otherwise (checked before any work)."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"{flag} {path} is a folder: name a file in it")
    return writable_parent(out, flag)


def folder_output(path: str, flag: str) -> Path:
    """The path of a folder to write into for `flag`: made if missing, writable; a UserError otherwise (checked
    before any work)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {path} is a file, not a folder")
    writable_folder(out, f"{flag} {path}", "it")
    return out


def pil_writes(suffix: str) -> bool:
    """Whether PIL writes pictures to files ending in `suffix` (`.png`, `.JPG`, ...)."""
    return Image.registered_extensions().get(suffix.lower()) in Image.SAVE


def picture_output(path: str, flag: str, writes: Callable[[str], bool] = pil_writes) -> Path:
    """The path of a picture to write for `flag`: a file name whose suffix the writer takes (`writes`, PIL's by
    default), its folder made if missing and writable; a UserError otherwise (checked before any work)."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"{flag} {path} is a folder: name a picture file, e.g. {Path(path) / 'grid.png'}")
    if not writes(out.suffix):
        raise UserError(f"{flag} {path}: name a picture file ending in .png or .jpg")
    return writable_parent(out, flag)

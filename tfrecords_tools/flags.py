"""argparse `type=` checks for numeric flags: a bad value is one `error:` line from the parser, exit status 2."""
import argparse
import math


def number(text: str, kind: type) -> int | float:
    """`text` as an int or a finite float; an argparse error otherwise."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed(text: str) -> int:
    """A random seed: an integer in [0, 2**32), the range numpy and Keras accept."""
    value = number(text, int)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {2**32 - 1}, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    value = number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and less than 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0."""
    value = number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def crop_fraction(text: str) -> float:
    """A number in (0, 1]: a share of an image side."""
    value = number(text, float)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most 1, got {value}")
    return value

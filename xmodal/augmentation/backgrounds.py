"""Backgrounds to put rendered objects on: procedural textures drawn in TensorFlow, and crops of photographs
from a folder of the user's (as Render for CNN's crops of SUN photographs).

Textures, one kind per image: smooth colour noise, a linear gradient between two colours, stripes of two
colours, and clutter (random ellipses and boxes over a base colour). Every draw is a stateless function of
the (2,) seed given, so a (seed, step) pair fixes a batch's backgrounds.
"""
import math
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from tfrecords_tools.errors import UserError

KINDS = 4  # noise, gradient, stripes, clutter
CLUTTER_SHAPES = 6
NOISE_GRID = 6  # the colour noise is bilinear between this many random colours a side
PHOTO_SIDE = 256  # photographs are kept as centre squares of this side
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def seeds(seed: tf.Tensor, count: int) -> list[tf.Tensor]:
    """`count` independent (2,) stateless seeds from one."""
    return [tf.random.experimental.stateless_fold_in(seed, i) for i in range(count)]


def colors(seed: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """(N, 1, 1, 3) random colours in [0, 255]."""
    return tf.random.stateless_uniform([n, 1, 1, 3], seed, 0.0, 255.0)


def grid(n: tf.Tensor, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Pixel coordinates (1, S, S, 1) x (columns) and y (rows) in [0, 1]."""
    axis = tf.linspace(0.0, 1.0, size)
    y, x = tf.meshgrid(axis, axis, indexing="ij")
    return x[None, :, :, None], y[None, :, :, None]


def noise(seed: tf.Tensor, n: tf.Tensor, size: int) -> tf.Tensor:
    """(N, S, S, 3) smooth colour noise."""
    coarse = tf.random.stateless_uniform([n, NOISE_GRID, NOISE_GRID, 3], seed, 0.0, 255.0)
    return tf.image.resize(coarse, [size, size], method="bilinear")


def two_color_pattern(seed: tf.Tensor, n: tf.Tensor, size: int, stripes: bool) -> tf.Tensor:
    """(N, S, S, 3): two colours mixed along a random direction, linearly (a gradient) or as stripes."""
    a, b, c = seeds(seed, 3)
    angle = tf.random.stateless_uniform([n, 1, 1, 1], a, 0.0, 2.0 * math.pi)
    x, y = grid(n, size)
    along = x * tf.cos(angle) + y * tf.sin(angle)  # (N, S, S, 1)
    if stripes:
        frequency = tf.random.stateless_uniform([n, 1, 1, 1], c, 2.0, 10.0)
        weight = 0.5 + 0.5 * tf.sin(2.0 * math.pi * frequency * along)
    else:
        weight = tf.clip_by_value(along - tf.reduce_min(along, axis=[1, 2], keepdims=True), 0.0, 1.0)
    start, end = tf.split(colors(b, 2 * n), 2)
    return start + weight * (end - start)


def clutter(seed: tf.Tensor, n: tf.Tensor, size: int) -> tf.Tensor:
    """(N, S, S, 3): random ellipses and boxes of random colours over a random base colour."""
    parts = seeds(seed, 2 + CLUTTER_SHAPES)
    x, y = grid(n, size)
    image = colors(parts[0], n) + tf.zeros([n, size, size, 3])
    for i in range(CLUTTER_SHAPES):
        centre, radius, color, kind = seeds(parts[2 + i], 4)
        cx, cy = tf.unstack(tf.random.stateless_uniform([2, n, 1, 1, 1], centre), axis=0)
        rx, ry = tf.unstack(tf.random.stateless_uniform([2, n, 1, 1, 1], radius, 0.05, 0.35), axis=0)
        dx, dy = (x - cx) / rx, (y - cy) / ry  # (N, S, S, 1)
        ellipse = dx * dx + dy * dy <= 1.0
        box = tf.maximum(tf.abs(dx), tf.abs(dy)) <= 1.0
        is_box = tf.random.stateless_uniform([n, 1, 1, 1], kind) < 0.5
        inside = tf.where(is_box, box, ellipse)
        image = tf.where(inside, colors(color, n), image)
    return image


def textures(seed: tf.Tensor, n: tf.Tensor, size: int) -> tf.Tensor:
    """(N, S, S, 3) float procedural backgrounds in [0, 255], one random kind each, drawn at half the size and
    resized (a quarter of the work; backgrounds need no finer detail than the object's)."""
    pick, a, b, c, d = seeds(seed, 5)
    half = max(size // 2, 1)
    stacked = tf.stack([noise(a, n, half), two_color_pattern(b, n, half, False),
                        two_color_pattern(c, n, half, True), clutter(d, n, half)], axis=1)  # (N, KINDS, S/2, S/2, 3)
    kind = tf.random.stateless_uniform([n], pick, 0, KINDS, dtype=tf.int32)
    return tf.image.resize(tf.gather(stacked, kind, batch_dims=1), [size, size], method="bilinear")


def photo_crops(photos: tf.Tensor, seed: tf.Tensor, n: tf.Tensor, size: int) -> tf.Tensor:
    """(N, S, S, 3) float random square crops (a quarter to all of the side) of uint8 photographs (P, H, H, 3)."""
    which, side, corner = seeds(seed, 3)
    index = tf.random.stateless_uniform([n], which, 0, tf.shape(photos)[0], dtype=tf.int32)
    sides = tf.random.stateless_uniform([n], side, 0.25, 1.0)
    starts = tf.random.stateless_uniform([n, 2], corner) * (1.0 - sides)[:, None]
    boxes = tf.concat([starts, starts + sides[:, None]], axis=1)  # (N, 4) y1, x1, y2, x2
    return tf.image.crop_and_resize(tf.cast(photos, tf.float32), boxes, index, [size, size])


def centre_square(path: Path) -> np.ndarray | None:
    """uint8 (PHOTO_SIDE, PHOTO_SIDE, 3): the centre square of a picture, resized; None when it is unreadable."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    return np.asarray(rgb.crop((left, top, left + side, top + side)).resize((PHOTO_SIDE, PHOTO_SIDE),
                                                                            Image.BILINEAR), np.uint8)


def load_photos(folder: str) -> np.ndarray:
    """uint8 (P, PHOTO_SIDE, PHOTO_SIDE, 3): the centre square of every picture in `folder`; unreadable files are
    skipped; a UserError when none is left."""
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"--backgrounds {folder}: not a folder of photographs")
    squares = [centre_square(p) for p in sorted(root.rglob("*")) if p.suffix.lower() in PHOTO_SUFFIXES]
    pictures = [s for s in squares if s is not None]
    skipped = len(squares) - len(pictures)
    if not pictures:
        raise UserError(f"--backgrounds {folder}: no readable picture ({', '.join(PHOTO_SUFFIXES)}; "
                        f"{skipped} unreadable)")
    if skipped:
        print(f"--backgrounds {folder}: {skipped} unreadable pictures skipped")
    return np.stack(pictures)


def shipped_photos() -> np.ndarray:
    """uint8 (3, PHOTO_SIDE, PHOTO_SIDE, 3): the photographs that installed packages ship (scikit-learn's sample
    images of a temple and a flower, matplotlib's portrait of Grace Hopper): the benchmark's photo backgrounds,
    never used in training by default."""
    import matplotlib
    import sklearn.datasets

    images = Path(sklearn.datasets.__file__).parent / "images"
    paths = [images / "china.jpg", images / "flower.jpg", Path(matplotlib.get_data_path()) / "sample_data" /
             "grace_hopper.jpg"]
    return np.stack([centre_square(p) for p in paths])

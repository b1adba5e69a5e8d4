"""In-graph input handling of the exported signatures: any picture file, checked voxels, empty batches.

Only built-in TensorFlow ops, so the SavedModel loads with plain `tf.saved_model.load`.
"""
from typing import Callable

import tensorflow as tf

SIGNATURES = ("embed_voxels", "embed_images", "embed_png", "serving_default")  # of every export
VOXEL_VALUES_MESSAGE = "voxels must be 0 or 1 (empty or filled)"
WHITE = 255.0  # the background of query pictures: transparency is composited on it and the letterbox pads with it


def letterboxed(image: tf.Tensor, size: int) -> tf.Tensor:
    """(S, S, 3) float: a picture (H, W, 3) of values in [0, 255] resized to fit S x S keeping its aspect ratio, centred
    on white (never stretched). resize_with_pad pads with zeros, so it pads the negative."""
    return WHITE - tf.image.resize_with_pad(WHITE - image, size, size, antialias=True)


def picture(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 (S, S, 3) from PNG/JPEG/GIF/BMP bytes of any size, 8 or 16 bits, grey or colour: alpha over white, then
    letterboxed to the square on white."""
    image = tf.io.decode_image(encoded, dtype=tf.float32, expand_animations=False)  # (H, W, C) in [0, 1], C in 1..4
    channels = tf.shape(image)[-1]
    color = tf.cond(channels < 3, lambda: tf.tile(image[..., :1], [1, 1, 3]), lambda: image[..., :3])  # (H, W, 3)
    alpha = tf.cond(channels % 2 == 0, lambda: image[..., -1:], lambda: tf.ones_like(image[..., :1]))  # (H, W, 1)
    on_white = color * alpha + (1.0 - alpha)  # (H, W, 3)
    square = letterboxed(on_white * WHITE, size)  # (S, S, 3)
    return tf.cast(tf.clip_by_value(tf.round(square), 0, 255), tf.uint8)


def pictures(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 (N, S, S, 3) from a batch of picture files (N,)."""
    return tf.map_fn(lambda one: picture(one, size), encoded,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))


def binary_voxels(voxels: tf.Tensor) -> tf.Tensor:
    """The voxels, or an InvalidArgumentError when one of them is neither 0 nor 1."""
    check = tf.debugging.assert_less_equal(voxels, tf.ones([], voxels.dtype), message=VOXEL_VALUES_MESSAGE)
    with tf.control_dependencies([check]):
        return tf.identity(voxels)


def unless_empty(embed: Callable[[], tf.Tensor], batch: tf.Tensor, dim: int) -> tf.Tensor:
    """embed() (N, dim) for a batch of N inputs; float32 (0, dim) when N is 0 (convolutions refuse empty batches)."""
    return tf.cond(tf.shape(batch)[0] > 0, lambda: tf.cast(embed(), tf.float32), lambda: tf.zeros([0, dim], tf.float32))

"""Image distortions with a parameter per image, in TensorFlow: the shared operations of training augmentation
(`xmodal.augmentation.augment`) and of the perturbed queries of the robustness benchmark (`xmodal.augmentation.perturb`).

Every function takes float images (N, S, S, 3) in [0, 255] and per-image parameter tensors, and draws
nothing itself: randomness belongs to the caller, which derives it from stateless seeds.
"""
import math

import tensorflow as tf


def affine(images: tf.Tensor, shift: tf.Tensor, zoom: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, C) zoomed by `zoom` (N,) and turned by `angle` (N,) radians about the centre, then moved by
    `shift` (N, 2) pixels (columns, rows); uncovered pixels repeat the nearest edge."""
    size = tf.cast(tf.shape(images)[1], tf.float32)
    centre = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom  # (N,) the inverse map: output -> input pixel
    x, y = centre + shift[:, 0], centre + shift[:, 1]  # (N,) where the centre lands
    transform = tf.stack([cos, sin, centre - cos * x - sin * y,
                          -sin, cos, centre + sin * x - cos * y,
                          tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)  # (N, 8)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transform, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="NEAREST")


def composite(images: tf.Tensor, alpha: tf.Tensor, backgrounds: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) over `backgrounds` (N, S, S, 3) where the coverage `alpha` (N, S, S, 1) in [0, 1] is below 1."""
    return alpha * images + (1.0 - alpha) * backgrounds


def blur(images: tf.Tensor, sigma: tf.Tensor, largest: float) -> tf.Tensor:
    """Images (N, S, S, 3) blurred by a Gaussian of `sigma` (N,) pixels, none above `largest`: separable, cut at
    3 x largest and at the border, renormalised there; each image's kernel applied as a depthwise convolution
    over the images folded into channels (O(N S^2 k), whatever the size)."""
    radius = max(1, math.ceil(3.0 * largest))
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)  # (k,)
    weights = tf.exp(-offsets[None] ** 2 / (2.0 * tf.maximum(sigma, 1e-3)[:, None] ** 2))  # (N, k)
    n, size = tf.shape(images)[0], tf.shape(images)[1]
    kernel = tf.repeat(weights, 3, axis=0)  # (N * 3, k): each image's kernel for its three channels
    folded = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, size, size, n * 3])  # (1, S, S, N * 3)

    def separable(x: tf.Tensor) -> tf.Tensor:
        for shape in ([-1, 1], [1, -1]):  # along columns (rows of taps), then along rows
            x = tf.nn.depthwise_conv2d(x, tf.reshape(tf.transpose(kernel), shape + [n * 3, 1]), [1, 1, 1, 1], "SAME")
        return x

    blurred = separable(folded) / separable(tf.ones_like(folded))  # weights cut at the border renormalised
    return tf.transpose(tf.reshape(blurred, [size, size, n, 3]), [2, 0, 1, 3])


def add_noise(images: tf.Tensor, std: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) plus Gaussian noise of `std` (N,) grey levels per pixel and channel."""
    noise = tf.random.stateless_normal(tf.shape(images), seed)  # (N, S, S, 3)
    return images + std[:, None, None, None] * noise


def gain(images: tf.Tensor, factors: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) with each channel scaled by `factors` (N, 3): exposure and colour cast."""
    return images * factors[:, None, None, :]


def jpeg(images: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) re-encoded as JPEG at `quality` (N,) int32 in [1, 100]; 0 or less leaves an image as is."""
    as_bytes = to_uint8(images)

    def one(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, q = args
        return tf.cond(q > 0, lambda: tf.image.adjust_jpeg_quality(image, q), lambda: image)

    encoded = tf.map_fn(one, (as_bytes, quality), fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
    return tf.cast(tf.reshape(encoded, tf.shape(images)), tf.float32)


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float images rounded and clipped to uint8."""
    return tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)


def degrees(value: float) -> float:
    """Radians of `value` degrees."""
    return value * math.pi / 180.0

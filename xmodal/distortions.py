"""Image distortions with a parameter per image, in TensorFlow: the shared operations of training augmentation
(`xmodal.augment`) and of the perturbed queries of the robustness benchmark (`xmodal.perturb`).

Every function takes float images (N, S, S, 3) in [0, 255] and per-image parameter tensors, and draws
nothing itself: randomness belongs to the caller, which derives it from stateless seeds.
"""
import math

import tensorflow as tf


def affine(images: tf.Tensor, shift: tf.Tensor, zoom: tf.Tensor, angle: tf.Tensor, fill: str) -> tf.Tensor:
    """Images (N, S, S, C) zoomed by `zoom` (N,) and turned by `angle` (N,) radians about the centre, then moved by
    `shift` (N, 2) pixels (columns, rows); uncovered pixels repeat the nearest edge ("nearest") or are 0 ("constant")."""
    size = tf.cast(tf.shape(images)[1], tf.float32)
    centre = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom  # (N,) the inverse map: output -> input pixel
    x, y = centre + shift[:, 0], centre + shift[:, 1]  # (N,) where the centre lands
    transform = tf.stack([cos, sin, centre - cos * x - sin * y,
                          -sin, cos, centre + sin * x - cos * y,
                          tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)  # (N, 8)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transform, output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode=fill.upper())


def composite(images: tf.Tensor, alpha: tf.Tensor, backgrounds: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) over `backgrounds` (N, S, S, 3) where the coverage `alpha` (N, S, S, 1) in [0, 1] is below 1."""
    return alpha * images + (1.0 - alpha) * backgrounds


def gaussian_rows(sigma: tf.Tensor, size: int) -> tf.Tensor:
    """(N, S, S) matrices whose rows are Gaussian weights of width `sigma` (N,) pixels, cut at the border and
    renormalised; a sigma near 0 gives the identity."""
    index = tf.range(size, dtype=tf.float32)
    offset = index[:, None] - index[None, :]  # (S, S)
    variance = 2.0 * tf.maximum(sigma, 1e-3)[:, None, None] ** 2  # (N, 1, 1)
    weights = tf.exp(-offset[None] ** 2 / variance)  # (N, S, S)
    return weights / tf.reduce_sum(weights, axis=2, keepdims=True)


def blur(images: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) blurred by a Gaussian of `sigma` (N,) pixels (separable: columns, then rows)."""
    rows = gaussian_rows(sigma, images.shape[1] or tf.shape(images)[1])  # (N, S, S)
    x = tf.einsum("nij,njwc->niwc", rows, images)
    return tf.einsum("nkw,niwc->nikc", rows, x)


def add_noise(images: tf.Tensor, std: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) plus Gaussian noise of `std` (N,) grey levels per pixel and channel."""
    noise = tf.random.stateless_normal(tf.shape(images), seed)  # (N, S, S, 3)
    return images + std[:, None, None, None] * noise


def gain(images: tf.Tensor, factors: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) with each channel scaled by `factors` (N, 3): exposure and colour cast."""
    return images * factors[:, None, None, :]


def jpeg(images: tf.Tensor, quality: tf.Tensor) -> tf.Tensor:
    """Images (N, S, S, 3) re-encoded as JPEG at `quality` (N,) int32 in [1, 100]; 0 or less leaves an image as is."""
    as_bytes = tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)

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

"""Training-time augmentation of input batches: crops, moves, backgrounds, colour, blur, noise, JPEG and
consistent mirroring.

Every random draw is a stateless function of the batch's (seed, step) pair, so augmented streams
are as deterministic and resumable as the plain ones. Augmentation is a step of the training
reader only: evaluation, validation and the exported encoders never see it.

- crops: a square crop of side s * S (s uniform in [crop, 1]) at a uniform position, resized back
  to S x S (bilinear), so objects appear at other scales and offsets;
- colour: per image, brightness, contrast and saturation scaled by factors in [1 - c, 1 + c] and
  the hue turned by up to c * 180 degrees about the grey axis;
- moves: per image, the object shifted by up to `shift` of the side along each axis, zoomed by a
  factor in [1 - zoom, 1 + zoom] and turned by up to `rotate` degrees; the border repeats the edge;
- backgrounds: per image with probability `background`, the render's background replaced through its
  coverage mask (dataset format 3) by a procedural texture or, with a folder of photographs, half
  the time by a crop of one (`xmodal.augmentation.backgrounds`);
- blur, noise, JPEG: per image, half the time a Gaussian blur of up to `blur` pixels; Gaussian noise
  of up to `noise` grey levels; with probability `jpeg`, JPEG re-encoding at a quality in [30, 95];
- clean: per image with probability `clean`, none of the above: the render as converted (mirroring aside),
  so the encoders keep seeing exact renders among the perturbed ones;
- mirror: per object, with probability 1/2, the voxel grid is reflected across the object's
  left-right plane (z = 0 in docs/format.md) and every view of it is flipped horizontally: a
  mirrored object seen from the mirrored camera, so the pair stays consistent.
"""
import dataclasses
import math

import numpy as np
import tensorflow as tf

from xmodal.augmentation import distortions
from xmodal.augmentation.backgrounds import photo_crops, textures
from xmodal.training.symmetry import VOXEL_AXIS

GREY = (0.299, 0.587, 0.114)  # luma weights of RGB
JPEG_QUALITY = (30, 95)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Which augmentations a training stream applies."""

    crop: float = 1.0  # smallest crop side as a fraction of the image side; 1: no crops
    color: float = 0.0  # colour jitter strength in [0, 1); 0: none
    mirror: bool = False
    shift: float = 0.0  # largest move along each axis, a fraction of the side
    zoom: float = 0.0  # zoom factors in [1 - zoom, 1 + zoom]
    rotate: float = 0.0  # largest turn, degrees
    background: float = 0.0  # probability of a new background (needs coverage masks)
    blur: float = 0.0  # largest Gaussian blur, pixels (applied half the time)
    noise: float = 0.0  # largest noise, grey levels
    jpeg: float = 0.0  # probability of JPEG re-encoding
    clean: float = 0.0  # probability that a render skips all but mirroring
    photos: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)  # (P, H, H, 3) uint8

    @property
    def active(self) -> bool:
        """Whether any augmentation is on."""
        return self.crop < 1.0 or self.color > 0.0 or self.mirror or self.moves or self.photometric or self.masks

    @property
    def moves(self) -> bool:
        """Whether images are shifted, zoomed or turned."""
        return self.shift > 0.0 or self.zoom > 0.0 or self.rotate > 0.0

    @property
    def photometric(self) -> bool:
        """Whether images are blurred, noised or JPEG-compressed."""
        return self.blur > 0.0 or self.noise > 0.0 or self.jpeg > 0.0

    @property
    def masks(self) -> bool:
        """Whether the stream needs the renders' coverage masks (alpha)."""
        return self.background > 0.0


def sub_seed(seed: tf.Tensor, index: int) -> tf.Tensor:
    """An independent (2,) stateless seed derived from a (2,) seed."""
    return tf.random.experimental.stateless_fold_in(seed, index)


def crop_boxes(seed: tf.Tensor, count: tf.Tensor, smallest: float, flip: tf.Tensor) -> tf.Tensor:
    """Normalised boxes (N, 4) [y1, x1, y2, x2] of random square crops; flipped rows swap x1 and x2."""
    side = tf.random.stateless_uniform([count], sub_seed(seed, 0), smallest, 1.0)  # (N,)
    corner = tf.random.stateless_uniform([count, 2], sub_seed(seed, 1)) * (1.0 - side)[:, None]  # (N, 2)
    y1, x1 = corner[:, 0], corner[:, 1]
    y2, x2 = y1 + side, x1 + side
    x1, x2 = tf.where(flip, x2, x1), tf.where(flip, x1, x2)
    return tf.stack([y1, x1, y2, x2], axis=1)


def hue_rotation(angle: tf.Tensor) -> tf.Tensor:
    """RGB matrices (N, 3, 3) turning colours by `angle` (N,) radians about the grey axis."""
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    k = 1.0 / math.sqrt(3.0)
    axis = tf.constant([[0.0, -k, k], [k, 0.0, -k], [-k, k, 0.0]])  # cross-product matrix of (1, 1, 1)/sqrt(3)
    outer = tf.fill([3, 3], 1.0 / 3.0)
    return cos * tf.eye(3) + sin * axis + (1.0 - cos) * outer  # Rodrigues' formula


def jitter_colors(images: tf.Tensor, seed: tf.Tensor, strength: float) -> tf.Tensor:
    """float images (N, S, S, 3) in [0, 255] with per-image brightness, contrast, saturation and hue jitter."""
    count = tf.shape(images)[0]
    factors = tf.random.stateless_uniform([count, 3], sub_seed(seed, 2), 1.0 - strength, 1.0 + strength)  # (N, 3)
    brightness, contrast, saturation = (factors[:, i, None, None, None] for i in range(3))
    angle = tf.random.stateless_uniform([count], sub_seed(seed, 3), -strength * math.pi, strength * math.pi)
    x = tf.einsum("nhwc,ndc->nhwd", images, hue_rotation(angle))  # (N, S, S, 3)
    grey = tf.reduce_sum(x * tf.constant(GREY), axis=-1, keepdims=True)  # (N, S, S, 1)
    x = grey + saturation * (x - grey)
    mean = tf.reduce_mean(grey, axis=[1, 2, 3], keepdims=True)  # (N, 1, 1, 1)
    x = mean + contrast * (x - mean)
    return x * brightness


def moved(images: tf.Tensor, seed: tf.Tensor, aug: Augmentation) -> tf.Tensor:
    """float RGB or RGBA images (N, S, S, C) shifted, zoomed and turned at random; the border repeats the edge
    (the coverage too: 0 where the object does not touch the border)."""
    n, size = tf.shape(images)[0], tf.cast(tf.shape(images)[1], tf.float32)
    shift = tf.random.stateless_uniform([n, 2], sub_seed(seed, 10), -aug.shift, aug.shift) * size  # (N, 2) pixels
    zoom = tf.random.stateless_uniform([n], sub_seed(seed, 11), 1.0 - aug.zoom, 1.0 + aug.zoom)
    angle = tf.random.stateless_uniform([n], sub_seed(seed, 12), -1.0, 1.0) * distortions.degrees(aug.rotate)
    return distortions.affine(images, shift, zoom, angle)


def new_backgrounds(images: tf.Tensor, alpha: tf.Tensor, seed: tf.Tensor, aug: Augmentation) -> tf.Tensor:
    """float images (N, S, S, 3), a share `aug.background` of them put on a texture or photograph through the
    coverage `alpha` (N, S, S, 1) in [0, 255]."""
    n, size = tf.shape(images)[0], images.shape[1]
    back = textures(sub_seed(seed, 13), n, size)  # (N, S, S, 3)
    if aug.photos is not None:
        photo = tf.random.stateless_uniform([n, 1, 1, 1], sub_seed(seed, 14)) < 0.5
        back = tf.where(photo, photo_crops(tf.constant(aug.photos), sub_seed(seed, 15), n, size), back)
    replaced = distortions.composite(images, alpha / 255.0, back)
    chosen = tf.random.stateless_uniform([n, 1, 1, 1], sub_seed(seed, 16)) < aug.background
    return tf.where(chosen, replaced, images)


def degraded(images: tf.Tensor, seed: tf.Tensor, aug: Augmentation) -> tf.Tensor:
    """float images (N, S, S, 3) blurred, noised and JPEG-compressed at random."""
    n = tf.shape(images)[0]
    x = images
    if aug.blur > 0.0:
        sigma = tf.random.stateless_uniform([n], sub_seed(seed, 17), 0.0, 2.0 * aug.blur)
        x = distortions.blur(x, tf.where(sigma > aug.blur, sigma - aug.blur, 0.0), aug.blur)  # half unblurred
    if aug.noise > 0.0:
        std = tf.random.stateless_uniform([n], sub_seed(seed, 18), 0.0, aug.noise)
        x = distortions.add_noise(x, std, sub_seed(seed, 19))
    if aug.jpeg > 0.0:
        quality = tf.random.stateless_uniform([n], sub_seed(seed, 20), *JPEG_QUALITY, dtype=tf.int32)
        chosen = tf.random.stateless_uniform([n], sub_seed(seed, 21)) < aug.jpeg
        x = distortions.jpeg(x, tf.where(chosen, quality, 0))
    return x


def augment_images(images: tf.Tensor, seed: tf.Tensor, flip: tf.Tensor, aug: Augmentation) -> tf.Tensor:
    """uint8 images (N, S, S, 3), or RGBA (N, S, S, 4) with the coverage as alpha, cropped, moved, put on new
    backgrounds, colour-jittered, degraded (a share `clean` of them none of that) and flipped where `flip` (N,)
    holds: uint8 RGB (N, S, S, 3)."""
    x = tf.cast(images, tf.float32)
    flipped = tf.where(flip[:, None, None, None], tf.reverse(x, [2]), x)  # (N, S, S, C)
    if aug.crop < 1.0:  # the crop boxes flip where `flip` holds
        boxes = crop_boxes(seed, tf.shape(images)[0], aug.crop, flip)  # (N, 4)
        x = tf.image.crop_and_resize(x, boxes, tf.range(tf.shape(images)[0]), tf.shape(images)[1:3])
    else:
        x = flipped
    if aug.moves:
        x = moved(x, seed, aug)
    x, alpha = x[..., :3], x[..., 3:]
    if aug.masks:
        x = new_backgrounds(x, alpha, seed, aug)
    if aug.color > 0.0:
        x = jitter_colors(x, seed, aug.color)
    x = degraded(x, seed, aug)
    if aug.clean > 0.0:
        kept = tf.random.stateless_uniform([tf.shape(x)[0], 1, 1, 1], sub_seed(seed, 22)) < aug.clean
        x = tf.where(kept, flipped[..., :3], x)
    return tf.ensure_shape(distortions.to_uint8(x), images.shape[:-1] + (3,))


def mirror_voxels(voxels: tf.Tensor, flip: tf.Tensor) -> tf.Tensor:
    """Voxel grids (P, R, R, R) reflected across their left-right plane where `flip` (P,) holds."""
    return tf.where(flip[:, None, None, None], tf.reverse(voxels, [VOXEL_AXIS]), voxels)


def coin(seed: tf.Tensor, count: tf.Tensor, enabled: bool) -> tf.Tensor:
    """(count,) bools, each true with probability 1/2 when enabled, else all false."""
    draws = tf.random.stateless_uniform([count], seed) < 0.5
    return draws if enabled else tf.zeros_like(draws)


def augment_batch(batch: dict, seed: tf.Tensor, aug: Augmentation) -> dict:
    """An object-view {voxels (P,...), images (P, K, S, S, 3)} or triplet batch, augmented."""
    objects = tf.shape(batch["voxels"])[0]
    flip = coin(sub_seed(seed, 4), objects, aug.mirror)  # (P,) one decision per object
    out = {"voxels": mirror_voxels(batch["voxels"], flip)}
    if "images" in batch:
        views = tf.shape(batch["images"])[1]
        flat = tf.reshape(batch["images"], tf.concat([[-1], tf.shape(batch["images"])[2:]], 0))  # (P*K, S, S, 3)
        images = augment_images(flat, sub_seed(seed, 5), tf.repeat(flip, views), aug)  # (P*K, S, S, 3)
        out["images"] = tf.reshape(images, tf.concat([tf.shape(batch["images"])[:-1], [3]], 0))
    else:  # triplets: the positive is a view of the anchor; the negative belongs to another object
        out["positive"] = augment_images(batch["positive"], sub_seed(seed, 6), flip, aug)
        out["negative"] = augment_images(batch["negative"], sub_seed(seed, 7),
                                         coin(sub_seed(seed, 8), objects, aug.mirror), aug)
    return out

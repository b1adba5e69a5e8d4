"""Query images changed the way a photograph differs from our renders: the perturbations of the robustness
benchmark (`python -m xmodal.evaluate --perturb`) and of perturbed validation.

Each perturbation has fixed severities; what is drawn per image (the direction of a shift, the sign of a
turn, a background, a JPEG quality within its range) is a stateless function of (seed, batch), so a
benchmark is the same on every run. Perturbations that replace the background need the renders' coverage
masks (dataset format 3); they are left out, with a note, on data without masks.
"""
import dataclasses

import tensorflow as tf

from xmodal.augmentation import distortions
from xmodal.augmentation.backgrounds import photo_crops, seeds, textures


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """Severities of one perturbation of query images; the defaults change nothing."""

    shift: float = 0.0  # pixels, along a random axis and sign; below 1: a fraction of the side
    zoom: float = 1.0  # scale of the object about the image centre
    rotate: float = 0.0  # degrees, random sign
    background: str = ""  # "texture" or "photo": the background replaced through the mask
    jpeg: tuple[int, int] = (0, 0)  # JPEG quality drawn from this range; (0, 0): none
    blur: float = 0.0  # Gaussian sigma in pixels
    noise: float = 0.0  # Gaussian noise, grey levels
    exposure: float = 1.0  # brightness factor, or its inverse, at random
    cast: float = 0.0  # per-channel gain drawn from [1 - cast, 1 + cast]

    @property
    def needs_mask(self) -> bool:
        """Whether it replaces the background, which needs the coverage masks."""
        return bool(self.background)


SUITE = {
    "clean": Perturbation(),
    "shift 1 px": Perturbation(shift=1),
    "shift 2 px": Perturbation(shift=2),
    "shift 4 px": Perturbation(shift=4),
    "shift 6 %": Perturbation(shift=0.06),
    "zoom 0.8": Perturbation(zoom=0.8),
    "zoom 1.2": Perturbation(zoom=1.2),
    "rotate 10 deg": Perturbation(rotate=10),
    "texture background": Perturbation(background="texture"),
    "photo background": Perturbation(background="photo"),
    "JPEG 30-90": Perturbation(jpeg=(30, 90)),
    "blur 1 px": Perturbation(blur=1.0),
    "noise 4": Perturbation(noise=4.0),
    "exposure 0.7": Perturbation(exposure=0.7),
    "colour cast 0.2": Perturbation(cast=0.2),
    "all together": Perturbation(shift=2, zoom=1.1, rotate=5, background="photo", jpeg=(50, 90), blur=0.7,
                                 noise=2.0, exposure=0.85, cast=0.1),
}
VALIDATION = "all together"  # the perturbation validation weighs beside clean renders


def signs(seed: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """(N,) -1 or +1 at random."""
    return tf.where(tf.random.stateless_uniform([n], seed) < 0.5, -1.0, 1.0)


def shifts(seed: tf.Tensor, n: tf.Tensor, pixels: float) -> tf.Tensor:
    """(N, 2) moves of `pixels` along a random axis (columns or rows) with a random sign."""
    axis, sign = seeds(seed, 2)
    along_x = tf.random.stateless_uniform([n], axis) < 0.5
    step = pixels * signs(sign, n)
    zero = tf.zeros_like(step)
    return tf.stack([tf.where(along_x, step, zero), tf.where(along_x, zero, step)], axis=1)


def perturbed(images: tf.Tensor, alpha: tf.Tensor | None, p: Perturbation, seed: tf.Tensor,
              photos: tf.Tensor | None = None) -> tf.Tensor:
    """uint8 images (N, S, S, 3) changed by `p`; `alpha` (N, S, S, 1) uint8 coverage masks, needed by backgrounds;
    `photos` (P, H, H, 3) uint8, needed by photo backgrounds (else textures stand in)."""
    if p == Perturbation():
        return images
    n, size = tf.shape(images)[0], images.shape[1]
    parts = seeds(seed, 8)
    x = tf.cast(images, tf.float32)  # (N, S, S, 3)
    if p.background:
        if alpha is None:
            raise ValueError("a background perturbation needs the coverage masks (dataset format 3)")
        use_photos = p.background == "photo" and photos is not None
        back = photo_crops(photos, parts[0], n, size) if use_photos else textures(parts[0], n, size)
        x = distortions.composite(x, tf.cast(alpha, tf.float32) / 255.0, back)
    if p.shift or p.zoom != 1.0 or p.rotate:
        pixels = p.shift * size if 0 < p.shift < 1 else p.shift
        angle = distortions.degrees(p.rotate) * signs(parts[1], n)
        zoom = tf.fill([n], float(p.zoom))
        x = distortions.affine(x, shifts(parts[2], n, pixels), zoom, angle)
    if p.exposure != 1.0 or p.cast:
        exposure = tf.pow(tf.constant(p.exposure), signs(parts[3], n))[:, None]  # (N, 1)
        cast = tf.random.stateless_uniform([n, 3], parts[4], 1.0 - p.cast, 1.0 + p.cast)
        x = distortions.gain(x, exposure * cast)
    if p.blur:
        x = distortions.blur(x, tf.fill([n], float(p.blur)), p.blur)
    if p.noise:
        x = distortions.add_noise(x, tf.fill([n], float(p.noise)), parts[5])
    if p.jpeg != (0, 0):
        quality = tf.random.stateless_uniform([n], parts[6], p.jpeg[0], p.jpeg[1] + 1, dtype=tf.int32)
        x = distortions.jpeg(x, quality)
    return distortions.to_uint8(x)


def available(has_masks: bool) -> dict[str, Perturbation]:
    """The suite on data with or without coverage masks: without, the background perturbations are left out and
    'all together' keeps its background."""
    if has_masks:
        return dict(SUITE)
    return {name: dataclasses.replace(p, background="") for name, p in SUITE.items()
            if p == SUITE[VALIDATION] or not p.needs_mask}


def suite_note(has_masks: bool, has_photos: bool) -> str:
    """What the suite left out or replaced on this data, or ''."""
    if not has_masks:
        return ("the data has no coverage masks (format 2; convert it again for format 3): the background "
                f"perturbations are left out and '{VALIDATION}' keeps the render's background")
    if not has_photos:
        return "no --backgrounds folder of photographs: photo backgrounds are procedural textures"
    return ""

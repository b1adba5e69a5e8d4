"""How each picture is taken besides viewpoint and background: the plain render, or one drawn at random.

The randomisation flags of `convert` (--light-jitter, --fov-jitter, --off-centre, --truncation,
--material-jitter; docs/format.md) draw one Shot per image from the object's own stream; at 0
each draws the plain Shot's values exactly, so the renders stay those of a plain conversion.
"""
import dataclasses

import numpy as np

from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.meshes.framing import FOV_DEGREES, bounding_radius, framing_distance

KEY_LIGHT = tuple(map(float, np.array([0.35, 0.6, 0.72]) / np.linalg.norm([0.35, 0.6, 0.72])))  # view space
AMBIENT, DIFFUSE = 0.35, 0.65  # shade = ambient + diffuse * cos(angle to the light)
FILL = 0.4  # the fill light's largest intensity at --light-jitter 1
SPECULAR = 0.5  # the highlight's largest strength at --material-jitter 1
SHININESS = (4.0, 64.0)  # range of the highlight's Blinn-Phong exponent
ZOOM = (0.6, 1.0)  # a truncated camera's distance, in distances at which the bounding sphere touches the border


@dataclasses.dataclass(frozen=True)
class Shot:
    """The settings of one render besides viewpoint and background; the defaults are the plain render."""

    lights: tuple[tuple[float, float, float], ...] = (KEY_LIGHT, (0.0, 0.0, 1.0))  # key, fill: view-space directions
    intensities: tuple[float, float] = (DIFFUSE, 0.0)  # diffuse strength of each light
    ambient: float = AMBIENT
    fov: float = FOV_DEGREES  # field of view, degrees
    shift: tuple[float, float] = (0.0, 0.0)  # where the origin lands, in half-frames from the centre (x right, y up)
    zoom: float | None = None  # truncated: camera at this share of the distance where the sphere meets the border
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # factors on the mesh colours, which are then clipped to 1
    specular: float = 0.0  # strength of a white Blinn-Phong highlight; 0: none
    shininess: float = 16.0  # its exponent


PLAIN = Shot()


def within_cone(axis: tuple, angle: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector (3,) drawn uniformly within `angle` radians of the unit `axis` (which is not along z)."""
    cos_t, phi = rng.uniform(np.cos(angle), 1.0), rng.uniform(0.0, 2 * np.pi)
    u = np.cross(axis, [0.0, 0.0, 1.0])
    u /= np.linalg.norm(u)
    w = np.cross(axis, u)
    return np.asarray(axis) * cos_t + np.sqrt(1.0 - cos_t**2) * (np.cos(phi) * u + np.sin(phi) * w)


def draw_shot(cfg: ConvertConfig, rng: np.random.Generator) -> Shot:
    """One picture's settings within the ranges of cfg's randomisation flags; the same draws whatever their values."""
    light, spread = cfg.light_jitter, cfg.material_jitter
    key = within_cone(KEY_LIGHT, light * np.pi / 2, rng)
    key_strength = DIFFUSE * rng.uniform(1.0 - light, 1.0 + light)
    ambient = rng.uniform(AMBIENT * (1.0 - light), min(1.0, AMBIENT * (1.0 + light)))
    fill = rng.normal(size=3)
    fill_strength = rng.uniform(0.0, FILL * light) * (rng.random() < light)
    fov = FOV_DEGREES * rng.uniform(1.0 - cfg.fov_jitter, 1.0 + cfg.fov_jitter)
    shift = rng.uniform(-cfg.off_centre, cfg.off_centre, 2)
    zoom = rng.uniform(*ZOOM)
    cut = rng.random() < cfg.truncation
    tint = rng.uniform(1.0 - spread, 1.0 + spread, 3)
    specular, shininess = rng.uniform(0.0, SPECULAR * spread), rng.uniform(*SHININESS)
    return Shot(lights=(tuple(map(float, key)), tuple(map(float, fill / np.linalg.norm(fill)))),
                intensities=(float(key_strength), float(fill_strength)), ambient=float(ambient), fov=float(fov),
                shift=(float(shift[0]), float(shift[1])), zoom=float(zoom) if cut else None,
                tint=tuple(map(float, tint)), specular=float(specular), shininess=float(shininess))


def truncated(viewpoints: np.ndarray, vertices: np.ndarray, shots: list[Shot]) -> np.ndarray:
    """Viewpoints (V, 4) with the camera of each truncated shot moved to its zoom times the distance at which the
    bounding sphere of the vertices (N, 3) touches the border of its picture."""
    out = viewpoints.copy()
    for view, shot in zip(out, shots):
        if shot.zoom is not None:
            view[3] = framing_distance(bounding_radius(vertices), shot.fov, margin=shot.zoom)
    return out

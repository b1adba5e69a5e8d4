"""Procedurally generated mugs and cups: hollow, open-topped bodies with a handle.

y = up, the handle at -x. The wall is a ring of closed segments (trapezoidal prisms) on a
solid bottom, so the inside stays empty. Archetypes: mug, tall mug, teacup, beaker (no handle).
"""
import numpy as np

from tfrecords_tools.synth.archetypes import color, draw, thick
from tfrecords_tools.synth.parts import Part, bar, cylinder, loft

# Height, outer radius at the top and at the bottom, wall thickness, handle size (0: none).
MUGS = {
    "mug": dict(height=0.095, top=0.042, bottom=0.04, wall=0.008, handle=0.035),
    "tall_mug": dict(height=0.14, top=0.04, bottom=0.036, wall=0.008, handle=0.05),
    "teacup": dict(height=0.065, top=0.05, bottom=0.03, wall=0.007, handle=0.025),
    "beaker": dict(height=0.11, top=0.045, bottom=0.045, wall=0.007, handle=0.0),
}
SEGMENTS = 24


def wall(p: dict, wall_thick: float, glaze: tuple) -> list[Part]:
    """The side wall: SEGMENTS closed wedges of an open conical tube, each overlapping the next."""
    parts = []
    step = 2 * np.pi / SEGMENTS
    for k in range(SEGMENTS):
        a0, a1 = k * step - 0.02, (k + 1) * step + 0.02
        rings = []
        for radius in (p["bottom"], p["top"]):
            inner = radius - wall_thick
            corners = ((inner, a0), (radius, a0), (radius, a1), (inner, a1))
            rings.append(np.array([[r * np.cos(a), r * np.sin(a)] for r, a in corners]))  # (4, 2) in (x, z)
        parts.append(loft([r[:, ::-1] for r in rings], [0.0, p["height"]], "y", glaze))  # (z, x) across y
    return parts


def handle(p: dict, size: float, glaze: tuple) -> list[Part]:
    """A C-shaped handle on the -x side: three bars."""
    grip = thick(0.012, size)
    reach = p["handle"] * 0.8
    x_wall = -p["top"] + grip
    top, bottom = 0.8 * p["height"], 0.8 * p["height"] - p["handle"]
    points = [(x_wall, top, 0.0), (x_wall - reach, top, 0.0), (x_wall - reach, bottom, 0.0), (x_wall, bottom, 0.0)]
    return [bar(a, b, (grip / 2, grip / 2), glaze) for a, b in zip(points[:-1], points[1:])]


def mug_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one mug."""
    kind, p = draw(rng, MUGS)
    glaze = color(rng, 0.2, 0.98)
    size = max(p["height"], 2 * p["top"] + p["handle"])
    wall_thick = thick(p["wall"], size)
    parts = wall(p, wall_thick, glaze)
    parts.append(cylinder("y", (0.0, 0.0, 0.0), p["bottom"] - 0.5 * wall_thick, 0.0, thick(0.006, size), glaze, 28))
    if p["handle"] > 0:
        parts += handle(p, size, glaze)
    return kind, parts

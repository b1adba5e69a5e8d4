"""Procedurally generated lamps, built from closed parts like the cars.

y = up; the desk lamp's arm reaches towards +x. Archetypes: floor lamp (tall pole, drum
shade), table lamp (a vase-like body, a conical shade), desk lamp (two arm segments, a bell).
"""
import numpy as np

from tfrecords_tools.synth.archetypes import color, draw, thick
from tfrecords_tools.synth.parts import Part, bar, cylinder, solid_of_revolution

# Height, base radius, pole radius, shade bottom and top radius, shade height.
LAMPS = {
    "floor": dict(height=1.6, base=0.16, pole=0.015, shade_bottom=0.22, shade_top=0.17, shade=0.28),
    "table": dict(height=0.55, base=0.09, pole=0.06, shade_bottom=0.19, shade_top=0.11, shade=0.2),
    "desk": dict(height=0.5, base=0.1, pole=0.012, shade_bottom=0.08, shade_top=0.03, shade=0.12),
}


def shade(bottom: float, top: float, y0: float, height: float, fabric: tuple) -> Part:
    """A solid truncated cone from y0 up by `height`."""
    return solid_of_revolution("y", (0.0, 0.0, 0.0), [bottom, top], [y0, y0 + height], fabric, sections=28)


def lamp_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one lamp."""
    kind, p = draw(rng, LAMPS)
    metal, fabric = color(rng, 0.1, 0.8), color(rng, 0.3, 0.98)
    size = max(p["height"], 2 * p["shade_bottom"], 2 * p["base"])
    base, pole = thick(0.025, size), max(p["pole"], thick(0.0, size) / 2)
    parts = [cylinder("y", (0.0, 0.0, 0.0), p["base"], 0.0, base, metal, sections=28)]
    if kind == "floor":
        parts.append(cylinder("y", (0.0, 0.0, 0.0), pole, base - 0.01, p["height"] - 0.5 * p["shade"], metal, 12))
        parts.append(shade(p["shade_bottom"], p["shade_top"], p["height"] - p["shade"], p["shade"], fabric))
    elif kind == "table":
        body = p["height"] - p["shade"]
        radii = [r * p["pole"] for r in (0.6, 1.0, 0.8, 0.25, 0.25)]
        heights = [base - 0.01, 0.35 * body, 0.7 * body, 0.9 * body, body + 0.02]
        parts.append(solid_of_revolution("y", (0.0, 0.0, 0.0), radii, heights, metal))
        parts.append(shade(p["shade_bottom"], p["shade_top"], body, p["shade"], fabric))
    else:
        elbow = (-0.3 * p["height"] * rng.uniform(0.3, 0.7), 0.6 * p["height"], 0.0)
        head = (0.45 * p["height"], p["height"], 0.0)
        parts.append(bar((0.0, base - 0.01, 0.0), elbow, (pole, pole), metal))
        parts.append(bar(elbow, head, (pole, pole), metal))
        bell = solid_of_revolution("y", (head[0], 0.0, 0.0), [p["shade_bottom"], p["shade_top"], 0.6 * p["shade_top"]],
                                   [head[1] - p["shade"], head[1] - 0.1 * p["shade"], head[1] + 0.01], fabric)
        parts.append(bell)
    return kind, parts

"""Procedurally generated cars: a union of closed parts (body, cabin, wheels, wheel arches,
bumpers, mirrors, optional spoiler) whose sizes come from continuous parameters, drawn around a
few archetypes (sedan, hatchback, SUV, sports car, van) with small per-object jitter, so many
objects are near neighbours, as real cars are. x = length (front at +x), y = up, z = width.
"""
import numpy as np

from tfrecords_tools.synth.archetypes import color, draw
from tfrecords_tools.synth.parts import Part, box, cylinder, prism

# Archetype means: length, width, body height, clearance, cabin height, cabin start, cabin
# length, windscreen run, rear run, wheelbase fraction, wheel radius, hood drop, spoiler prob.
ARCHETYPES = {
    "sedan": (4.7, 1.82, 0.62, 0.16, 0.50, 0.30, 0.45, 0.55, 0.45, 0.60, 0.32, 0.10, 0.1),
    "hatchback": (4.1, 1.76, 0.64, 0.16, 0.55, 0.32, 0.52, 0.50, 0.12, 0.62, 0.30, 0.10, 0.3),
    "suv": (4.7, 1.92, 0.85, 0.24, 0.62, 0.28, 0.58, 0.40, 0.10, 0.60, 0.38, 0.06, 0.2),
    "sports": (4.4, 1.90, 0.50, 0.11, 0.38, 0.36, 0.38, 0.70, 0.55, 0.58, 0.33, 0.14, 0.7),
    "van": (5.0, 1.95, 0.95, 0.20, 0.85, 0.16, 0.78, 0.35, 0.05, 0.64, 0.34, 0.04, 0.0),
}
PARAMS = ("length", "width", "body_height", "clearance", "cabin_height", "cabin_start",
          "cabin_length", "windscreen_run", "rear_run", "wheelbase", "wheel_radius",
          "hood_drop", "spoiler_prob")


def wheel_arch(cx: float, radius: float, z0: float, z1: float, color: tuple) -> Part:
    """A flare over a wheel: the circular segment above its axle, slightly wider than the tyre."""
    angles = np.linspace(np.radians(15), np.radians(165), 12)
    arc = np.column_stack([cx + 1.18 * radius * np.cos(angles), radius + 1.18 * radius * np.sin(angles)])
    return prism(arc, z0, z1, color)


def car_parameters(rng: np.random.Generator) -> tuple[str, dict]:
    """Draw an archetype and jittered continuous parameters."""
    kind, params = draw(rng, {name: dict(zip(PARAMS, mean)) for name, mean in ARCHETYPES.items()})
    params["cabin_start"] = float(np.clip(params["cabin_start"], 0.1, 0.45))
    params["cabin_length"] = float(np.clip(params["cabin_length"], 0.3, 0.85 - params["cabin_start"]))
    params["spoiler"] = bool(rng.random() < ARCHETYPES[kind][-1])
    params["mirrors"] = bool(rng.random() < 0.85)
    return kind, params


def car_parts(p: dict, color: tuple) -> list[Part]:
    """Build a car from its parameters."""
    length, width, clear = p["length"], p["width"], p["clearance"]
    top = clear + p["body_height"]
    half_w = width / 2
    hood = top - p["hood_drop"]
    nose = 0.12 * p["body_height"]
    body = np.array([[-length / 2, clear], [length / 2 - nose, clear], [length / 2, clear + 0.35 * p["body_height"]],
                     [length / 2 - 0.05, hood], [0.0, top], [-length / 2 + 0.04, top],
                     [-length / 2, top - 0.15 * p["body_height"]]])
    parts = [prism(body, -half_w, half_w, color)]

    cab_x0 = length / 2 - p["cabin_start"] * length - p["cabin_length"] * length
    cab_x1 = length / 2 - p["cabin_start"] * length
    run_front = min(p["windscreen_run"], 0.45 * (cab_x1 - cab_x0))
    run_back = min(p["rear_run"], 0.45 * (cab_x1 - cab_x0))
    cab_top = top + p["cabin_height"]
    cabin = np.array([[cab_x0, top - 0.02], [cab_x1, top - 0.02], [cab_x1 - run_front, cab_top],
                      [cab_x0 + run_back, cab_top]])
    inset = 0.08 * width
    glass = (0.15, 0.18, 0.22)
    parts.append(prism(cabin, -half_w + inset, half_w - inset, glass))

    radius, wheel_w = p["wheel_radius"], 0.13 * width
    axle_x = p["wheelbase"] * length / 2
    tyre = (0.08, 0.08, 0.08)
    for x in (-axle_x, axle_x):
        for side in (-1, 1):
            z_out = side * (half_w - 0.02)
            z_in = z_out - side * wheel_w
            parts.append(cylinder("z", (x, radius, 0.0), radius, min(z_in, z_out), max(z_in, z_out), tyre))
            z0, z1 = sorted((side * (half_w - 0.02), side * (half_w + 0.04)))
            parts.append(wheel_arch(x, radius, z0, z1, color))

    bumper_h = 0.18 * p["body_height"]
    trim = (0.25, 0.25, 0.27)
    parts.append(box((length / 2 - 0.1, clear, -half_w + 0.05), (length / 2 + 0.08, clear + bumper_h, half_w - 0.05), trim))
    parts.append(box((-length / 2 - 0.08, clear, -half_w + 0.05), (-length / 2 + 0.1, clear + bumper_h, half_w - 0.05), trim))
    if p["mirrors"]:
        mx = cab_x1 - 0.1
        for side in (-1, 1):
            z0, z1 = sorted((side * (half_w - 0.02), side * (half_w + 0.14)))
            parts.append(box((mx - 0.12, top + 0.05, z0), (mx, top + 0.16, z1), color))
    if p["spoiler"]:
        x0 = -length / 2 + 0.02
        parts.append(box((x0, top, -0.3 * width), (x0 + 0.08, top + 0.14, 0.3 * width), trim))
        parts.append(box((x0 - 0.04, top + 0.14, -0.46 * width), (x0 + 0.3, top + 0.18, 0.46 * width), color))
    return parts


def car_object(rng: np.random.Generator) -> tuple[str, list[Part]]:
    """An archetype name and the parts of one car."""
    kind, params = car_parameters(rng)
    return kind, car_parts(params, color(rng))

"""The built-in synthetic dataset: procedurally generated, watertight car meshes.

Each car is a union of closed parts (body, cabin, wheels, wheel arches, bumpers, mirrors,
optional spoiler) whose sizes come from continuous parameters. Cars are drawn around a few
archetypes (sedan, hatchback, SUV, sports car, van) with small per-object jitter, so many
objects are near neighbours, as real cars are. Coordinates: x = length (front at +x),
y = up, z = width; units are metres before normalisation.
"""
import dataclasses
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tfrecords_tools.atomic import write_text_atomic

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
JITTER = 0.07  # relative standard deviation of each parameter around its archetype


@dataclasses.dataclass(frozen=True)
class Part:
    """A closed triangle mesh with one colour."""

    vertices: np.ndarray  # (N, 3) float64
    faces: np.ndarray  # (F, 3) int, outward (counter-clockwise) winding
    color: tuple[float, float, float]


def prism(profile: np.ndarray, z0: float, z1: float, color: tuple) -> Part:
    """Extrude a convex counter-clockwise polygon in the x-y plane from z0 to z1."""
    n = len(profile)
    back = np.column_stack([profile, np.full(n, z0)])
    front = np.column_stack([profile, np.full(n, z1)])
    faces = [[n + 0, n + i, n + i + 1] for i in range(1, n - 1)]
    faces += [[0, i + 1, i] for i in range(1, n - 1)]
    for i in range(n):
        j = (i + 1) % n
        faces += [[i, j, n + j], [i, n + j, n + i]]
    return Part(np.vstack([back, front]), np.array(faces), color)


def box(lo: tuple, hi: tuple, color: tuple) -> Part:
    """An axis-aligned box."""
    (x0, y0, z0), (x1, y1, _) = lo, hi
    return prism(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), z0, hi[2], color)


def cylinder_z(cx: float, cy: float, radius: float, z0: float, z1: float, color: tuple,
               sections: int = 24) -> Part:
    """A cylinder along z (a wheel)."""
    angles = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    circle = np.column_stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)])
    return prism(circle, z0, z1, color)


def wheel_arch(cx: float, radius: float, z0: float, z1: float, color: tuple) -> Part:
    """A flare over a wheel: the circular segment above its axle, slightly wider than the tyre."""
    angles = np.linspace(np.radians(15), np.radians(165), 12)
    arc = np.column_stack([cx + 1.18 * radius * np.cos(angles), radius + 1.18 * radius * np.sin(angles)])
    return prism(arc, z0, z1, color)


def car_parameters(rng: np.random.Generator) -> tuple[str, dict]:
    """Draw an archetype and jittered continuous parameters."""
    names = sorted(ARCHETYPES)
    kind = names[rng.integers(len(names))]
    mean = np.array(ARCHETYPES[kind])
    values = mean * (1.0 + JITTER * rng.standard_normal(len(mean)))
    params = dict(zip(PARAMS, values))
    params["cabin_start"] = float(np.clip(params["cabin_start"], 0.1, 0.45))
    params["cabin_length"] = float(np.clip(params["cabin_length"], 0.3, 0.85 - params["cabin_start"]))
    params["spoiler"] = bool(rng.random() < mean[-1])
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
            parts.append(cylinder_z(x, radius, radius, min(z_in, z_out), max(z_in, z_out), tyre))
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


def merge(parts: list[Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate parts into vertices (N,3), faces (F,3) and per-vertex colours (N,3)."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    vertices = np.vstack([p.vertices for p in parts])
    faces = np.vstack([p.faces + o for p, o in zip(parts, offsets)])
    colors = np.vstack([np.tile(p.color, (len(p.vertices), 1)) for p in parts])
    return vertices, faces, colors


def obj_text(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, header: str) -> str:
    """Wavefront OBJ with per-vertex colours (`v x y z r g b`), 1-based faces."""
    lines = [f"# {header}"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f} {r:.4f} {g:.4f} {b:.4f}"
              for (x, y, z), (r, g, b) in zip(vertices, colors)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return "\n".join(lines) + "\n"


def synth_car(seed: int, index: int) -> tuple[str, str]:
    """Return (object_id, OBJ text) of car `index` of the dataset drawn with `seed`."""
    rng = np.random.default_rng([seed, index])
    kind, params = car_parameters(rng)
    color = tuple(float(c) for c in rng.uniform(0.15, 0.95, 3))
    object_id = f"car-{seed}-{index:05d}"
    vertices, faces, colors = merge(car_parts(params, color))
    return object_id, obj_text(vertices, faces, colors, f"xmodal synthetic car {object_id} ({kind})")


def synth_dataset(out: str, objects: int, seed: int) -> list[Path]:
    """Write `objects` cars as OUT/<object_id>/model.obj plus OUT/metadata.json."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in tqdm(range(objects), desc="synth", unit="car", disable=objects < 50):
        object_id, text = synth_car(seed, index)
        path = root / object_id / "model.obj"
        path.parent.mkdir(exist_ok=True)
        write_text_atomic(path, text)
        paths.append(path)
    meta = {"category": "car", "source": f"xmodal synth, seed {seed}", "objects": objects}
    write_text_atomic(root / "metadata.json", json.dumps(meta, indent=2))
    return paths

"""The built-in synthetic datasets: procedurally generated objects of several categories.

Every object is a union of closed, outward-wound parts (`parts.py`) with one colour each, drawn
around a few archetypes of its category with per-object jitter of continuous parameters, so
objects of a category are near neighbours but each has its own proportions. y = up, +x = the
front; units are metres before normalisation. Object `index` of a dataset drawn with `seed`
belongs to category `categories[index % len(categories)]` and depends on (seed, index) only.
"""
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tfrecords_tools.synth.aircraft import aircraft_object
from tfrecords_tools.dataset.atomic import write_text_atomic
from tfrecords_tools.synth.cars import car_object
from tfrecords_tools.errors import UserError
from tfrecords_tools.synth.furniture import bench_object, bookshelf_object, chair_object, sofa_object, table_object
from tfrecords_tools.synth.lamps import lamp_object
from tfrecords_tools.synth.mugs import mug_object
from tfrecords_tools.synth.parts import Part, merge

BUILDERS: dict[str, Callable[[np.random.Generator], tuple[str, list[Part]]]] = {
    "car": car_object, "chair": chair_object, "table": table_object, "aircraft": aircraft_object, "sofa": sofa_object,
    "bench": bench_object, "bookshelf": bookshelf_object, "lamp": lamp_object, "mug": mug_object}
CATEGORIES = tuple(BUILDERS)


def obj_text(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, header: str) -> str:
    """Wavefront OBJ with per-vertex colours (`v x y z r g b`), 1-based faces."""
    lines = [f"# {header}"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f} {r:.4f} {g:.4f} {b:.4f}"
              for (x, y, z), (r, g, b) in zip(vertices, colors)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    return "\n".join(lines) + "\n"


def synth_object(category: str, seed: int, index: int) -> tuple[str, str]:
    """Return (object_id, OBJ text) of object `index`, a `category`, of the dataset drawn with `seed`."""
    kind, parts = BUILDERS[category](np.random.default_rng([seed, index]))
    object_id = f"{category}-{seed}-{index:05d}"
    return object_id, obj_text(*merge(parts), f"xmodal synthetic {category} {object_id} ({kind})")


def synth_car(seed: int, index: int) -> tuple[str, str]:
    """Return (object_id, OBJ text) of car `index` of the dataset drawn with `seed`."""
    return synth_object("car", seed, index)


def check_categories(categories: tuple[str, ...]) -> None:
    """Raise a UserError unless `categories` is a non-empty list of distinct known categories."""
    unknown = [c for c in categories if c not in BUILDERS]
    if unknown:
        raise UserError(f"unknown category {unknown[0]!r}; choose from {', '.join(CATEGORIES)}")
    if not categories or len(set(categories)) != len(categories):
        raise UserError(f"categories must be distinct and at least one, got {','.join(categories)!r}")


def synth_dataset(out: str, objects: int, seed: int, categories: tuple[str, ...] = ("car",)) -> list[Path]:
    """Write `objects` objects as OUT/<object_id>/model.obj plus OUT/metadata.json (the category of each)."""
    check_categories(categories)
    if objects < 1:
        raise UserError(f"--objects must be at least 1, got {objects}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths, category_of = [], {}
    for index in tqdm(range(objects), desc="synth", unit="object", disable=objects < 50):
        category = categories[index % len(categories)]
        object_id, text = synth_object(category, seed, index)
        path = root / object_id / "model.obj"
        path.parent.mkdir(exist_ok=True)
        write_text_atomic(path, text)
        paths.append(path)
        category_of[object_id] = category
    one = {"category": categories[0]} if len(categories) == 1 else {"categories": category_of}
    meta = {**one, "source": f"xmodal synth, seed {seed}", "objects": objects}
    write_text_atomic(root / "metadata.json", json.dumps(meta, indent=2))
    return paths

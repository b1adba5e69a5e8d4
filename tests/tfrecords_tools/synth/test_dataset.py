import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tfrecords_tools.synth.aircraft import AIRCRAFT
from tfrecords_tools.synth.cars import ARCHETYPES
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.errors import UserError
from tfrecords_tools.synth.furniture import BENCHES, BOOKSHELVES, CHAIRS, SOFAS, TABLES
from tfrecords_tools.synth.lamps import LAMPS
from tfrecords_tools.synth.mugs import MUGS
from tfrecords_tools.synth.parts import merge
from tfrecords_tools.dataset.read import dataset
from tfrecords_tools.synth.dataset import BUILDERS, CATEGORIES, synth_car, synth_dataset, synth_object
from tfrecords_tools.meshes.voxelize import voxelize

# sha256 of every file (relative path, then bytes) of synth_dataset(out, 8, seed=3), computed with
# the cars-only generator before other categories existed: the default output must never change.
CARS_BEFORE = "6fa43962adeb141d0804984959760931889df0b20dede21fe762fde8310ad4cb"
KINDS = {"car": ARCHETYPES, "chair": CHAIRS, "table": TABLES, "aircraft": AIRCRAFT, "sofa": SOFAS, "bench": BENCHES,
         "bookshelf": BOOKSHELVES, "lamp": LAMPS, "mug": MUGS}
ALL = ",".join(CATEGORIES)


def load(text: str) -> trimesh.Trimesh:
    return trimesh.load(io.StringIO(text), file_type="obj", process=False)


def folder_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_gives_identical_meshes_and_other_seeds_differ():
    assert synth_car(5, 7) == synth_car(5, 7)
    assert synth_car(5, 7)[1] != synth_car(6, 7)[1]
    for category in CATEGORIES:
        assert synth_object(category, 5, 7) == synth_object(category, 5, 7)
        assert synth_object(category, 5, 7)[1] != synth_object(category, 6, 7)[1]


def test_default_car_dataset_is_byte_identical_to_the_cars_only_generator(tmp_path):
    synth_dataset(str(tmp_path), 8, seed=3)
    assert folder_hash(tmp_path) == CARS_BEFORE


def test_cars_are_watertight_distinct_shapes():
    meshes = [load(synth_car(0, i)[1]) for i in range(10)]
    assert all(m.is_watertight and m.volume > 0 for m in meshes)
    extents = np.array([m.extents / m.extents.max() for m in meshes])
    gaps = np.linalg.norm(extents[:, None] - extents[None], axis=2)[np.triu_indices(10, 1)]
    assert gaps.min() > 1e-3  # every car has its own proportions


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_archetype_is_built_of_closed_outward_parts(category):
    seen = set()
    for index in range(40):
        kind, parts = BUILDERS[category](np.random.default_rng([0, index]))
        seen.add(kind)
        for part in parts:
            mesh = trimesh.Trimesh(part.vertices, part.faces, process=False)
            assert mesh.is_watertight and mesh.is_winding_consistent, (kind, part.color)
            assert mesh.volume > 0, (kind, part.color)  # outward: inward winding gives a negative volume
    assert seen == set(KINDS[category])


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c != "car"])
def test_objects_are_distinct_and_thin_parts_keep_a_voxel_at_32(category):
    extents = []
    for index in range(6):
        _, parts = BUILDERS[category](np.random.default_rng([1, index]))
        vertices = merge(parts)[0]
        scale = (vertices.max(axis=0) - vertices.min(axis=0)).max() / 32  # metres per voxel at 32^3
        extents.append((vertices.max(axis=0) - vertices.min(axis=0)) / scale)
        for part in parts:
            mesh = trimesh.Trimesh(part.vertices / scale, part.faces, process=False)
            assert mesh.bounding_box_oriented.primitive.extents.min() > 0.9  # voxels
    extents = np.array(extents)
    gaps = np.abs(extents[:, None] - extents[None]).max(axis=2)[np.triu_indices(6, 1)]
    assert gaps.min() > 0.03  # every object has its own proportions


@pytest.mark.parametrize("category", CATEGORIES)
def test_voxels_are_solid_without_streaks(category):
    """Each part alone fills at least its volume, and the object's voxels stay inside the parts' boxes."""
    res = 32
    _, parts = BUILDERS[category](np.random.default_rng([2, 0]))
    vertices = merge(parts)[0]
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    centre, scale = (lo + hi) / 2, (hi - lo).max()
    cells = (np.indices((res,) * 3).transpose(1, 2, 3, 0) + 0.5) / res - 0.5  # (R, R, R, 3) voxel centres
    allowed = np.zeros((res,) * 3, bool)
    for part in parts:
        moved = (part.vertices - centre) / scale
        alone = voxelize(moved, part.faces, res)
        near = np.all((cells >= moved.min(axis=0) - 1 / res) & (cells <= moved.max(axis=0) + 1 / res), axis=-1)
        assert not (alone & ~near).any()
        assert alone.sum() >= trimesh.Trimesh(moved, part.faces, process=False).volume * res**3
        allowed |= near
    whole = voxelize((merge(parts)[0] - centre) / scale, merge(parts)[1], res)
    assert whole.any() and not (whole & ~allowed).any()


def test_cli_writes_the_categories_in_turn_identically_to_this_process(tmp_path):
    count = len(CATEGORIES) + 1
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "synth", "--out", str(tmp_path), "--objects",
                           str(count), "--seed", "4", "--categories", ALL], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((tmp_path / "metadata.json").read_text())
    expected = [CATEGORIES[i % len(CATEGORIES)] for i in range(count)]
    assert list(meta["categories"].values()) == expected
    for index, category in enumerate(expected):
        object_id, text = synth_object(category, 4, index)
        assert meta["categories"][object_id] == category
        assert (tmp_path / object_id / "model.obj").read_text() == text


def test_cli_rejects_an_unknown_category_in_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "meshes"
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "synth", "--out", str(out), "--objects", "3",
                           "--categories", "car,boat"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: unknown category 'boat'; choose from {', '.join(CATEGORIES)}"]
    assert not out.exists()


@pytest.mark.parametrize("objects, categories, message", [
    (3, ("car", "car"), "distinct"), (3, (), "at least one"), (0, ("car",), "--objects must be at least 1")])
def test_repeated_or_no_categories_and_no_objects_are_user_errors(tmp_path, objects, categories, message):
    with pytest.raises(UserError, match=message):
        synth_dataset(str(tmp_path / "meshes"), objects, 0, categories)
    assert not (tmp_path / "meshes").exists()


def test_converted_records_carry_each_objects_category(tmp_path):
    four = ("car", "chair", "table", "aircraft")
    synth_dataset(str(tmp_path / "meshes"), 4, seed=2, categories=four)
    convert(ConvertConfig(meshes=str(tmp_path / "meshes"), out=str(tmp_path / "data"), voxel_res=32, image_size=64,
                          views=2, workers=1, seed=0))
    found = {}
    for split in ("train", "test"):
        for row in dataset(str(tmp_path / "data"), split).as_numpy_iterator():
            found[row["object_id"].decode()] = row["category"].decode()
            assert row["voxels"].sum() > 0
    assert found == {f"{c}-2-{i:05d}": c for i, c in enumerate(four)}

"""Importers: tiny fixtures in each layout, written here by hand (no external data)."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import trimesh
from PIL import Image

from tfrecords_tools.meshes.binvox import Binvox, write_binvox
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes.sources import detect_format, discover, synset_names, unusable_inputs

SMALL = dict(voxel_res=16, image_size=32, views=2, workers=1, seed=0)


def r2n2_tree(root: Path) -> None:
    """Two models of 3D-R2N2's layout: a 32^3 box as binvox, three RGBA 137^2 renders, metadata lines."""
    for synset, model, lo in (("02958343", "aaa", 8), ("03001627", "bbb", 4)):
        voxels = np.zeros((32, 32, 32), bool)
        voxels[lo:32 - lo, 10:20, lo:32 - lo] = True
        vox_dir = root / "ShapeNetVox32" / synset / model
        vox_dir.mkdir(parents=True)
        write_binvox(vox_dir / "model.binvox", Binvox(voxels))
        renders = root / "ShapeNetRendering" / synset / model / "rendering"
        renders.mkdir(parents=True)
        names = []
        for i in range(3):
            rgba = np.zeros((137, 137, 4), np.uint8)
            rgba[40:100, 30:110] = (200, 30, 30, 255)  # an opaque object, transparent around it
            Image.fromarray(rgba, "RGBA").save(renders / f"{i:02d}.png")
            names.append(f"{i:02d}.png")
        (renders / "renderings.txt").write_text("\n".join(names) + "\n")
        (renders / "rendering_metadata.txt").write_text(
            "".join(f"{30.0 * i} {10.0 + i} 0 {0.8 + 0.1 * i} 25\n" for i in range(3)))


def off_text(mesh: trimesh.Trimesh) -> str:
    lines = ["OFF", f"{len(mesh.vertices)} {len(mesh.faces)} 0"]
    lines += [" ".join(f"{c:.5f}" for c in v) for v in mesh.vertices]
    lines += ["3 " + " ".join(map(str, f)) for f in mesh.faces]
    return "\n".join(lines) + "\n"


def parse(data: Path) -> list[dict]:
    spec = {"object_id": tf.io.FixedLenFeature([], tf.string), "category": tf.io.FixedLenFeature([], tf.string),
            "voxels": tf.io.FixedLenFeature([], tf.string), "images": tf.io.VarLenFeature(tf.string),
            "viewpoints": tf.io.VarLenFeature(tf.float32), "voxel_res": tf.io.FixedLenFeature([], tf.int64)}
    files = sorted(str(p) for p in data.glob("*.tfrecord"))
    return [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(files)]


def test_r2n2_converts_to_shards_readable_with_plain_tensorflow(tmp_path):
    r2n2_tree(tmp_path / "r2n2")
    convert(ConvertConfig(meshes=str(tmp_path / "r2n2"), out=str(tmp_path / "data"), format="r2n2",
                          background="white", test_fraction=0.0, **SMALL))
    records = {r["object_id"].numpy().decode(): r for r in parse(tmp_path / "data")}
    assert set(records) == {"02958343/aaa", "03001627/bbb"}
    car = records["02958343/aaa"]
    assert car["category"].numpy() == b"car" and int(car["voxel_res"]) == 16
    grid = np.unpackbits(np.frombuffer(car["voxels"].numpy(), np.uint8)).reshape(16, 16, 16)
    assert grid[8, 7, 8] and not grid[0, 0, 0] and grid.sum() == 8 * 5 * 8  # resampled 32 -> 16
    pngs = tf.sparse.to_dense(car["images"]).numpy()
    image = np.asarray(Image.open(io.BytesIO(pngs[0])))
    assert image.shape == (32, 32, 4)
    assert (image[0, 0, :3] == 255).all() and image[16, 16, 0] > 150 > image[16, 16, 1]  # white around, red object
    rgb, alpha = image[..., :3], image[..., 3]
    assert alpha[0, 0] == 0 and alpha[16, 16] == 255  # the render's own alpha: the object's mask
    assert ((rgb != 255).any(axis=2) == (alpha > 0)).all()  # resized alike: the mask covers the red object
    np.testing.assert_allclose(tf.sparse.to_dense(car["viewpoints"]).numpy(), [0, 10, 0, 0.8, 30, 11, 0, 0.9],
                               rtol=1e-6)


def test_r2n2_refuses_render_randomisation_and_up(tmp_path):
    r2n2_tree(tmp_path / "r2n2")
    with pytest.raises(UserError, match="--format r2n2 brings its own renders: --fov-jitter randomises"):
        convert(ConvertConfig(meshes=str(tmp_path / "r2n2"), out=str(tmp_path / "data"), fov_jitter=0.1, **SMALL))
    with pytest.raises(UserError, match="--format r2n2 brings its own voxels and renders, upright: --up turns meshes"):
        convert(ConvertConfig(meshes=str(tmp_path / "r2n2"), out=str(tmp_path / "data"), up="z", **SMALL))


def modelnet_tree(root: Path) -> None:
    """ModelNet's layout: CLASS/train/NAME.off (two each) and CLASS/test/NAME.off (one each) of two classes."""
    for cls, mesh in (("box", trimesh.creation.box(extents=(1, 0.5, 0.7))), ("ball", trimesh.creation.icosphere(2))):
        for split, count in (("train", 2), ("test", 1)):
            folder = root / cls / split
            folder.mkdir(parents=True)
            for i in range(count):
                (folder / f"{cls}_{i:04d}.off").write_text(off_text(mesh))


def test_folder_keeps_modelnet_splits_and_class_categories(tmp_path):
    root = tmp_path / "modelnet"
    modelnet_tree(root)
    sources = discover("folder", str(root))
    assert {(s.object_id, s.category, s.split) for s in sources} >= {("box/train/box_0000", "box", "train"),
                                                                      ("ball/test/ball_0000", "ball", "test")}
    convert(ConvertConfig(meshes=str(root), out=str(tmp_path / "data"), format="folder", **SMALL))
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert (manifest["splits"]["train"]["objects"], manifest["splits"]["test"]["objects"]) == (4, 2)
    test_ids = {r["object_id"].numpy().decode() for r in parse_split(tmp_path / "data", "test")}
    assert test_ids == {"box/test/box_0000", "ball/test/ball_0000"}


def parse_split(data: Path, split: str) -> list[dict]:
    spec = {"object_id": tf.io.FixedLenFeature([], tf.string)}
    files = sorted(str(p) for p in data.glob(f"{split}-*.tfrecord"))
    return [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(files)]


def test_shapenet_v1_and_v2_layouts_with_synset_filter(tmp_path):
    obj = trimesh.exchange.obj.export_obj(trimesh.creation.box(extents=(1, 0.4, 0.5)))
    for path in ("02958343/m1/model.obj", "02958343/m2/models/model_normalized.obj", "03001627/m3/model.obj"):
        (tmp_path / path).parent.mkdir(parents=True)
        (tmp_path / path).write_text(obj)
    found = {(s.object_id, s.category) for s in discover("shapenet", str(tmp_path))}
    assert found == {("02958343/m1", "car"), ("02958343/m2", "car"), ("03001627/m3", "chair")}
    cars = discover("shapenet", str(tmp_path), synsets=("02958343",))
    assert {s.object_id for s in cars} == {"02958343/m1", "02958343/m2"}


def test_r2n2_without_renderings_folder_is_a_user_error(tmp_path):
    (tmp_path / "ShapeNetVox32").mkdir()
    with pytest.raises(UserError, match="ShapeNetRendering"):
        discover("r2n2", str(tmp_path))


def synth_tree(root: Path, meta: str) -> None:
    """Two one-triangle meshes in the synth layout and a metadata.json of the given text."""
    for object_id in ("a-1", "b-2"):
        (root / object_id).mkdir(parents=True)
        (root / object_id / "model.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (root / "metadata.json").write_text(meta)


def test_synth_category_per_object_from_metadata_unless_the_flag_sets_one(tmp_path):
    synth_tree(tmp_path, json.dumps({"categories": {"a-1": "chair"}, "category": "thing"}))
    assert {s.object_id: s.category for s in discover("synth", str(tmp_path))} == {"a-1": "chair", "b-2": "thing"}
    assert {s.category for s in discover("synth", str(tmp_path), category="lamp")} == {"lamp"}


@pytest.mark.parametrize("meta", ["{not json", json.dumps(["car"]), json.dumps({"categories": ["car"]})])
def test_synth_metadata_that_is_not_a_json_object_is_a_user_error(tmp_path, meta):
    synth_tree(tmp_path, meta)
    with pytest.raises(UserError, match="metadata.json"):
        discover("synth", str(tmp_path))


def write_meshes(root: Path, paths: list[str]) -> None:
    """A small box at each relative path under root."""
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        trimesh.creation.box(extents=(1, 0.4, 0.5)).export(root / path)


def test_each_layout_is_detected(tmp_path):
    modelnet_tree(tmp_path / "modelnet")
    r2n2_tree(tmp_path / "r2n2")
    write_meshes(tmp_path / "classes", ["chair/a.obj", "chair/b.obj", "table/c.off"])
    write_meshes(tmp_path / "synth", ["car1/model.obj", "car2/model.obj"])
    write_meshes(tmp_path / "flat", ["a.obj", "b.stl"])
    write_meshes(tmp_path / "shapenet", ["02958343/m1/model.obj", "03001627/m3/models/model_normalized.obj"])
    detected = {name: detect_format(str(tmp_path / name))
                for name in ("modelnet", "r2n2", "classes", "synth", "flat", "shapenet")}
    assert detected == {"modelnet": "folder", "r2n2": "r2n2", "classes": "folder", "synth": "synth", "flat": "synth",
                        "shapenet": "shapenet"}


def test_class_folders_without_format_get_class_categories_and_the_format_is_printed(tmp_path, capsys):
    write_meshes(tmp_path / "classes", ["chair/a.obj", "chair/b.obj", "table/c.off"])
    manifest = convert(ConvertConfig(meshes=str(tmp_path / "classes"), out=str(tmp_path / "data"),
                                     test_fraction=0.0, **SMALL))
    assert "--format folder: detected" in capsys.readouterr().out and manifest["config"]["format"] == "folder"
    spec = {"object_id": tf.io.FixedLenFeature([], tf.string), "category": tf.io.FixedLenFeature([], tf.string)}
    records = [tf.io.parse_single_example(r, spec) for r in
               tf.data.TFRecordDataset(sorted(str(p) for p in (tmp_path / "data").glob("*.tfrecord")))]
    assert {(r["object_id"].numpy(), r["category"].numpy()) for r in records} == {
        (b"chair/a", b"chair"), (b"chair/b", b"chair"), (b"table/c", b"table")}


def test_every_duplicate_object_id_is_in_one_error_before_any_work(tmp_path):
    write_meshes(tmp_path, [f"car{i}/model.{suffix}" for i in range(5) for suffix in ("obj", "off")])
    write_meshes(tmp_path, ["solo/model.obj"])
    with pytest.raises(UserError, match=r"^5 object id\(s\) given by more than one input: 'car0' \(") as raised:
        discover("synth", str(tmp_path))
    message = str(raised.value)
    assert f"{tmp_path / 'car0' / 'model.obj'} and {tmp_path / 'car0' / 'model.off'}" in message
    assert "'car2'" in message and "'car3'" not in message and "..." in message and "solo" not in message


def test_symlinked_folders_are_followed_and_a_loop_is_visited_once(tmp_path):
    write_meshes(tmp_path / "elsewhere", ["table/t.obj"])
    write_meshes(tmp_path / "root", ["chair/c.obj"])
    (tmp_path / "root" / "table").symlink_to(tmp_path / "elsewhere" / "table")
    (tmp_path / "root" / "chair" / "again").symlink_to(tmp_path / "root")  # a loop
    found = {(s.object_id, s.category) for s in discover("folder", str(tmp_path / "root"))}
    assert found == {("chair/c", "chair"), ("table/t", "table")}


def test_files_of_other_types_and_shapenet_folders_without_a_model_are_skipped_inputs(tmp_path):
    write_meshes(tmp_path / "mixed", ["chair/a.obj"])
    for name in ("chair/a.mtl", "chair/wood.png", "chair/wood.JPG", "metadata.json", ".DS_Store", "part.STEP",
                 "chair/notes"):
        (tmp_path / "mixed" / name).write_text("x")
    assert unusable_inputs("folder", str(tmp_path / "mixed")) == [
        {"path": str(tmp_path / "mixed" / "chair" / "notes"), "reason": "unsupported file type (none)"},
        {"path": str(tmp_path / "mixed" / "part.STEP"), "reason": "unsupported file type .step"}]
    write_meshes(tmp_path / "shapenet", ["02958343/m1/models/model_normalized.obj"])
    (tmp_path / "shapenet" / "02958343" / "m2" / "models").mkdir(parents=True)
    (tmp_path / "shapenet" / "02958343" / "m2" / "models" / "model_normalized.mtl").write_text("x")
    [missing] = unusable_inputs("shapenet", str(tmp_path / "shapenet"))
    assert missing == {"path": str(tmp_path / "shapenet" / "02958343" / "m2"),
                       "reason": "no model: neither model.obj nor models/model_normalized.obj in the model folder"}
    assert unusable_inputs("shapenet", str(tmp_path / "shapenet"), synsets=("03001627",)) == []


def test_shapenet_skipped_inputs_keep_to_the_synsets_asked_for(tmp_path):
    """Files of other types in a synset folder that --synsets leaves out are not the run's skipped inputs."""
    root = tmp_path / "shapenet"
    write_meshes(root, ["02958343/car/models/model_normalized.obj", "03001627/chair/model.obj"])
    for name in ("02958343/car/models/notes.txt", "03001627/chair/readme.txt", "taxonomy.csv"):
        (root / name).write_text("x")
    skipped = {Path(entry["path"]).relative_to(root).as_posix() for entry in
               unusable_inputs("shapenet", str(root), synsets=("02958343",))}
    assert skipped == {"02958343/car/models/notes.txt", "taxonomy.csv"}  # not 03001627's file
    assert len(unusable_inputs("shapenet", str(root))) == 3  # every synset without --synsets


R2N2_CATEGORIES = {"02691156": "airplane", "02828884": "bench", "02933112": "cabinet", "02958343": "car",
                   "03001627": "chair", "03211117": "display", "03636649": "lamp", "03691459": "loudspeaker",
                   "04090263": "rifle", "04256520": "sofa", "04379243": "table", "04401088": "telephone",
                   "04530566": "watercraft"}


def test_the_13_r2n2_synsets_have_their_names_and_records_keep_the_synset_in_the_id(tmp_path):
    names = synset_names()
    assert {synset: names[synset] for synset in R2N2_CATEGORIES} == R2N2_CATEGORIES
    obj = trimesh.exchange.obj.export_obj(trimesh.creation.box(extents=(1, 0.4, 0.5)))
    for synset in R2N2_CATEGORIES:
        (tmp_path / synset / "m" / "models").mkdir(parents=True)
        (tmp_path / synset / "m" / "models" / "model_normalized.obj").write_text(obj)
    found = {s.object_id: s.category for s in discover("shapenet", str(tmp_path))}
    assert found == {f"{synset}/m": name for synset, name in R2N2_CATEGORIES.items()}

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import tensorflow as tf
import trimesh
from PIL import Image

from tests.conftest import TINY
from tfrecords_tools import convert as convert_module
from tfrecords_tools.config import VIEWPOINT_SETS, ConvertConfig
from tfrecords_tools.convert import convert, with_workers
from tfrecords_tools.errors import UserError
from tfrecords_tools.inspect import summary, verify
from tfrecords_tools.dataset.records import decode_images, decode_rgba, has_masks

PLAIN_SPEC = {  # the public feature list of docs/format.md, nothing from our reader
    "object_id": tf.io.FixedLenFeature([], tf.string),
    "category": tf.io.FixedLenFeature([], tf.string),
    "voxel_res": tf.io.FixedLenFeature([], tf.int64),
    "voxels": tf.io.FixedLenFeature([], tf.string),
    "images": tf.io.VarLenFeature(tf.string),
    "viewpoints": tf.io.VarLenFeature(tf.float32),
}


def plain_records(data: str, split: str) -> list[dict]:
    files = sorted(str(p) for p in Path(data).glob(f"{split}-*.tfrecord"))
    return [tf.io.parse_single_example(r, PLAIN_SPEC) for r in tf.data.TFRecordDataset(files)]


def shard_bytes(data: str) -> dict:
    return {p.name: p.read_bytes() for p in sorted(Path(data).iterdir())}


def test_records_read_with_plain_tensorflow(tiny_data):
    train, test = plain_records(tiny_data, "train"), plain_records(tiny_data, "test")
    assert len(train) + len(test) == 12
    ids = {split: {r["object_id"].numpy() for r in records} for split, records in (("train", train), ("test", test))}
    assert ids["train"].isdisjoint(ids["test"]) and len(ids["test"]) == 3
    for record in train + test:
        res = int(record["voxel_res"])
        grid = np.unpackbits(np.frombuffer(record["voxels"].numpy(), np.uint8)).reshape(res, res, res)
        assert res == 32 and 0.02 < grid.mean() < 0.6
        assert grid[16, :, 16].any() and not grid[0, 0, 0]  # solid through the middle, empty corner
        assert record["category"].numpy() == b"car"
        images = tf.sparse.to_dense(record["images"]).numpy()
        assert len(images) == 4
        for png in images:
            pixels = np.asarray(Image.open(io.BytesIO(png)))
            assert pixels.shape == (64, 64, 4)  # RGBA: alpha the object's coverage
            assert (pixels != pixels[0, 0]).any(axis=2).mean() > 0.05  # an object over the background
        assert tf.sparse.to_dense(record["viewpoints"]).shape == (16,)


def test_renders_carry_their_mask_through_the_conversion(tiny_data):
    from tfrecords_tools.meshes.render import project  # geometry only: no OpenGL context in this process

    manifest = json.loads((Path(tiny_data) / "manifest.json").read_text())
    assert manifest["format_version"] == 3 and has_masks(manifest)
    for record in plain_records(tiny_data, "test"):
        pngs = tf.sparse.to_dense(record["images"])
        rgba, rgb = decode_rgba(pngs, 64).numpy(), decode_images(pngs, 64).numpy()  # (4, 64, 64, 4), (4, 64, 64, 3)
        np.testing.assert_array_equal(rgb, rgba[..., :3])
        for image, viewpoint in zip(rgba, tf.sparse.to_dense(record["viewpoints"]).numpy().reshape(4, 4)):
            alpha = image[..., 3]
            assert (np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]]) == 0).all()  # corners, border
            col, row = project(np.zeros((1, 3)), viewpoint, 64)[0].astype(int)
            assert alpha[row, col] == 255  # the object's centre
            background = image[0, 0, :3]
            assert ((image[..., :3] != background).any(axis=2) == (alpha > 0)).mean() > 0.99  # mask = object


def test_corrupt_mesh_is_skipped_and_listed(tiny_data):
    manifest = json.loads((Path(tiny_data) / "manifest.json").read_text())
    assert [Path(s["path"]).parent.name for s in manifest["skipped"]] == ["broken"]
    assert manifest["splits"]["train"]["objects"] + manifest["splits"]["test"]["objects"] == 12


def test_same_seed_gives_identical_shards_in_another_process(tiny_meshes, tiny_data, tmp_path):
    again = tmp_path / "again"
    flags = ["--voxel-res", "32", "--image-size", "64", "--views", "4", "--workers", "1", "--seed", "3"]
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "convert", "--meshes", tiny_meshes,
                           "--out", str(again), *flags], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shard_bytes(str(again)) == shard_bytes(tiny_data)


def test_interrupted_conversion_resumes_to_identical_output(tiny_meshes, tiny_data, tmp_path, monkeypatch):
    small = {**TINY, "shard_mb": 0.06}  # about two objects per shard
    full = tmp_path / "full"
    convert(ConvertConfig(meshes=tiny_meshes, out=str(full), **small))
    written = []

    def dying_write(path, examples):
        if len(written) == 2:  # die half-way through the third shard
            next(iter(examples))
            raise KeyboardInterrupt
        written.append(path)
        return real_write(path, examples)

    real_write = convert_module.write_shard
    monkeypatch.setattr(convert_module, "write_shard", dying_write)
    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        convert(ConvertConfig(meshes=tiny_meshes, out=str(resumed), **small))
    assert len(list(resumed.glob("*.tfrecord"))) == 2 and not (resumed / "manifest.json").exists()
    monkeypatch.setattr(convert_module, "write_shard", real_write)
    convert(ConvertConfig(meshes=tiny_meshes, out=str(resumed), **small))
    assert len(list(full.glob("*.tfrecord"))) > 3
    assert shard_bytes(str(resumed)) == shard_bytes(str(full))


def test_inspect_names_a_truncated_shard(tiny_data, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in Path(tiny_data).iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    victim = sorted(broken.glob("train-*.tfrecord"))[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(UserError, match=victim.name):
        verify(str(broken))
    verify(tiny_data)


@pytest.mark.parametrize("change", [{"seed": 99}, {"light_jitter": 0.5}, {"off_centre": 0.2}])
def test_other_settings_in_the_same_output_are_refused(tiny_meshes, tiny_data, change):
    with pytest.raises(UserError, match="other settings"):
        convert(ConvertConfig(meshes=tiny_meshes, out=tiny_data, **{**TINY, **change}))


@pytest.mark.parametrize("change, message", [
    ({"light_jitter": 1.5}, "--light-jitter must be from 0 to 1, got 1.5"),
    ({"fov_jitter": 0.9}, "--fov-jitter must be from 0 to 0.8, got 0.9"),
    ({"off_centre": -0.1}, "--off-centre must be from 0 to 1, got -0.1"),
    ({"truncation": float("nan")}, "--truncation must be from 0 to 1, got nan"),
    ({"material_jitter": 2.0}, "--material-jitter must be from 0 to 1, got 2.0"),
])
def test_render_randomisation_out_of_range_is_one_user_error_line(tiny_meshes, tmp_path, change, message):
    with pytest.raises(UserError) as raised:
        convert(ConvertConfig(meshes=tiny_meshes, out=str(tmp_path / "out"), **{**TINY, **change}))
    assert str(raised.value) == message and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["convert", "--meshes", "/nonexistent/meshes", "--out", "OUT"], "does not exist"),
    (["inspect", "/nonexistent/data"], "does not exist"),
])
def test_cli_user_mistakes_are_one_line_exit_2(args, message, tmp_path):
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", *args], capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_empty_input_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no objects"):
        convert(ConvertConfig(meshes=str(tmp_path), out=str(tmp_path / "out"), **TINY))


def test_meshes_with_failing_materials_convert_untextured(tmp_path):
    from tests.tfrecords_tools.meshes.test_load import COLOUR_ONLY, MISSING_TEXTURE, write_obj_with_material

    write_obj_with_material(tmp_path / "meshes" / "red", "model", COLOUR_ONLY)
    write_obj_with_material(tmp_path / "meshes" / "green", "model", MISSING_TEXTURE)
    manifest = convert(ConvertConfig(meshes=str(tmp_path / "meshes"), out=str(tmp_path / "data"), voxel_res=16,
                                     image_size=32, views=2, workers=1, test_fraction=0.0, background="white"))
    assert manifest["skipped"] == [] and manifest["splits"]["train"]["objects"] == 2
    for record in plain_records(str(tmp_path / "data"), "train"):
        centre = np.asarray(Image.open(io.BytesIO(tf.sparse.to_dense(record["images"]).numpy()[0])))[16, 16, :3]
        strongest = {b"red": 0, b"green": 1}[record["object_id"].numpy()]
        assert centre.argmax() == strongest and centre.max() > centre.min() + 40  # shaded in its material's colour


def test_any_failure_inside_one_object_is_a_skipped_entry_with_type_and_message(tiny_meshes, tmp_path, monkeypatch):
    from tfrecords_tools.meshes import objects

    def failing_voxels(*args):
        raise TypeError("unsupported operand type(s) for *: 'int' and 'NoneType'")

    monkeypatch.setattr(objects, "mesh_voxels", failing_voxels)
    monkeypatch.setattr(convert_module, "imap_spawned", lambda function, jobs, workers: (function(*j) for j in jobs))
    cfg = ConvertConfig(meshes=tiny_meshes, out=str(tmp_path / "data"), **TINY)
    for _ in range(2):  # every input failed: an error from the conversion and from a second call on its output
        with pytest.raises(UserError, match=r"no object converted: all 13 inputs were skipped; the first, .*manifest"):
            convert(cfg)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    reasons = {Path(s["path"]).parent.name: s["reason"] for s in manifest["skipped"]}
    assert len(reasons) == 13 and reasons["broken"].startswith("cannot load")
    assert {r for name, r in reasons.items() if name != "broken"} == {
        "TypeError: unsupported operand type(s) for *: 'int' and 'NoneType'"}


@pytest.fixture(scope="module")
def odd_inputs(tmp_path_factory) -> tuple[Path, dict, str]:
    """A folder of awkward inputs converted with --up z: (the folder, the manifest, what the conversion printed)."""
    from tests.tfrecords_tools.meshes.test_load import draco_glb

    meshes = tmp_path_factory.mktemp("odd") / "meshes"
    meshes.mkdir()
    tall = trimesh.creation.box(extents=(0.4, 0.6, 1.0))  # z up: tallest along z
    tall.export(meshes / "tall.off")
    stray = trimesh.Trimesh(np.vstack([tall.vertices, [[3.0, 0.0, 0.0]]]), tall.faces, process=False)
    stray.export(meshes / "stray.off")  # the same box and a vertex no face uses
    trimesh.creation.box().export(meshes / "cube.obj")
    trimesh.Trimesh(*trimesh.remesh.subdivide(trimesh.creation.box().vertices, trimesh.creation.box().faces)).export(
        meshes / "fine_cube.stl")  # another file, the same cube
    (meshes / "part.STEP").write_text("ISO-10303-21;\n")
    (meshes / "draco.glb").write_bytes(draco_glb(trimesh.creation.box()))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        manifest = convert(ConvertConfig(meshes=str(meshes), out=str(meshes.parent / "data"), voxel_res=16,
                                         image_size=32, views=2, workers=1, test_fraction=0.0, up="z"))
    return meshes, manifest, printed.getvalue()


def voxel_grids(data: Path) -> dict[str, np.ndarray]:
    """object id -> (R, R, R) grid of every record of a dataset."""
    return {r["object_id"].numpy().decode(): np.unpackbits(np.frombuffer(r["voxels"].numpy(), np.uint8)).reshape(
        (int(r["voxel_res"]),) * 3) for split in ("train", "test") for r in plain_records(str(data), split)}


def test_up_axis_is_recorded_and_turns_the_objects(odd_inputs):
    meshes, manifest, _ = odd_inputs
    assert manifest["up"] == "z" and manifest["config"]["up"] == "z"
    filled = np.argwhere(voxel_grids(meshes.parent / "data")["tall"])
    x, y, z = np.ptp(filled, axis=0) + 1
    assert y == 16 and x < z < 16  # 0.4 x 0.6 x 1.0 in the file: its z turned to our y, its y to -z
    assert "up: the meshes' z axis" in summary(manifest)


def test_auto_viewpoints_are_the_car_set_for_cars_and_generic_otherwise(odd_inputs, tiny_data):
    _, manifest, printed = odd_inputs
    assert "--viewpoints generic: not every object is a car (pass --viewpoints to choose another)" in printed
    generic = hashlib.sha256(Path(VIEWPOINT_SETS["generic"]).read_bytes()).hexdigest()
    assert manifest["viewpoints"] == "generic_viewpoints.txt" and manifest["config"]["viewpoints"] == generic
    cars = json.loads((Path(tiny_data) / "manifest.json").read_text())
    assert cars["viewpoints"] == "car_viewpoints.txt"


def test_skipped_inputs_are_counted_by_reason_with_their_paths(odd_inputs):
    meshes, manifest, printed = odd_inputs
    reasons = {Path(s["path"]).name: s["reason"] for s in manifest["skipped"]}
    assert reasons["part.STEP"] == "unsupported file type .step"
    assert reasons["draco.glb"].startswith("decoding failed: every vertex of")
    assert f"  skipped 1: unsupported file type .step: {meshes / 'part.STEP'}" in printed.splitlines()
    assert f"  skipped 1: {reasons['draco.glb']}: {meshes / 'draco.glb'}" in printed.splitlines()


def test_stray_vertices_and_identical_grids_are_warnings(odd_inputs):
    _, manifest, printed = odd_inputs
    warnings = {(w["object_id"], w["warning"]) for w in manifest["warnings"]}
    assert ("cube", "the same voxel grid as 1 other object(s): fine_cube") in warnings
    assert ("stray", "the same voxel grid as 1 other object(s): tall") in warnings
    assert ("stray", "1 vertices used by no face were dropped: they widened the bounding box (largest side 3.2, "
                     "the faces' 1)") in warnings
    assert "  warning: cube: the same voxel grid as 1 other object(s): fine_cube" in printed.splitlines()


def test_workers_beyond_the_cores_are_lowered_with_a_note(capsys):
    cores = len(os.sched_getaffinity(0))
    assert with_workers(ConvertConfig(meshes="m", out="o", workers=1000)).workers == cores
    assert capsys.readouterr().out == (f"--workers 1000: lowered to {cores}, the cores available (more processes "
                                       "would only add memory and contention)\n")
    assert with_workers(ConvertConfig(meshes="m", out="o", workers=cores)).workers == cores
    assert capsys.readouterr().out == ""


def two_boxes(root: Path) -> Path:
    """A folder of two boxes of other shapes."""
    root.mkdir(parents=True)
    for name, extents in (("long", (1.0, 0.4, 0.5)), ("flat", (1.0, 0.2, 0.9))):
        trimesh.creation.box(extents=extents).export(root / f"{name}.obj")
    return root


@pytest.mark.parametrize("name, text, problem", [
    ("manifest.json", "[1, 2]", "not a manifest written by convert: the manifest must be a JSON object, not list"),
    ("manifest.json", '{"splits": {}}', "not a manifest written by convert: key config is missing"),
    ("manifest.json", '{"config": {"seed"', "unreadable: "),
    (".progress/config.json", '"settings"', "not the settings written by convert: the settings must be a JSON object"),
    (".progress/train-00000-of-00001.tfrecord.json", '{"split": "train"}',
     "not a shard record written by convert (remove the folder it is in to start over): key file is missing"),
])
def test_a_manifest_or_progress_file_we_did_not_write_is_one_line_naming_it(tmp_path, name, text, problem):
    cfg = ConvertConfig(meshes=str(two_boxes(tmp_path / "meshes")), out=str(tmp_path / "data"), format="synth",
                        viewpoints=VIEWPOINT_SETS["generic"], voxel_res=16, image_size=32, views=2, workers=1,
                        test_fraction=0.0)
    if name.startswith(".progress/train"):  # the settings are ours, every shard is done, one record is not ours
        (tmp_path / "data" / ".progress").mkdir(parents=True)
        (tmp_path / "data" / ".progress" / "config.json").write_text(json.dumps(cfg.identity()))
        (tmp_path / "data" / ".progress" / "test-00000-of-00001.tfrecord.json").write_text(text)
    (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / name).write_text(text)
    with pytest.raises(UserError) as raised:
        convert(cfg)
    assert str(raised.value).startswith(f"{tmp_path / 'data' / name}: ") and problem in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.fixture
def small_disk(tmp_path, monkeypatch) -> tuple[Path, Callable[[], None]]:
    """(a folder on a 16 kB file system, a function giving it 4 MB): a real tmpfs where this process may mount one
    (root), else a folder whose TFRecord writes fail with ENOSPC until the function is called."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = not subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)],
                                     capture_output=True).returncode
    except OSError:  # no mount program
        mounted = False
    if mounted:
        yield disk, lambda: subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        subprocess.run(["umount", str(disk)], check=True)
        return

    class FullDisk(tf.io.TFRecordWriter):
        def write(self, record: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tf.io, "TFRecordWriter", FullDisk)
    yield disk, monkeypatch.undo


def test_full_disk_is_one_line_leaves_nothing_half_written_and_the_rerun_finishes(small_disk, tmp_path):
    disk, make_room = small_disk
    out = disk / "data"
    cfg = ConvertConfig(meshes=str(two_boxes(tmp_path / "meshes")), out=str(out), voxel_res=16, image_size=128,
                        views=4, workers=1, test_fraction=0.0)
    with pytest.raises(UserError) as raised:
        convert(cfg)
    assert re.fullmatch(rf"no space left on the device of {out}; it needs about \d+\.\d kB, [\d.]+ [kMG]?B free: "
                        r"free some space and rerun the same command \(finished work is kept\)", str(raised.value))
    assert not [p for p in out.rglob("*") if p.suffix == ".tfrecord" or ".tmp-" in p.name or p.name == "manifest.json"]
    make_room()
    stale = [out / ".train-00000-of-00001.tmp-999999.tfrecord", out / ".progress" / ".x.tmp-999999.json"]
    for path in stale:  # what a run killed while writing would have left
        path.write_bytes(b"partial")
    assert convert(cfg)["splits"]["train"]["objects"] == 2
    assert not [path for path in stale if path.exists()]

"""Open surfaces: a warning per object in the manifest; a thin shell where solid filling would invent volume."""
import json

import numpy as np
import pytest
import tensorflow as tf
import trimesh

from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.meshes.load import Mesh, normalise
from tfrecords_tools.meshes.open_surfaces import boundary_edges, mesh_voxels
from tfrecords_tools.meshes.voxelize import voxelize

TILTED_PLANE = trimesh.Trimesh([[0, 0, 0], [1, 0, 0.4], [1, 1, 0.7], [0, 1, 0.3]], [[0, 1, 2], [0, 2, 3]])


def as_mesh(mesh: trimesh.Trimesh) -> Mesh:
    vertices = normalise(np.asarray(mesh.vertices, np.float64)).astype(np.float32)
    return Mesh(vertices, np.asarray(mesh.faces, np.int32), np.full((len(vertices), 3), 0.7, np.float32))


def distance_to_tilted_plane(res: int, voxels: np.ndarray) -> np.ndarray:
    """Distance in voxels from each occupied voxel centre to the plane of TILTED_PLANE, normalised."""
    mesh = as_mesh(TILTED_PLANE)
    normal = np.cross(mesh.vertices[1] - mesh.vertices[0], mesh.vertices[2] - mesh.vertices[0])
    normal /= np.linalg.norm(normal)
    centres = (np.argwhere(voxels) + 0.5) / res - 0.5  # (N, 3) in the unit cube
    return np.abs((centres - mesh.vertices[0]) @ normal) * res


def test_boundary_edges_count_openings_after_merging_shared_positions():
    box = trimesh.creation.box()
    split = box.vertices[box.faces].reshape(-1, 3)  # every face with vertices of its own, as in STL files
    assert boundary_edges(split, np.arange(len(split)).reshape(-1, 3)) == 0
    assert boundary_edges(np.asarray(TILTED_PLANE.vertices), np.asarray(TILTED_PLANE.faces)) == 4
    open_box = trimesh.creation.box()
    open_box.update_faces(np.arange(10))  # one side (two triangles) removed
    assert boundary_edges(np.asarray(open_box.vertices), np.asarray(open_box.faces)) == 4


def test_tilted_plane_is_a_thin_shell_with_a_warning():
    voxels, warnings = mesh_voxels(as_mesh(TILTED_PLANE), 32)
    solid = voxelize(as_mesh(TILTED_PLANE).vertices, as_mesh(TILTED_PLANE).faces, 32)
    assert distance_to_tilted_plane(32, solid).max() > 8  # the wedge solid filling makes
    assert voxels.sum() >= 32 * 32 and distance_to_tilted_plane(32, voxels).max() < 1.5
    [warning] = warnings
    assert warning.startswith("open surface (4 boundary edges") and "thin shell" in warning


def square_in_plane(normal: np.ndarray) -> trimesh.Trimesh:
    """A square centred at the origin in the plane through it with this normal."""
    a = np.cross(normal, [0.0, 0.0, 1.0] if abs(normal[2]) < 0.9 else [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a) / np.linalg.norm(normal)
    return trimesh.Trimesh(np.array([a + b, b - a, -a - b, a - b]), [[0, 1, 2], [0, 2, 3]], process=False)


@pytest.mark.parametrize("turn", [0.0, 10.0])
def test_plane_whose_crossings_lie_on_voxel_boundaries_is_a_thin_shell(turn):
    normal = trimesh.transformations.rotation_matrix(np.radians(turn), [1, 0, 0])[:3, :3] @ np.ones(3)
    mesh = as_mesh(square_in_plane(normal))  # turn 0: x + y + z = 0, every ray crosses it at a voxel boundary
    voxels, [warning] = mesh_voxels(mesh, 32)
    centres = (np.argwhere(voxels) + 0.5) / 32 - 0.5
    assert np.abs(centres @ normal / np.linalg.norm(normal)).max() * 32 < 1.5  # a shell, not a wedge
    assert 300 < voxels.sum() < 2000 and "thin shell" in warning


def test_closed_mesh_is_unchanged_and_an_opening_the_majority_closes_stays_solid():
    sphere = as_mesh(trimesh.creation.icosphere(3))
    voxels, warnings = mesh_voxels(sphere, 32)
    assert warnings == () and np.array_equal(voxels, voxelize(sphere.vertices, sphere.faces, 32))
    open_box = trimesh.creation.box(extents=(1, 0.8, 0.6))
    open_box.update_faces(np.arange(10))
    voxels, [warning] = mesh_voxels(as_mesh(open_box), 16)
    assert voxels[1:15, 3:13, 4:12].all() and "voxelised solid" in warning


def test_conversion_records_the_warning_in_the_manifest_and_prints_it(tmp_path, capsys):
    (tmp_path / "meshes" / "plane").mkdir(parents=True)
    (tmp_path / "meshes" / "box").mkdir(parents=True)
    TILTED_PLANE.export(tmp_path / "meshes" / "plane" / "model.obj")
    trimesh.creation.box(extents=(1, 0.5, 0.7)).export(tmp_path / "meshes" / "box" / "model.obj")
    convert(ConvertConfig(meshes=str(tmp_path / "meshes"), out=str(tmp_path / "data"), voxel_res=16, image_size=32,
                          views=2, workers=1, test_fraction=0.0))
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    [entry] = manifest["warnings"]
    assert entry["object_id"] == "plane" and "thin shell" in entry["warning"]
    assert f"warning: plane: {entry['warning']}" in capsys.readouterr().out
    spec = {"object_id": tf.io.FixedLenFeature([], tf.string), "voxels": tf.io.FixedLenFeature([], tf.string)}
    files = [str(p) for p in sorted((tmp_path / "data").glob("*.tfrecord"))]
    grids = {r["object_id"].numpy(): np.unpackbits(np.frombuffer(r["voxels"].numpy(), np.uint8)).reshape(16, 16, 16)
             for r in (tf.io.parse_single_example(x, spec) for x in tf.data.TFRecordDataset(files))}
    assert distance_to_tilted_plane(16, grids[b"plane"]).max() < 1.5 and grids[b"box"][8, 8, 8]

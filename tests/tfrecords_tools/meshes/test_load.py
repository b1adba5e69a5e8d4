"""Loading meshes whose materials or textures fail: untextured, in the material's diffuse colour or grey."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tfrecords_tools.meshes.load import DEFAULT_GREY, BadMesh, load_mesh
from tfrecords_tools.meshes.open_surfaces import boundary_edges


def write_obj_with_material(folder: Path, name: str, material: str) -> Path:
    """A closed box as NAME.obj (no texture coordinates) using the material of NAME.mtl."""
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.8))
    lines = [f"mtllib {name}.mtl", "usemtl paint"]
    lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in box.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.mtl").write_text(f"newmtl paint\n{material}\n")
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")
    return folder / f"{name}.obj"


COLOUR_ONLY = "Kd 0.8 0.1 0.1"  # a diffuse colour, and the mesh has no UVs
MISSING_TEXTURE = "Kd 0.2 0.6 0.1\nmap_Kd missing.png"  # names a texture file that does not exist


@pytest.mark.parametrize("material, rgb", [(COLOUR_ONLY, (0.8, 0.1, 0.1)), (MISSING_TEXTURE, (0.2, 0.6, 0.1))])
def test_failing_material_loads_in_its_diffuse_colour(material, rgb, tmp_path):
    mesh = load_mesh(write_obj_with_material(tmp_path, "part", material))
    assert mesh.faces.shape == (12, 3)
    np.testing.assert_allclose(mesh.colors, np.tile(rgb, (8, 1)), atol=0.01)


def test_mesh_without_material_is_grey(tmp_path):
    path = tmp_path / "plain.off"
    trimesh.creation.box().export(path)
    np.testing.assert_allclose(load_mesh(path).colors[0], DEFAULT_GREY, atol=0.01)



TETRAHEDRON = np.array([[1, 2, 3], [-2, 1, -1], [3, -3, 1], [-1, -2, -3]], float)  # distinct coordinates per axis


def signed_volume(vertices: np.ndarray) -> float:
    return float(np.linalg.det(vertices[1:] - vertices[0]))


@pytest.mark.parametrize("up", ["x", "y", "z", "-x", "-y", "-z"])
def test_up_axis_is_turned_to_plus_y_by_a_rotation(up, tmp_path):
    trimesh.Trimesh(TETRAHEDRON, [[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]]).export(tmp_path / "t.off")
    turned = load_mesh(tmp_path / "t.off", up).vertices
    along = TETRAHEDRON[:, "xyz".index(up[-1])] * (-1 if up.startswith("-") else 1)
    np.testing.assert_array_equal(np.argsort(turned[:, 1]), np.argsort(along))  # that axis now points up (+y)
    assert np.sign(signed_volume(turned)) == np.sign(signed_volume(TETRAHEDRON))  # turned, not mirrored
    lengths, turned_lengths = (np.linalg.norm(v[1:] - v[0], axis=1) for v in (TETRAHEDRON, turned))
    np.testing.assert_allclose(turned_lengths / turned_lengths[0], lengths / lengths[0], rtol=1e-5)  # not stretched


STRIP_HEADER = ("ply\nformat {} 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
                "element tristrips 1\nproperty list int int vertex_indices\nend_header\n")
STRIP = [0, 1, 2, 3, 0, 1, -1, 2, 3]  # a closed tetrahedron, then a restart and a run too short for a triangle


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_triangle_strips_of_a_ply_are_read(encoding, tmp_path):
    corners = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    if encoding == "ascii":
        body = "".join(f"{x} {y} {z}\n" for x, y, z in corners) + " ".join(map(str, [len(STRIP), *STRIP])) + "\n"
        data = body.encode()
    else:
        data = corners.tobytes() + np.array([len(STRIP), *STRIP], "<i4").tobytes()
    (tmp_path / "strips.ply").write_bytes(STRIP_HEADER.format(encoding).encode() + data)
    mesh = load_mesh(tmp_path / "strips.ply")
    assert len(mesh.faces) == 4 and boundary_edges(mesh.vertices, mesh.faces) == 0
    assert trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).is_winding_consistent  # every other one turned


def draco_glb(mesh: trimesh.Trimesh) -> bytes:
    """A GLB of `mesh` whose primitive says it is Draco-compressed: its accessors have no data of their own."""
    glb = mesh.export(file_type="glb")
    length = struct.unpack("<I", glb[12:16])[0]
    document = json.loads(glb[20:20 + length])
    primitive = document["meshes"][0]["primitives"][0]
    for accessor in (primitive["indices"], *primitive["attributes"].values()):
        document["accessors"][accessor].pop("bufferView")
        document["accessors"][accessor].pop("byteOffset", None)
    primitive["extensions"] = {"KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
    document["extensionsUsed"] = document["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + glb[20 + length:]
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def test_a_mesh_that_failed_to_decode_is_bad_not_zeros(tmp_path):
    (tmp_path / "draco.glb").write_bytes(draco_glb(trimesh.creation.box()))
    with pytest.raises(BadMesh, match=r"^decoding failed: every vertex of .* is at zero \(a compressed mesh, e.g. "):
        load_mesh(tmp_path / "draco.glb")


def test_unreferenced_vertices_are_dropped_with_a_warning_when_they_moved_the_box(tmp_path):
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.8))
    for name, extra in (("stray", [[5.0, 5.0, 5.0]]), ("inside", [[0.1, 0.1, 0.1]])):
        trimesh.Trimesh(np.vstack([box.vertices, extra]), box.faces, process=False).export(tmp_path / f"{name}.off")
    stray, inside = load_mesh(tmp_path / "stray.off"), load_mesh(tmp_path / "inside.off")
    np.testing.assert_allclose(np.ptp(stray.vertices, axis=0), (1.0, 0.5, 0.8), atol=1e-6)
    assert len(stray.vertices) == 8 and stray.faces.max() == 7
    assert stray.warnings == ("1 vertices used by no face were dropped: they widened the bounding box (largest side "
                              "5.5, the faces' 1)",)
    assert len(inside.vertices) == 8 and inside.warnings == ()

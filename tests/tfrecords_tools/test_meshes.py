"""Loading meshes whose materials or textures fail: untextured, in the material's diffuse colour or grey."""
from pathlib import Path

import numpy as np
import pytest
import trimesh

from tfrecords_tools.meshes import DEFAULT_GREY, load_mesh


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

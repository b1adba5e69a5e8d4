import numpy as np
import pytest
import trimesh

from tfrecords_tools.synth.parts import box, merge
from tfrecords_tools.meshes.voxelize import voxelize


@pytest.mark.parametrize("res, half, expected_side", [(8, 0.25, 4), (10, 0.3, 6), (32, 0.25, 16)])
def test_grid_aligned_cube_voxelises_to_its_solid_count(res, half, expected_side):
    cube = trimesh.creation.box(extents=(2 * half,) * 3)
    occupied = voxelize(cube.vertices.astype(np.float32), cube.faces, res)
    assert occupied.sum() == expected_side**3
    lo = int(round((0.5 - half) * res))
    assert occupied[lo:lo + expected_side, lo:lo + expected_side, lo:lo + expected_side].all()


def test_unaligned_cube_keeps_interior_and_face_voxels():
    cube = trimesh.creation.box(extents=(0.4, 0.4, 0.4))  # faces at 9.6 and 22.4 voxels of 32
    occupied = voxelize(cube.vertices.astype(np.float32), cube.faces, 32)
    assert occupied[10:22, 10:22, 10:22].all()  # the 12^3 voxels whose centres are inside
    assert occupied[9, 10:22, 10:22].all() and occupied[22, 10:22, 10:22].all()  # voxels the faces cut
    assert occupied.sum() == 12**3 + 6 * 12**2


def test_sphere_is_filled_inside():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.45)
    occupied = voxelize(sphere.vertices.astype(np.float32), sphere.faces, 40)
    expected = 4 / 3 * np.pi * (0.45 * 40) ** 3
    assert abs(occupied.sum() - expected) / expected < 0.12
    assert occupied[20, 20, 20] and not occupied[0, 0, 0]


def test_overlapping_closed_parts_stay_solid():
    vertices, faces, _ = merge([box((-0.4, -0.2, -0.2), (0.2, 0.2, 0.2), (1, 0, 0)),
                                box((-0.2, -0.2, -0.2), (0.4, 0.2, 0.2), (1, 0, 0))])
    occupied = voxelize(vertices.astype(np.float32), faces, 20)
    assert occupied[2:18, 6:14, 6:14].all()  # the union, overlap included
    assert occupied.sum() == 16 * 8 * 8


def test_inward_faces_inner_faces_and_a_small_hole_still_give_a_solid():
    cube = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    vertices, faces = cube.vertices.astype(np.float32), cube.faces.copy()
    expected = voxelize(vertices, faces, 16)
    inward = faces[:, ::-1]  # every face oriented inwards
    holed = faces[1:]  # one triangle missing
    for variant in (inward, holed):
        np.testing.assert_array_equal(voxelize(vertices, variant, 16), expected)
    inner_vertices = np.vstack([vertices, [[-0.2, -0.1, 0.03], [0.2, -0.1, 0.03], [0.0, 0.2, 0.03]]])
    inner = np.vstack([faces, [[8, 9, 10]]])  # an extra face inside
    np.testing.assert_array_equal(voxelize(inner_vertices.astype(np.float32), inner, 16), expected)
    shell = trimesh.creation.box(extents=(0.8, 0.8, 0.8))
    nested = np.vstack([vertices, shell.vertices * 1.0])  # a second, larger closed shell around the cube
    both = np.vstack([faces, shell.faces[:, ::-1] + 8])  # ...facing inwards: winding 0 between them
    solid = voxelize(nested.astype(np.float32), both, 16)
    assert solid[2:14, 2:14, 2:14].all()  # the cavity between the shells is filled
    assert expected.sum() == 8**3

"""Solid voxelisation of triangle meshes by ray crossings along the three grid axes.

For every column of voxel centres along an axis, the crossings of that ray with the mesh are
found by 2D rasterisation of the projected triangles (top-left fill rule, so a ray through a
shared edge counts once). A voxel centre is inside along that axis when its winding number is
non-zero, so overlapping closed parts (a car built from parts) stay solid and inward-facing
meshes work too. A voxel is solid when at least two of the three axes call it inside: the
majority repairs single rays that graze an edge or pass through a small hole. Voxels that
contain a crossing point (unless it lies on a voxel boundary, where the centres beside it
decide) are added, so thin parts keep their surface, and every cavity the result encloses is
filled (inner faces, nested shells). The surface shell of open meshes also takes, for a crossing
on a voxel boundary, the voxel past it (a plane through voxel corners, x + y + z = 0, would
otherwise have no shell). Faces must be oriented consistently within each closed
part; a mesh with a few flipped faces gets streaks along the rays through them.

A ray that ends inside the mesh (a non-zero winding number after its last crossing) left it
through an opening. `Voxels.leaking` is the share of such rays along each axis: 0 for a closed
mesh; about 1 along one axis for a mesh with a large opening (a car without its underside),
which the majority vote repairs; about 1 along all three for an open sheet (a tilted plane),
which solid filling turns into a wedge.
"""
import dataclasses

import numpy as np
from scipy.ndimage import binary_fill_holes

SNAP = 1e-4  # a face this close (in voxels) to a voxel boundary lies on it
AXES = ((1, 2, 0), (2, 0, 1), (0, 1, 2))  # (u, v, ray axis), cyclic so that u x v = axis


@dataclasses.dataclass(frozen=True)
class Voxels:
    """The voxelisations of one mesh."""

    solid: np.ndarray  # (R, R, R) bool: inside by majority, plus the surface, cavities filled
    surface: np.ndarray  # (R, R, R) bool: the voxels the faces pass through (a thin shell), on voxel boundaries too
    leaking: tuple[float, ...]  # per axis (x, y, z), share of the rays hitting the mesh that end inside it


def voxel_grids(vertices: np.ndarray, faces: np.ndarray, res: int) -> Voxels:
    """Solid and surface occupancy, indexed [x, y, z], of a mesh inside [-0.5, 0.5]^3."""
    grid = (vertices[faces].astype(np.float64) + 0.5) * res  # (F, 3, 3) in voxel units
    votes = np.zeros((res, res, res), np.uint8)
    shell = np.zeros((res, res, res), bool)
    on_boundaries = np.zeros((res, res, res), bool)
    leaking = []
    for u, v, axis in AXES:
        inside, crossings, boundary, ends = axis_inside(grid[..., [u, v]], grid[..., axis], res)
        order = np.argsort((u, v, axis))
        votes += np.transpose(inside, order)
        shell |= np.transpose(crossings, order)
        on_boundaries |= np.transpose(boundary, order)
        leaking.append(float((ends > 0).sum() / max((ends >= 0).sum(), 1)))
    return Voxels(binary_fill_holes((votes >= 2) | shell), shell | on_boundaries, tuple(leaking))


def voxelize(vertices: np.ndarray, faces: np.ndarray, res: int) -> np.ndarray:
    """Solid occupancy (R, R, R) bool, indexed [x, y, z], of a mesh inside [-0.5, 0.5]^3."""
    return voxel_grids(vertices, faces, res).solid


def top_left(edge: np.ndarray) -> np.ndarray:
    """Whether each 2D edge vector (..., 2) of a counter-clockwise triangle is a top or left edge."""
    return (edge[..., 1] < 0) | ((edge[..., 1] == 0) & (edge[..., 0] > 0))


def axis_inside(uv: np.ndarray, depth: np.ndarray, res: int) -> tuple[np.ndarray, ...]:
    """Inside by winding number (R, R, R), the voxels holding a crossing (R, R, R) and those just past a crossing on a
    voxel boundary (R, R, R), indexed [u, v, depth], and per ray (R, R) -1 when it misses the mesh, 1 when it ends
    inside (left through an opening), else 0."""
    cross = ((uv[:, 1, 0] - uv[:, 0, 0]) * (uv[:, 2, 1] - uv[:, 0, 1])
             - (uv[:, 1, 1] - uv[:, 0, 1]) * (uv[:, 2, 0] - uv[:, 0, 0]))  # (F,) twice the signed area
    keep = cross != 0
    uv, depth, cross = uv[keep], depth[keep], cross[keep]
    flip = cross < 0  # make every triangle counter-clockwise; remember the facing
    uv[flip] = uv[flip][:, ::-1]
    depth[flip] = depth[flip][:, ::-1]
    area = np.abs(cross)

    lo = np.clip(np.ceil(uv.min(axis=1) - 0.5), 0, res).astype(np.int64)  # (T, 2) first centre
    hi = np.clip(np.floor(uv.max(axis=1) - 0.5), -1, res - 1).astype(np.int64)  # (T, 2) last centre
    size = np.maximum(hi - lo + 1, 0)  # (T, 2)
    count = size[:, 0] * size[:, 1]
    tri = np.repeat(np.arange(len(uv)), count)  # (C,) candidate columns
    offset = np.arange(len(tri)) - np.repeat(np.cumsum(count) - count, count)
    col_u = lo[tri, 0] + offset // np.maximum(size[tri, 1], 1)
    col_v = lo[tri, 1] + offset % np.maximum(size[tri, 1], 1)
    point = np.column_stack([col_u, col_v]) + 0.5  # (C, 2)

    corners = uv[tri]  # (C, 3, 2)
    weights = []
    inside = np.ones(len(tri), bool)
    for k in range(3):
        a, b = corners[:, (k + 1) % 3], corners[:, (k + 2) % 3]
        edge = b - a
        w = edge[:, 0] * (point[:, 1] - a[:, 1]) - edge[:, 1] * (point[:, 0] - a[:, 0])
        inside &= (w > 0) | ((w == 0) & top_left(edge))
        weights.append(w)
    tri, col_u, col_v = tri[inside], col_u[inside], col_v[inside]
    bary = np.stack(weights, axis=1)[inside] / area[tri, None]  # (H, 3)
    z = (bary * depth[tri]).sum(axis=1)  # (H,) crossing depth

    step = np.where(flip[tri], 1, -1)  # entering a front face (normal against the ray) adds one
    first = np.clip(np.ceil(z - 0.5), 0, res).astype(np.int64)  # first centre past the crossing
    delta = np.zeros((res, res, res + 1), np.int32)
    np.add.at(delta, (col_u, col_v, first), step)
    winding = np.cumsum(delta, axis=2)  # (R, R, R + 1)
    inside = winding[..., :res] != 0
    crossings = np.zeros((res, res, res), bool)
    boundary = np.zeros((res, res, res), bool)
    inner = np.abs(z - np.round(z)) > SNAP  # a face on a voxel boundary: the centres beside it decide
    crossings[col_u[inner], col_v[inner], np.clip(np.floor(z[inner]), 0, res - 1).astype(np.int64)] = True
    boundary[col_u[~inner], col_v[~inner], np.clip(np.round(z[~inner]), 0, res - 1).astype(np.int64)] = True
    ends = np.full((res, res), -1, np.int8)  # (R, R)
    ends[col_u, col_v] = 0
    ends[(ends == 0) & (winding[..., res] != 0)] = 1
    return inside, crossings, boundary, ends

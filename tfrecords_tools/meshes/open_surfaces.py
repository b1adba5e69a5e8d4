"""Open surfaces (meshes with boundary edges): voxelised solid when the majority vote closes them, else as a thin shell.

A closed mesh keeps its solid voxelisation unchanged. An open one gets a warning, recorded per
object in the manifest: solid when rays leave it along at most one axis (an opening such as a car
without its underside, which the other two axes outvote), else a thin shell of surface voxels (a
tilted plane, a sheet), where solid filling would invent a wedge or a slab.
"""
import numpy as np

from tfrecords_tools.meshes.load import Mesh
from tfrecords_tools.meshes.voxelize import voxel_grids

LEAKING = 0.5  # an axis along which more than this share of rays leave the mesh cannot vote on its inside


def boundary_edges(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Number of edges used by one face only, vertices at the same position merged (0 for a closed mesh)."""
    _, merged = np.unique(vertices, axis=0, return_inverse=True)
    corners = merged.ravel()[faces]  # (F, 3)
    edges = np.sort(np.concatenate([corners[:, [0, 1]], corners[:, [1, 2]], corners[:, [2, 0]]]), axis=1)  # (3F, 2)
    _, uses = np.unique(edges, axis=0, return_counts=True)
    return int((uses == 1).sum())


def mesh_voxels(mesh: Mesh, res: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """(R, R, R) bool voxels of a mesh, and the warnings of an open surface."""
    grids = voxel_grids(mesh.vertices, mesh.faces, res)
    edges = boundary_edges(mesh.vertices, mesh.faces)
    if not edges:
        return grids.solid, ()
    axes = sum(share > LEAKING for share in grids.leaking)
    if axes >= 2 and grids.surface.any():
        return grids.surface, (f"open surface ({edges} boundary edges; rays leave it along {axes} axes): "
                               "voxelised as a thin shell (surface voxels only)",)
    return grids.solid, (f"open surface ({edges} boundary edges): voxelised solid, the opening closed by the "
                         "majority of the three axes",)

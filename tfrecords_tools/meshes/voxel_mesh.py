"""The exposed faces of a voxel grid as a triangle mesh, to render what the voxels hold."""
import numpy as np

from tfrecords_tools.meshes.load import Mesh

VOXEL_COLOR = (0.55, 0.62, 0.78)
# For each outward direction: the axis, the side, and the unit-square corners of that face in
# counter-clockwise order seen from outside.
FACES = {
    (0, 1): [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)],
    (0, -1): [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)],
    (1, 1): [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)],
    (1, -1): [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)],
    (2, 1): [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],
    (2, -1): [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)],
}


def voxel_mesh(voxels: np.ndarray) -> Mesh:
    """A mesh in [-0.5, 0.5]^3 of the faces between occupied and empty voxels of an (R, R, R) grid."""
    res = voxels.shape[0]
    padded = np.pad(voxels.astype(bool), 1)
    quads = []
    for (axis, side), corners in FACES.items():
        neighbour = np.roll(padded, -side, axis=axis)[1:-1, 1:-1, 1:-1]
        cells = np.argwhere(voxels & ~neighbour)  # (Q, 3)
        quads.append(cells[:, None, :] + np.array(corners)[None])  # (Q, 4, 3)
    quads = np.concatenate(quads).astype(np.float32) / res - 0.5  # (Q, 4, 3)
    vertices = quads.reshape(-1, 3)
    first = np.arange(0, len(vertices), 4)[:, None]
    faces = np.concatenate([first + [0, 1, 2], first + [0, 2, 3]]).astype(np.int32)
    colors = np.tile(np.float32(VOXEL_COLOR), (len(vertices), 1))
    return Mesh(vertices, faces, colors)

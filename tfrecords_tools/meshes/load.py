"""Loading a mesh file into normalised arrays, rejecting what cannot be voxelised."""
import dataclasses
from pathlib import Path

import numpy as np
import trimesh

MESH_SUFFIXES = (".obj", ".off", ".ply", ".stl", ".glb")
DEFAULT_GREY = (0.7, 0.7, 0.7)
UP_ROTATIONS = {  # --up: the rotation (rows) that turns the file's up axis into +y, our up
    "y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-y": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),
    "-z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "x": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "-x": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
}


class BadMesh(Exception):
    """A mesh that fails to load or is degenerate; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Mesh:
    """A triangle mesh centred at the origin and scaled into the unit cube [-0.5, 0.5]^3."""

    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray  # (N, 3) float32 in [0, 1]
    warnings: tuple[str, ...] = ()  # caveats of loading, recorded in the manifest


def normalise(vertices: np.ndarray) -> np.ndarray:
    """Centre the bounding box at the origin and scale its largest side to 1."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return (vertices - (lo + hi) / 2) / (hi - lo).max()


def material_color(visual: object) -> np.ndarray:
    """(3,) RGB in [0, 1]: the diffuse colour of a visual's material, else grey."""
    try:
        return np.asarray(visual.material.main_color[:3], np.float32) / 255.0
    except (AttributeError, TypeError, IndexError, ValueError):
        return np.float32(DEFAULT_GREY)


def vertex_colors(mesh: trimesh.Trimesh) -> np.ndarray:
    """Per-vertex RGB in [0, 1]: the file's vertex colours, else its texture, else its material colour, else grey."""
    visual = mesh.visual
    if visual.kind == "vertex":
        return np.asarray(visual.vertex_colors[:, :3], np.float32) / 255.0
    try:
        return np.asarray(visual.to_color().vertex_colors[:, :3], np.float32) / 255.0
    except Exception:  # noqa: BLE001  trimesh fails in many ways on materials without UVs or texture images
        return np.tile(material_color(visual), (len(mesh.vertices), 1))


def strip_triangles(strips: list[np.ndarray]) -> np.ndarray:
    """(F, 3) triangles of triangle strips (-1 restarts a strip), every other one turned back to keep the facing."""
    faces = []
    for strip in strips:
        for run in np.split(strip, np.flatnonzero(strip < 0)):
            run = run[run >= 0]
            a, b, c = run[:-2], run[1:-1], run[2:]
            odd = np.arange(len(a)) % 2 == 1
            triangles = np.stack([np.where(odd, b, a), np.where(odd, a, b), c], axis=1)  # (T, 3)
            faces.append(triangles[(a != b) & (b != c) & (a != c)])
    return np.concatenate(faces or [np.zeros((0, 3), np.int64)])


def strip_lists(data: dict | np.ndarray) -> list[np.ndarray]:
    """The index lists of a PLY element as trimesh reads it: a dict of columns (ASCII) or a structured array whose
    list column holds (count, indices) pairs (binary)."""
    column = next(iter(data.values())) if isinstance(data, dict) else data[data.dtype.names[0]]
    if getattr(column.dtype, "names", None):
        column = column[column.dtype.names[-1]]
    return [np.asarray(row, np.int64).ravel() for row in column]


def with_strips(geometry: object) -> object:
    """A point cloud read from a PLY of triangle strips (`element tristrips`) as a mesh of their triangles."""
    strips = getattr(geometry, "metadata", {}).get("_ply_raw", {}).get("tristrips")
    if not isinstance(geometry, trimesh.PointCloud) or strips is None:
        return geometry
    return trimesh.Trimesh(geometry.vertices, strip_triangles(strip_lists(strips["data"])), process=False)


def loaded(path: Path) -> trimesh.Trimesh:
    """All meshes of a file in one (triangle strips read); BadMesh when it cannot be read or decoded."""
    try:
        scene = trimesh.load_scene(str(path), process=False)
    except Exception as error:  # trimesh raises many types for unreadable files
        raise BadMesh(f"cannot load: {type(error).__name__}: {error}") from None
    scene.geometry.update({name: with_strips(g) for name, g in scene.geometry.items()})
    for name, geometry in scene.geometry.items():
        if len(getattr(geometry, "faces", ())) and not np.any(geometry.vertices):
            raise BadMesh(f"decoding failed: every vertex of {name} is at zero (a compressed mesh, e.g. Draco, "
                          "that could not be decoded)")
    return scene.to_mesh()


def referenced(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The indices of the vertices used by faces, the faces renumbered to them, and a warning when the unused ones
    widened the bounding box (a stray vertex would shift and shrink the normalised object)."""
    used, inverse = np.unique(faces, return_inverse=True)
    full, kept = np.ptp(vertices, axis=0), np.ptp(vertices[used], axis=0)
    warning = None if np.array_equal(full, kept) else (
        f"{len(vertices) - len(used)} vertices used by no face were dropped: they widened the bounding box "
        f"(largest side {full.max():.4g}, the faces' {kept.max():.4g})")
    return used, inverse.reshape(-1, 3), warning


def load_mesh(path: Path, up: str = "y") -> Mesh:
    """Load, validate and normalise one mesh file, its `up` axis turned to +y; raise BadMesh with the reason."""
    mesh = loaded(path)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise BadMesh("empty: no triangles")
    vertices = np.asarray(mesh.vertices, np.float64)
    used, faces, warning = referenced(vertices, np.asarray(mesh.faces))
    vertices = vertices[used] @ np.array(UP_ROTATIONS[up], np.float64).T
    if not np.isfinite(vertices).all():
        raise BadMesh("non-finite vertex coordinates")
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    if (extent <= 1e-9 * max(extent.max(), 1e-30)).any():
        raise BadMesh(f"zero volume: flat bounding box {extent.tolist()}")
    return Mesh(normalise(vertices).astype(np.float32), faces.astype(np.int32), vertex_colors(mesh)[used],
                () if warning is None else (warning,))

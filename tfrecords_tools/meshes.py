"""Loading a mesh file into normalised arrays, rejecting what cannot be voxelised."""
import dataclasses
from pathlib import Path

import numpy as np
import trimesh

MESH_SUFFIXES = (".obj", ".off", ".ply", ".stl", ".glb")
DEFAULT_GREY = (0.7, 0.7, 0.7)


class BadMesh(Exception):
    """A mesh that fails to load or is degenerate; the message is the reason."""


@dataclasses.dataclass(frozen=True)
class Mesh:
    """A triangle mesh centred at the origin and scaled into the unit cube [-0.5, 0.5]^3."""

    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray  # (N, 3) float32 in [0, 1]


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


def load_mesh(path: Path) -> Mesh:
    """Load, validate and normalise one mesh file; raise BadMesh with the reason."""
    try:
        mesh = trimesh.load(str(path), force="mesh", process=False)
    except Exception as error:  # trimesh raises many types for unreadable files
        raise BadMesh(f"cannot load: {type(error).__name__}: {error}") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise BadMesh("empty: no triangles")
    vertices = np.asarray(mesh.vertices, np.float64)
    if not np.isfinite(vertices).all():
        raise BadMesh("non-finite vertex coordinates")
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    if (extent <= 1e-9 * max(extent.max(), 1e-30)).any():
        raise BadMesh(f"zero volume: flat bounding box {extent.tolist()}")
    return Mesh(normalise(vertices).astype(np.float32), np.asarray(mesh.faces, np.int32), vertex_colors(mesh))

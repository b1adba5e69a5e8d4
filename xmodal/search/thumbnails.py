"""Thumbnails of catalogue entries: a render on white, and a picture of the voxel grid drawn with numpy alone.

The voxel picture needs no OpenGL context, so it can be drawn in the process that runs TensorFlow
(the index builder, a Beam worker): an orthographic view from azimuth 45 degrees, elevation 30,
each surface voxel a shaded square, the nearest one kept per pixel, the drawing fitted to the picture.
"""
import io

import numpy as np
from PIL import Image
from scipy.ndimage import binary_erosion, gaussian_filter

from xmodal.search.query_image import eight_bit_rgb

SIZE = 128  # pixels per side of each thumbnail
VOXEL_COLOR = np.array([140, 158, 199], np.float32)  # the colour of voxel pictures (as the inspect grid's)
LIGHT = np.array([0.4, 0.8, 0.45])  # direction towards the light, in the view's frame
MARGIN = 0.06  # share of the picture left white on each side of the voxels


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes of uint8 RGB pixels (H, W, 3)."""
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", optimize=True)
    return out.getvalue()


def render_thumbnail(encoded: bytes, size: int = SIZE) -> bytes:
    """A stored render (PNG, RGBA with the object's coverage as alpha, or RGB) as an RGB PNG on white, size^2."""
    with Image.open(io.BytesIO(encoded)) as image:
        picture = eight_bit_rgb(image).resize((size, size), Image.Resampling.LANCZOS)
    return png(np.asarray(picture))


def view_rotation(azimuth: float = 45.0, elevation: float = 30.0) -> np.ndarray:
    """(3, 3) rotation from grid axes [x, y up, z] into the view's (right, up, towards the viewer)."""
    a, e = np.radians(azimuth), np.radians(elevation)
    turn = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return tilt @ turn


def voxel_picture(voxels: np.ndarray, size: int = SIZE) -> np.ndarray:
    """uint8 RGB (size, size, 3): the occupied voxels of an (R, R, R) grid, shaded, on white."""
    grid = voxels.astype(bool)
    res = grid.shape[0]
    picture = np.full((size, size, 3), 255, np.uint8)
    surface = np.argwhere(grid & ~binary_erosion(grid, border_value=0))  # (Q, 3) cells with an empty neighbour
    if not len(surface):
        return picture
    rotation = view_rotation()
    normals = -np.stack(np.gradient(gaussian_filter(grid.astype(np.float32), 1.0)), -1)[tuple(surface.T)]  # (Q, 3)
    normals = normals @ rotation.T
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-6
    shade = 0.45 + 0.55 * np.clip(normals @ (LIGHT / np.linalg.norm(LIGHT)), 0, 1)  # (Q,)
    points = ((surface + 0.5) / res - 0.5) @ rotation.T  # (Q, 3) in the view's frame
    lo, hi = points[:, :2].min(axis=0) - 0.5 / res, points[:, :2].max(axis=0) + 0.5 / res
    scale = size * (1 - 2 * MARGIN) / max(hi - lo)  # pixels per unit: the drawing fills the picture
    centre = (lo + hi) / 2
    column = np.floor((points[:, 0] - centre[0]) * scale + size / 2).astype(int)
    row = np.floor(size / 2 - (points[:, 1] - centre[1]) * scale).astype(int)
    splat = max(1, int(np.ceil(scale / res)))
    offsets = np.stack(np.meshgrid(np.arange(splat), np.arange(splat)), -1).reshape(-1, 2)  # (P, 2)
    rows = (row[:, None] + offsets[None, :, 0]).ravel()  # (Q * P,)
    columns = (column[:, None] + offsets[None, :, 1]).ravel()
    depth = np.repeat(points[:, 2], len(offsets))
    colours = np.repeat(shade, len(offsets))[:, None] * VOXEL_COLOR  # (Q * P, 3)
    inside = (rows >= 0) & (rows < size) & (columns >= 0) & (columns < size)
    pixel = rows[inside] * size + columns[inside]
    order = np.lexsort((-depth[inside], pixel))  # per pixel, the nearest (largest depth towards the viewer) first
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    picture.reshape(-1, 3)[pixel[first]] = np.round(colours[inside][first]).astype(np.uint8)
    return picture

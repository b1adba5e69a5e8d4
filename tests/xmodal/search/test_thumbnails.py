"""Thumbnails: voxel pictures drawn upright and shaded, renders put on white."""
import io

import numpy as np
from PIL import Image

from xmodal.search.thumbnails import SIZE, render_thumbnail, voxel_picture


def test_empty_grid_is_white():
    assert (voxel_picture(np.zeros((8, 8, 8), bool)) == 255).all()


def test_a_tall_column_is_drawn_taller_than_wide_and_shaded():
    grid = np.zeros((32, 32, 32), bool)
    grid[14:18, 2:30, 14:18] = True  # a column along y, the up axis
    picture = voxel_picture(grid)
    rows, columns = np.nonzero((picture != 255).any(-1))
    assert picture.shape == (SIZE, SIZE, 3)
    assert rows.max() - rows.min() > 3 * (columns.max() - columns.min())
    assert abs((columns.min() + columns.max()) / 2 - SIZE / 2) < 3  # centred
    assert rows.min() >= 0.05 * SIZE and rows.max() - rows.min() > 0.8 * SIZE  # fitted to the picture
    assert len(np.unique(picture[rows, columns].sum(-1))) > 1  # faces towards the light are brighter


def test_the_upper_of_two_blocks_is_drawn_above():
    grid = np.zeros((16, 16, 16), bool)
    grid[2:6, 12:14, 7:9] = True  # high, on the left (x small)
    grid[10:14, 2:4, 7:9] = True  # low, on the right
    picture = voxel_picture(grid)
    drawn = (picture != 255).any(-1)
    left, right = drawn[:, :SIZE // 2], drawn[:, SIZE // 2:]
    assert np.nonzero(left)[0].mean() < np.nonzero(right)[0].mean()  # rows grow downwards


def test_render_is_put_on_white_and_resized():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 16:48] = (200, 30, 30, 255)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")
    picture = np.asarray(Image.open(io.BytesIO(render_thumbnail(out.getvalue()))))
    assert picture.shape == (SIZE, SIZE, 3)
    assert (picture[2, 2] == 255).all() and tuple(picture[SIZE // 2, SIZE // 2]) == (200, 30, 30)

import numpy as np
import trimesh

from tfrecords_tools.meshes import Mesh
from tfrecords_tools.workers import imap_spawned


def render_cube(viewpoint: np.ndarray, size: int, background: np.ndarray) -> np.ndarray:
    """Render a grey cube in a worker process (EGL must not share a process with TensorFlow)."""
    from tfrecords_tools.render import renderer

    cube = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    mesh = Mesh(cube.vertices.astype(np.float32), cube.faces.astype(np.int32),
                np.full((8, 3), 0.7, np.float32))
    return renderer(size).render(mesh, viewpoint, background)


def test_render_shows_object_where_it_projects_and_background_elsewhere():
    from tfrecords_tools.render import project

    viewpoint = np.array([35.0, 20.0, 10.0, 2.0])
    background = np.array([10, 200, 30], np.uint8)
    [image] = imap_spawned(render_cube, [(viewpoint, 96, background)], workers=1)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    corners = np.array([[x, y, z] for x in (-.25, .25) for y in (-.25, .25) for z in (-.25, .25)])
    pixels = project(corners, viewpoint, 96)  # (8, 2) column, row
    col, row = project(np.zeros((1, 3)), viewpoint, 96)[0].astype(int)
    assert (image[row, col] != background).any()  # the cube's centre
    lo, hi = np.floor(pixels.min(axis=0)).astype(int) - 1, np.ceil(pixels.max(axis=0)).astype(int) + 1
    outside = np.ones((96, 96), bool)
    outside[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]] = False
    assert (image[outside] == background).all()
    inside = ~(image == background).all(axis=2)
    assert inside.sum() > 0.5 * (hi - lo).prod() * 0.3  # the cube fills a good part of its box
    shades = np.unique(image[inside].reshape(-1, 3), axis=0)
    assert len(shades) >= 3  # depth-tested, shaded faces: not a flat silhouette

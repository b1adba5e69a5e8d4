import numpy as np
import trimesh

from tfrecords_tools.config import VIEWPOINT_SETS
from tfrecords_tools.meshes.framing import FOV_DEGREES, framed, framing_distance
from tfrecords_tools.meshes.load import Mesh
from tfrecords_tools.meshes.viewpoints import ViewpointSampler
from tfrecords_tools.workers import imap_spawned


def render_cube(viewpoint: np.ndarray, size: int, background: np.ndarray) -> np.ndarray:
    """Render a grey cube in a worker process (EGL must not share a process with TensorFlow)."""
    from tfrecords_tools.meshes.render import renderer

    cube = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    mesh = Mesh(cube.vertices.astype(np.float32), cube.faces.astype(np.int32),
                np.full((8, 3), 0.7, np.float32))
    return renderer(size).render(mesh, viewpoint, background)


def test_render_shows_object_where_it_projects_and_background_elsewhere():
    from tfrecords_tools.meshes.render import project

    viewpoint = np.array([35.0, 20.0, 10.0, 2.0])
    background = np.array([10, 200, 30], np.uint8)
    [rgba] = imap_spawned(render_cube, [(viewpoint, 96, background)], workers=1)
    assert rgba.shape == (96, 96, 4) and rgba.dtype == np.uint8
    image, alpha = rgba[..., :3], rgba[..., 3]
    corners = np.array([[x, y, z] for x in (-.25, .25) for y in (-.25, .25) for z in (-.25, .25)])
    pixels = project(corners, viewpoint, 96)  # (8, 2) column, row
    col, row = project(np.zeros((1, 3)), viewpoint, 96)[0].astype(int)
    assert (image[row, col] != background).any() and alpha[row, col] == 255  # the cube's centre
    lo, hi = np.floor(pixels.min(axis=0)).astype(int) - 1, np.ceil(pixels.max(axis=0)).astype(int) + 1
    outside = np.ones((96, 96), bool)
    outside[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]] = False
    assert (image[outside] == background).all() and (alpha[outside] == 0).all()
    inside = ~(image == background).all(axis=2)
    np.testing.assert_array_equal(inside, alpha > 0)  # the mask is where the object is, edges included
    assert set(np.unique(alpha)) <= {0, 64, 128, 191, 255}  # the share of 4 samples covered
    assert inside.sum() > 0.5 * (hi - lo).prod() * 0.3  # the cube fills a good part of its box
    shades = np.unique(image[inside].reshape(-1, 3), axis=0)
    assert len(shades) >= 3  # depth-tested, shaded faces: not a flat silhouette


def render_box(extents: tuple, viewpoints: np.ndarray, size: int, background: np.ndarray) -> list[np.ndarray]:
    """Render a grey box filling the unit cube along `extents`, framed from each viewpoint, in a worker process."""
    from tfrecords_tools.meshes.render import renderer

    box = trimesh.creation.box(extents=extents)
    mesh = Mesh(box.vertices.astype(np.float32), box.faces.astype(np.int32), np.full((8, 3), 0.7, np.float32))
    return [renderer(size).render(mesh, view, background) for view in framed(viewpoints, mesh.vertices)]


def test_cube_and_plate_are_never_cut_by_the_border():
    rng = np.random.default_rng(0)
    close = np.column_stack([rng.uniform(0, 360, 16), rng.uniform(-80, 80, 16), rng.uniform(-45, 45, 16),
                             np.full(16, 0.5)])  # closer than any set: framing alone must move them back
    views = np.concatenate([ViewpointSampler.from_file(VIEWPOINT_SETS[name]).sample(24, rng)
                            for name in ("cars", "generic")] + [close])
    background = np.array([10, 200, 30], np.uint8)
    size = 64
    jobs = [(extents, views, size, background) for extents in ((1.0, 1.0, 1.0), (1.0, 0.02, 1.0))]
    for images in imap_spawned(render_box, jobs, workers=1):
        for rgba in images:
            image = rgba[..., :3]
            border = np.concatenate([rgba[0], rgba[-1], rgba[:, 0], rgba[:, -1]])  # (4 S, 4)
            assert (border[:, :3] == background).all() and (border[:, 3] == 0).all()
            rows, cols = np.nonzero(~(image == background).all(axis=2))
            assert max(np.ptp(rows), np.ptp(cols)) > 0.45 * size  # framed, not pushed far away


def test_framing_keeps_far_viewpoints_and_moves_close_ones_back():
    cube = np.array([[x, y, z] for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5)])
    views = np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 9.0]])
    out = framed(views, cube)
    assert out[0, 3] == framing_distance(np.sqrt(3) / 2) and out[1, 3] == 9.0
    assert np.sin(np.radians(FOV_DEGREES) / 2) * out[0, 3] > np.sqrt(3) / 2  # the sphere is inside the field of view

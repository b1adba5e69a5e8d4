"""Render randomisation: at 0 each flag leaves the renders as they were; above 0 it changes them, deterministically."""
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfrecords_tools.config import RENDER_FLAGS, VIEWPOINT_SETS, ConvertConfig
from tfrecords_tools.meshes.framing import bounding_radius, framing_distance
from tfrecords_tools.meshes.load import load_mesh
from tfrecords_tools.meshes.objects import backgrounds, camera_views, convert_object, object_rng, shot_rng
from tfrecords_tools.meshes.shots import PLAIN, draw_shot
from tfrecords_tools.meshes.sources import Source, discover
from tfrecords_tools.synth.dataset import synth_dataset
from tfrecords_tools.workers import imap_spawned

SIZE, VIEWS = 32, 2
FLAGS = {"light_jitter": 0.6, "fov_jitter": 0.5, "off_centre": 0.4, "truncation": 1.0, "material_jitter": 0.8}


def plain_renders(source: Source, cfg: ConvertConfig) -> np.ndarray:
    """(V, S, S, 4): the object's renders as before randomisation existed, in a worker process."""
    from tfrecords_tools.meshes.render import renderer

    mesh = load_mesh(Path(source.path))
    rng = object_rng(cfg.seed, source.object_id)
    views, colors = camera_views(cfg, mesh, rng), backgrounds(cfg, rng)
    return np.stack([renderer(cfg.image_size).render(mesh, view, color) for view, color in zip(views, colors)])


def pixels(record) -> np.ndarray:
    """(V, S, S, 4) uint8: the decoded RGBA images of a record."""
    return np.stack([np.asarray(Image.open(io.BytesIO(png))) for png in record.images])


def shots(cfg: ConvertConfig, source: Source) -> list:
    """The shots mesh_object draws for one object."""
    rng = shot_rng(cfg.seed, source.object_id)
    return [draw_shot(cfg, rng) for _ in range(cfg.views)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Three cars converted plain and with each flag, twice (in two worker processes), plus their plain renders."""
    root = tmp_path_factory.mktemp("meshes")
    synth_dataset(str(root), 3, seed=4)
    sources = discover("synth", str(root))
    base = ConvertConfig(meshes=str(root), out="unused", voxel_res=16, image_size=SIZE, views=VIEWS, seed=5,
                         viewpoints=VIEWPOINT_SETS["cars"])
    configs = {"plain": base, **{flag: dataclasses.replace(base, **{flag: value}) for flag, value in FLAGS.items()}}
    jobs = [(source, cfg) for cfg in configs.values() for source in sources]
    first, second = (list(imap_spawned(convert_object, jobs, workers=1)) for _ in range(2))
    references = list(imap_spawned(plain_renders, [(source, base) for source in sources], workers=1))
    per_run = len(sources)
    return {"sources": sources, "configs": configs, "references": references,
            **{name: (first[i * per_run:(i + 1) * per_run], second[i * per_run:(i + 1) * per_run])
               for i, name in enumerate(configs)}}


def test_flags_at_zero_render_exactly_as_before(runs):
    for record, reference in zip(runs["plain"][0], runs["references"]):
        np.testing.assert_array_equal(pixels(record), reference)


@pytest.mark.parametrize("flag", FLAGS)
def test_each_flag_changes_the_renders_the_same_way_every_run(runs, flag):
    first, second = runs[flag]
    assert [r.images for r in first] == [r.images for r in second]  # two processes, the same bytes
    assert all(r.images != p.images for r, p in zip(first, runs["plain"][0]))


@pytest.mark.parametrize("flag", ["light_jitter", "material_jitter"])
def test_light_and_material_change_colours_not_the_silhouette_or_the_camera(runs, flag):
    for record, plain in zip(runs[flag][0], runs["plain"][0]):
        jittered, before = pixels(record), pixels(plain)
        np.testing.assert_array_equal(jittered[..., 3], before[..., 3])
        assert (jittered[..., :3] != before[..., :3]).any() and record.viewpoints == plain.viewpoints


def centroid(alpha: np.ndarray) -> np.ndarray:
    """(column, row) of the coverage-weighted mask centre of an (S, S) alpha."""
    rows, cols = np.indices(alpha.shape)
    return np.array([(cols * alpha).sum(), (rows * alpha).sum()]) / alpha.sum()


def test_off_centre_moves_the_mask_with_the_shift(runs):
    cfg = runs["configs"]["off_centre"]
    for source, record, plain in zip(runs["sources"], runs["off_centre"][0], runs["plain"][0]):
        assert record.viewpoints == plain.viewpoints  # the same camera: the picture moves
        for shot, moved, before in zip(shots(cfg, source), pixels(record), pixels(plain)):
            step = centroid(moved[..., 3].astype(float)) - centroid(before[..., 3].astype(float))
            expected = np.array([shot.shift[0], -shot.shift[1]]) * SIZE / 2  # pixels: x right, rows down
            assert np.linalg.norm(step) > 0.3 and step @ expected > 0


def border(alpha: np.ndarray) -> np.ndarray:
    """The pixels of the outermost rows and columns of a mask (S, S)."""
    return np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])


def test_fov_jitter_changes_the_mask_area_and_keeps_the_object_whole(runs):
    cfg, areas = runs["configs"]["fov_jitter"], []
    for source, record, plain in zip(runs["sources"], runs["fov_jitter"][0], runs["plain"][0]):
        radius = bounding_radius(load_mesh(Path(source.path)).vertices)
        distances = np.reshape(record.viewpoints, (VIEWS, 4))[:, 3]
        for shot, distance, image, before in zip(shots(cfg, source), distances, pixels(record), pixels(plain)):
            assert shot.fov != PLAIN.fov and distance >= framing_distance(radius, shot.fov) * (1 - 1e-6)
            alpha = image[..., 3]
            assert (border(alpha) == 0).all()  # framed whole
            areas.append((alpha.sum(), before[..., 3].sum()))
    assert all(area != plain for area, plain in areas)


def test_truncation_moves_the_camera_in_until_the_border_cuts(runs):
    cfg, touched = runs["configs"]["truncation"], []
    for source, record, plain in zip(runs["sources"], runs["truncation"][0], runs["plain"][0]):
        radius = bounding_radius(load_mesh(Path(source.path)).vertices)
        distances = np.reshape(record.viewpoints, (VIEWS, 4))[:, 3]
        for shot, distance, image, before in zip(shots(cfg, source), distances, pixels(record), pixels(plain)):
            assert shot.zoom is not None
            np.testing.assert_allclose(distance, framing_distance(radius, shot.fov, margin=shot.zoom), rtol=1e-6)
            assert distance < framing_distance(radius) and image[..., 3].sum() > before[..., 3].sum()
            alpha = image[..., 3]
            touched.append((border(alpha) > 0).any())
    assert sum(touched) >= len(touched) // 2


def test_draws_depend_on_the_seed_and_the_object_only():
    cfg = ConvertConfig(meshes="m", out="o", **FLAGS)
    draw = lambda seed, object_id: [draw_shot(cfg, shot_rng(seed, object_id)) for _ in range(3)]  # noqa: E731
    assert draw(0, "car-1") == draw(0, "car-1")
    assert draw(0, "car-1") != draw(1, "car-1") and draw(0, "car-1") != draw(0, "car-2")


def test_flags_at_zero_draw_the_plain_shot():
    shot = draw_shot(ConvertConfig(meshes="m", out="o"), np.random.default_rng(0))
    same = ("intensities", "ambient", "fov", "shift", "zoom", "tint", "specular")
    assert all(getattr(shot, name) == getattr(PLAIN, name) for name in same) and shot.lights[0] == PLAIN.lights[0]
    assert set(FLAGS) == set(RENDER_FLAGS)  # every flag is tested

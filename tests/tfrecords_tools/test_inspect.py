"""inspect --grid: one row per object, each under a caption naming it."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfrecords_tools.captions import captioned
from tfrecords_tools.cli import main
from tfrecords_tools.errors import UserError
from tfrecords_tools.inspect import row_caption, summary
from tfrecords_tools.dataset.manifest import read_manifest
from tfrecords_tools.dataset.read import dataset


def test_grid_draws_n_captioned_rows(tiny_data, tmp_path):
    out = tmp_path / "grid.png"
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "inspect", tiny_data, "--grid", str(out),
                           "--split", "train", "--objects", "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    grid = np.asarray(Image.open(out).convert("RGB"))
    size, views = 64, 4
    strip = captioned(np.zeros((size, 5 * size, 3), np.uint8), ["x"], 11).height - size  # caption height
    assert grid.shape == (3 * (strip + size), (1 + views) * size, 3)
    rows = list(dataset(tiny_data, "train").take(3).as_numpy_iterator())
    for i, row in enumerate(rows):
        top = i * (strip + size)
        caption = grid[top:top + strip]
        assert (caption.min(axis=2) < 100).sum() > 20  # dark text on the white strip
        np.testing.assert_array_equal(grid[top + strip:top + strip + size, size:2 * size], row["images"][0])


def test_objects_must_be_positive(tiny_data, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tfrecords_tools", "inspect", tiny_data, "--grid", "g.png", "--objects", "0"])
    with pytest.raises(UserError, match="--objects must be at least 1"):
        main()


def test_summary_names_the_mask_and_the_render_randomisation(tiny_data):
    manifest = read_manifest(tiny_data)
    assert "images: RGBA, alpha the coverage mask; render randomisation: none" in summary(manifest)
    manifest["config"].update(off_centre=0.25, truncation=0.5)
    assert "render randomisation: --off-centre 0.25, --truncation 0.5" in summary(manifest)


def test_captions_and_summary_name_the_up_axis(tiny_data):
    manifest = read_manifest(tiny_data)
    assert row_caption({"object_id": b"horse", "category": b"animal"}, "z") == "horse (animal; up: z)"
    assert "up: the meshes' y axis" in summary(manifest)
    manifest["up"] = "-z"
    assert "up: the meshes' -z axis" in summary(manifest)

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tfrecords_tools.errors import UserError
from tfrecords_tools.synth import CATEGORIES
from xmodal.config import FitConfig
from xmodal.fit import compiled_model, mirrored_strategy, starting_model, stored_model
from xmodal.pretrained import ABOUT, RECIPES, WEIGHTS, Recipe, init_source, publish, recipe, shipped
from xmodal.warm_start import ENCODERS, warm_start


def random_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(3 voxel grids (3, 32, 32, 32), 3 images (3, 64, 64, 3)) at the `small` resolutions."""
    rng = np.random.default_rng(seed)
    return (rng.random((3, 32, 32, 32)) < 0.3).astype(np.uint8), rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)


def test_init_source_names_what_fit_starts_from(capsys):
    assert init_source("none", "small") == "" and init_source("", "small") == ""
    assert init_source("runs/other", "small") == "runs/other"
    assert init_source("pretrained", "small") == str(WEIGHTS / "small")
    assert "starting from the pretrained small encoders (27000 built-in objects" in capsys.readouterr().out
    assert shipped("paper") is None and init_source("pretrained", "paper") == ""
    assert "no pretrained encoders ship for preset paper: training from scratch" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_shipped_encoders_describe_their_recipe_and_load_in_safe_mode(name):
    about = json.loads((shipped(name) / ABOUT).read_text())
    assert about["preset"] == name and about["categories"] == list(CATEGORIES) and about["exported"]["step"] > 0
    assert about["recipe"] == dataclasses.asdict(recipe(name))
    for file in ENCODERS:
        keras.saving.load_model(shipped(name) / file, compile=False, safe_mode=True)


def test_a_default_run_starts_from_the_shipped_encoders(tmp_path):
    assert FitConfig().init == "pretrained"
    model, _, _ = starting_model(FitConfig(out=str(tmp_path / "run")), mirrored_strategy(["/cpu:0"]), tmp_path, True)
    grids, pictures = random_inputs()
    voxels, images = (keras.saving.load_model(shipped(FitConfig().preset) / name, safe_mode=True) for name in ENCODERS)
    np.testing.assert_allclose(model.voxel_encoder(grids).numpy(), voxels(grids).numpy(), atol=1e-5)
    np.testing.assert_allclose(model.image_encoder(pictures).numpy(), images(pictures).numpy(), atol=1e-5)
    scratch = compiled_model(FitConfig(init="none"))
    assert not np.allclose(scratch.voxel_encoder(grids).numpy(), voxels(grids).numpy(), atol=1e-3)


def test_pretrain_quick_publishes_encoders_a_run_can_start_from(tmp_path):
    weights = tmp_path / "weights"
    done = subprocess.run([sys.executable, "-m", "xmodal.experiments", "pretrain", "--quick", "--preset",
                           FitConfig().preset, "--work", str(tmp_path / "work"), "--weights", str(weights)],
                          capture_output=True, text=True,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in weights.iterdir()) == sorted([ABOUT, *ENCODERS])
    about = json.loads((weights / ABOUT).read_text())
    assert about["recipe"]["objects"] == 36 and about["categories"] == list(CATEGORIES)
    second = tmp_path / "work" / f"pretrain-{FitConfig().preset}" / "same-category" / "config.json"
    second = json.loads(second.read_text())
    assert second["same_category"] and second["steps"] == 2 and about["exported"] == second["exported"]
    model = compiled_model(FitConfig())
    warm_start(model.voxel_encoder, model.image_encoder, str(weights), stored_model)
    grids, _ = random_inputs(1)
    source = keras.saving.load_model(weights / ENCODERS[0], safe_mode=True)
    np.testing.assert_allclose(model.voxel_encoder(grids).numpy(), source(grids).numpy(), atol=1e-5)


def test_shipped_encoders_that_do_not_fit_the_run_are_one_line_naming_init_none():
    model = compiled_model(FitConfig(voxel_channels=1))
    with pytest.raises(UserError, match="its voxel_encoder has other layers than this run's preset .*--init none"):
        warm_start(model.voxel_encoder, model.image_encoder, init_source("pretrained", FitConfig().preset), stored_model)


def test_publish_refuses_a_folder_holding_anything_else_and_deletes_nothing(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds no published encoders"):
        publish(tmp_path / "export", tmp_path / "mine", Recipe(), "small", {}, {})
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"

"""Divergence is recoverable: the checkpoint named after a non-finite loss holds weights from before it, and the
printed advice (a lower --learning-rate and --resume) continues from there to a finite loss."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.errors import UserError
from xmodal.training.checkpoints import read_losses, record_loss, remove_temporaries, resumable
from xmodal.fit import fit, parse_config


def test_printed_advice_resumes_from_before_the_divergence_and_finishes_finite(tiny_data, tmp_path):
    run = tmp_path / "run"
    args = ["--data", tiny_data, "--preset", "small", "--objects-per-batch", "4", "--views-per-object", "2",
            "--checkpoint-every", "1", "--test-every", "5", "--out", str(run), "--export", str(tmp_path / "sm")]
    fit(parse_config(args + ["--steps", "4"]))  # healthy steps 1..4, a checkpoint each
    diverging = args + ["--steps", "12", "--resume", "--learning-rate", "1e30"]
    done = subprocess.run([sys.executable, "-m", "xmodal.fit", *diverging], capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    # step 5 trains with lr 1e30 and saves ckpt-5 (enormous weights, finite loss); step 6 is non-finite
    assert "the loss became non-finite at step 6" in done.stderr
    named = done.stderr.split("; ")[1].split(" (step")[0]
    assert named == str(run / "checkpoints" / "ckpt-4")
    assert "rerun the same command with a lower --learning-rate and --resume" in done.stderr
    assert "ckpt-5" not in read_losses(str(run / "checkpoints"))
    result = fit(parse_config(diverging + ["--learning-rate", "1e-3"]))  # the advice, followed
    assert result["steps"] == 12 and math.isfinite(result["train_loss"])
    losses = read_losses(str(run / "checkpoints"))
    assert losses["ckpt-12"]["step"] == 12 and all(math.isfinite(e["loss"]) for e in losses.values())
    assert json.loads((run / "config.json").read_text())["learning_rate"] == 1e-3


def test_checkpoint_with_non_finite_variables_is_never_resumed_from(tmp_path):
    weights = tf.Variable([1.0, 2.0])
    checkpoint = tf.train.Checkpoint(weights=weights)
    directory = str(tmp_path)
    for step, value in ((1, 1.0), (2, np.nan)):
        weights.assign([value, 2.0])
        record_loss(directory, step, 0.5)
        checkpoint.write(f"{directory}/ckpt-{step}")
    path, entry = resumable(directory)
    assert path.endswith("ckpt-1") and entry == {"step": 1, "loss": 0.5}


@pytest.mark.parametrize("text, problem", [
    ('{"ckpt-5": {"step": 5, "lo', "unreadable"),
    ('["ckpt-5"]', "must be a JSON object"),
    ('{"ckpt-5": {"loss": 0.5}}', "key ckpt-5.step is missing"),
    ('{"ckpt-5": {"step": 5, "loss": "low"}}', "key ckpt-5.loss must be a number"),
])
def test_a_losses_json_cut_short_or_not_ours_is_one_line_naming_it(tmp_path, text, problem):
    (tmp_path / "losses.json").write_text(text)
    with pytest.raises(UserError, match=f"^{tmp_path / 'losses.json'}: .*{problem}"):
        resumable(str(tmp_path))


def test_only_the_temporary_folders_of_our_checkpoint_saves_are_removed(tmp_path):
    for name in ("ckpt-7_temp", "ckpt-12_temp", "notes_temp", "ckpt-x_temp"):
        (tmp_path / name).mkdir()
    (tmp_path / "ckpt-3_temp").write_text("a file, not a save's folder")
    removed = remove_temporaries(str(tmp_path))
    assert sorted(p.name for p in removed) == ["ckpt-12_temp", "ckpt-7_temp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-3_temp", "ckpt-x_temp", "notes_temp"]
    assert remove_temporaries(str(tmp_path / "absent")) == []

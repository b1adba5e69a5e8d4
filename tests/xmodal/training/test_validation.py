import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import read_manifest
from tfrecords_tools.dataset.read import dataset
from xmodal.training.data import Stream, object_views
from xmodal.training.validation import (CRITERION, History, Validation, default_count, few_objects_note, object_ids,
                               read_history, restore_best, score, validation_ids)


def scripted(score: float) -> dict:
    """Metrics of `xmodal.evaluation.metrics.evaluate_embeddings` whose criterion is `score`."""
    direction = {"recall@1": score, "recall@5": min(1.0, 2 * score), "map": score}
    return {"image_to_voxel": direction, "voxel_to_image": direction, "modality_gap": {"mean": 0.5}}


def test_best_checkpoint_and_early_stopping_follow_a_scripted_metric_sequence(tmp_path):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    scores = iter([0.1, 0.3, 0.2, 0.3, 0.25, 0.9])  # best at the 2nd validation; a tie is no improvement
    best = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path / "best"), max_to_keep=1)
    callback = Validation(tmp_path, lambda: scripted(next(scores)), every=10, patience=3, history=History([]), best=best)
    callback.set_model(model)
    stopped_at = None
    for step in range(1, 61):
        model.optimizer.iterations.assign(step)
        model.layers[0].kernel.assign([[float(step)]])  # the weights say which step they are from
        callback.on_train_batch_end(step)
        if model.stop_training:
            stopped_at = step
            break
    assert stopped_at == 50  # validations at 10..50: three after the best (step 20) without improvement
    stored = json.loads((tmp_path / "validation.json").read_text())
    assert stored["criterion"] == CRITERION and [e["step"] for e in stored["history"]] == [10, 20, 30, 40, 50]
    exported = restore_best(model, best, tmp_path, stopped_at)
    assert exported["step"] == 20 and exported["score"] == pytest.approx(0.3)
    assert float(model.layers[0].kernel.numpy()[0, 0]) == 20.0
    assert read_history(tmp_path, 30).best["step"] == 20 and read_history(tmp_path, 30).since_best == 1


def test_the_starting_weights_are_validated_and_exported_when_training_only_worsens_them(tmp_path):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.layers[0].kernel.assign([[-1.0]])  # the weights a fine-tuned run starts from
    scores = iter([0.5, 0.2, 0.1, 0.3])  # the starting weights validate best
    best = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path / "best"), max_to_keep=1)
    callback = Validation(tmp_path, lambda: scripted(next(scores)), every=10, patience=3, history=History([]), best=best)
    callback.set_model(model)
    callback.on_train_begin()
    for step in range(1, 31):
        model.optimizer.iterations.assign(step)
        model.layers[0].kernel.assign([[float(step)]])
        callback.on_train_batch_end(step)
    assert model.stop_training and [e["step"] for e in callback.history.entries] == [0, 10, 20, 30]
    assert restore_best(model, best, tmp_path, 30)["step"] == 0
    assert float(model.layers[0].kernel.numpy()[0, 0]) == -1.0


def test_patience_zero_never_stops(tmp_path):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    best = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path / "best"), max_to_keep=1)
    callback = Validation(tmp_path, lambda: scripted(0.1), every=1, patience=0, history=History([]), best=best)
    callback.set_model(model)
    for step in range(1, 20):
        model.optimizer.iterations.assign(step)
        callback.on_train_batch_end(step)
    assert not model.stop_training and len(callback.history.entries) == 19


def test_default_count_works_for_small_and_large_sets():
    assert default_count(100) == 10 and default_count(480) == 48 and default_count(10000) == 256
    assert default_count(20) == 0  # too few to rank: no validation


def test_validation_objects_are_chosen_by_the_seed_and_never_trained_on(tiny_data):
    manifest = read_manifest(tiny_data)
    train_ids = object_ids(tiny_data, manifest, "train")
    chosen = validation_ids(tiny_data, manifest, 3, seed=0)
    assert len(chosen) == 3 and set(chosen) <= set(train_ids)
    assert validation_ids(tiny_data, manifest, 3, seed=0) == chosen
    assert any(validation_ids(tiny_data, manifest, 3, seed=s) != chosen for s in (1, 2, 3))
    held_out = {o["voxels"].tobytes() for o in dataset(tiny_data, "train").as_numpy_iterator()
                if o["object_id"].decode() in chosen}
    stream = object_views(tiny_data, "train", 4, 1, 32, 64, Stream(seed=0, exclude=chosen))
    seen = {grid.tobytes() for batch in stream.take(8).as_numpy_iterator() for grid in batch["voxels"]}
    assert seen and not seen & held_out


def recalls(image_to_voxel: float, voxel_to_image: float, gap: float = 0.8) -> dict:
    """The parts of a metrics dict that `score` reads."""
    return {"image_to_voxel": {"recall@1": image_to_voxel}, "voxel_to_image": {"recall@1": voxel_to_image},
            "modality_gap": {"mean": gap}}


def test_perturbed_criterion_is_the_harmonic_mean_so_reading_exact_pixels_loses():
    """Clean (0.5 + 0.7) / 2 = 0.6, perturbed (0.02 + 0.04) / 2 = 0.03: harmonic 2 * 0.6 * 0.03 / 0.63 = 0.0571;
    clean 0.3, perturbed 0.2: 2 * 0.3 * 0.2 / 0.5 = 0.24, which wins although its clean figure is lower."""
    lookup = {**recalls(0.5, 0.7), "perturbed": recalls(0.02, 0.04)}
    robust = {**recalls(0.25, 0.35), "perturbed": recalls(0.15, 0.25)}
    assert score(lookup) == pytest.approx(2 * 0.6 * 0.03 / 0.63)
    assert score(robust) == pytest.approx(0.24) and score(robust) > score(lookup)
    assert score(recalls(0.5, 0.7)) == pytest.approx(0.6)
    assert score({**recalls(0.0, 0.0), "perturbed": recalls(0.0, 0.0)}) == 0.0
    assert score({**recalls(0.5, 0.7, float("nan")), "perturbed": recalls(0.1, 0.1)}) == -1.0


def test_too_few_validation_objects_are_warned_about_with_the_spread_they_imply():
    """5 objects: Recall@1 moves in steps of 1/5 = 0.20; at p = 0.5 its standard error is sqrt(0.25 / 5) = 0.224."""
    note = few_objects_note(5)
    assert "only 5 objects validate" in note and "1/5 = 0.20" in note and "up to 0.22 " in note
    assert f"up to {np.sqrt(0.5 * 0.5 / 19):.2f} " in few_objects_note(19)
    assert few_objects_note(20) is None and few_objects_note(256) is None


@pytest.mark.parametrize("text, problem", [
    ('{"criterion": "x", "history": [{"step": 0, "sc', "unreadable"),
    ('"history"', "must be a JSON object"),
    ('{"criterion": "x"}', "key history is missing"),
    ('{"history": [{"step": 0, "metrics": {}}]}', r"key history\[0\].score must be a number"),
])
def test_a_validation_json_cut_short_or_not_ours_is_one_line_naming_it(tmp_path, text, problem):
    (tmp_path / "validation.json").write_text(text)
    with pytest.raises(UserError, match=f"^{tmp_path / 'validation.json'}: .*{problem}"):
        read_history(tmp_path, 10)

import dataclasses
import errno
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.errors import UserError
import xmodal.serving.export
from xmodal.training.config import FitConfig
from xmodal.training.data import Stream, triplets
from xmodal.serving.embedder import load_embedder
from xmodal.evaluate import evaluate
from xmodal.fit import (compiled_model, export_weights, fit, mirrored_strategy, prepare_run, shard_checksums,
                        stored_model)
from xmodal.training.losses import triplet_loss
from xmodal.training.models import build_encoders
from xmodal.training.symmetry import IMAGE_AXIS, VOXEL_AXIS, embed
from xmodal.training.warm_start import warm_start

TINY_FIT = dict(preset="small", loss="triplet", batch_size=4, checkpoint_every=10, test_every=5)


def event_tags(logdir: Path) -> set[str]:
    """Scalar tags written under a TensorBoard log directory, as `<run>/<tag>`."""
    tags = set()
    for path in logdir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {f"{path.parent.name}/{v.tag}" for v in event.summary.value}
    return tags


def fixed_batch_loss(voxels: keras.Model, images: keras.Model, data: str) -> float:
    """Equation (1) on six fixed training batches."""
    losses = [triplet_loss(voxels(b["voxels"]), images(b["positive"]), images(b["negative"]))
              for b in triplets(data, "train", 4, 32, 64, Stream(seed=99)).take(6)]
    return float(np.mean(losses))


def encoder_weights(export: str) -> list[np.ndarray]:
    return [w for name in ("voxel_encoder", "image_encoder")
            for w in keras.saving.load_model(f"{export}/{name}.keras", safe_mode=True).get_weights()]


def test_cli_trains_logs_checkpoints_and_exports(tiny_data, tmp_path):
    run, export = tmp_path / "run", tmp_path / "sm"
    done = subprocess.run([sys.executable, "-m", "xmodal.fit", "--data", tiny_data, "--preset", "small", "--steps", "40",
                           "--loss", "triplet", "--batch-size", "4", "--init", "none", "--out", str(run), "--export", str(export)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["steps"] == 40
    assert {"train/loss", "test/loss", "train/learning_rate", "train/triplets_per_second"} <= event_tags(run / "logs")
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-40")
    assert json.loads((run / "config.json").read_text())["loss"] == "triplet"
    assert f"exported model: {export / '1'}" in done.stdout
    export = export / "1"
    loaded = tf.saved_model.load(str(export))
    embedding = loaded.signatures["embed_voxels"](voxels=tf.zeros((3, 32, 32, 32), tf.uint8))["embedding"]
    assert embedding.shape == (3, 128)
    keras.utils.set_random_seed(0)
    untrained = build_encoders("small")
    trained = [keras.saving.load_model(f"{export}/{n}.keras", safe_mode=True) for n in ("voxel_encoder", "image_encoder")]
    assert fixed_batch_loss(*trained, tiny_data) < 0.7 * fixed_batch_loss(*untrained, tiny_data)


def test_resume_continues_to_the_same_weights(tiny_data, tmp_path):
    whole = FitConfig(data=tiny_data, steps=20, out=str(tmp_path / "whole"), export=str(tmp_path / "whole_sm"), **TINY_FIT)
    whole_export = fit(whole)["export"]
    first = FitConfig(data=tiny_data, steps=10, out=str(tmp_path / "cut"), export=str(tmp_path / "cut_sm"), **TINY_FIT)
    fit(first)
    left = tmp_path / "cut" / "checkpoints" / "ckpt-15_temp"  # a save cut short by a full disk
    left.mkdir()
    (left / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half")
    resumed = fit(FitConfig(**{**first.__dict__, "steps": 20, "resume": True}))
    assert resumed["steps"] == 20 and resumed["export"] == str(tmp_path / "cut_sm" / "2")
    assert not left.exists()
    assert resumed["metrics"]["start"] == json.loads((tmp_path / "cut" / "start.json").read_text())  # of step 0
    for a, b in zip(encoder_weights(whole_export), encoder_weights(resumed["export"])):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_two_replicas_give_the_same_loss_and_update_as_one_device(tiny_data):
    batch = next(iter(triplets(tiny_data, "train", 4, 32, 64, Stream(seed=0))))
    results = []
    for strategy in (tf.distribute.get_strategy(), mirrored_strategy(["/cpu:0", "/cpu:1"])):
        keras.utils.set_random_seed(7)
        with strategy.scope():
            model = compiled_model(FitConfig(preset="small", loss="triplet"))
        loss = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history["loss"][0]
        results.append((strategy.num_replicas_in_sync, loss, [w.copy() for w in model.get_weights()]))
    (n1, loss1, weights1), (n2, loss2, weights2) = results
    assert (n1, n2) == (1, 2)
    assert loss1 == pytest.approx(loss2, rel=1e-4)
    for a, b in zip(weights1, weights2):
        np.testing.assert_allclose(a, b, atol=2e-5)


@pytest.mark.parametrize("change, message", [
    (dict(preset="nope"), "unknown preset"),
    (dict(batch_size=1), "at least 2"),
    (dict(preset="paper"), r"expects 96\^3 voxels"),
    (dict(data="/nonexistent"), "does not exist"),
])
def test_bad_settings_are_user_errors(tiny_data, tmp_path, change, message):
    cfg = FitConfig(**{**dict(data=tiny_data, out=str(tmp_path / "run"), steps=2, **TINY_FIT), **change})
    with pytest.raises(UserError, match=message):
        fit(cfg)


def test_missing_data_on_the_command_line_is_one_line_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "xmodal.fit", "--data", str(tmp_path), "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "manifest.json" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_non_finite_loss_stops_and_keeps_no_bad_checkpoint(tiny_data, tmp_path):
    cfg = FitConfig(data=tiny_data, steps=5, out=str(tmp_path / "run"), margin=float("nan"), **TINY_FIT)
    with pytest.raises(UserError, match="non-finite at step 1"):
        fit(cfg)
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints")) is None


def test_mixed_bfloat16_with_xla_trains_and_exports(tiny_data, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(FitConfig(data=tiny_data, steps=3, out=str(tmp_path / "run"), export=str(tmp_path / "sm"),
                               precision="mixed_bfloat16", jit=True, **TINY_FIT))
    keras.mixed_precision.set_dtype_policy("float32")
    assert not [w for w in caught if "jit_compile" in str(w.message)]  # XLA really compiled the step
    assert result["steps"] == 3 and np.isfinite(result["train_loss"])
    encoder = keras.saving.load_model(f"{result['export']}/image_encoder.keras", safe_mode=True)
    assert encoder.get_layer("conv1a").compute_dtype == "bfloat16"
    assert encoder.output.dtype == "float32"  # the embedding layer stays float32


def test_default_loss_trains_on_object_batches_and_exports_unit_embeddings(tiny_data, tmp_path):
    result = fit(FitConfig(data=tiny_data, steps=5, objects_per_batch=4, views_per_object=2, out=str(tmp_path / "run"),
                           export=str(tmp_path / "sm"), checkpoint_every=5, test_every=5))
    assert FitConfig().loss == "info_nce" and result["steps"] == 5
    model = tf.saved_model.load(result["export"])
    embedding = model.signatures["embed_images"](images=tf.ones((2, 64, 64, 3), tf.uint8))["embedding"].numpy()
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=1e-5)
    assert set(result["metrics"]) >= {"image_to_voxel", "voxel_to_image", "modality_gap"}


VALIDATED = dict(preset="small", loss="info_nce", objects_per_batch=4, views_per_object=2, validation_objects=3,
                 eval_every=5, patience=0, checkpoint_every=5, test_every=5, crop=0.8, color_jitter=0.2, mirror=True,
                 learn_temperature=True, weight_decay=0.01, warmup_steps=5, decay_steps=20)


def validated_fit(data: str, root: Path, name: str, steps: int, **fields) -> dict:
    return fit(FitConfig(data=data, steps=steps, out=str(root / name), export=str(root / f"{name}-export"),
                         **{**VALIDATED, **fields}))


def test_validation_logs_keeps_the_best_and_longer_training_never_exports_worse(tiny_data, tmp_path):
    short = validated_fit(tiny_data, tmp_path, "short", 15)
    long = validated_fit(tiny_data, tmp_path, "long", 30)
    resumed = validated_fit(tiny_data, tmp_path, "short", 30, resume=True)
    history = [json.loads((tmp_path / n / "validation.json").read_text())["history"] for n in ("short", "long")]
    assert [e["step"] for e in history[1]] == [0, 5, 10, 15, 20, 25, 30]  # the starting weights first
    assert history[1][:4] == history[0][:4] == json.loads((tmp_path / "short" / "validation.json").read_text())["history"][:4]
    assert history[0] == history[1]  # the resumed short run repeats the long one
    assert long["exported"]["score"] >= short["exported"]["score"]
    assert long["exported"]["score"] == max(e["score"] for e in history[1])
    assert resumed["exported"] == long["exported"]
    best = long["exported"]["step"]
    assert json.loads((tmp_path / "long" / "config.json").read_text())["exported"]["step"] == best
    assert json.loads((Path(long["export"]) / "training.json").read_text())["step"] == best
    assert long["metrics"]["exported"]["step"] == best
    assert {"validation/criterion", "validation/image_to_voxel/recall@1", "validation/voxel_to_image/recall@5",
            "validation/image_to_voxel/map", "validation/modality_gap", "train/temperature"} <= event_tags(tmp_path / "long" / "logs")


def test_init_starts_from_the_source_embeddings(tiny_data, tiny_model, tmp_path):
    cfg = FitConfig(data=tiny_data, preset="small", loss="triplet", init=tiny_model)
    model = compiled_model(cfg)
    warm_start(model.voxel_encoder, model.image_encoder, cfg.init, stored_model)
    source = tf.saved_model.load(tiny_model)
    rng = np.random.default_rng(0)
    grids = (rng.random((3, 32, 32, 32)) < 0.3).astype(np.uint8)
    pictures = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(embed(model.voxel_encoder, grids, VOXEL_AXIS, cfg.mirror_average).numpy(),
                               source.signatures["embed_voxels"](voxels=tf.constant(grids))["embedding"].numpy(), atol=1e-5)
    np.testing.assert_allclose(embed(model.image_encoder, pictures, IMAGE_AXIS, cfg.mirror_average).numpy(),
                               source.signatures["embed_images"](images=tf.constant(pictures))["embedding"].numpy(), atol=1e-5)


@pytest.mark.parametrize("shard, test_every", [("train-00000-of-00001.tfrecord", 5), ("test-00000-of-00001.tfrecord", 1)])
def test_corrupted_record_in_training_or_test_batches_names_the_shard(tiny_data, tmp_path, shard, test_every):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    flipped = bytearray((data / shard).read_bytes())
    flipped[-100] ^= 0x10  # inside the last record: the size and the first record stay right
    (data / shard).write_bytes(bytes(flipped))
    cfg = FitConfig(**{**TINY_FIT, "test_every": test_every}, data=str(data), steps=3, out=str(tmp_path / "run"))
    with pytest.raises(UserError, match=f"{shard}: record index \\d+ is unreadable \\(corrupted record at \\d+\\)"):
        fit(cfg)


def test_manifest_lying_about_views_fails_before_training_naming_the_shard(tiny_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    manifest = json.loads((data / "manifest.json").read_text())
    (data / "manifest.json").write_text(json.dumps({**manifest, "views": 6}))
    with pytest.raises(UserError, match="train-00000-of-00001.tfrecord: record 0 holds 4 views"):
        fit(FitConfig(data=str(data), steps=3, out=str(tmp_path / "run"), **TINY_FIT))
    assert not (tmp_path / "run").exists()


def test_init_from_another_preset_is_one_line_naming_the_encoder(tiny_model):
    model = compiled_model(FitConfig(preset="res-small"))
    with pytest.raises(UserError, match="its voxel_encoder has other layers than this run's preset"):
        warm_start(model.voxel_encoder, model.image_encoder, tiny_model, stored_model)


SHARDS = {"train": ["a1", "a2"], "test": ["b1"]}  # the shard checksums of a dataset


def stored_run(run: Path) -> FitConfig:
    """A run directory holding one (empty) checkpoint; the config resuming it."""
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-5"\n')
    (run / "checkpoints" / "ckpt-5.index").write_bytes(b"")
    return FitConfig(data="D", out=str(run), resume=True)


def test_resume_refuses_changed_settings_but_not_settings_the_stored_run_predates(tmp_path):
    run = tmp_path / "run"
    cfg = stored_run(run)
    older = {k: v for k, v in {**dataclasses.asdict(cfg), "data": "D"}.items() if k != "mirror_average"}
    (run / "config.json").write_text(json.dumps(older))
    assert prepare_run(cfg, "D", SHARDS) == run  # made before --mirror-average existed
    assert json.loads((run / "config.json").read_text())["mirror_average"] is True
    with pytest.raises(UserError, match="other settings than the stored run: seed, mirror_average$"):
        prepare_run(dataclasses.replace(cfg, mirror_average=False, seed=3), "D", SHARDS)


def test_resume_refuses_data_converted_again_but_resumes_on_the_same_data(tmp_path):
    run = tmp_path / "run"
    cfg = stored_run(run)
    (run / "config.json").write_text(json.dumps({**dataclasses.asdict(cfg), "data": "D", "dataset": SHARDS}))
    assert prepare_run(cfg, "D", SHARDS) == run
    assert json.loads((run / "config.json").read_text())["dataset"] == SHARDS
    reconverted = {**SHARDS, "train": ["a1", "c2"]}  # another seed: another split, other shards
    with pytest.raises(UserError, match=r"^--resume: D changed since the run started \(its train shards differ"):
        prepare_run(cfg, "D", reconverted)
    with pytest.raises(UserError, match="its test shards differ"):
        prepare_run(cfg, "D", {**SHARDS, "test": []})
    assert json.loads((run / "config.json").read_text())["dataset"] == SHARDS  # the refusal changed nothing


def test_shard_checksums_are_the_manifests(tiny_data):
    manifest = json.loads((Path(tiny_data) / "manifest.json").read_text())
    checksums = shard_checksums(manifest)
    assert set(checksums) == {"train", "test"}
    assert checksums["train"] == [s["sha256"] for s in manifest["splits"]["train"]["shards"]]


@pytest.mark.parametrize("text, problem", [
    ('{"preset": "small", "lo', "unreadable"),
    ("[1, 2]", "must be a JSON object"),
    ('{"preset": "small", "data": "D"}', "key loss is missing"),
    ('{"preset": "small", "loss": "triplet", "data": "D", "steps": "many"}', "key steps holds 'many'"),
])
def test_a_config_json_cut_short_or_not_ours_is_one_line_on_resume(tmp_path, text, problem):
    run = tmp_path / "run"
    cfg = stored_run(run)
    (run / "config.json").write_text(text)
    with pytest.raises(UserError, match=f"^{run / 'config.json'}: .*{problem}"):
        prepare_run(cfg, "D", SHARDS)


def test_collapsing_embeddings_stop_the_run_without_an_export(tiny_data, tmp_path):
    """--learning-rate 30 sends every embedding to one point within a few steps (the loss stays at ln P, finite)."""
    cfg = FitConfig(data=tiny_data, preset="small", objects_per_batch=4, views_per_object=2, steps=30, learning_rate=30.0,
                    init="none", checkpoint_every=2, test_every=2, out=str(tmp_path / "run"), export=str(tmp_path / "sm"))
    with pytest.raises(UserError, match=r"^nothing was exported: the embeddings collapsed after step \d+ \(every input "
                                        r"embeds to nearly one point: spread [\d.e-]+ at 3 checks in a row, up to "
                                        r"step \d+\); .*with a lower --learning-rate"):
        fit(cfg)
    assert not (tmp_path / "sm").exists() or not any((tmp_path / "sm").iterdir())


@pytest.mark.parametrize("split, message", [
    ("test", "its test split is empty"),
    ("train", "its train split has 0 objects"),
])
def test_an_empty_split_is_one_line_before_the_run_starts(tiny_data, tmp_path, split, message):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    manifest = json.loads((data / "manifest.json").read_text())
    for shard in manifest["splits"][split]["shards"]:
        (data / shard["file"]).unlink()
    manifest["splits"][split] = {"objects": 0, "shards": []}
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=message):
        fit(FitConfig(data=str(data), steps=3, out=str(tmp_path / "run"), **TINY_FIT))
    assert not (tmp_path / "run").exists()


def test_holding_out_every_training_object_is_one_line(tiny_data, tmp_path):
    with pytest.raises(UserError, match=r"its train split has 9 objects \(9 of them held out for validation\)"):
        fit(FitConfig(data=tiny_data, steps=3, out=str(tmp_path / "run"), validation_objects=9, **TINY_FIT))


def test_fine_tuning_reports_the_starting_weights_beside_the_export_in_plain_progress_lines(tiny_data, tiny_model,
                                                                                           tmp_path, capsys):
    result = fit(FitConfig(data=tiny_data, steps=2, init=tiny_model, out=str(tmp_path / "run"),
                           export=str(tmp_path / "sm"), **{**TINY_FIT, "test_every": 1}))
    expected = evaluate(load_embedder(tiny_model), tiny_data, "test")  # the weights it started from
    start = result["metrics"]["start"]
    for key in ("image_to_voxel", "voxel_to_image", "image_to_image"):
        for name in ("recall@1", "recall@5", "map"):
            assert start[key][name] == pytest.approx(expected[key][name], abs=1e-6), (key, name)
    assert json.loads((tmp_path / "run" / "start.json").read_text())["voxel_to_image"] == start["voxel_to_image"]
    out = capsys.readouterr().out
    assert "starting weights" in out and "\x1b" not in out  # no progress bar off a terminal
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"]
    assert all(re.fullmatch(r"step \d/2  train loss [\d.]+  test-batch loss [\d.]+  [\d.]+ triplets/s", line)
               for line in lines), lines


def test_a_full_disk_while_exporting_is_one_line_and_leaves_no_partial_version(tmp_path, monkeypatch):
    class FillsTheDisk:
        def write_out(self, filepath: str, **kwargs) -> None:
            Path(filepath).mkdir()
            (Path(filepath) / "variables.data").write_bytes(b"half")  # written before the disk filled up
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xmodal.serving.export, "export_archive", lambda *args: FillsTheDisk())
    cfg = FitConfig(preset="small", export=str(tmp_path / "sm"))
    model = compiled_model(cfg)
    weights = sum(np.asarray(w).nbytes for w in model.voxel_encoder.weights + model.image_encoder.weights)
    with pytest.raises(UserError, match=f"^no space left on the device of {tmp_path / 'sm'}; it needs about "
                                        f"{2 * weights / 1e6:.1f} MB, "):
        export_weights(cfg, model, "", {"views": 4}, {"step": 1})
    assert list((tmp_path / "sm").iterdir()) == []  # no half-written version

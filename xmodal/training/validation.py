"""Validation during training: held-out training objects, retrieval metrics, best checkpoint, early stopping.

`fit` sets aside validation objects from the training split, chosen by the seed (the test split
stays untouched for the final report). Every `eval_every` steps the `Validation` callback embeds
them with the current encoders, logs cross-modal Recall@1/@5, mAP and the modality gap to
TensorBoard (run `validation`), keeps the best weights by CRITERION in their own checkpoint
folder, and stops the run after `patience` validations without improvement. Its history is
stored beside the checkpoints, so `--resume` continues it.
"""
import dataclasses
import math
import sys
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfrecords_tools.dataset.manifest import object_count, read_json_document, shard_paths, write_json_atomic
from tfrecords_tools.dataset.validate import key_problem
from tfrecords_tools.dataset.records import decode_rgba, has_masks, parse_spec, unpack_voxels
from xmodal.training.checkpoints import is_number, save_checkpoint, variable_bytes
from xmodal.training.data import member, object_id
from xmodal.evaluation.metrics import evaluate_embeddings
from xmodal.augmentation.perturb import VALIDATION, available, perturbed
from xmodal.training.symmetry import IMAGE_AXIS, VOXEL_AXIS, embed

CRITERION = "mean of image->voxel and voxel->image Recall@1"
PERTURBED_CRITERION = f"harmonic mean of the {CRITERION} of clean and of perturbed ('{VALIDATION}') renders"
MAX_DEFAULT = 256  # the default holds out a tenth of the training objects, at most this many
MIN_OBJECTS = 4  # fewer validation objects than this rank nothing worth keeping a checkpoint for
ENOUGH_OBJECTS = 20  # fewer than this, and a Recall@1 differs from another by noise (a standard error of 0.1 or more)
BATCH = 32
STATE = "validation.json"
PERTURB_SEED = 7  # the validation renders are perturbed alike at every validation


def default_count(train_objects: int) -> int:
    """Validation objects held out by default: a tenth of the training split, at most MAX_DEFAULT, or none."""
    count = min(train_objects // 10, MAX_DEFAULT)
    return count if count >= MIN_OBJECTS else 0


def object_ids(data: str, manifest: dict, split: str) -> list[str]:
    """The object ids of one split, in record order."""
    records = tf.data.TFRecordDataset([str(p) for p in shard_paths(data, manifest, split)])
    return [r.decode() for r in records.map(object_id).as_numpy_iterator()]


def validation_ids(data: str, manifest: dict, count: int, seed: int) -> tuple[str, ...]:
    """`count` training object ids drawn by the seed (sorted), or none when count is 0."""
    if count <= 0:
        return ()
    ids = sorted(object_ids(data, manifest, "train"))
    chosen = np.random.default_rng([seed, 7]).permutation(len(ids))[:count]
    return tuple(sorted(ids[i] for i in chosen))


def score(metrics: dict) -> float:
    """CRITERION of a metrics dict of `xmodal.evaluation.metrics.evaluate_embeddings` (-1 for diverged weights); where the dict
    has perturbed renders, the harmonic mean of it and theirs (PERTURBED_CRITERION): high only when both are, so
    weights that read the renderer's exact pixels (clean high, perturbed near chance) do not win."""
    value = (metrics["image_to_voxel"]["recall@1"] + metrics["voxel_to_image"]["recall@1"]) / 2.0
    if "perturbed" in metrics:
        changed = score(metrics["perturbed"])
        value = 2.0 * value * changed / (value + changed) if value + changed > 0 else 0.0
    return value if np.isfinite(metrics["modality_gap"]["mean"]) else -1.0


def criterion(perturbed: bool) -> str:
    """The name of the criterion the best weights are chosen by."""
    return PERTURBED_CRITERION if perturbed else CRITERION


def embedder(model: keras.Model, data: str, manifest: dict, ids: tuple[str, ...] | None, mirror_average: bool,
             perturb: bool = False, split: str = "train") -> Callable[[], dict]:
    """A function embedding the objects `ids` of a split (None: all of them; the validation objects of the training
    split by default) with the model's current encoders, as the export will (xmodal.training.symmetry), and returning their
    metrics; with `perturb`, also those of their renders perturbed by xmodal.augmentation.perturb's VALIDATION (the same
    perturbation at every validation), under "perturbed"."""
    res, size, views = manifest["voxel_res"], manifest["image_size"], manifest["views"]
    spec = parse_spec(views)
    records = tf.data.TFRecordDataset([str(p) for p in shard_paths(data, manifest, split)])
    objects = ((records if ids is None else records.filter(member(ids))).batch(BATCH)
               .map(lambda r: tf.io.parse_example(r, spec))
               .map(lambda e: {"voxels": unpack_voxels(e["voxels"], res),  # (n, R, R, R)
                               "images": decode_rgba(tf.reshape(e["images"], [-1]), size)})  # (n * V, S, S, 4)
               .enumerate())
    change = available(has_masks(manifest))[VALIDATION]

    @tf.function
    def embed_batch(index: tf.Tensor, batch: dict) -> tuple[tf.Tensor, ...]:
        """(voxels (n, 128), images (n * V, 128)[, perturbed images (n * V, 128)])."""
        rgb, alpha = batch["images"][..., :3], batch["images"][..., 3:]
        out = (embed(model.voxel_encoder, batch["voxels"], VOXEL_AXIS, mirror_average),
               embed(model.image_encoder, rgb, IMAGE_AXIS, mirror_average))
        if perturb:
            changed = perturbed(rgb, alpha, change, tf.stack([tf.constant(PERTURB_SEED, tf.int64), index]))
            out += (embed(model.image_encoder, changed, IMAGE_AXIS, mirror_average),)
        return out

    def evaluate() -> dict:
        parts = [[t.numpy() for t in embed_batch(index, batch)] for index, batch in objects]
        voxels, images, *changed = (np.concatenate(column) for column in zip(*parts))
        labels = np.arange(len(voxels))
        metrics = evaluate_embeddings(voxels, labels, images, np.repeat(labels, views))
        if changed:
            metrics["perturbed"] = evaluate_embeddings(voxels, labels, changed[0], np.repeat(labels, views))
        return metrics

    return evaluate


@dataclasses.dataclass
class History:
    """Validation results so far: [{step, score, metrics}], with the best and the count since it."""

    entries: list

    @property
    def best(self) -> dict | None:
        """The entry with the highest score (the earliest among equals)."""
        return max(self.entries, key=lambda e: e["score"], default=None)

    @property
    def since_best(self) -> int:
        """Validations after the best one."""
        best = self.best
        return 0 if best is None else sum(e["step"] > best["step"] for e in self.entries)


def state_problem(document: object) -> str | None:
    """What makes a document other than the validation.json the Validation callback writes, or None."""
    problem = key_problem("", document, {"history": list}, STATE)
    for i, entry in enumerate(document["history"] if problem is None else ()):
        where = f"history[{i}]"
        problem = key_problem(where, entry, {"step": int, "metrics": dict}, STATE) or (
            None if is_number(entry.get("score")) else f"key {where}.score must be a number")
        if problem:
            return problem
    return problem


def read_state(run: Path) -> dict:
    """The stored validation.json of a run ({"history": []} when there is none); a UserError naming the file when it
    is cut short or not what Validation writes."""
    path = run / STATE
    if not path.is_file():
        return {"history": []}
    return read_json_document(path, "", state_problem, "the validation history xmodal.fit writes")


def read_history(run: Path, start_step: int) -> History:
    """The stored history of a run, without validations after `start_step` (they are repeated on resume)."""
    return History([e for e in read_state(run)["history"] if e["step"] <= start_step])


def summary(metrics: dict) -> dict:
    """The scalars logged for one validation."""
    return {
        "criterion": score(metrics),
        **{f"{key}/{name}": metrics[key][name] for key in ("image_to_voxel", "voxel_to_image")
           for name in ("recall@1", "recall@5", "map")},
        "modality_gap": metrics["modality_gap"]["mean"],
        **{f"perturbed/{key}/recall@1": metrics["perturbed"][key]["recall@1"]
           for key in ("image_to_voxel", "voxel_to_image") if "perturbed" in metrics},
    }


class Validation(keras.callbacks.Callback):
    """Validates at the start, every `every` steps and at the end; keeps the best weights; stops after `patience`
    misses. Validating the starting weights means a fine-tuned run never exports worse weights than it began with."""

    def __init__(self, run: Path, evaluate: Callable[[], dict], every: int, patience: int, history: History,
                 best: tf.train.CheckpointManager, criterion: str = CRITERION):
        super().__init__()
        self.run, self.evaluate, self.every, self.patience = run, evaluate, every, patience
        self.criterion = criterion
        self.history, self.best = history, best
        self.writer = tf.summary.create_file_writer(str(run / "logs" / "validation"))

    def validate(self, step: int) -> None:
        """Evaluate, log, keep the weights if best, and store the history."""
        if any(e["step"] == step for e in self.history.entries):
            return
        metrics = self.evaluate()
        entry = {"step": step, "score": score(metrics), "metrics": summary(metrics)}
        self.history.entries.append(entry)
        with self.writer.as_default(step=step):
            for name, value in entry["metrics"].items():
                tf.summary.scalar(name, value)
        self.writer.flush()
        if self.history.best is entry:
            save_checkpoint(self.best, step, variable_bytes(self.model.variables))
        write_json_atomic(self.run / STATE, {"criterion": self.criterion, "history": self.history.entries})
        after_bar = "\n" if sys.stdout.isatty() else ""  # on a terminal, end the progress bar's line first
        print(f"{after_bar}validation at step {step}: {self.criterion} {entry['score']:.3f} "
              f"(best {self.history.best['score']:.3f} at step {self.history.best['step']})")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.validate(int(self.model.optimizer.iterations.numpy()))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every == 0:
            self.validate(step)
            if self.patience and self.history.since_best >= self.patience:
                print(f"stopping early: no better validation in the last {self.patience}")
                self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self.model.stop_training or not self.history.entries:
            self.validate(int(self.model.optimizer.iterations.numpy()))


def restore_best(model: keras.Model, best: tf.train.CheckpointManager, run: Path, last_step: int) -> dict:
    """Load the best validated weights into the model, if any; {step, criterion, score, validation} of what is left."""
    stored = read_state(run)
    entries = stored["history"]
    if best.latest_checkpoint is None or not entries:
        return {"step": last_step, "criterion": None, "score": None, "validation": None}
    step = int(best.latest_checkpoint.rsplit("-", 1)[-1])
    tf.train.Checkpoint(model=model).restore(best.latest_checkpoint).expect_partial()
    entry = next(e for e in entries if e["step"] == step)
    return {"step": step, "criterion": stored.get("criterion", CRITERION), "score": entry["score"],
            "validation": entry["metrics"]}


def few_objects_note(count: int) -> str | None:
    """A warning when `count` validation objects are too few to choose the exported weights by (fewer than
    ENOUGH_OBJECTS), with the spread of Recall@1 they imply; None when they are enough."""
    if count >= ENOUGH_OBJECTS:
        return None
    return (f"warning: only {count} objects validate: each Recall@1 moves in steps of 1/{count} = {1 / count:.2f} and "
            f"its standard error sqrt(p(1-p)/n) is up to {math.sqrt(0.25 / count):.2f} (at p = 0.5), so the exported "
            f"step is chosen on noise; about {ENOUGH_OBJECTS} or more (--validation-objects, on more data) choose "
            "it on a difference")


def validation_objects(requested: int, manifest: dict) -> int:
    """How many training objects to hold out: the request, or the default (-1)."""
    return default_count(object_count(manifest, "train")) if requested < 0 else requested

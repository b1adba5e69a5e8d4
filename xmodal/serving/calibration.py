"""How far a picture of an object lies from its own shape: measured when a model is exported, read when searching.

An export version holds `calibration.json` beside `training.json`: the distance between each test picture and
its own object's voxel embedding (the matched pairs), sorted, embedded as the signatures embed. A search result's
confidence is the share of those matched pairs that lie at least as far apart as the result does (1: nearer than
every true match seen; 0: farther than all of them); a picture whose nearest shape is farther than every matched
pair looks unlike the catalogue. Exports made before calibration.json existed have none: no confidence then.
"""
import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfrecords_tools.dataset.manifest import read_json_document
from tfrecords_tools.dataset.read import dataset, reading
from tfrecords_tools.dataset.validate import key_problem
from xmodal.training.symmetry import IMAGE_AXIS, VOXEL_AXIS, embed

CALIBRATION = "calibration.json"
SPLIT = "test"  # held out of training and of the choice of the exported weights
BATCH = 32
KEYS = {"split": str, "objects": int, "distances": list}


def matched_distances(voxels: np.ndarray, images: np.ndarray, image_objects: np.ndarray) -> np.ndarray:
    """(M,) Euclidean distance of each picture's embedding (M, D) to its object's voxel embedding (N, D)."""
    return np.linalg.norm(images - voxels[image_objects], axis=1)


def measured(voxel_encoder: keras.Model, image_encoder: keras.Model, data: str, mirror_average: bool,
             split: str = SPLIT) -> dict | None:
    """calibration.json of encoders on a split of a dataset (embedded as the exported signatures embed), or None
    when the split has no object."""
    voxels, images, views = [], [], 0
    with reading(data):
        for batch in dataset(data, split).batch(BATCH):
            n, views = batch["images"].shape[:2]
            shapes = embed(voxel_encoder, batch["voxels"], VOXEL_AXIS, mirror_average)  # (n, 128)
            flat = tf.reshape(batch["images"], [n * views, *batch["images"].shape[2:]])  # (n * V, S, S, 3)
            pictures = embed(image_encoder, flat, IMAGE_AXIS, mirror_average)  # (n * V, 128)
            voxels.append(tf.cast(shapes, tf.float32).numpy())  # float32 as the signatures give, whatever the precision
            images.append(tf.cast(pictures, tf.float32).numpy())
    if not voxels:
        return None
    voxels = np.concatenate(voxels)
    distances = matched_distances(voxels, np.concatenate(images), np.repeat(np.arange(len(voxels)), views))
    return {"split": split, "objects": len(voxels), "distances": np.sort(distances).round(6).tolist()}


def calibration_problem(where: str, stored: object) -> str | None:
    """What makes a calibration other than what `measured` writes (found at `where`, "" in its file), or None."""
    found = key_problem(where, stored, KEYS, CALIBRATION)
    if found is None and not all(type(d) in (int, float) for d in stored["distances"]):
        found = f"key {where + '.' if where else ''}distances must hold numbers"
    return found


def read_measured(folder: Path) -> dict | None:
    """calibration.json of an export version folder, or None when it has none; a UserError when it is unreadable."""
    path = folder / CALIBRATION
    if not path.is_file():
        return None
    return read_json_document(path, "", lambda stored: calibration_problem("", stored),
                              "a calibration written by xmodal.serving.export")


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The matched distances of an export."""

    distances: np.ndarray  # (M,) ascending
    split: str

    def confidence(self, distance: float) -> float:
        """The share of matched pairs at least `distance` apart."""
        nearer = int(np.searchsorted(self.distances, distance, side="left"))  # matched pairs nearer than `distance`
        return (len(self.distances) - nearer) / len(self.distances)

    def unlike(self, distance: float) -> bool:
        """Whether a nearest shape at `distance` is farther than every matched pair."""
        return distance > self.distances[-1]


def calibration(export: dict) -> Calibration | None:
    """The calibration an export identity (xmodal.search.provenance) carries, or None."""
    stored = export.get("calibration")
    if not stored or not stored["distances"]:
        return None
    return Calibration(np.sort(np.asarray(stored["distances"], np.float64)), stored["split"])

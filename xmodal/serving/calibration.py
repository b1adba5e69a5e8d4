"""How far a picture of an object lies from its own shape: measured when a model is exported, read when searching.

An export version holds `calibration.json` beside `training.json`: the distance between each test picture and
its own object's voxel embedding (the matched pairs), sorted, embedded as the signatures embed. A search result's
confidence is the share of those matched pairs that lie at least as far apart as the result does (1: nearer than
every true match seen; 0: farther than all of them); a picture whose nearest shape is farther than every matched
pair looks unlike the catalogue. Exports made before calibration.json existed have none: no confidence then.
"""
import dataclasses
from pathlib import Path

import numpy as np

from tfrecords_tools.dataset.manifest import object_count, read_json_document, read_manifest
from tfrecords_tools.dataset.validate import key_problem
from xmodal.serving.embedder import embed_split, load_embedder

CALIBRATION = "calibration.json"
SPLIT = "test"  # held out of training and of the choice of the exported weights
KEYS = {"split": str, "objects": int, "distances": list}


def matched_distances(voxels: np.ndarray, images: np.ndarray, image_objects: np.ndarray) -> np.ndarray:
    """(M,) Euclidean distance of each picture's embedding (M, D) to its object's voxel embedding (N, D)."""
    return np.linalg.norm(images - voxels[image_objects], axis=1)


def measured(version: Path, data: str, split: str = SPLIT) -> dict | None:
    """calibration.json of the SavedModel in `version` on a split of a dataset, embedded through its signatures as
    any consumer embeds, or None when the split has no object."""
    if not object_count(read_manifest(data), split):
        return None
    e = embed_split(load_embedder(str(version)), data, split)
    distances = matched_distances(e.voxels, e.images, e.image_objects)  # (M,)
    return {"split": split, "objects": len(e.voxels), "distances": np.sort(distances).round(6).tolist()}


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

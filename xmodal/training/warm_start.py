"""Fine-tuning: both encoders start from the weights of an earlier export or run directory of the same preset."""
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import UserError
from xmodal.training.config import CONFIG, read_stored
from xmodal.serving.versions import resolve_model

ENCODERS = ("voxel_encoder.keras", "image_encoder.keras")


def holds_encoders(folder: Path) -> bool:
    """Whether a folder holds both encoders as `.keras` files (an export version, or shipped encoders)."""
    return all((folder / name).is_file() for name in ENCODERS)


def run_weights(run: Path, build) -> list[list[np.ndarray]]:
    """[voxel weights, image weights] of a run directory: its best validated checkpoint, else its latest."""
    stored = read_stored(run)
    checkpoint = tf.train.latest_checkpoint(str(run / "best")) or tf.train.latest_checkpoint(str(run / "checkpoints"))
    if checkpoint is None:
        raise UserError(f"--init {run}: the run holds no checkpoint")
    source = build(stored)
    tf.train.Checkpoint(model=source).restore(checkpoint).expect_partial()
    return [source.voxel_encoder.get_weights(), source.image_encoder.get_weights()]


def source_weights(path: str, build) -> list[list[np.ndarray]]:
    """[voxel weights, image weights] of an export (base or version) or a run directory; `build(config dict)`
    makes the training model of a stored run's settings."""
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"--init {path}: no such directory")
    if (root / CONFIG).is_file():
        return run_weights(root, build)
    # the shipped pretrained encoders, or an export: a version, or the newest version of a base
    version = root if holds_encoders(root) else resolve_model(path)
    if not holds_encoders(version):
        raise UserError(f"--init {path}: neither an export (with {' and '.join(ENCODERS)}) nor a run directory")
    return [keras.saving.load_model(version / name, compile=False, safe_mode=True).get_weights() for name in ENCODERS]


def warm_start(voxels: keras.Model, images: keras.Model, path: str, build) -> None:
    """Set both encoders' weights from `path`; a UserError when its architecture differs."""
    for encoder, weights in zip((voxels, images), source_weights(path, build)):
        shapes = [w.shape for w in encoder.get_weights()]
        if [w.shape for w in weights] != shapes:
            raise UserError(f"--init {path}: its {encoder.name} has other layers than this run's preset "
                            f"(weights {[tuple(w.shape) for w in weights][:4]}... vs {shapes[:4]}...); --init none trains from scratch")
        encoder.set_weights(weights)

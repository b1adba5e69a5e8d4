"""The checkpoints of a run with their training losses, and the checkpoint a run can safely resume from.

`losses.json` beside the checkpoints maps each kept checkpoint to its step and the training loss
at that step. A checkpoint at step S holds the weights that compute the loss of step S + 1, so
when the loss becomes non-finite at step D, the checkpoint of step D - 1 (and any later one) is
dropped from the record: the weights can become non-finite or huge before the loss shows it. A
checkpoint is resumable when it is in the record and all its variables are finite.
"""
import math
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import space_for
from tfrecords_tools.dataset.manifest import read_json_document, write_json_atomic
from tfrecords_tools.dataset.validate import key_problem

LOSSES = "losses.json"
TEMPORARY = re.compile(r"ckpt-\d+_temp")  # TensorFlow writes a checkpoint into this folder, then renames its files


def is_number(value: object) -> bool:
    """Whether a JSON value is a number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def losses_problem(document: object) -> str | None:
    """What makes a document other than the losses.json record_loss writes, or None."""
    problem = key_problem("", document, {}, LOSSES)
    for name, entry in (document.items() if problem is None else ()):
        problem = key_problem(name, entry, {"step": int}, LOSSES) or (
            None if is_number(entry.get("loss")) else f"key {name}.loss must be a number")
        if problem:
            return problem
    return problem


def read_losses(directory: str) -> dict[str, dict]:
    """{checkpoint name: {"step", "loss"}} of a checkpoint directory (empty when there is none); a UserError naming
    the file when it is cut short or not what record_loss writes."""
    path = Path(directory) / LOSSES
    if not path.is_file():
        return {}
    return read_json_document(path, "", losses_problem, "the checkpoint losses xmodal.fit writes")


def kept(directory: str, name: str) -> bool:
    """Whether the checkpoint `name` still exists in `directory`."""
    return tf.io.gfile.exists(str(Path(directory) / f"{name}.index"))


def record_loss(directory: str, step: int, loss: float) -> str:
    """Record the training loss of the checkpoint about to be saved at `step` (and forget deleted ones); its name."""
    name = f"ckpt-{step}"
    losses = {k: v for k, v in read_losses(directory).items() if kept(directory, k)}
    Path(directory).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(directory) / LOSSES, {**losses, name: {"step": step, "loss": loss}})
    return name


def forget_from(directory: str, step: int) -> None:
    """Drop the checkpoints of `step` and later from the record: diverged, or from an abandoned continuation."""
    losses = read_losses(directory)
    if any(entry["step"] >= step for entry in losses.values()):
        write_json_atomic(Path(directory) / LOSSES, {k: v for k, v in losses.items() if v["step"] < step})


def finite_variables(path: str) -> bool:
    """Whether every floating-point variable saved in a checkpoint is finite."""
    reader = tf.train.load_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    return all(np.isfinite(reader.get_tensor(name)).all() for name, dtype in dtypes.items() if dtype.is_floating)


def resumable(directory: str) -> tuple[str, dict] | None:
    """(path, {"step", "loss"}) of the newest recorded checkpoint with a finite loss and finite variables, or None."""
    entries = sorted(read_losses(directory).items(), key=lambda item: item[1]["step"], reverse=True)
    for name, entry in entries:
        path = str(Path(directory) / name)
        if kept(directory, name) and math.isfinite(entry["loss"]) and finite_variables(path):
            return path, entry
    return None


def remove_temporaries(directory: str) -> list[Path]:
    """Remove the half-written `ckpt-N_temp/` folders a failed save (a full disk, a kill) left in `directory`;
    the removed folders."""
    folder = Path(directory)
    found = [p for p in folder.iterdir() if p.is_dir() and TEMPORARY.fullmatch(p.name)] if folder.is_dir() else []
    for path in found:
        shutil.rmtree(path)
    return found


def variable_bytes(variables: list) -> int:
    """The bytes of the values of some variables: about what a checkpoint or an export of them takes."""
    return sum(int(np.prod(v.shape)) * tf.as_dtype(v.dtype).size for v in variables)


def save_checkpoint(manager: tf.train.CheckpointManager, step: int, needed: int) -> None:
    """Save a checkpoint of `step`; a failed save leaves no half-written `ckpt-N_temp/` folder, and a full disk is
    one line naming the folder and the `needed` bytes."""
    with space_for(manager.directory, needed):
        try:
            manager.save(checkpoint_number=step)
        except BaseException:
            remove_temporaries(manager.directory)
            raise


def restore(checkpoint: tf.train.Checkpoint, path: str, optimizer: keras.optimizers.Optimizer) -> None:
    """Restore weights, optimizer slots and step from `path`, keeping this run's learning rate (it may differ)."""
    rate = optimizer.learning_rate
    wanted = rate.numpy() if isinstance(rate, keras.Variable) else None
    checkpoint.restore(path).assert_existing_objects_matched()
    if wanted is not None:
        rate.assign(wanted)

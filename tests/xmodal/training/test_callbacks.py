"""Checkpoints on a full disk, and the stop on collapsed embeddings, with a tiny Keras model."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.errors import UserError
from xmodal.training.callbacks import COLLAPSE_CHECKS, Checkpoints


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_leaves_no_half_written_folder(tmp_path, monkeypatch):
    model = tiny_model()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=3)

    def full(**kwargs):
        (tmp_path / "ckpt-10_temp").mkdir()
        (tmp_path / "ckpt-10_temp" / "part-00000-of-00001.index").write_bytes(b"half")
        raise tf.errors.ResourceExhaustedError(None, None, f"{tmp_path}/ckpt-10_temp; No space left on device")

    monkeypatch.setattr(manager, "save", full)
    callback = Checkpoints(manager, every=10)
    callback.set_model(model)
    callback.loss = 0.5
    needed = sum(np.asarray(v).nbytes for v in model.variables + model.optimizer.variables)  # a checkpoint's values
    with pytest.raises(UserError, match=f"^no space left on the device of {tmp_path}; it needs about {needed} B, "):
        callback.save(10)
    assert not (tmp_path / "ckpt-10_temp").exists()


def test_embeddings_collapsed_at_several_checks_in_a_row_stop_the_run_and_forget_their_checkpoints(tmp_path):
    model = tiny_model()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=10)
    spreads = iter([0.9, 0.5, 0.001, 0.9, 0.002, 0.0, 0.0, 0.9])  # one low check, then three in a row
    callback = Checkpoints(manager, every=2, spread=lambda: next(spreads), check_every=2)
    callback.set_model(model)
    callback.on_train_begin()
    for step in range(1, 17):
        model.optimizer.iterations.assign(step)
        callback.on_train_batch_end(step, {"loss": math.log(16)})
        if model.stop_training:
            break
    assert step == 14 and COLLAPSE_CHECKS == 3  # the checks at 10, 12 and 14 found them collapsed; 8 did not
    assert callback.failure.startswith("nothing was exported: the embeddings collapsed after step 8 (")
    assert f"{tmp_path}/ckpt-8 (step 8, training loss 2.773) holds weights from before it" in callback.failure
    assert max(e["step"] for e in json.loads((tmp_path / "losses.json").read_text()).values()) == 8
    callback.on_train_end()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-12")  # nothing saved at the stop

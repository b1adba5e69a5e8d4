"""Keras callbacks of a run: TensorBoard scalars per step and checkpoints that stop on a non-finite loss."""
import math
import time
from typing import Callable

import keras
import tensorflow as tf

from xmodal.checkpoints import forget_from, record_loss


class Summaries(keras.callbacks.Callback):
    """Train loss, learning rate, throughput (and a learned temperature) every step; the loss of one test
    mini-batch every `every` steps."""

    def __init__(self, logdir: str, test_loss: Callable[[], float], batch_size: int, every: int = 20,
                 unit: str = "triplets"):
        super().__init__()
        self.train = tf.summary.create_file_writer(f"{logdir}/train")
        self.test = tf.summary.create_file_writer(f"{logdir}/test")
        self.test_loss = test_loss  # the loss of the next test mini-batch
        self.batch_size, self.every, self.unit = batch_size, every, unit
        self.last = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        now = time.perf_counter()
        with self.train.as_default(step=step):
            tf.summary.scalar("loss", logs["loss"])
            tf.summary.scalar("learning_rate", float(self.model.optimizer.learning_rate.numpy()))
            tf.summary.scalar(f"{self.unit}_per_second", self.batch_size / max(now - self.last, 1e-9))
            if self.model.logit_scale.trainable:
                tf.summary.scalar("temperature", float(self.model.temperature))
        if step % self.every == 0:
            with self.test.as_default(step=step):
                tf.summary.scalar("loss", self.test_loss())
        self.last = time.perf_counter()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.train.flush()
        self.test.flush()


class Checkpoints(keras.callbacks.Callback):
    """Saves every `every` steps and at the end, recording each checkpoint's training loss (xmodal.checkpoints);
    stops the run at a non-finite loss without saving, and forgets the checkpoint whose weights gave it."""

    def __init__(self, manager: tf.train.CheckpointManager, every: int):
        super().__init__()
        self.manager, self.every = manager, every
        self.diverged_at: int | None = None
        self.loss = math.nan  # the last finite training loss

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            self.diverged_at = step
            forget_from(self.manager.directory, step - 1)
            self.model.stop_training = True
            return
        self.loss = loss
        if step % self.every == 0:
            self.save(step)

    def on_train_end(self, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self.diverged_at is None and step % self.every:
            self.save(step)

    def save(self, step: int) -> None:
        """Record the loss, then save: a checkpoint without a recorded loss is never resumed from."""
        record_loss(self.manager.directory, step, self.loss)
        self.manager.save(checkpoint_number=step)

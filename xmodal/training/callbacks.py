"""Keras callbacks of a run: TensorBoard scalars per step, plain progress lines for logs, and checkpoints that stop
a failing run (a non-finite loss, collapsed embeddings) with one line of advice."""
import math
import time
from typing import Callable

import keras
import tensorflow as tf

from xmodal.training.checkpoints import forget_from, record_loss, resumable, save_checkpoint, variable_bytes

COLLAPSED = 0.01  # a spread (xmodal.evaluation.metrics.spread) below this: every input embeds to nearly the same point
COLLAPSE_CHECKS = 3  # collapsed at this many checks in a row stops the run


class Summaries(keras.callbacks.Callback):
    """Train loss, learning rate, throughput (and a learned temperature) every step; the loss of one test
    mini-batch every `every` steps (the latest in `last_test`)."""

    def __init__(self, logdir: str, test_loss: Callable[[], float], batch_size: int, every: int = 20,
                 unit: str = "triplets"):
        super().__init__()
        self.train = tf.summary.create_file_writer(f"{logdir}/train")
        self.test = tf.summary.create_file_writer(f"{logdir}/test")
        self.test_loss = test_loss  # the loss of the next test mini-batch
        self.batch_size, self.every, self.unit = batch_size, every, unit
        self.last = time.perf_counter()
        self.last_test: float | None = None

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
            self.last_test = self.test_loss()
            with self.test.as_default(step=step):
                tf.summary.scalar("loss", self.last_test)
        self.last = time.perf_counter()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.train.flush()
        self.test.flush()


class Progress(keras.callbacks.Callback):
    """One plain line every `every` steps or `seconds`, whichever comes first, and at the last step, for a log
    file instead of a progress bar: `step 120/400  train loss 2.31  test-batch loss 2.45  38.2 objects/s`."""

    def __init__(self, steps: int, every: int, seconds: float, batch_size: int, unit: str,
                 latest_test: Callable[[], float | None]):
        super().__init__()
        self.steps, self.every, self.seconds, self.batch_size, self.unit = steps, every, seconds, batch_size, unit
        self.latest_test = latest_test  # the latest test-batch loss, None before the first (or without a test split)
        self.since, self.shown = time.perf_counter(), 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.since, self.shown = time.perf_counter(), int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step, now = int(self.model.optimizer.iterations.numpy()), time.perf_counter()
        if step - self.shown >= self.every or now - self.since >= self.seconds or step >= self.steps:
            test = self.latest_test()
            rate = (step - self.shown) * self.batch_size / max(now - self.since, 1e-9)
            print(f"step {step}/{self.steps}  train loss {float(logs['loss']):.4g}"
                  + (f"  test-batch loss {test:.4g}" if test is not None else "")
                  + f"  {rate:.1f} {self.unit}/s", flush=True)
            self.since, self.shown = now, step


def advice(what: str, directory: str) -> str:
    """The line of a failed run: what happened, and the checkpoint from before it that --resume will take."""
    found = resumable(directory)
    if found is None:
        return (f"{what}; no checkpoint from before it is left: start again with a lower --learning-rate and "
                "another --out")
    path, entry = found
    return (f"{what}; {path} (step {entry['step']}, training loss {entry['loss']:.4g}) holds weights from before "
            "it: rerun the same command with a lower --learning-rate and --resume to continue from there")


class Checkpoints(keras.callbacks.Callback):
    """Saves every `every` steps and at the end, recording each checkpoint's training loss (xmodal.training.checkpoints).
    Stops a failing run without saving, forgetting the checkpoints of the failure, with the advice in `failure`:
    at a non-finite loss, and when `spread()` (the spread of the embeddings of a fixed batch, xmodal.evaluation.metrics.spread,
    checked every `check_every` steps) is below COLLAPSED at COLLAPSE_CHECKS checks in a row."""

    def __init__(self, manager: tf.train.CheckpointManager, every: int, spread: Callable[[], float] | None = None,
                 check_every: int = 20):
        super().__init__()
        self.manager, self.every, self.spread, self.check_every = manager, every, spread, check_every
        self.failure: str | None = None  # the one line of advice of a failed run
        self.loss = math.nan  # the last finite training loss
        self.collapsed = 0  # checks in a row with collapsed embeddings
        self.healthy = 0  # the step of the last check with embeddings apart

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.healthy = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            self.fail(step - 1, f"the loss became non-finite at step {step}")
            return
        self.loss = loss
        if self.spread is not None and step % self.check_every == 0 and self.check_collapse(step):
            return
        if step % self.every == 0:
            self.save(step)

    def check_collapse(self, step: int) -> bool:
        """Check the spread of the embeddings; whether they stayed collapsed long enough to stop the run."""
        spread = self.spread()
        if spread >= COLLAPSED:
            self.collapsed, self.healthy = 0, step
            return False
        self.collapsed += 1
        if self.collapsed < COLLAPSE_CHECKS:
            return False
        self.fail(self.healthy + 1, f"nothing was exported: the embeddings collapsed after step {self.healthy} (every "
                                    f"input embeds to nearly one point: spread {spread:.2g} at {COLLAPSE_CHECKS} checks "
                                    f"in a row, up to step {step})")
        return True

    def fail(self, first_bad: int, what: str) -> None:
        """Stop the run: forget the checkpoints from step `first_bad` on and keep the advice."""
        forget_from(self.manager.directory, first_bad)
        self.failure = advice(what, self.manager.directory)
        self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self.failure is None and step % self.every:
            self.save(step)

    def save(self, step: int) -> None:
        """Record the loss, then save: a checkpoint without a recorded loss is never resumed from. A full disk is one
        line naming the folder and the size of a checkpoint, and leaves no half-written checkpoint."""
        record_loss(self.manager.directory, step, self.loss)
        save_checkpoint(self.manager, step, variable_bytes(self.model.variables + self.model.optimizer.variables))

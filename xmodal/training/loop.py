"""A training loop with `strategy.run` for MultiWorkerMirroredStrategy, where Keras 3.15's `model.fit`
cannot take distributed dict batches (keras#20585). Runs the model's own train_step and the same callbacks."""
import keras
import tensorflow as tf


def distributed_step(strategy: tf.distribute.Strategy, step) -> tf.types.experimental.GenericFunction:
    """A tf.function running `step` (train_step or test_step) on every replica; returns the mean loss."""

    @tf.function
    def run(iterator) -> tf.Tensor:
        logs = strategy.run(step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, logs["loss"], axis=None)

    return run


def custom_fit(model: keras.Model, strategy: tf.distribute.Strategy, train: tf.data.Dataset, steps: int,
               callbacks: list[keras.callbacks.Callback], progress_bar: bool = True) -> dict:
    """Train `steps` steps; callbacks get on_train_begin/on_train_batch_end/on_train_end as under fit; a progress
    bar as fit's when `progress_bar`."""
    iterator = iter(strategy.experimental_distribute_dataset(train))
    train_step = distributed_step(strategy, model.train_step)
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    progress = keras.utils.Progbar(steps, stateful_metrics=["loss"], verbose=1 if progress_bar else 0)
    losses = []
    for batch in range(steps):
        loss = float(train_step(iterator))
        losses.append(loss)
        progress.update(batch + 1, [("loss", loss)])
        for callback in callbacks:
            callback.on_train_batch_end(batch, {"loss": loss})
        if model.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end()
    return {"loss": losses[-1:]}


def test_loss_function(model: keras.Model, strategy: tf.distribute.Strategy, test: tf.data.Dataset):
    """A function giving the loss of the next test mini-batch, computed on every replica."""
    iterator = iter(strategy.experimental_distribute_dataset(test))
    step = distributed_step(strategy, model.test_step)
    return lambda: float(step(iterator))

import keras
import numpy as np
import tensorflow as tf

from xmodal.training.optimizers import DECAY_FLOOR, FusedAdam, adam_w, learning_rate


def adam_reference(w: np.ndarray, grads: list[np.ndarray], lr: float, b1=0.9, b2=0.999, eps=1e-7) -> np.ndarray:
    """Keras' Adam in numpy: bias correction folded into the step size, eps added to sqrt(v)."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def run(optimizer: keras.optimizers.Optimizer, w0: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    """The weights after applying `grads` one step at a time in a compiled function."""
    var = keras.Variable(w0)
    optimizer.build([var])
    step = tf.function(lambda g: optimizer.apply_gradients([(g, var)]))
    for g in grads:
        step(tf.constant(g))
    return var.numpy()


def test_fused_adam_matches_numpy_and_keras_adam():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 7)).astype(np.float32)
    grads = [rng.normal(size=w0.shape).astype(np.float32) for _ in range(4)]
    fused = run(FusedAdam(0.01), w0, grads)
    np.testing.assert_allclose(fused, adam_reference(w0, grads, 0.01), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, run(keras.optimizers.Adam(0.01), w0, grads), rtol=1e-5, atol=1e-6)
    assert not np.allclose(fused, w0)


def test_amsgrad_takes_keras_path():
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(3,)).astype(np.float32)
    grads = [rng.normal(size=3).astype(np.float32) for _ in range(3)]
    np.testing.assert_allclose(run(FusedAdam(0.1, amsgrad=True), w0, grads),
                               run(keras.optimizers.Adam(0.1, amsgrad=True), w0, grads), rtol=1e-6)



def test_dense_update_is_one_fused_kernel():
    var = keras.Variable(np.zeros(3, np.float32))
    optimizer = FusedAdam()
    optimizer.build([var])
    step = tf.function(lambda g: optimizer.apply_gradients([(g, var)]))
    ops = [op.type for op in step.get_concrete_function(tf.TensorSpec([3])).graph.get_operations()]
    assert ops.count("ResourceApplyAdam") == 1 and "Sqrt" not in ops


def test_weight_decay_is_decoupled_adamw_on_kernels_only():
    rng = np.random.default_rng(2)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=w0.shape).astype(np.float32)]
    lr, decay = 0.01, 0.5
    expected = adam_reference(w0 - lr * decay * w0, grads, lr)  # AdamW: w -= lr * decay * w, then Adam
    kernel = keras.Variable(w0, name="kernel")
    bias = keras.Variable(w0[0], name="bias")
    optimizer = adam_w(lr, decay)
    optimizer.build([kernel, bias])
    step = tf.function(lambda g, b: optimizer.apply_gradients([(g, kernel), (b, bias)]))
    step(tf.constant(grads[0]), tf.constant(grads[0][0]))
    np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias.numpy(), adam_reference(w0[0], [grads[0][0]], lr), rtol=1e-5, atol=1e-6)


def test_warmup_then_cosine_decay_to_the_floor_independent_of_total_steps():
    schedule = learning_rate(0.1, warmup_steps=10, decay_steps=100)
    rates = [float(schedule(step)) for step in (0, 5, 10, 60, 110, 500)]
    cosine_mid = 0.1 * (DECAY_FLOOR + (1 - DECAY_FLOOR) * 0.5 * (1 + np.cos(np.pi * 50 / 100)))
    np.testing.assert_allclose(rates, [0.0, 0.05, 0.1, cosine_mid, 0.1 * DECAY_FLOOR, 0.1 * DECAY_FLOOR], rtol=1e-5)
    assert learning_rate(0.1, 0, 0) == 0.1
    warm_only = learning_rate(0.1, 10, 0)
    np.testing.assert_allclose([float(warm_only(s)) for s in (5, 10, 1000)], [0.05, 0.1, 0.1], rtol=1e-5)


def test_weight_decay_is_one_more_fused_kernel_per_decayed_variable():
    kernel, bias = keras.Variable(np.ones((2, 3), np.float32), name="kernel"), keras.Variable(np.ones(3, np.float32), name="bias")
    optimizer = adam_w(0.1, 0.01)
    optimizer.build([kernel, bias])
    step = tf.function(lambda g, h: optimizer.apply_gradients([(g, kernel), (h, bias)]))
    ops = [op.type for op in step.get_concrete_function(tf.TensorSpec([2, 3]), tf.TensorSpec([3])).graph.get_operations()]
    assert ops.count("ResourceApplyGradientDescent") == 1 and ops.count("ResourceApplyAdam") == 2
    assert "AssignSubVariableOp" not in ops  # Keras' own two-pass decay is not applied on top

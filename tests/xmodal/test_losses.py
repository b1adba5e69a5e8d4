import numpy as np
import tensorflow as tf

from xmodal.losses import triplet_loss


def numpy_triplet(a, p, n, margin):
    """Equation (1) written out."""
    return np.mean(np.maximum(((p - a) ** 2).sum(1) - ((n - a) ** 2).sum(1) + margin, 0))


def test_triplet_loss_matches_numpy():
    rng = np.random.default_rng(0)
    for margin in (1.0, 0.2):
        a, p, n = (rng.normal(size=(24, 128)).astype(np.float32) * 0.1 for _ in range(3))
        np.testing.assert_allclose(triplet_loss(a, p, n, margin).numpy(), numpy_triplet(a, p, n, margin), rtol=1e-5)
    a = rng.normal(size=(5, 8)).astype(np.float32)
    assert triplet_loss(a, a, a + 10, 1.0).numpy() == 0.0  # satisfied triplets cost nothing


def test_gradients_are_finite_when_anchor_equals_positive():
    a = tf.Variable(np.random.default_rng(1).normal(size=(6, 16)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = triplet_loss(a, tf.identity(a), a + 0.01, 1.0)
    gradient = tape.gradient(loss, a)
    assert np.isfinite(gradient.numpy()).all() and loss.numpy() > 0

"""Loss functions: each a pure function of embeddings."""
import tensorflow as tf


def squared_distance(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Row-wise squared Euclidean distance (B,) of (B, d) embeddings."""
    return tf.reduce_sum(tf.square(x - y), axis=-1)


def triplet_hinge(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Per-triplet terms (B,) of equation (1): max(D(p, v)^2 - D(n, v)^2 + margin, 0)."""
    return tf.nn.relu(squared_distance(positive, anchor) - squared_distance(negative, anchor) + margin)


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """Equation (1) of the report: the mean over the batch of the triplet hinge on squared distances."""
    return tf.reduce_mean(triplet_hinge(anchor, positive, negative, margin))

"""Left-right mirror symmetry: the mirror axes of voxel grids and images, and mirror-averaged embeddings.

A mirror-averaged embedding is the mean of the embeddings of an input and of its mirror image
(re-normalised when the encoder's embeddings are L2-normalised). A voxel grid and an image of the
same object stay paired, since the mirrored grid is the object the flipped image shows (seen from
the mirrored camera); what changes is that an object and its mirror image embed at the same point.
"""
import keras
import tensorflow as tf

from xmodal.training.models import NORMALIZATION

VOXEL_AXIS = 3  # z of the (N, x, y, z) voxel grids: the object's left-right plane is z = 0
IMAGE_AXIS = 2  # columns of the (N, S, S, 3) images


def is_normalized(encoder: keras.Model) -> bool:
    """Whether the encoder ends in the L2 normalisation of xmodal.training.models."""
    return encoder.layers[-1].name == NORMALIZATION


def mirror_averaged(encoder: keras.Model, inputs: tf.Tensor, axis: int) -> tf.Tensor:
    """(N, 128) embeddings of `inputs` averaged with those of their mirror images across `axis`."""
    both = encoder(tf.concat([inputs, tf.reverse(inputs, [axis])], 0), training=False)  # (2N, 128)
    plain, mirrored = tf.split(both, 2)
    mean = (plain + mirrored) / 2.0  # (N, 128)
    return tf.math.l2_normalize(mean, axis=1) if is_normalized(encoder) else mean


def embed(encoder: keras.Model, inputs: tf.Tensor, axis: int, mirror_average: bool) -> tf.Tensor:
    """(N, 128) inference embeddings of `inputs`: mirror-averaged across `axis`, or the encoder's own."""
    return mirror_averaged(encoder, inputs, axis) if mirror_average else encoder(inputs, training=False)

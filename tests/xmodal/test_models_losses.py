"""XModal computes the configured batch loss on P x K batches."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from xmodal.losses import LOSSES
from xmodal.models import XModal, build_encoders


@pytest.mark.parametrize("name", ["lifted", "info_nce"])
def test_pk_batch_loss_is_the_named_loss_of_the_embeddings(name):
    keras.utils.set_random_seed(0)
    model = XModal(*build_encoders("small", normalize=name == "info_nce"), loss=name, margin=1.0, temperature=0.2)
    rng = np.random.default_rng(0)
    batch = {"voxels": tf.constant((rng.random((3, 32, 32, 32)) < 0.3).astype(np.uint8)),
             "images": tf.constant(rng.integers(0, 256, (3, 2, 64, 64, 3), dtype=np.uint8))}
    _, loss = model.batch_loss(batch, training=False)
    voxels = model.voxel_encoder(batch["voxels"])
    images = model.image_encoder(tf.reshape(batch["images"], (6, 64, 64, 3)))
    expected = LOSSES[name](voxels, tf.range(3), images, tf.constant([0, 0, 1, 1, 2, 2]), margin=1.0, temperature=0.2)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    if name == "info_nce":
        np.testing.assert_allclose(np.linalg.norm(voxels, axis=1), 1.0, rtol=1e-5)

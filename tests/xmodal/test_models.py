import keras
import numpy as np
import pytest
import tensorflow as tf

from xmodal.losses import LOSSES
from xmodal.models import PRESETS, XModal, build_encoders


def test_paper_preset_weighs_about_204_mb():
    voxels, images = build_encoders("paper")
    mib = (voxels.count_params() + images.count_params()) * 4 / 2**20
    assert 200 < mib < 210  # Table 1: 128 + 2 + 72 + 2 MB of fc weights plus the convs
    assert voxels.get_layer("fc3").kernel.shape == (8192, 4096)
    assert images.get_layer("fc3").kernel.shape == (4608, 4096)
    assert voxels.get_layer("pool2").output.shape[1:] == (4, 4, 4, 128)
    assert images.get_layer("pool2").output.shape[1:] == (6, 6, 128)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_embeds_both_modalities_in_128_d(name):
    voxels, images = build_encoders(name)
    p = PRESETS[name]
    assert voxels.input.shape[1:] == (p.voxel_res,) * 3 and images.input.shape[1:] == (p.image_size, p.image_size, 3)
    assert voxels.output.shape[1:] == (128,) and images.output.shape[1:] == (128,)


def test_pooled_one_hot_voxels_and_safe_mode_reload(tmp_path):
    voxels, images = build_encoders("small")
    grid = (np.random.default_rng(0).random((2, 32, 32, 32)) < 0.2).astype(np.uint8)
    pooled = keras.Model(voxels.input, voxels.get_layer("one_hot").output)(grid).numpy()  # (2, 16, 16, 16, 2)
    one_hot = np.stack([1 - grid, grid], axis=-1).astype(np.float32)  # (2, 32, 32, 32, 2)
    expected = one_hot.reshape(2, 16, 2, 16, 2, 16, 2, 2).mean(axis=(2, 4, 6))  # pool0 = 2 of `small`
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    voxels.save(tmp_path / "v.keras")
    again = keras.saving.load_model(tmp_path / "v.keras", safe_mode=True)
    np.testing.assert_allclose(again(grid).numpy(), voxels(grid).numpy(), atol=1e-6)


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

import keras
import numpy as np
import pytest
import tensorflow as tf

from xmodal.fit import mirrored_strategy
from xmodal.training.losses import LOSSES
from xmodal.training.models import PRESETS, XModal, build_encoders


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


def test_pooled_one_hot_voxels():
    voxels, _ = build_encoders("small")
    grid = (np.random.default_rng(0).random((2, 32, 32, 32)) < 0.2).astype(np.uint8)
    pooled = keras.Model(voxels.input, voxels.get_layer("one_hot").output)(grid).numpy()  # (2, 16, 16, 16, 2)
    one_hot = np.stack([1 - grid, grid], axis=-1).astype(np.float32)  # (2, 32, 32, 32, 2)
    expected = one_hot.reshape(2, 16, 2, 16, 2, 16, 2, 2).mean(axis=(2, 4, 6))  # pool0 = 2 of `small`
    np.testing.assert_allclose(pooled, expected, atol=1e-6)


@pytest.mark.parametrize("name,dropout", [("small", 0.0), ("res-small", 0.0), ("small", 0.3), ("small-aa", 0.0)])
def test_encoders_reload_in_safe_mode_with_equal_embeddings(name, dropout, tmp_path):
    rng = np.random.default_rng(0)
    p = PRESETS[name]
    inputs = [(rng.random((2,) + (p.voxel_res,) * 3) < 0.2).astype(np.uint8),
              rng.integers(0, 256, (2, p.image_size, p.image_size, 3), dtype=np.uint8)]
    for encoder, x in zip(build_encoders(name, normalize=True, dropout=dropout), inputs):
        encoder.save(tmp_path / f"{encoder.name}.keras")
        again = keras.saving.load_model(tmp_path / f"{encoder.name}.keras", safe_mode=True)
        np.testing.assert_allclose(again(x).numpy(), encoder(x).numpy(), atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(encoder(x).numpy(), axis=1), 1.0, rtol=1e-5)


def test_residual_preset_has_residual_units_and_global_pooling():
    voxels, images = build_encoders("res-small")
    for encoder in (voxels, images):
        names = [layer.name for layer in encoder.layers]
        assert "global_pool" in names and "flat" not in names
        assert {"unit1_add", "unit3_add", "stem_bn", "unit1_projection_bn"} <= set(names)
    assert voxels.get_layer("unit3_add").output.shape[1:] == (2, 2, 2, 128)
    assert images.get_layer("unit3_add").output.shape[1:] == (4, 4, 128)
    assert voxels.count_params() + images.count_params() < 2_000_000  # GAP: no large flatten + fc


def test_anti_aliased_preset_blurs_every_pool_with_a_fixed_binomial_and_pools_globally():
    voxels, images = build_encoders("small-aa")
    assert voxels.get_config() == build_encoders("small-hd")[0].get_config()  # small-hd's voxel branch
    names = [layer.name for layer in images.layers]
    assert "global_pool" in names and "flat" not in names
    for unit in (1, 2, 3):
        blur = images.get_layer(f"pool{unit}_blur")
        assert not blur.trainable and blur.strides == (2, 2)
        kernel = blur.get_weights()[0]  # (3, 3, C, 1)
        np.testing.assert_allclose(kernel[:, :, 0, 0], np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
        np.testing.assert_array_equal(kernel, np.broadcast_to(kernel[:, :, :1], kernel.shape))  # every channel alike
    assert all("blur" not in w.path for w in images.trainable_weights)


def test_anti_aliased_global_pooling_moves_less_under_a_shift_than_flatten_and_fc():
    """Untrained weights alike: a 2-px shift of a centred object changes the small-aa image embedding less
    (relative to the spread between objects) than small-hd's, whose flatten ties every weight to a position."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(1)
    images = np.full((8, 64, 64, 3), 120, np.uint8)
    for i in range(8):
        top, left, h, w = 16 + rng.integers(0, 8), 16 + rng.integers(0, 8), rng.integers(12, 28), rng.integers(12, 28)
        images[i, top:top + h, left:left + w] = rng.integers(0, 256, 3)
    shifted = np.roll(images, 2, axis=2)
    ratios = {}
    for name in ("small-hd", "small-aa"):
        encoder = build_encoders(name, normalize=True)[1]
        a, b = encoder(images).numpy(), encoder(shifted).numpy()
        moved = np.linalg.norm(a - b, axis=1).mean()
        spread = np.linalg.norm(a[:, None] - a[None], axis=2)[~np.eye(8, dtype=bool)].mean()
        ratios[name] = moved / spread
    assert ratios["small-aa"] < 0.5 * ratios["small-hd"], ratios


def two_replica_gradients(model: XModal, batch: dict) -> tuple[float, list[np.ndarray]]:
    """The loss and the gradients summed over replicas, as the optimizer sees them, on 2 logical CPUs.

    The replicas run eagerly: inside one tf.function the two logical CPUs run their Conv3D gradients
    concurrently, and those differ from one device's by about 1% whatever the loss (oneDNN on a shared CPU).
    """
    strategy = mirrored_strategy(["/cpu:0", "/cpu:1"])
    distributed = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))

    def step(local: dict):
        with tf.GradientTape() as tape:
            loss, plain = model.batch_loss(local, training=False)
        return plain, tape.gradient(loss, model.trainable_variables)

    plain, gradients = strategy.run(step, args=(next(iter(distributed)),))
    summed = [strategy.reduce("SUM", g, axis=None).numpy() for g in gradients]
    return float(strategy.experimental_local_results(plain)[0]), summed


def test_cross_replica_loss_and_gradients_equal_one_replica_on_the_global_batch():
    keras.utils.set_random_seed(0)
    model = XModal(*build_encoders("small", normalize=True), loss="info_nce", temperature=0.2, learn_temperature=True)
    rng = np.random.default_rng(0)
    batch = {"voxels": tf.constant((rng.random((4, 32, 32, 32)) < 0.3).astype(np.uint8)),
             "images": tf.constant(rng.integers(0, 256, (4, 2, 64, 64, 3), dtype=np.uint8))}
    with tf.GradientTape() as tape:
        loss, _ = model.batch_loss(batch, training=False)
    single = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    replicated_loss, replicated = two_replica_gradients(model, batch)
    assert replicated_loss == pytest.approx(float(loss), rel=1e-5)
    assert "logit_scale" in [v.name for v in model.trainable_variables]  # its gradient is compared too
    for a, b in zip(single, replicated):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-6)


def test_learned_temperature_is_trained_and_clipped():
    model = XModal(*build_encoders("small", normalize=True), loss="info_nce", temperature=0.07, learn_temperature=True)
    assert float(model.temperature) == pytest.approx(0.07, rel=1e-5)
    assert "logit_scale" in [v.name for v in model.trainable_variables]
    model.logit_scale.assign(10.0)
    assert float(model.temperature) == pytest.approx(0.01, rel=1e-5)  # CLIP's clip at a logit scale of 100
    fixed = XModal(*build_encoders("small", normalize=True), loss="info_nce", temperature=0.1)
    assert "logit_scale" not in [v.name for v in fixed.trainable_variables]


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

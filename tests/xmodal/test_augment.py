import numpy as np
import pytest
import tensorflow as tf

from xmodal.augment import Augmentation, augment_batch, augment_images, coin, hue_rotation, sub_seed
from xmodal.config import FitConfig
from xmodal.data import Stream, object_views
from xmodal.fit import batches

ALL = Augmentation(crop=0.6, color=0.4, mirror=True)


def random_batch(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"voxels": tf.constant((rng.random((3, 8, 8, 8)) < 0.3).astype(np.uint8)),
            "images": tf.constant(rng.integers(0, 256, (3, 2, 16, 16, 3), dtype=np.uint8))}


def test_same_seed_same_augmentation_other_seed_other():
    batch, seed = random_batch(), tf.constant([4, 7], tf.int64)
    first, again = augment_batch(batch, seed, ALL), augment_batch(batch, seed, ALL)
    other = augment_batch(batch, tf.constant([4, 8], tf.int64), ALL)
    np.testing.assert_array_equal(first["images"], again["images"])
    np.testing.assert_array_equal(first["voxels"], again["voxels"])
    assert not np.array_equal(first["images"], other["images"])
    assert first["images"].dtype == tf.uint8 and first["images"].shape == batch["images"].shape


def test_no_crop_no_colour_only_flips_exactly():
    images = random_batch()["images"][:, 0]  # (3, 16, 16, 3)
    flip = tf.constant([True, False, True])
    out = augment_images(images, tf.constant([1, 2], tf.int64), flip, Augmentation()).numpy()
    np.testing.assert_array_equal(out[1], images[1])
    np.testing.assert_array_equal(out[0], images[0].numpy()[:, ::-1])


def test_mirroring_flips_voxels_across_z_with_every_view_of_the_same_object():
    batch, seed = random_batch(1), tf.constant([0, 3], tf.int64)
    flip = coin(sub_seed(seed, 4), 3, True).numpy()  # the per-object draw augment_batch makes
    assert flip.any() and not flip.all()  # this seed mirrors some objects and keeps others
    out = augment_batch(batch, seed, Augmentation(mirror=True))
    voxels, images = batch["voxels"].numpy(), batch["images"].numpy()
    for i in range(3):
        expected_voxels = voxels[i][:, :, ::-1] if flip[i] else voxels[i]  # (x, y, z): z reversed
        expected_images = images[i][:, :, ::-1] if flip[i] else images[i]  # (K, H, W, 3): every view flipped
        np.testing.assert_array_equal(out["voxels"][i], expected_voxels)
        np.testing.assert_array_equal(out["images"][i], expected_images)


def test_hue_rotation_keeps_grey_and_is_a_rotation():
    matrices = hue_rotation(tf.constant([0.0, 1.0, -2.5])).numpy()
    for m in matrices:
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-6)
        np.testing.assert_allclose(m @ np.ones(3), np.ones(3), atol=1e-6)
    np.testing.assert_allclose(matrices[0], np.eye(3), atol=1e-6)


def test_training_stream_is_augmented_deterministically_and_test_stream_never(tiny_data):
    cfg = FitConfig(data=tiny_data, objects_per_batch=4, views_per_object=2, crop=0.6, color_jitter=0.4, mirror=True)
    plain = next(iter(object_views(tiny_data, "train", 4, 2, 32, 64, Stream(seed=5))))
    augmented = next(iter(batches(cfg, tiny_data, "train", 4, Stream(seed=5, augmentation=cfg.augmentation))))
    again = next(iter(batches(cfg, tiny_data, "train", 4, Stream(seed=5, augmentation=cfg.augmentation))))
    np.testing.assert_array_equal(augmented["images"], again["images"])
    assert not np.array_equal(augmented["images"], plain["images"])
    test = next(iter(batches(cfg, tiny_data, "test", 2, Stream(seed=6))))
    plain_test = next(iter(object_views(tiny_data, "test", 2, 2, 32, 64, Stream(seed=6))))
    np.testing.assert_array_equal(test["images"], plain_test["images"])


@pytest.mark.parametrize("field", ["crop", "color", "mirror"])
def test_each_augmentation_alone_turns_it_on(field):
    assert not Augmentation().active
    assert Augmentation(**{field: {"crop": 0.8, "color": 0.2, "mirror": True}[field]}).active

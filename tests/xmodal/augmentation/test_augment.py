import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from xmodal.augmentation.augment import Augmentation, augment_batch, augment_images, coin, hue_rotation, sub_seed
from xmodal.training.config import FitConfig
from xmodal.training.data import Stream, object_views
from xmodal.fit import batches

ALL = Augmentation(crop=0.6, color=0.4, mirror=True, shift=0.1, zoom=0.2, rotate=10, blur=1.0, noise=3.0, jpeg=0.5)


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


ON = {"crop": 0.8, "color": 0.2, "mirror": True, "shift": 0.1, "zoom": 0.1, "rotate": 5.0, "background": 0.5,
      "blur": 1.0, "noise": 2.0, "jpeg": 0.5}


@pytest.mark.parametrize("field", sorted(ON))
def test_each_augmentation_alone_turns_it_on_and_changes_images(field):
    assert not Augmentation().active
    aug = Augmentation(**{field: ON[field]})
    assert aug.active and aug.masks == (field == "background")
    images, alpha = render_like(8)
    rgba = tf.concat([images, alpha], axis=-1)
    out = augment_images(rgba, tf.constant([2, 9], tf.int64), tf.zeros([8], tf.bool), aug).numpy()
    assert out.shape == (8, 32, 32, 3)
    if field != "mirror":  # mirroring is decided per object by augment_batch
        assert not np.array_equal(out, images.numpy()), field


def render_like(n: int) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 (N, 32, 32, 3) renders of a square on a uniform background, and their coverage (N, 32, 32, 1)."""
    images = np.full((n, 32, 32, 3), 90, np.uint8)
    images[:, 8:24, 10:20] = (200, 40, 10)
    alpha = np.zeros((n, 32, 32, 1), np.uint8)
    alpha[:, 8:24, 10:20] = 255
    return tf.constant(images), tf.constant(alpha)


def test_new_backgrounds_replace_exactly_the_uncovered_pixels_of_the_chosen_share():
    images, alpha = render_like(64)
    out = augment_images(tf.concat([images, alpha], -1), tf.constant([0, 1], tf.int64), tf.zeros([64], tf.bool),
                         Augmentation(background=0.5)).numpy()
    inside = alpha.numpy()[..., 0] == 255
    np.testing.assert_array_equal(out[inside], images.numpy()[inside])
    replaced = np.array([np.mean(o[~m] != 90) > 0.5 for o, m in zip(out, inside)])
    untouched = np.array([np.all(o[~m] == 90) for o, m in zip(out, inside)])
    assert np.all(replaced | untouched) and 0.3 < replaced.mean() < 0.7


def test_moves_carry_the_coverage_with_the_object():
    images, alpha = render_like(8)
    aug = Augmentation(shift=0.2, zoom=0.3, rotate=20, background=1.0)
    out = augment_images(tf.concat([images, alpha], -1), tf.constant([5, 5], tf.int64), tf.zeros([8], tf.bool),
                         aug).numpy()
    object_pixels = np.all(out == (200, 40, 10), axis=-1)  # (N, 32, 32): still exactly the object's colour
    assert object_pixels.sum(axis=(1, 2)).min() > 50
    centres = [np.argwhere(m).mean(0) for m in object_pixels]
    assert np.ptp(np.array(centres), axis=0).max() > 2.0  # moved, each image its own way


def test_the_clean_share_leaves_renders_exactly_as_converted_but_mirrored():
    images, alpha = render_like(64)
    flip = tf.constant([True, False] * 32)
    aug = Augmentation(color=0.3, shift=0.1, zoom=0.1, rotate=5.0, background=1.0, blur=1.0, noise=3.0, jpeg=1.0,
                       clean=0.5)
    out = augment_images(tf.concat([images, alpha], -1), tf.constant([3, 1], tf.int64), flip, aug).numpy()
    plain = np.where(flip.numpy()[:, None, None, None], images.numpy()[:, :, ::-1], images.numpy())
    kept = np.array([np.array_equal(o, p) for o, p in zip(out, plain)])
    assert 0.3 < kept.mean() < 0.7  # the others are all perturbed
    everything = dataclasses.replace(aug, clean=1.0)
    out = augment_images(tf.concat([images, alpha], -1), tf.constant([3, 1], tf.int64), flip, everything).numpy()
    np.testing.assert_array_equal(out, plain)

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from xmodal.augmentation.perturb import SUITE, VALIDATION, Perturbation, available, perturbed

SEED = tf.constant([1, 2], tf.int64)


def renders(n: int = 4, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Uniform grey backgrounds with a coloured square object, and its coverage mask."""
    images = np.full((n, size, size, 3), 90, np.uint8)
    alpha = np.zeros((n, size, size, 1), np.uint8)
    images[:, 10:20, 12:22] = (200, 40, 10)
    alpha[:, 10:20, 12:22] = 255
    return images, alpha


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


@pytest.mark.parametrize("name", sorted(SUITE))
def test_every_perturbation_is_deterministic_per_seed(name):
    images, alpha = renders()
    a = perturbed(tf.constant(images), tf.constant(alpha), SUITE[name], SEED).numpy()
    b = perturbed(tf.constant(images), tf.constant(alpha), SUITE[name], SEED).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == images.shape
    if name == "clean":
        np.testing.assert_array_equal(a, images)
    else:
        assert not np.array_equal(a, images), name


def test_random_draws_depend_on_the_seed():
    images, alpha = renders(8)
    p = SUITE[VALIDATION]
    a = perturbed(tf.constant(images), tf.constant(alpha), p, SEED).numpy()
    b = perturbed(tf.constant(images), tf.constant(alpha), p, tf.constant([1, 3], tf.int64)).numpy()
    assert not np.array_equal(a, b)


def test_a_shift_moves_the_object_by_exactly_its_pixels():
    images, alpha = renders(16)
    out = perturbed(tf.constant(images), tf.constant(alpha), Perturbation(shift=2), SEED).numpy()
    for before, after in zip(images, out):
        moved = centroid(after[..., 0] == 200) - centroid(before[..., 0] == 200)
        assert sorted(np.abs(moved)) == [0.0, 2.0]


def test_a_new_background_keeps_the_object_and_replaces_the_rest():
    images, alpha = renders()
    out = perturbed(tf.constant(images), tf.constant(alpha), Perturbation(background="texture"), SEED).numpy()
    inside = alpha[..., 0] == 255
    np.testing.assert_array_equal(out[inside], images[inside])
    assert np.mean(out[~inside] != 90) > 0.9
    photos = np.full((1, 16, 16, 3), 33, np.uint8)
    out = perturbed(tf.constant(images), tf.constant(alpha), Perturbation(background="photo"), SEED,
                    tf.constant(photos)).numpy()
    assert np.all(out[~inside] == 33) and np.array_equal(out[inside], images[inside])


def test_without_masks_the_suite_leaves_out_backgrounds():
    names = available(False)
    assert "texture background" not in names and "photo background" not in names
    assert names[VALIDATION] == dataclasses.replace(SUITE[VALIDATION], background="")
    assert available(True) == SUITE
    images, _ = renders()
    with pytest.raises(ValueError, match="coverage masks"):
        perturbed(tf.constant(images), None, SUITE["texture background"], SEED)

import numpy as np
import pytest
import tensorflow as tf

from xmodal.augmentation import distortions


def image(seed: int = 0, n: int = 2, size: int = 12) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def test_integer_shift_moves_every_pixel_and_repeats_the_edge():
    x = image()
    dx, dy = 2, -1
    out = distortions.affine(tf.constant(x), tf.constant([[dx, dy]] * 2, tf.float32), tf.ones([2]),
                             tf.zeros([2])).numpy()
    rows = np.clip(np.arange(12) - dy, 0, 11)
    cols = np.clip(np.arange(12) - dx, 0, 11)
    np.testing.assert_allclose(out, x[:, rows][:, :, cols], atol=1e-3)


def test_a_quarter_turn_is_a_rotation():
    x = image(1)
    turned = distortions.affine(tf.constant(x), tf.zeros([2, 2]), tf.ones([2]), tf.fill([2], np.pi / 2)).numpy()
    np.testing.assert_allclose(turned, np.rot90(x, k=-1, axes=(1, 2)), atol=1e-2)


def test_zoom_about_the_centre_keeps_the_centre_and_doubles_distances():
    x = np.zeros((1, 21, 21, 3), np.float32)
    x[0, 10, 14] = 255.0  # 4 px right of the centre pixel
    out = distortions.affine(tf.constant(x), tf.zeros([1, 2]), tf.constant([2.0]), tf.zeros([1])).numpy()
    assert out[0, 10, 18, 0] == pytest.approx(255.0)  # now 8 px right of the centre


def test_composite_is_exact_where_the_coverage_is_0_or_1():
    x, back = image(2), image(3)
    alpha = np.zeros((2, 12, 12, 1), np.float32)
    alpha[:, 4:8, 4:8] = 1.0
    alpha[:, 0, 0] = 0.25
    out = distortions.composite(tf.constant(x), tf.constant(alpha), tf.constant(back)).numpy()
    inside, outside = alpha[..., 0] == 1.0, alpha[..., 0] == 0.0
    np.testing.assert_array_equal(out[inside], x[inside])
    np.testing.assert_array_equal(out[outside], back[outside])
    np.testing.assert_allclose(out[:, 0, 0], 0.25 * x[:, 0, 0] + 0.75 * back[:, 0, 0], rtol=1e-6)


def numpy_blur(x: np.ndarray, sigma: float, radius: int) -> np.ndarray:
    """A separable Gaussian, cut at `radius` and at the border and renormalised, written out pixel by pixel."""
    size = x.shape[0]
    out = np.zeros_like(x, np.float64)
    tmp = np.zeros_like(x, np.float64)
    for i in range(size):
        offset = i - np.arange(size)
        w = np.exp(-offset ** 2 / (2 * sigma ** 2)) * (np.abs(offset) <= radius)
        tmp[i] = np.tensordot(w / w.sum(), x, axes=(0, 0))
    for j in range(size):
        offset = j - np.arange(size)
        w = np.exp(-offset ** 2 / (2 * sigma ** 2)) * (np.abs(offset) <= radius)
        out[:, j] = np.tensordot(tmp, w / w.sum(), axes=(1, 0))
    return out


def test_blur_matches_a_numpy_gaussian_and_tiny_sigma_is_identity():
    """largest 1.5 cuts the kernel at ceil(4.5) = 5 pixels."""
    x = image(4, n=3)
    out = distortions.blur(tf.constant(x), tf.constant([1.5, 0.7, 1e-6]), 1.5).numpy()
    np.testing.assert_allclose(out[0], numpy_blur(x[0], 1.5, 5), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out[1], numpy_blur(x[1], 0.7, 5), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out[2], x[2], atol=1e-3)


def test_noise_is_seeded_and_of_its_strength():
    x = np.full((2, 64, 64, 3), 128.0, np.float32)
    seed = tf.constant([1, 2], tf.int64)
    a = distortions.add_noise(tf.constant(x), tf.constant([4.0, 0.0]), seed).numpy()
    b = distortions.add_noise(tf.constant(x), tf.constant([4.0, 0.0]), seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.std(a[0] - 128.0) == pytest.approx(4.0, rel=0.05)
    np.testing.assert_array_equal(a[1], x[1])


def test_jpeg_equals_tensorflows_encoder_and_quality_0_leaves_the_image():
    x = np.round(image(5, size=16))
    out = distortions.jpeg(tf.constant(x), tf.constant([40, 0], tf.int32)).numpy()
    expected = tf.image.adjust_jpeg_quality(tf.constant(x[0].astype(np.uint8)), 40).numpy()
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_array_equal(out[1], x[1])
    assert not np.array_equal(out[0], x[0])


def test_gain_scales_each_channel():
    x = image(6)
    out = distortions.gain(tf.constant(x), tf.constant([[1.0, 0.5, 2.0], [0.7, 0.7, 0.7]])).numpy()
    np.testing.assert_allclose(out[0], x[0] * [1.0, 0.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(out[1], x[1] * 0.7, rtol=1e-6)

import numpy as np

from tfrecords_tools.config import DEFAULT_VIEWPOINTS
from tfrecords_tools.viewpoints import ViewpointSampler, read_viewpoints


def test_kde_samples_follow_the_fitted_elevations():
    fitted = read_viewpoints(DEFAULT_VIEWPOINTS)
    draws = ViewpointSampler(fitted).sample(4000, np.random.default_rng(0))
    assert draws.shape == (4000, 4)
    np.testing.assert_allclose(np.percentile(draws[:, 1], [25, 50, 75]),
                               np.percentile(fitted[:, 1], [25, 50, 75]), atol=2.0)
    assert 0.8 < np.mean((draws[:, 1] >= -2) & (draws[:, 1] <= 22))
    assert np.mean(np.abs(draws[:, 2]) < 15) > 0.85
    assert ((draws[:, 0] >= 0) & (draws[:, 0] < 360)).all()


def test_a_different_file_moves_the_samples():
    rows = np.column_stack([np.linspace(0, 359, 200), np.full(200, 60.0), np.zeros(200), np.full(200, 2.0)])
    rows[:, 1] += np.random.default_rng(1).normal(0, 3, 200)
    draws = ViewpointSampler(rows).sample(1000, np.random.default_rng(0))
    assert abs(np.median(draws[:, 1]) - 60) < 2

import numpy as np

from tfrecords_tools.cli import convert_config, parser
from tfrecords_tools.config import AUTO_VIEWPOINTS, VIEWPOINT_SETS, viewpoint_file
from tfrecords_tools.meshes.viewpoints import ViewpointSampler, read_viewpoints


def test_kde_samples_follow_the_fitted_elevations():
    fitted = read_viewpoints(VIEWPOINT_SETS["cars"])
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


def test_generic_viewpoints_parse_and_sample_all_around_from_low_to_high():
    fitted = read_viewpoints(VIEWPOINT_SETS["generic"])
    assert fitted[:, 0].min() == 0 and fitted[:, 0].max() == 350 and (fitted[:, 1].min(), fitted[:, 1].max()) == (-10, 60)
    draws = ViewpointSampler(fitted).sample(4000, np.random.default_rng(0))
    quadrants = np.bincount((draws[:, 0] // 90).astype(int), minlength=4) / len(draws)
    assert np.allclose(quadrants, 0.25, atol=0.03)  # azimuth uniform over the circle
    assert 0.85 < np.mean((draws[:, 1] >= -20) & (draws[:, 1] <= 70)) and abs(np.median(draws[:, 1]) - 25) < 4
    assert np.mean(np.abs(draws[:, 2]) < 2) > 0.95  # upright pictures


def test_viewpoint_names_pick_the_shipped_files():
    assert viewpoint_file("cars") == VIEWPOINT_SETS["cars"] and viewpoint_file("generic") == VIEWPOINT_SETS["generic"]
    assert viewpoint_file("my/views.txt") == "my/views.txt"
    args = parser().parse_args(["convert", "--meshes", "m", "--out", "o", "--viewpoints", "generic"])
    assert convert_config(args).viewpoints == VIEWPOINT_SETS["generic"]
    assert convert_config(parser().parse_args(["convert", "--meshes", "m", "--out", "o"])).viewpoints == AUTO_VIEWPOINTS

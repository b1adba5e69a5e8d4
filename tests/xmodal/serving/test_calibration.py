"""Calibration: confidences against numpy's percentiles, and the matched distances an export stores, re-measured."""
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.dataset.read import dataset
from xmodal.serving.calibration import CALIBRATION, Calibration, calibration, matched_distances


def test_confidence_is_the_share_of_matched_pairs_at_least_as_far():
    """With matched distances 1, 2, 2, 3: a hit at 2 has 3 of 4 pairs at least as far (0.75); at 0.5 all (1.0);
    at 3.5 none (0.0). Checked on random distances, ties included, against numpy's percentile of the same."""
    tiny = Calibration(np.array([1.0, 2.0, 2.0, 3.0]), "test")
    assert [tiny.confidence(d) for d in (0.5, 1.0, 2.0, 2.5, 3.0, 3.5)] == [1.0, 1.0, 0.75, 0.25, 0.25, 0.0]
    matched = np.round(np.random.default_rng(0).gamma(4.0, 0.1, 500), 2)  # rounded: many ties
    stored = calibration({"calibration": {"split": "test", "objects": 50,
                                          "distances": np.random.default_rng(1).permutation(matched).tolist()}})
    for d in np.concatenate([np.linspace(-0.1, matched.max() + 0.1, 97), matched[:40]]):
        assert stored.confidence(float(d)) == np.mean(matched >= d)
        # numpy's percentile of the distance among the matched pairs ("weak": at most d) is its complement
        strictly_nearer = np.mean(matched < d) * 100
        assert 100 * (1 - stored.confidence(float(d))) == pytest.approx(strictly_nearer)
    assert not stored.unlike(float(matched.max())) and stored.unlike(float(matched.max()) + 1e-6)
    assert calibration({}) is None and calibration({"calibration": {"split": "test", "objects": 0,
                                                                    "distances": []}}) is None


def test_the_export_stores_the_test_pictures_distances_to_their_shapes(tiny_model, tiny_data):
    stored = json.loads((Path(tiny_model) / CALIBRATION).read_text())
    model = tf.saved_model.load(tiny_model)  # the signatures, as any consumer would embed
    rows = list(dataset(tiny_data, "test").as_numpy_iterator())
    voxels = model.signatures["embed_voxels"](voxels=tf.constant(np.stack([r["voxels"] for r in rows])))["embedding"]
    images = model.signatures["embed_images"](images=tf.constant(np.concatenate([r["images"] for r in rows])))
    views = rows[0]["images"].shape[0]
    expected = np.sort(np.linalg.norm(images["embedding"].numpy() - np.repeat(voxels.numpy(), views, axis=0), axis=1))
    assert (stored["split"], stored["objects"], len(stored["distances"])) == ("test", len(rows), len(rows) * views)
    np.testing.assert_allclose(stored["distances"], expected, atol=1e-4)
    np.testing.assert_allclose(matched_distances(np.eye(2), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
                                                 np.array([0, 0, 1])), [0.0, 1.0, 0.0])

import json
import types
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfrecords_tools.dataset.manifest import read_manifest
from tfrecords_tools.dataset.read import dataset
from xmodal.serving.export import write_export
from xmodal.evaluation.metrics import evaluate_embeddings
from xmodal.training.models import build_encoders
from xmodal.training.symmetry import IMAGE_AXIS, VOXEL_AXIS, mirror_averaged
from xmodal.training.validation import embedder, validation_ids


def reference(encoder, x: np.ndarray, axis: int, normalize: bool) -> np.ndarray:
    """numpy: the mean of the encoder's embeddings of x and of x reversed along axis, re-normalised if asked."""
    mean = (encoder(x, training=False).numpy() + encoder(np.flip(x, axis).copy(), training=False).numpy()) / 2
    return mean / np.linalg.norm(mean, axis=1, keepdims=True) if normalize else mean


@pytest.fixture(scope="module")
def encoders():
    tf.keras.utils.set_random_seed(5)
    return build_encoders("small", normalize=True)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    return rng.integers(0, 2, (3, 32, 32, 32), dtype=np.uint8), rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("normalize", [True, False])
def test_mirror_averaged_matches_the_numpy_reference_and_ignores_mirroring(normalize, inputs):
    tf.keras.utils.set_random_seed(5)
    voxels, images = build_encoders("small", normalize=normalize)
    for encoder, x, axis in ((voxels, inputs[0], VOXEL_AXIS), (images, inputs[1], IMAGE_AXIS)):
        averaged = mirror_averaged(encoder, tf.constant(x), axis).numpy()
        np.testing.assert_allclose(averaged, reference(encoder, x, axis, normalize), atol=1e-5)
        mirrored = mirror_averaged(encoder, tf.constant(np.flip(x, axis).copy()), axis).numpy()
        np.testing.assert_allclose(mirrored, averaged, atol=1e-5)
        plain = encoder(x, training=False).numpy()
        assert np.abs(encoder(np.flip(x, axis).copy(), training=False).numpy() - plain).max() > 1e-3


@pytest.mark.parametrize("mirror_average", [True, False])
def test_export_signatures_mirror_average_unless_turned_off(mirror_average, encoders, inputs, tmp_path):
    voxels, images = encoders
    export = write_export(voxels, images, str(tmp_path / "export"), views=4, mirror_average=mirror_average)
    model = tf.saved_model.load(export)
    assert json.loads((Path(export) / "training.json").read_text()) == {"mirror_average": mirror_average}
    for encoder, x, axis, name, key in ((voxels, inputs[0], VOXEL_AXIS, "embed_voxels", "voxels"),
                                        (images, inputs[1], IMAGE_AXIS, "embed_images", "images")):
        served = model.signatures[name](**{key: tf.constant(x)})["embedding"].numpy()
        expected = reference(encoder, x, axis, True) if mirror_average else encoder(x, training=False).numpy()
        np.testing.assert_allclose(served, expected, atol=1e-5)


def test_validation_scores_the_mirror_averaged_embeddings_the_export_serves(encoders, tiny_data):
    voxels, images = encoders
    manifest = read_manifest(tiny_data)
    ids = validation_ids(tiny_data, manifest, 4, seed=0)
    objects = [o for o in dataset(tiny_data, "train").as_numpy_iterator() if o["object_id"].decode() in ids]
    grids = np.stack([o["voxels"] for o in objects])  # (4, 32, 32, 32)
    views = np.concatenate([o["images"] for o in objects])  # (16, 64, 64, 3)
    labels = np.arange(len(objects))
    expected = evaluate_embeddings(reference(voxels, grids, VOXEL_AXIS, True), labels,
                                   reference(images, views, IMAGE_AXIS, True), np.repeat(labels, 4))
    model = types.SimpleNamespace(voxel_encoder=voxels, image_encoder=images)
    metrics = embedder(model, tiny_data, manifest, ids, mirror_average=True)()
    for way in ("image_to_voxel", "voxel_to_image"):
        assert metrics[way] == pytest.approx(expected[way], abs=1e-6)
    assert metrics["modality_gap"]["mean"] == pytest.approx(expected["modality_gap"]["mean"], rel=1e-4)

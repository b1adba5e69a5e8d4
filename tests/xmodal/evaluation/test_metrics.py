import itertools
import warnings

import numpy as np
import pytest

from xmodal.evaluation.metrics import chance_recall, evaluate_embeddings, spread, table


def brute_force(queries, q_labels, gallery, g_labels, same_set=False):
    """Recall@k and mAP by explicit loops over queries and ranks."""
    recalls, aps = {1: [], 5: [], 10: []}, []
    for q, (x, label) in enumerate(zip(queries, q_labels)):
        ranked = sorted((float(np.sqrt(((x - g) ** 2).sum())), j) for j, g in enumerate(gallery) if not (same_set and j == q))
        relevant = [g_labels[j] == label for _, j in ranked]
        for k in recalls:
            recalls[k].append(any(relevant[:k]))
        hits, precisions = 0, []
        for rank, rel in enumerate(relevant, 1):
            if rel:
                hits += 1
                precisions.append(hits / rank)
        aps.append(np.mean(precisions))
    return {**{f"recall@{k}": np.mean(v) for k, v in recalls.items()}, "map": np.mean(aps)}


def brute_gap(voxels, v_labels, images, i_labels):
    ratios = []
    for v, label in zip(voxels, v_labels):
        own = [np.linalg.norm(v - x) for x, l in zip(images, i_labels) if l == label]
        other = [np.linalg.norm(x - y) for x, l in zip(images, i_labels) if l == label
                 for y, m in zip(images, i_labels) if m != label]
        ratios.append(np.mean(own) / np.mean(other))
    return np.mean(ratios), np.median(ratios)


def test_metrics_match_brute_force_on_random_embeddings():
    rng = np.random.default_rng(0)
    n, views = 14, 3
    v_labels = np.array([f"o{i}" for i in range(n)])
    i_labels = np.repeat(v_labels, views)
    voxels = rng.normal(size=(n, 8))
    images = np.repeat(voxels, views, axis=0) * 0.5 + rng.normal(size=(n * views, 8))  # partly informative
    got = evaluate_embeddings(voxels, v_labels, images, i_labels)
    for key, args in (("image_to_voxel", (images, i_labels, voxels, v_labels)),
                      ("voxel_to_image", (voxels, v_labels, images, i_labels)),
                      ("image_to_image", (images, i_labels, images, i_labels, True))):
        expected = brute_force(*args)
        for metric, value in expected.items():
            assert abs(got[key][metric] - value) < 1e-9, (key, metric)
    mean, median = brute_gap(voxels, v_labels, images, i_labels)
    assert abs(got["modality_gap"]["mean"] - mean) < 1e-9 and abs(got["modality_gap"]["median"] - median) < 1e-9
    assert abs(got["modality_gap"]["centroid_distance"] - np.linalg.norm(voxels.mean(0) - images.mean(0))) < 1e-9
    assert got["n_objects"] == n and got["n_images"] == n * views


def test_perfect_embeddings_score_one():
    labels = np.arange(6)
    voxels = np.eye(6) * 10
    images = np.repeat(voxels, 2, axis=0)
    got = evaluate_embeddings(voxels, labels, images, np.repeat(labels, 2))
    assert got["image_to_voxel"]["recall@1"] == 1.0 and got["voxel_to_image"]["map"] == 1.0
    assert got["modality_gap"]["mean"] == 0.0


def test_chance_levels_match_closed_forms():
    """N objects, V views each, M = N V images: image->voxel k / N; voxel->image 1 - prod (M-V-i)/(M-i) over
    i < k; image->image the same with V - 1 relevant among M - 1."""
    n, views = 7, 3
    m = n * views
    labels = np.arange(n)
    rng = np.random.default_rng(1)
    got = evaluate_embeddings(rng.normal(size=(n, 4)), labels, rng.normal(size=(m, 4)), np.repeat(labels, views))
    for k in (1, 5, 10):
        assert got["image_to_voxel"][f"chance_recall@{k}"] == pytest.approx(min(k, n) / n)
        assert got["voxel_to_image"][f"chance_recall@{k}"] == pytest.approx(
            1 - np.prod([(m - views - i) / (m - i) for i in range(k)]))
        assert got["image_to_image"][f"chance_recall@{k}"] == pytest.approx(
            1 - np.prod([(m - views - i) / (m - 1 - i) for i in range(k)]))
    assert "chance" in table(got)


def test_chance_recall_by_enumerating_every_draw():
    gallery, relevant = 6, 2
    for k in (1, 2, 3, 5, 10):
        draws = list(itertools.combinations(range(gallery), min(k, gallery)))
        hits = sum(any(i < relevant for i in draw) for draw in draws)
        assert chance_recall(gallery, relevant, k) == pytest.approx(hits / len(draws))
    assert chance_recall(gallery, 0, 10) == 0.0


def test_collapsed_embeddings_give_a_finite_gap_and_no_numpy_warning():
    """Every embedding at one point (zero, or one unit vector): the gap is 0 / 0 by its formula; it reads 1.0 (the
    voxels are as far from their images as from any other object's), never nan, and numpy warns of nothing."""
    labels = np.arange(4)
    for point in (np.zeros(8), np.eye(8)[0]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = evaluate_embeddings(np.tile(point, (4, 1)), labels, np.tile(point, (8, 1)), np.repeat(labels, 2))
            text = table(got, got)
        assert got["modality_gap"] == {"mean": 1.0, "median": 1.0, "centroid_distance": 0.0}
        assert "nan" not in text and "modality gap: mean 1.000" in text


def test_spread_is_the_mean_distance_from_the_centroid_over_the_mean_norm():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 5))
    centroid = [sum(row[j] for row in x) / len(x) for j in range(5)]
    distance = np.mean([np.sqrt(sum((row[j] - centroid[j]) ** 2 for j in range(5))) for row in x])
    norm = np.mean([np.sqrt(sum(v * v for v in row)) for row in x])
    assert spread(x) == pytest.approx(distance / norm)
    assert spread(np.tile(x[0], (6, 1))) == pytest.approx(0.0, abs=1e-12) and spread(np.zeros((6, 5))) == 0.0
    assert spread(3.0 * x) == pytest.approx(spread(x))  # the scale does not matter


def test_the_table_shows_the_starting_weights_beside_the_exported_ones():
    labels = np.arange(5)
    rng = np.random.default_rng(3)
    exported = evaluate_embeddings(np.eye(5), labels, np.repeat(np.eye(5), 2, axis=0), np.repeat(labels, 2))
    start = evaluate_embeddings(rng.normal(size=(5, 5)), labels, rng.normal(size=(10, 5)), np.repeat(labels, 2))
    rows = {line.split()[0]: line.split()[1:] for line in table(exported, start).splitlines()[2:] if line[:1].isalpha()}
    assert rows["image_to_voxel"][:4] == ["1.000"] * 4
    assert rows["image_to_voxel"][4:] == [f"{start['image_to_voxel'][k]:.3f}" for k in ("recall@1", "recall@5",
                                                                                         "recall@10", "map")]
    assert "starting weights" in table(exported, start) and "starting weights" not in table(exported)

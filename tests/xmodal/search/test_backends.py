"""FAISS back-ends against a numpy brute force: exact is exact, HNSW keeps recall, filters keep only their rows."""
import numpy as np
import pytest

from xmodal.search.backends import EXACT_BELOW, chosen_kind, filled_index, search


def brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and positions (Q, k) of the k nearest, in numpy."""
    distances = np.sqrt(((queries[:, None, :].astype(np.float64) - vectors[None]) ** 2).sum(-1))  # (Q, N)
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, order, 1), order


def clustered(n: int, seed: int, dim: int = 16) -> np.ndarray:
    """n vectors around 20 centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    return (centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def test_exact_search_equals_brute_force():
    vectors, queries = clustered(500, 0), clustered(7, 1)
    kind = chosen_kind(len(vectors))
    distances, positions = search(filled_index(kind, vectors), kind, queries, 10)
    want_d, want_p = brute_force(vectors, queries, 10)
    assert kind.name == "exact"
    np.testing.assert_array_equal(positions, want_p)
    np.testing.assert_allclose(distances, want_d, rtol=1e-4, atol=1e-4)


def test_hnsw_recall_at_10_against_brute_force():
    vectors, queries = clustered(4000, 2), clustered(50, 3)
    kind = chosen_kind(len(vectors), "hnsw")
    _, positions = search(filled_index(kind, vectors), kind, queries, 10)
    _, want = brute_force(vectors, queries, 10)
    recall = np.mean([len(set(p) & set(w)) / 10 for p, w in zip(positions, want)])
    assert kind.name == "hnsw" and recall >= 0.95


@pytest.mark.parametrize("name", ["exact", "hnsw"])
def test_filtered_search_is_brute_force_over_the_rows_given(name):
    vectors, queries = clustered(1000, 4), clustered(5, 5)
    kind = chosen_kind(len(vectors), name)
    among = np.arange(3, 1000, 7)
    distances, positions = search(filled_index(kind, vectors), kind, queries, 5, among)
    want_d, want_p = brute_force(vectors[among], queries, 5)
    np.testing.assert_array_equal(positions, among[want_p])
    np.testing.assert_allclose(distances, want_d, rtol=1e-4, atol=1e-4)


def test_fewer_rows_than_k_leave_empty_places():
    vectors = clustered(50, 6)
    kind = chosen_kind(len(vectors))
    distances, positions = search(filled_index(kind, vectors), kind, vectors[:1], 4, np.array([0, 9]))
    assert positions[0].tolist() == [0, 9, -1, -1] and np.isinf(distances[0, 2:]).all() and distances[0, 0] == 0


def test_automatic_kind_changes_at_the_measured_size():
    assert chosen_kind(EXACT_BELOW - 1).name == "exact" and chosen_kind(EXACT_BELOW).name == "hnsw"
    assert chosen_kind(10, "hnsw").ef_search > 0 and chosen_kind(10 ** 7, "exact").name == "exact"

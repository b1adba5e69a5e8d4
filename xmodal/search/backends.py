"""FAISS indexes of embeddings under Euclidean distance: exact below a measured size, HNSW above it.

`bench/index.py` measures the crossing (2 cores, batch 1, p50): exact search costs a pass over every
vector, about 0.02-0.03 ms per thousand vectors of 128 floats on one FAISS thread (0.95 ms at 50k,
3.0 ms at 100k, 25 ms at a million; two threads are 3x slower at batch 1), HNSW 1.1-2.5 ms from 10k to
200k vectors and 3.4 ms at a million, at recall@10 0.967 on real embeddings extended to a million with
noise and queried across modalities (1.000 on a clustered synthetic set; numpy brute force: 152 ms,
45x slower). Exact stays exact up to EXACT_BELOW vectors; a category filter narrower than that is
searched exactly too (HNSW with a selective filter loses recall).
"""
import dataclasses

import faiss
import numpy as np

EXACT_BELOW = 50_000  # vectors: below, exact (0.95 ms at 50k, 1 thread) beats HNSW (1.75 ms) and needs no parameters
HNSW_M = 32  # neighbours per node
HNSW_EF_CONSTRUCTION = 400  # 1M vectors in 7-11 min on 2 cores; 200 takes half that but needs efSearch 2048 for 0.95
HNSW_EF_SEARCH = 1536  # recall@10 0.967 (real, cross-modal queries) / 1.000 (clustered) at a million, p50 3.4 / 4.6 ms
KINDS = ("exact", "hnsw")


@dataclasses.dataclass(frozen=True)
class Kind:
    """Which FAISS index holds the vectors, and its parameters (recorded in the index folder)."""

    name: str  # one of KINDS
    m: int = 0
    ef_construction: int = 0
    ef_search: int = 0

    def describe(self) -> str:
        """`exact`, or `hnsw (M 32, efConstruction 80, efSearch 96)`."""
        if self.name == "exact":
            return "exact"
        return f"hnsw (M {self.m}, efConstruction {self.ef_construction}, efSearch {self.ef_search})"


def chosen_kind(size: int, name: str = "auto") -> Kind:
    """The kind for `size` vectors: `auto` picks exact below EXACT_BELOW, HNSW above."""
    if name == "auto":
        name = "exact" if size < EXACT_BELOW else "hnsw"
    if name == "exact":
        return Kind("exact")
    return Kind("hnsw", HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH)


def empty_index(kind: Kind, dim: int) -> faiss.Index:
    """An empty FAISS index of this kind for `dim`-dimensional vectors under L2."""
    if kind.name == "exact":
        return faiss.IndexFlatL2(dim)
    index = faiss.IndexHNSWFlat(dim, kind.m)
    index.hnsw.efConstruction = kind.ef_construction
    index.hnsw.efSearch = kind.ef_search
    return index


def filled_index(kind: Kind, vectors: np.ndarray) -> faiss.Index:
    """A FAISS index of this kind holding `vectors` (N, D), their positions the ids."""
    index = empty_index(kind, vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, np.float32))
    return index


def all_vectors(index: faiss.Index) -> np.ndarray:
    """(N, D) float32: every vector an index holds, in order."""
    return index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)


def search(index: faiss.Index, kind: Kind, queries: np.ndarray, k: int,
           among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and positions (Q, k) of the k nearest vectors to each query (Q, D), nearest first,
    among all vectors or only the positions `among`; missing neighbours have position -1 and distance inf."""
    queries = np.ascontiguousarray(queries, np.float32)
    if among is not None and (kind.name == "exact" or len(among) < EXACT_BELOW):
        found = np.full((len(queries), k), -1, np.int64)
        squared = np.full((len(queries), k), np.inf, np.float32)
        if len(among):
            subset = index.reconstruct_batch(among.astype(np.int64))  # (S, D)
            d, i = faiss.knn(queries, subset, min(k, len(among)))
            found[:, :i.shape[1]], squared[:, :i.shape[1]] = among[i], d
        return np.sqrt(np.maximum(squared, 0)), found
    params = None
    if kind.name == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=max(kind.ef_search, k))
    if among is not None:
        params.sel = faiss.IDSelectorBatch(among.astype(np.int64))
    squared, found = index.search(queries, k, params=params)
    squared = np.where(found < 0, np.inf, squared)
    return np.sqrt(np.maximum(squared, 0)), found

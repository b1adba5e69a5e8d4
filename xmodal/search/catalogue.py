"""A searchable catalogue of shapes: a FAISS index of their voxel embeddings, their ids, categories and thumbnails.

`xmodal.retrieve`, `xmodal.serve` and the page all search through `Catalogue.nearest`.
"""
import dataclasses
import os
from pathlib import Path
from typing import Callable

import faiss
import numpy as np

from tfrecords_tools.errors import UserError
from xmodal.search.backends import Kind, chosen_kind, filled_index, search
from xmodal.search.entries import Entries

THUMBNAILS = ("render", "voxels")  # the two thumbnails of each entry


@dataclasses.dataclass(frozen=True)
class Hit:
    """One retrieved shape."""

    position: int  # in the index, the key of its thumbnails
    object_id: str
    category: str
    distance: float  # Euclidean, between embeddings
    confidence: float | None = None  # of a picture query: xmodal.serving.calibration.Calibration.confidence of the distance


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """The shapes of an index, searchable by embedding."""

    kind: Kind
    index: faiss.Index
    object_ids: np.ndarray  # (N,) str
    categories: np.ndarray  # (N,) str
    splits: np.ndarray  # (N,) str
    export: dict  # xmodal.search.provenance.export_identity of the export that embedded the shapes
    thumbnail: Callable[[int, str], bytes]  # (position, one of THUMBNAILS) -> PNG bytes
    description: dict  # index.json, or what an in-memory catalogue knows of itself
    by_category: dict = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        names, inverse = np.unique(self.categories, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
        object.__setattr__(self, "by_category", {str(name): order[a:b] for name, a, b in zip(names, bounds, bounds[1:])})

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def tag(self) -> str:
        """A short name of this state of the index (changes when it is rebuilt or grown): for caches."""
        return self.description.get("files", {}).get("entries", {}).get("sha256", "")[:12] or "memory"

    def nearest(self, queries: np.ndarray, k: int, category: str | None = None) -> list[list[Hit]]:
        """The k shapes nearest to each query embedding (Q, D), nearest first; only those of `category` if given."""
        if category is not None and category not in self.by_category:
            raise UserError(f"no shape of category {category!r} in the index; it has "
                            f"{', '.join(sorted(self.by_category)) or 'none'}")
        if queries.shape[1:] != (self.index.d,):
            raise UserError(f"query embeddings have shape {queries.shape[1:]}, the index holds {self.index.d} dimensions")
        among = self.by_category[category] if category is not None else None
        distances, positions = search(self.index, self.kind, queries, k, among)  # (Q, k) each
        return [[Hit(int(p), str(self.object_ids[p]), str(self.categories[p]), float(d))
                 for p, d in zip(row_p, row_d) if p >= 0] for row_p, row_d in zip(positions, distances)]


class Packs:
    """Thumbnails read from pack files with pread: safe from many threads at once."""

    def __init__(self, paths: list[Path], pack: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> None:
        self.files = [os.open(p, os.O_RDONLY) for p in paths]
        self.pack, self.offsets, self.lengths = pack, offsets, lengths  # (N,), (N, 2), (N, 2)

    def read(self, position: int, which: str) -> bytes:
        """The PNG bytes of one thumbnail of the entry at `position`."""
        column = THUMBNAILS.index(which)
        return os.pread(self.files[self.pack[position]], int(self.lengths[position, column]),
                        int(self.offsets[position, column]))


def in_memory(entries: Entries, export: dict, source: str) -> Catalogue:
    """A catalogue of entries held in memory, searched exactly (what `retrieve` makes of a dataset folder)."""
    kind = chosen_kind(len(entries), "exact")

    def thumbnail(position: int, which: str) -> bytes:
        return (entries.renders if which == "render" else entries.voxel_pictures)[position]

    return Catalogue(kind, filled_index(kind, entries.embeddings), entries.object_ids, entries.categories,
                     entries.splits, export, thumbnail, {"count": len(entries), "sources": [{"data": source}]})

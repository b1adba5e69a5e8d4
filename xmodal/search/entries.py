"""Catalogue entries: per object its id, category, split, voxel embedding and two thumbnails.

The same functions make entries for `xmodal.index` (in this process) and for the Beam job
`pipelines.embed` (in its workers), so both make the same entries of the same dataset; they travel
from the one to the other as embedding shards (xmodal.search.shards).
"""
import dataclasses
from typing import Iterable, Iterator

import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import read_manifest, shard_paths
from tfrecords_tools.dataset.read import reading
from tfrecords_tools.dataset.validate import check_dataset
from xmodal.serving.embedder import BATCH, Embedder
from xmodal.search.thumbnails import png, render_thumbnail, voxel_picture


@dataclasses.dataclass(frozen=True)
class Entries:
    """Catalogue rows, one per object."""

    object_ids: np.ndarray  # (N,) str
    categories: np.ndarray  # (N,) str
    splits: np.ndarray  # (N,) str
    embeddings: np.ndarray  # (N, D) float32
    renders: list[bytes]  # N PNG thumbnails: the object's first render on white
    voxel_pictures: list[bytes]  # N PNG thumbnails: its voxel grid

    def __len__(self) -> int:
        return len(self.object_ids)

    def subset(self, rows: Iterable[int], thumbnails: bool = True) -> "Entries":
        """The entries at `rows`, in that order (without their thumbnails when `thumbnails` is False)."""
        rows = np.fromiter(rows, np.int64)
        return Entries(self.object_ids[rows], self.categories[rows], self.splits[rows], self.embeddings[rows],
                       [self.renders[i] for i in rows] if thumbnails else [],
                       [self.voxel_pictures[i] for i in rows] if thumbnails else [])


def joined(parts: list[Entries], dim: int = 128) -> Entries:
    """One Entries of several, in order."""
    if not parts:
        return Entries(np.array([], str), np.array([], str), np.array([], str), np.zeros((0, dim), np.float32), [], [])
    return Entries(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("object_ids", "categories", "splits",
                                                                             "embeddings")),
                   [r for p in parts for r in p.renders], [v for p in parts for v in p.voxel_pictures])


@dataclasses.dataclass(frozen=True)
class Decoded:
    """What an entry needs of one dataset record."""

    object_id: str
    category: str
    voxels: np.ndarray  # (R, R, R) uint8 in {0, 1}
    render: bytes  # the first view's PNG as stored


def decoded(serialized: bytes, voxel_res: int) -> Decoded:
    """The id, category, voxels and first render of one serialized dataset record (docs/format.md)."""
    feature = tf.train.Example.FromString(serialized).features.feature
    packed = np.frombuffer(feature["voxels"].bytes_list.value[0], np.uint8)
    voxels = np.unpackbits(packed)[:voxel_res ** 3].reshape(voxel_res, voxel_res, voxel_res)  # (R, R, R)
    return Decoded(feature["object_id"].bytes_list.value[0].decode(), feature["category"].bytes_list.value[0].decode(),
                   voxels, feature["images"].bytes_list.value[0])


def voxel_embeddings(embedder: Embedder, records: list[Decoded]) -> np.ndarray:
    """(N, 128) float32: the records' voxels embedded by the export's `embed_voxels` signature."""
    if not records:
        return np.zeros((0, 128), np.float32)
    grids = np.stack([r.voxels for r in records])  # (N, R, R, R) uint8
    return embedder.voxels(grids).astype(np.float32)


def entries_of(records: list[Decoded], vectors: np.ndarray, split: str) -> Entries:
    """Entries of decoded records of one split and their embeddings (N, D): their thumbnails drawn."""
    return Entries(np.array([r.object_id for r in records], str), np.array([r.category for r in records], str),
                   np.array([split] * len(records), str), vectors.astype(np.float32),
                   [render_thumbnail(r.render) for r in records], [png(voxel_picture(r.voxels)) for r in records])


def embedded(embedder: Embedder, records: list[Decoded], split: str) -> Entries:
    """Entries of decoded records: their voxels embedded by the export, their thumbnails drawn."""
    return entries_of(records, voxel_embeddings(embedder, records), split)


def dataset_splits(data: str, splits: tuple[str, ...] = ()) -> list[str]:
    """The splits of a dataset to take: those named (each must exist), else all."""
    present = list(read_manifest(data)["splits"])
    missing = [s for s in splits if s not in present]
    if missing:
        raise UserError(f"{data} has no split {missing[0]!r}; it has {', '.join(present)}")
    return list(splits) or present


def dataset_entries(embedder: Embedder, data: str, splits: tuple[str, ...] = ()) -> Iterator[Entries]:
    """Entries of every object of the chosen splits of a converted dataset, a batch at a time."""
    manifest = check_dataset(data, embedder.voxel_res, embedder.image_size)
    for split in dataset_splits(data, splits):
        files = [str(p) for p in shard_paths(data, manifest, split)]
        with reading(data):
            for batch in tf.data.TFRecordDataset(files).batch(BATCH).as_numpy_iterator():
                yield embedded(embedder, [decoded(s, manifest["voxel_res"]) for s in batch], split)

"""Embedding shards: entries written by `pipelines.embed` for `xmodal.index build --embeddings`.

    SHARDS/embeddings-00000-of-00004.tfrecord   tf.train.Examples with FEATURES, one per object
    SHARDS/embeddings.json                      written last: the export that embedded, the dataset, every shard
                                                with its object count and SHA-256
"""
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import read_json_document
from tfrecords_tools.dataset.shards import sha256
from tfrecords_tools.dataset.validate import key_problem
from xmodal.search.entries import Entries, joined
from xmodal.search.provenance import identity_problem

DESCRIPTION = "embeddings.json"
FEATURES = ("object_id", "category", "split", "embedding", "render", "voxel_picture")
PREFIX = "embeddings"  # shard files are PREFIX-SSSSS-of-NNNNN.tfrecord
DESCRIPTION_KEYS = {"export": dict, "shards": list}
SHARD_KEYS = {"file": str, "objects": int, "sha256": str}


def entry_example(entries: Entries, i: int) -> bytes:
    """The serialized tf.train.Example of entry i (FEATURES)."""
    def text(value: str) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))

    def data(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    feature = {"object_id": text(str(entries.object_ids[i])), "category": text(str(entries.categories[i])),
               "split": text(str(entries.splits[i])),
               "embedding": tf.train.Feature(float_list=tf.train.FloatList(value=entries.embeddings[i])),
               "render": data(entries.renders[i]), "voxel_picture": data(entries.voxel_pictures[i])}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def parsed_entries(serialized: Iterable[bytes]) -> Entries:
    """Entries of serialized embedding examples."""
    rows = []
    for one in serialized:
        f = tf.train.Example.FromString(one).features.feature
        missing = [name for name in FEATURES if name not in f]
        if missing:
            raise UserError(f"an embedding record lacks {', '.join(missing)}: not written by pipelines.embed")
        rows.append(f)
    if not rows:
        return joined([])
    return Entries(*(np.array([r[name].bytes_list.value[0].decode() for r in rows], str)
                     for name in ("object_id", "category", "split")),
                   np.array([r["embedding"].float_list.value for r in rows], np.float32),
                   [r["render"].bytes_list.value[0] for r in rows], [r["voxel_picture"].bytes_list.value[0] for r in rows])


def shard_entries(files: list[Path]) -> Iterator[Entries]:
    """Entries read from embedding shards, a batch at a time."""
    try:
        for batch in tf.data.TFRecordDataset([str(f) for f in files]).batch(1024).as_numpy_iterator():
            yield parsed_entries(batch)
    except tf.errors.DataLossError:
        raise UserError(f"an embedding shard among {files[0].parent} is truncated or corrupted") from None


def description_problem(description: object) -> str | None:
    """What makes an embeddings.json other than what pipelines.embed writes, or None."""
    problem = key_problem("", description, DESCRIPTION_KEYS, DESCRIPTION)
    if problem:
        return problem
    for i, shard in enumerate(description["shards"]):
        problem = key_problem(f"shards[{i}]", shard, SHARD_KEYS) or (
            None if Path(shard["file"]).name == shard["file"] and shard["file"] not in ("", ".", "..")
            else f"shards[{i}].file {shard['file']!r} must be a file name inside the folder")
        if problem:
            return problem
    return identity_problem("export", description["export"])


def read_embeddings(folder: str) -> tuple[dict, Iterator[Entries], int]:
    """(the export that made them, their entries a batch at a time, how many) of a folder of embedding shards,
    every shard checked against its checksum first."""
    root = Path(folder)
    description = read_json_document(root / DESCRIPTION, f"{folder} holds no {DESCRIPTION}: not embeddings written "
                                     "by `python -m pipelines.embed`", description_problem,
                                     "a description written by pipelines.embed")
    shards, export = description["shards"], description["export"]
    for shard in shards:
        file = root / shard["file"]
        if not file.is_file() or sha256(file) != shard["sha256"]:
            raise UserError(f"{file} is missing or does not match its checksum in {DESCRIPTION}: rerun pipelines.embed")
    files = [root / s["file"] for s in shards]
    return export, shard_entries(files) if files else iter(()), sum(s["objects"] for s in shards)

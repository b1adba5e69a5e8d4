"""Sharded TFRecord files: planning, atomic writing, checksums."""
import hashlib
import math
from pathlib import Path
from typing import Iterable

import tensorflow as tf

from tfrecords_tools.dataset.atomic import atomic_file

PNG_BYTES_PER_PIXEL = 0.5  # typical size of our renders as PNG, to plan shard sizes


def shard_name(split: str, index: int, count: int) -> str:
    """`train-00000-of-00004.tfrecord`."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def estimated_object_bytes(voxel_res: int, image_size: int, views: int) -> float:
    """Rough serialized size of one object, to choose the number of shards."""
    return voxel_res**3 / 8 + views * image_size**2 * 3 * PNG_BYTES_PER_PIXEL


def plan_shards(items: list, object_bytes: float, shard_mb: float) -> list[list]:
    """Split items into contiguous shards of about `shard_mb` megabytes each."""
    count = max(1, min(len(items), math.ceil(len(items) * object_bytes / (shard_mb * 1e6))))
    size, extra = divmod(len(items), count)
    bounds = [i * size + min(i, extra) for i in range(count + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def write_shard(path: Path, examples: Iterable[bytes]) -> int:
    """Write serialized examples to `path` atomically (temporary name, then rename); return the count."""
    count = 0
    with atomic_file(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for example in examples:
            writer.write(example)
            count += 1
    return count


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

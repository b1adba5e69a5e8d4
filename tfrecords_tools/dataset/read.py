"""Reading a converted dataset as a tf.data.Dataset of decoded objects, with unreadable shards named."""
import contextlib
from collections.abc import Iterator

import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import shard_paths
from tfrecords_tools.dataset.records import decode_images, parse_spec, unpack_voxels
from tfrecords_tools.dataset.validate import checked_manifest, read_reason, unreadable_shard


def dataset(data_dir: str, split: str = "train") -> tf.data.Dataset:
    """Objects of one split: object_id, category, voxels uint8 (R,R,R), images uint8 (V,S,S,3), viewpoints (V,4)."""
    manifest = checked_manifest(data_dir)
    res, size, views = manifest["voxel_res"], manifest["image_size"], manifest["views"]
    spec = parse_spec(views)

    def parse(serialized: tf.Tensor) -> dict:
        example = tf.io.parse_single_example(serialized, spec)
        return {
            "object_id": example["object_id"],
            "category": example["category"],
            "voxels": unpack_voxels(example["voxels"], res),  # (R, R, R)
            "images": decode_images(example["images"], size),  # (V, S, S, 3)
            "viewpoints": tf.reshape(example["viewpoints"], [views, 4]),  # (V, 4)
        }

    files = [str(p) for p in shard_paths(data_dir, manifest, split)]
    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@contextlib.contextmanager
def reading(data_dir: str) -> Iterator[None]:
    """A DataLossError raised by reading `data_dir` in the block becomes a UserError naming the shard and record."""
    try:
        yield
    except tf.errors.DataLossError as error:
        where = unreadable_shard(data_dir) or f"a shard of {data_dir} is unreadable ({read_reason(error)})"
        raise UserError(f"{where}: the shard is truncated or corrupted "
                        f"(`python -m tfrecords_tools inspect {data_dir}` checks every shard)") from None

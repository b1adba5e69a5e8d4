"""tf.data input: (voxels, positive image, negative image) triplets from the TFRecords of docs/format.md.

Each epoch reads the shards in a random order and shuffles records within blocks of
`shuffle_buffer`; batches hold B distinct objects. Object i gives the anchor voxels and a random
view as the positive, and a random view of object i+1 of the same batch (a different object) is
its negative. Every random choice is a stateless function of (seed, epoch) or (seed, step), so
the stream is deterministic for a seed, and a resumed run (`start_step`) sees exactly the
batches an uninterrupted one would, however many iterators Keras opens on the dataset.
"""
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.manifest import read_manifest, shard_paths
from tfrecords_tools.records import decode_images, parse_spec, unpack_voxels


def check_resolution(manifest: dict, data_dir: str, voxel_res: int, image_size: int) -> None:
    """A UserError naming the expected shapes when the data was converted at other resolutions."""
    if (manifest["voxel_res"], manifest["image_size"]) != (voxel_res, image_size):
        raise UserError(f"{data_dir} holds {manifest['voxel_res']}^3 voxels and {manifest['image_size']}^2 images; "
                        f"the model expects {voxel_res}^3 voxels and {image_size}^2 images "
                        f"(convert with --voxel-res {voxel_res} --image-size {image_size}, or pick another preset)")


def triplets(data_dir: str, split: str, batch_size: int, voxel_res: int, image_size: int, seed: int = 0,
             start_step: int = 0, shuffle_buffer: int = 256) -> tf.data.Dataset:
    """Endless batches {voxels uint8 (B,R,R,R), positive uint8 (B,S,S,3), negative uint8 (B,S,S,3)}."""
    manifest = read_manifest(data_dir)
    check_resolution(manifest, data_dir, voxel_res, image_size)
    count = manifest["splits"].get(split, {}).get("objects", 0)
    if count < max(batch_size, 2):
        raise UserError(f"split {split!r} of {data_dir} has {count} objects; a batch needs {max(batch_size, 2)} "
                        "distinct objects: lower --batch-size or convert more objects")
    files = [str(p) for p in shard_paths(data_dir, manifest, split)]
    spec, views = parse_spec(manifest["views"]), manifest["views"]
    seed = tf.constant(seed, tf.int64)

    def make(step: tf.Tensor, serialized: tf.Tensor) -> dict:
        example = tf.io.parse_example(serialized, spec)
        choice = tf.random.stateless_uniform([2, batch_size], seed=tf.stack([seed, step]),
                                             maxval=views, dtype=tf.int32)  # (2, B) view indices
        images = example["images"]  # (B, V) PNG bytes
        positive = tf.gather(images, choice[0], batch_dims=1)  # (B,) a view of object i
        negative = tf.gather(tf.roll(images, -1, axis=0), choice[1], batch_dims=1)  # (B,) a view of object i+1
        return {"voxels": unpack_voxels(example["voxels"], voxel_res),  # (B, R, R, R)
                "positive": decode_images(positive, image_size),  # (B, S, S, 3)
                "negative": decode_images(negative, image_size)}  # (B, S, S, 3)

    def epoch(index: tf.Tensor) -> tf.data.Dataset:
        """One pass in an order fixed by (seed, epoch), with no iterator state: extra iterators change nothing."""
        order = tf.random.experimental.stateless_shuffle(tf.constant(files), seed=tf.stack([index, seed]))
        return (tf.data.Dataset.from_tensor_slices(order)
                .interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(shuffle_buffer).enumerate()  # shuffle within blocks of `shuffle_buffer` records
                .map(lambda block, records: tf.random.experimental.stateless_shuffle(
                    records, seed=tf.stack([index * 1_000_003 + block, seed])))
                .unbatch()
                .batch(batch_size, drop_remainder=True))  # batches never straddle epochs: B distinct objects

    return (tf.data.Dataset.counter().flat_map(epoch).skip(start_step).enumerate(start_step)
            .map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))

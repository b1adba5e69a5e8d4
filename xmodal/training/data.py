"""tf.data input from the TFRecords of docs/format.md: triplet batches and P x K object-view batches.

Each epoch reads the shards in a random order and shuffles records within blocks of
`shuffle_buffer`; a batch holds distinct objects. Every random choice is a stateless function of
(seed, epoch) or (seed, step), so a stream is deterministic for a seed, and a resumed run
(`start_step`) sees exactly the batches an uninterrupted one would, however many iterators Keras
opens on the dataset. Training streams may leave out objects (`exclude`: the validation objects),
draw each batch from one category (`same_category`: harder negatives) and augment each batch
(`xmodal.augmentation.augment`, seeded by the same (seed, step)).

- `triplets`: object i gives the anchor voxels and a random view as the positive; a random view
  of object i+1 of the same batch (another object) is its negative (the report's triplets).
- `object_views`: P objects, each with its voxels and K distinct random views, for the losses
  that compare every pair of the batch.
"""
import collections
import dataclasses
from typing import Callable

import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import object_count, shard_paths
from tfrecords_tools.dataset.read import reading
from tfrecords_tools.dataset.records import decode_images, decode_rgba, parse_spec, unpack_voxels
from tfrecords_tools.dataset.validate import check_dataset
from xmodal.augmentation.augment import Augmentation, augment_batch


def string_feature(record: tf.Tensor, name: str) -> tf.Tensor:
    """One string feature of one serialized record, parsed alone."""
    return tf.io.parse_single_example(record, {name: tf.io.FixedLenFeature([], tf.string)})[name]


def object_id(record: tf.Tensor) -> tf.Tensor:
    """The object_id of one serialized record."""
    return string_feature(record, "object_id")


def category_key(record: tf.Tensor) -> tf.Tensor:
    """An int64 key of the category of one serialized record."""
    return tf.strings.to_hash_bucket_fast(string_feature(record, "category"), 1 << 40)


def member(ids: tuple[str, ...]) -> Callable[[tf.Tensor], tf.Tensor]:
    """A predicate on serialized records: whether the record's object_id is one of `ids`."""
    wanted = tf.constant(ids, tf.string)
    return lambda record: tf.reduce_any(tf.equal(object_id(record), wanted))


def category_counts(data_dir: str, manifest: dict, split: str, exclude: tuple[str, ...]) -> collections.Counter:
    """Objects per category (bytes) of one split, leaving out the `exclude` object ids; a corrupted record is a
    UserError naming its shard."""
    files = [str(path) for path in shard_paths(data_dir, manifest, split)]
    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in ("object_id", "category")}
    parsed = tf.data.TFRecordDataset(files).batch(1024).map(lambda records: tf.io.parse_example(records, spec))
    left_out = {i.encode() for i in exclude}
    with reading(data_dir):
        return collections.Counter(category for batch in parsed.as_numpy_iterator()
                                   for object_id, category in zip(batch["object_id"], batch["category"])
                                   if object_id not in left_out)


def split_categories(data_dir: str, manifest: dict, split: str) -> set[str]:
    """The categories of the objects of one split."""
    return {category.decode() for category in category_counts(data_dir, manifest, split, ())}


def grouped(records: tf.data.Dataset, objects: int, same_category: bool) -> tf.data.Dataset:
    """Batches of `objects` records in their order, of one category each if asked; remainders are dropped."""
    if not same_category:
        return records.batch(objects, drop_remainder=True)
    return records.group_by_window(category_key, lambda _, group: group.batch(objects, drop_remainder=True),
                                   window_size=objects)


@dataclasses.dataclass(frozen=True)
class Stream:
    """How a training or test stream reads: where it starts, what it leaves out, how it augments."""

    seed: int = 0
    start_step: int = 0
    shuffle_buffer: int = 256
    exclude: tuple[str, ...] = ()  # object ids left out (the validation objects)
    augmentation: Augmentation = Augmentation()
    same_category: bool = False  # each batch of one category (harder negatives); smaller categories drop out


def object_batches(data_dir: str, split: str, objects: int, voxel_res: int, image_size: int, stream: Stream,
                   make: Callable) -> tf.data.Dataset:
    """Endless make(step, parsed batch of `objects` distinct objects, views), augmented, from the start step on."""
    manifest = check_dataset(data_dir, voxel_res, image_size)
    count = object_count(manifest, split) - len(stream.exclude)
    if count < max(objects, 2):
        raise UserError(f"split {split!r} of {data_dir} has {count} objects; a batch needs {max(objects, 2)} "
                        "distinct objects: use smaller batches or convert more objects")
    files = [str(p) for p in shard_paths(data_dir, manifest, split)]
    if stream.same_category and max(category_counts(data_dir, manifest, split, stream.exclude).values(),
                                    default=0) < objects:
        raise UserError(f"--same-category: no category of split {split!r} of {data_dir} has the {objects} objects "
                        "of a batch: use smaller batches or train without --same-category")
    spec, views = parse_spec(manifest["views"]), manifest["views"]
    seed, shuffle_buffer = tf.constant(stream.seed, tf.int64), stream.shuffle_buffer

    def epoch(index: tf.Tensor) -> tf.data.Dataset:
        """One pass in an order fixed by (seed, epoch), with no iterator state."""
        order = tf.random.experimental.stateless_shuffle(tf.constant(files), seed=tf.stack([index, seed]))
        records = (tf.data.Dataset.from_tensor_slices(order)
                   .interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                               num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
        if stream.exclude:
            excluded = member(stream.exclude)
            records = records.filter(lambda record: ~excluded(record))
        shuffled = (records
                    .batch(shuffle_buffer).enumerate()  # shuffle within blocks of `shuffle_buffer` records
                    .map(lambda block, records: tf.random.experimental.stateless_shuffle(
                        records, seed=tf.stack([index * 1_000_003 + block, seed])))
                    .unbatch())
        return grouped(shuffled, objects, stream.same_category)  # never straddling epochs: distinct objects

    decode = decode_rgba if stream.augmentation.masks else decode_images  # alpha: the coverage, for backgrounds

    def parse(step: tf.Tensor, serialized: tf.Tensor) -> dict:
        step_seed = tf.stack([seed, step])
        batch = make(step_seed, tf.io.parse_example(serialized, spec), views, decode)
        if not stream.augmentation.active:
            return batch
        return augment_batch(batch, tf.random.experimental.stateless_fold_in(step_seed, 1), stream.augmentation)

    start_step = stream.start_step
    return (tf.data.Dataset.counter().flat_map(epoch).skip(start_step).enumerate(start_step)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def triplets(data_dir: str, split: str, batch_size: int, voxel_res: int, image_size: int,
             stream: Stream = Stream()) -> tf.data.Dataset:
    """Endless batches {voxels uint8 (B,R,R,R), positive uint8 (B,S,S,3), negative uint8 (B,S,S,3)}."""

    def make(step_seed: tf.Tensor, example: dict, views: int, decode: Callable) -> dict:
        choice = tf.random.stateless_uniform([2, batch_size], seed=step_seed, maxval=views, dtype=tf.int32)  # (2, B)
        images = example["images"]  # (B, V) PNG bytes
        positive = tf.gather(images, choice[0], batch_dims=1)  # (B,) a view of object i
        negative = tf.gather(tf.roll(images, -1, axis=0), choice[1], batch_dims=1)  # (B,) a view of object i+1
        return {"voxels": unpack_voxels(example["voxels"], voxel_res),  # (B, R, R, R)
                "positive": decode(positive, image_size),  # (B, S, S, 3), or 4 with the coverage
                "negative": decode(negative, image_size)}  # (B, S, S, 3), or 4

    return object_batches(data_dir, split, batch_size, voxel_res, image_size, stream, make)


def object_views(data_dir: str, split: str, objects: int, views_per_object: int, voxel_res: int, image_size: int,
                 stream: Stream = Stream()) -> tf.data.Dataset:
    """Endless batches {voxels uint8 (P,R,R,R), images uint8 (P,K,S,S,3)}: K distinct views of each of P objects."""

    def make(step_seed: tf.Tensor, example: dict, views: int, decode: Callable) -> dict:
        if views_per_object > views:
            raise UserError(f"--views-per-object {views_per_object} exceeds the {views} views of {data_dir}")
        keys = tf.random.stateless_uniform([objects, views], seed=step_seed)
        chosen = tf.argsort(keys, axis=1)[:, :views_per_object]  # (P, K) distinct view indices
        pngs = tf.reshape(tf.gather(example["images"], chosen, batch_dims=1), [-1])  # (P * K,)
        images = decode(pngs, image_size)  # (P * K, S, S, C): RGB, or RGBA with the coverage
        return {"voxels": unpack_voxels(example["voxels"], voxel_res),  # (P, R, R, R)
                "images": tf.reshape(images, [objects, views_per_object, image_size, image_size, images.shape[-1]])}

    return object_batches(data_dir, split, objects, voxel_res, image_size, stream, make)

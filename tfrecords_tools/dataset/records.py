"""The record format in code: one tf.train.Example per object (documented in docs/format.md)."""
import numpy as np
import tensorflow as tf

from tfrecords_tools.meshes.objects import ObjectRecord

FORMAT_VERSION = 3  # 3: RGBA renders, alpha the object's coverage; 2: RGB renders framed by the bounding sphere
READABLE_VERSIONS = (2, 3)  # the format versions readers accept: 2 has the same records without masks
FEATURES = {
    "object_id": "bytes",
    "category": "bytes",
    "voxel_res": "int64",
    "voxels": "bytes: np.packbits of the C-order flattened bool grid [x, y, z], y up",
    "images": "bytes list: V RGBA PNG images (S, S, 4): RGB the render over its background, alpha the object's "
              "coverage (its mask)",
    "viewpoints": "float list: V x 4 (azimuth, elevation, in-plane rotation in degrees, distance)",
}
BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)  # (256, 8): each byte's bits, MSB first


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def encode_example(record: ObjectRecord) -> bytes:
    """The serialized tf.train.Example of one object."""
    feature = {
        "object_id": _bytes([record.object_id.encode()]),
        "category": _bytes([record.category.encode()]),
        "voxel_res": tf.train.Feature(int64_list=tf.train.Int64List(value=[record.voxel_res])),
        "voxels": _bytes([record.voxels]),
        "images": _bytes(list(record.images)),
        "viewpoints": tf.train.Feature(float_list=tf.train.FloatList(value=record.viewpoints)),
    }
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)  # map keys sorted: the same bytes in every process


def parse_spec(views: int) -> dict:
    """The tf.io parsing spec of a dataset with `views` images per object."""
    return {
        "object_id": tf.io.FixedLenFeature([], tf.string),
        "category": tf.io.FixedLenFeature([], tf.string),
        "voxel_res": tf.io.FixedLenFeature([], tf.int64),
        "voxels": tf.io.FixedLenFeature([], tf.string),
        "images": tf.io.FixedLenFeature([views], tf.string),
        "viewpoints": tf.io.FixedLenFeature([views * 4], tf.float32),
    }


def unpack_voxels(packed: tf.Tensor, res: int) -> tf.Tensor:
    """uint8 occupancy (..., R, R, R) from packbits bytes (...,), inside the graph."""
    raw = tf.io.decode_raw(packed, tf.uint8)  # (..., R^3 / 8)
    bits = tf.gather(tf.constant(BYTE_BITS), tf.cast(raw, tf.int32))  # (..., R^3 / 8, 8)
    return tf.reshape(bits, tf.concat([tf.shape(packed), [res, res, res]], axis=0))


def has_masks(manifest: dict) -> bool:
    """Whether a dataset's images carry the object's coverage mask as alpha (format version 3 on)."""
    return manifest["format_version"] >= 3


def _decoded(pngs: tf.Tensor, size: int, channels: int) -> tf.Tensor:
    """uint8 images (N, S, S, channels) from PNG bytes (N,)."""
    images = tf.map_fn(lambda png: tf.io.decode_png(png, channels=channels), pngs,
                       fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))
    return tf.ensure_shape(images, [None, size, size, channels])


def decode_images(pngs: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 RGB images (N, S, S, 3) from PNG bytes (N,); alpha, where there is one, is dropped (the RGB holds the
    background)."""
    return _decoded(pngs, size, 3)


def decode_rgba(pngs: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 RGBA images (N, S, S, 4) from PNG bytes (N,): alpha the coverage mask, or 255 for a PNG without alpha
    (format 2: ask `has_masks` first)."""
    return _decoded(pngs, size, 4)

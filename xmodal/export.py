"""Export of trained encoders: a SavedModel with named signatures, plus the `.keras` encoders.

Signatures (each returns embeddings of 128 floats, compared with Euclidean distance; they are
L2-normalised when the encoders end in the `l2_normalize` layer, as with `--loss info_nce`):
- `embed_voxels(voxels: uint8 (N, R, R, R) in {0, 1})` -> `embedding (N, 128)`
- `embed_images(images: uint8 (N, S, S, 3))` -> `embedding (N, 128)`
- `embed_png(images: string (N,))`: PNG or JPEG bytes of any size, decoded and resized to S x S
  inside the graph -> `embedding (N, 128)`
- `serving_default(examples: string (N,))`: serialized tf.train.Examples of docs/format.md
  -> `voxel_embedding (N, 128)`, `image_embeddings (N, V, 128)`
"""
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from tfrecords_tools.atomic import temporary_name
from tfrecords_tools.records import decode_images, parse_spec, unpack_voxels
from xmodal.versions import next_version, publish, stale_temporaries

SIGNATURES = ("embed_voxels", "embed_images", "embed_png", "serving_default")


def resized(image: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 (S, S, 3) from a decoded uint8 image of any size."""
    image = tf.image.resize(image, [size, size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def checked(x: tf.Tensor, model: keras.Model) -> tf.Tensor:
    """x, or an error that names the expected shape (signatures accept any shape of the right rank)."""
    return tf.ensure_shape(x, model.input.shape, name=f"expected_shape_{model.name}")


def export_archive(voxels: keras.Model, images: keras.Model, views: int) -> keras.export.ExportArchive:
    """The SavedModel archive with all signatures."""
    res, size = voxels.input.shape[1], images.input.shape[1]
    archive = keras.export.ExportArchive()
    archive.track(voxels)
    archive.track(images)

    def embed_png(encoded: tf.Tensor) -> dict:
        decoded = tf.map_fn(lambda b: resized(tf.io.decode_image(b, channels=3, expand_animations=False), size),
                            encoded, fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))  # (N, S, S, 3)
        return {"embedding": images(decoded, training=False)}

    def serve(examples: tf.Tensor) -> dict:
        parsed = tf.io.parse_example(examples, parse_spec(views))
        pictures = decode_images(tf.reshape(parsed["images"], [-1]), size)  # (N * V, S, S, 3)
        return {"voxel_embedding": voxels(unpack_voxels(parsed["voxels"], res), training=False),  # (N, 128)
                "image_embeddings": tf.reshape(images(pictures, training=False), [-1, views, 128])}  # (N, V, 128)

    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None], tf.string, name="examples")])
    archive.add_endpoint("embed_voxels", lambda v: {"embedding": voxels(checked(v, voxels), training=False)},
                         [tf.TensorSpec(voxels.input.shape, tf.uint8, name="voxels")])
    archive.add_endpoint("embed_images", lambda i: {"embedding": images(checked(i, images), training=False)},
                         [tf.TensorSpec(images.input.shape, tf.uint8, name="images")])
    archive.add_endpoint("embed_png", embed_png, [tf.TensorSpec([None], tf.string, name="images")])
    return archive


def write_export(voxels: keras.Model, images: keras.Model, base: str, views: int) -> str:
    """Write a new version `base/<n>/` (the SavedModel and the two `.keras` encoders) atomically; return its path."""
    out = Path(base)
    out.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(out):  # left by exports that were killed
        shutil.rmtree(stale)
    tmp = temporary_name(out / str(next_version(out)))
    shutil.rmtree(tmp, ignore_errors=True)
    export_archive(voxels, images, views).write_out(str(tmp), verbose=False)
    voxels.save(tmp / "voxel_encoder.keras")
    images.save(tmp / "image_encoder.keras")
    return str(publish(tmp, out))

"""Export of trained encoders: a SavedModel with named signatures, plus the `.keras` encoders.

Signatures (each returns embeddings of 128 floats, compared with Euclidean distance; they are
L2-normalised when the encoders end in the `l2_normalize` layer, as with `--loss info_nce`, and
mirror-averaged (xmodal.training.symmetry) unless the run was trained with `--no-mirror-average`; the
`.keras` encoders give the embedding of the input alone):
- `embed_voxels(voxels: uint8 (N, R, R, R) in {0, 1})` -> `embedding (N, 128)`; other values are an
  InvalidArgumentError
- `embed_images(images: uint8 (N, S, S, 3))` -> `embedding (N, 128)`
- `embed_png(images: string (N,))`: PNG or JPEG bytes of any size (8 or 16 bits, grey or colour;
  transparency composited on white), decoded, resized to fit S x S keeping the aspect ratio and padded to the
  square with white inside the graph (letterboxed, never stretched) -> `embedding (N, 128)`
- `serving_default(examples: string (N,))`: serialized tf.train.Examples of docs/format.md
  -> `voxel_embedding (N, 128)`, `image_embeddings (N, V, 128)`
An empty batch gives (0, 128) (and (0, V, 128)).
Beside them, `training.json` (which step, how it validated) and `calibration.json` (xmodal.serving.calibration: the
distances between the test split's pictures and their own shapes, which give search results a confidence).
"""
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from tfrecords_tools.dataset.atomic import temporary_name
from tfrecords_tools.dataset.manifest import write_json_atomic
from tfrecords_tools.dataset.records import decode_images, parse_spec, unpack_voxels
from xmodal.serving.calibration import CALIBRATION, measured
from xmodal.serving.inputs import SIGNATURES, binary_voxels, pictures, unless_empty
from xmodal.training.symmetry import IMAGE_AXIS, VOXEL_AXIS, embed
from xmodal.serving.versions import next_version, publish, stale_temporaries


def checked(x: tf.Tensor, model: keras.Model) -> tf.Tensor:
    """x, or an error that names the expected shape (signatures accept any shape of the right rank)."""
    return tf.ensure_shape(x, model.input.shape, name=f"expected_shape_{model.name}")


def export_archive(voxels: keras.Model, images: keras.Model, views: int,
                   mirror_average: bool) -> keras.export.ExportArchive:
    """The SavedModel archive with all signatures."""
    res, size = voxels.input.shape[1], images.input.shape[1]
    archive = keras.export.ExportArchive()
    archive.track(voxels)
    archive.track(images)

    def shapes(grids: tf.Tensor) -> tf.Tensor:
        return embed(voxels, grids, VOXEL_AXIS, mirror_average)  # (N, 128)

    def pixels(batch: tf.Tensor) -> tf.Tensor:
        return embed(images, batch, IMAGE_AXIS, mirror_average)  # (N, 128)

    def embed_png(encoded: tf.Tensor) -> dict:
        return {"embedding": unless_empty(lambda: pixels(pictures(encoded, size)), encoded, 128)}

    def serve(examples: tf.Tensor) -> dict:
        parsed = tf.io.parse_example(examples, parse_spec(views))
        flat = tf.reshape(parsed["images"], [-1])  # (N * V,) PNG bytes
        embedded = unless_empty(lambda: pixels(decode_images(flat, size)), flat, 128)  # (N * V, 128)
        return {"voxel_embedding": unless_empty(lambda: shapes(unpack_voxels(parsed["voxels"], res)),
                                                examples, 128),  # (N, 128)
                "image_embeddings": tf.reshape(embedded, [-1, views, 128])}  # (N, V, 128)

    def embed_voxels(v: tf.Tensor) -> dict:
        grids = binary_voxels(checked(v, voxels))  # (N, R, R, R)
        return {"embedding": unless_empty(lambda: shapes(grids), grids, 128)}

    def embed_images(i: tf.Tensor) -> dict:
        batch = checked(i, images)  # (N, S, S, 3)
        return {"embedding": unless_empty(lambda: pixels(batch), batch, 128)}

    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None], tf.string, name="examples")])
    archive.add_endpoint("embed_voxels", embed_voxels, [tf.TensorSpec(voxels.input.shape, tf.uint8, name="voxels")])
    archive.add_endpoint("embed_images", embed_images, [tf.TensorSpec(images.input.shape, tf.uint8, name="images")])
    archive.add_endpoint("embed_png", embed_png, [tf.TensorSpec([None], tf.string, name="images")])
    return archive


def write_export(voxels: keras.Model, images: keras.Model, base: str, views: int, training: dict | None = None,
                 mirror_average: bool = True, data: str = "") -> str:
    """Write a new version `base/<n>/` (the SavedModel, the two `.keras` encoders, `training.json`: which step, how
    it validated, whether the signatures mirror-average, and `calibration.json` measured on the test split of
    `data` when it has objects) atomically; return its path."""
    out = Path(base)
    out.mkdir(parents=True, exist_ok=True)
    for stale in stale_temporaries(out):  # left by exports that were killed
        shutil.rmtree(stale)
    tmp = temporary_name(out / str(next_version(out)))
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        export_archive(voxels, images, views, mirror_average).write_out(str(tmp), verbose=False)
        voxels.save(tmp / "voxel_encoder.keras")
        images.save(tmp / "image_encoder.keras")
        write_json_atomic(tmp / "training.json", {**(training or {}), "mirror_average": mirror_average})
        matched = measured(tmp, data) if data else None
        if matched is not None:
            write_json_atomic(tmp / CALIBRATION, matched)
        return str(publish(tmp, out))
    except BaseException:  # a full disk, Ctrl-C: no half-written version is left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise

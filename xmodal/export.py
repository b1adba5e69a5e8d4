"""Export of trained encoders: a SavedModel with named signatures, plus `.keras` encoders."""
import os
import shutil
from pathlib import Path

import keras
import tensorflow as tf


def write_export(voxels: keras.Model, images: keras.Model, path: str) -> None:
    """Write `path/` (SavedModel with embed_voxels and embed_images) and the two `.keras` encoders, atomically."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    archive = keras.export.ExportArchive()
    archive.track(voxels)
    archive.track(images)
    archive.add_endpoint("embed_voxels", lambda v: {"embedding": voxels(v, training=False)},
                         input_signature=[tf.TensorSpec(voxels.input.shape, tf.uint8, name="voxels")])
    archive.add_endpoint("embed_images", lambda i: {"embedding": images(i, training=False)},
                         input_signature=[tf.TensorSpec(images.input.shape, tf.uint8, name="images")])
    archive.write_out(str(tmp), verbose=False)
    voxels.save(tmp / "voxel_encoder.keras")
    images.save(tmp / "image_encoder.keras")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)

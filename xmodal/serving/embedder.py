"""Embedding with an exported SavedModel (loaded with plain tf.saved_model.load) and embedding whole splits."""
import dataclasses

import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.read import dataset, reading
from tfrecords_tools.dataset.validate import check_dataset
from xmodal.serving.inputs import SIGNATURES
from xmodal.serving.versions import resolve_model

BATCH = 32


@dataclasses.dataclass(frozen=True)
class Embedder:
    """The signatures of an export, with the resolutions they expect."""

    model: object
    voxel_res: int
    image_size: int

    def voxels(self, grids: np.ndarray) -> np.ndarray:
        """(N, 128) embeddings of uint8 voxel grids (N, R, R, R)."""
        signature = self.model.signatures["embed_voxels"]
        return np.concatenate([signature(voxels=tf.constant(grids[i:i + BATCH], tf.uint8))["embedding"].numpy()
                               for i in range(0, len(grids), BATCH)] or [np.zeros((0, 128), np.float32)])

    def images(self, pictures: np.ndarray) -> np.ndarray:
        """(N, 128) embeddings of uint8 images (N, S, S, 3)."""
        signature = self.model.signatures["embed_images"]
        return np.concatenate([signature(images=tf.constant(pictures[i:i + BATCH], tf.uint8))["embedding"].numpy()
                               for i in range(0, len(pictures), BATCH)] or [np.zeros((0, 128), np.float32)])

    def encoded(self, files: list[bytes]) -> np.ndarray:
        """(N, 128) embeddings of PNG or JPEG bytes of any size."""
        return self.model.signatures["embed_png"](images=tf.constant(files))["embedding"].numpy()


def load_embedder(path: str) -> Embedder:
    """An export made by xmodal (a version folder, or a base: its newest version); a UserError when `path` is not one."""
    model = tf.saved_model.load(str(resolve_model(path)))
    missing = [name for name in SIGNATURES if name not in model.signatures]
    if missing:
        raise UserError(f"{path} lacks the signatures {', '.join(missing)}: not an xmodal export of this version")
    voxel_spec = model.signatures["embed_voxels"].structured_input_signature[1]["voxels"]
    image_spec = model.signatures["embed_images"].structured_input_signature[1]["images"]
    return Embedder(model, int(voxel_spec.shape[1]), int(image_spec.shape[1]))


@dataclasses.dataclass(frozen=True)
class SplitEmbeddings:
    """Embeddings of every object's voxels and every view of one split."""

    voxels: np.ndarray  # (N, 128)
    object_ids: np.ndarray  # (N,) str
    categories: np.ndarray  # (N,) str
    images: np.ndarray  # (M, 128)
    image_objects: np.ndarray  # (M,) index into object_ids


def embed_split(embedder: Embedder, data: str, split: str) -> SplitEmbeddings:
    """Embed every object (voxels and all views) of a split."""
    views = check_dataset(data, embedder.voxel_res, embedder.image_size)["views"]
    parts = {"voxels": [], "images": [], "ids": [], "categories": []}
    with reading(data):
        for batch in dataset(data, split).batch(BATCH).as_numpy_iterator():
            n, v = batch["images"].shape[:2]
            parts["voxels"].append(embedder.voxels(batch["voxels"]))  # (n, 128)
            parts["images"].append(embedder.images(batch["images"].reshape(n * v, *batch["images"].shape[2:])))
            parts["ids"] += [i.decode() for i in batch["object_id"]]
            parts["categories"] += [c.decode() for c in batch["category"]]
    if not parts["ids"]:
        raise UserError(f"split {split!r} of {data} is empty")
    return SplitEmbeddings(np.concatenate(parts["voxels"]), np.array(parts["ids"]), np.array(parts["categories"]),
                           np.concatenate(parts["images"]), np.repeat(np.arange(len(parts["ids"])), views))

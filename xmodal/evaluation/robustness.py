"""The robustness benchmark: cross-modal retrieval of an export with every query image perturbed as in
`xmodal.augmentation.perturb.SUITE`, beside the clean renders (`python -m xmodal.evaluate --perturb`).

The voxel grids are embedded once; each split's images are read once (with their coverage masks where the
dataset has them), perturbed batch by batch with a seed fixed by (seed, perturbation, batch), and embedded.
"""
import numpy as np
import tensorflow as tf

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import shard_paths
from tfrecords_tools.dataset.read import reading
from tfrecords_tools.dataset.records import decode_rgba, has_masks, parse_spec, unpack_voxels
from tfrecords_tools.dataset.validate import check_dataset
from xmodal.serving.embedder import BATCH, Embedder
from xmodal.evaluation.metrics import retrieval
from xmodal.augmentation.perturb import available, perturbed, suite_note

KEYS = ("recall@1", "recall@5", "chance_recall@1", "chance_recall@5")


def batches(data: str, split: str, manifest: dict) -> tf.data.Dataset:
    """{voxels (n, R, R, R), images (n * V, S, S, 4) RGBA} batches of a split, in record order."""
    res, size, views = manifest["voxel_res"], manifest["image_size"], manifest["views"]
    spec = parse_spec(views)
    files = [str(p) for p in shard_paths(data, manifest, split)]
    return (tf.data.TFRecordDataset(files).batch(BATCH).map(lambda r: tf.io.parse_example(r, spec))
            .map(lambda e: {"voxels": unpack_voxels(e["voxels"], res),
                            "images": decode_rgba(tf.reshape(e["images"], [-1]), size)}))


def both_ways(voxels: np.ndarray, images: np.ndarray, views: int) -> dict:
    """Recall@1/@5 and their chance levels, image->voxel and voxel->image."""
    labels = np.arange(len(voxels))
    image_labels = np.repeat(labels, views)
    return {"image_to_voxel": {k: v for k, v in retrieval(images, image_labels, voxels, labels).items() if k in KEYS},
            "voxel_to_image": {k: v for k, v in retrieval(voxels, labels, images, image_labels).items() if k in KEYS}}


def robustness(embedder: Embedder, data: str, split: str = "test", seed: int = 0,
               photos: np.ndarray | None = None) -> dict:
    """{perturbations: {name: metrics, with each Recall@1 also as a fraction of the clean one}, note, n_objects}."""
    manifest = check_dataset(data, embedder.voxel_res, embedder.image_size)
    masks, views = has_masks(manifest), manifest["views"]
    suite = available(masks)
    photo_tensor = None if photos is None else tf.constant(photos)
    voxels, images = [], {name: [] for name in suite}
    with reading(data):
        for index, batch in enumerate(batches(data, split, manifest)):
            voxels.append(embedder.voxels(batch["voxels"].numpy()))
            rgb, alpha = batch["images"][..., :3], batch["images"][..., 3:]
            for number, (name, p) in enumerate(suite.items()):
                batch_seed = tf.constant([seed * 1_000_003 + number, index], tf.int64)
                images[name].append(embedder.images(perturbed(rgb, alpha, p, batch_seed, photo_tensor).numpy()))
    if not voxels:
        raise UserError(f"split {split!r} of {data} is empty")
    voxels = np.concatenate(voxels)
    results = {name: both_ways(voxels, np.concatenate(parts), views) for name, parts in images.items()}
    for metrics in results.values():
        for way in ("image_to_voxel", "voxel_to_image"):
            clean = results["clean"][way]["recall@1"]
            metrics[way]["of_clean@1"] = metrics[way]["recall@1"] / clean if clean else float("nan")
    return {"perturbations": results, "note": suite_note(masks, photos is not None), "n_objects": len(voxels),
            "views": views}


def robustness_table(report: dict) -> str:
    """The benchmark as a text table: Recall@1/@5 both ways and Recall@1 as a fraction of clean."""
    lines = [f"{'query':22}{'i->v R@1':>9}{'R@5':>7}{'of clean':>9}{'v->i R@1':>10}{'R@5':>7}{'of clean':>9}"]
    for name, m in report["perturbations"].items():
        iv, vi = m["image_to_voxel"], m["voxel_to_image"]
        lines.append(f"{name:22}{iv['recall@1']:9.3f}{iv['recall@5']:7.3f}{iv['of_clean@1']:9.2f}"
                     f"{vi['recall@1']:10.3f}{vi['recall@5']:7.3f}{vi['of_clean@1']:9.2f}")
    clean = report["perturbations"]["clean"]
    lines.append(f"{'chance':22}{clean['image_to_voxel']['chance_recall@1']:9.3f}"
                 f"{clean['image_to_voxel']['chance_recall@5']:7.3f}{'':9}"
                 f"{clean['voxel_to_image']['chance_recall@1']:10.3f}{clean['voxel_to_image']['chance_recall@5']:7.3f}")
    lines.append(f"{report['n_objects']} objects, {report['views']} views each")
    if report["note"]:
        lines.append(f"note: {report['note']}")
    return "\n".join(lines)

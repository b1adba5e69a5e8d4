"""`inspect`: verify shards against the manifest, summarise, and draw renders beside their voxels."""
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from tfrecords_tools.atomic import atomic_file
from tfrecords_tools.errors import UserError
from tfrecords_tools.manifest import read_manifest, shard_paths
from tfrecords_tools.objects import render_voxels
from tfrecords_tools.read import dataset
from tfrecords_tools.shards import sha256
from tfrecords_tools.workers import imap_spawned

GRID_VIEWS = 4  # renders shown per object in the grid


def count_records(path: Path) -> int:
    """Number of records in one shard; tf.errors.DataLossError when it is corrupt."""
    return int(tf.data.TFRecordDataset(str(path)).reduce(np.int64(0), lambda n, _: n + 1))


def shard_problem(path: Path, shard: dict) -> str | None:
    """What is wrong with one shard compared to its manifest entry, or None."""
    if not path.is_file():
        return f"{path}: missing"
    if path.stat().st_size != shard["bytes"]:
        return f"{path}: {path.stat().st_size} bytes, manifest says {shard['bytes']} (truncated or replaced)"
    if sha256(path) != shard["sha256"]:
        return f"{path}: SHA-256 differs from the manifest (corrupted)"
    try:
        count = count_records(path)
    except tf.errors.DataLossError as error:
        return f"{path}: unreadable records: {error.message.splitlines()[0]}"
    return None if count == shard["objects"] else f"{path}: {count} records, manifest says {shard['objects']}"


def verify(data_dir: str) -> dict:
    """Check every shard's size, SHA-256 and record count; a UserError names each bad shard."""
    manifest = read_manifest(data_dir)
    problems = [problem for split in manifest["splits"]
                for path, shard in zip(shard_paths(data_dir, manifest, split), manifest["splits"][split]["shards"])
                if (problem := shard_problem(path, shard))]
    if problems:
        raise UserError(f"{len(problems)} bad shard(s): " + "; ".join(problems))
    return manifest


def summary(manifest: dict) -> str:
    """A few lines describing the dataset."""
    splits = ", ".join(f"{name} {s['objects']} objects in {len(s['shards'])} shard(s)"
                       for name, s in manifest["splits"].items())
    lines = [f"format v{manifest['format_version']}: {splits}",
             f"voxels {manifest['voxel_res']}^3, {manifest['views']} views of {manifest['image_size']}^2 px, "
             f"background {manifest['background']}, viewpoints {manifest['viewpoints']}, seed {manifest['seed']}",
             f"skipped inputs: {len(manifest['skipped'])}"]
    lines += [f"  {s['path']}: {s['reason']}" for s in manifest["skipped"]]
    lines += [f"warning: {w['object_id']}: {w['warning']}" for w in manifest.get("warnings", [])]
    return "\n".join(lines)


def draw_grid(data_dir: str, out: str, split: str, objects: int = 4) -> None:
    """A PNG with one row per object: a rendering of its voxel grid, then its first renders."""
    rows = list(dataset(data_dir, split).take(objects).as_numpy_iterator())
    if not rows:
        raise UserError(f"split {split!r} of {data_dir} is empty: nothing to draw")
    size = rows[0]["images"].shape[1]
    jobs = [(row["voxels"].astype(bool), row["viewpoints"][0], size) for row in rows]
    pictures = list(imap_spawned(render_voxels, jobs, workers=1))
    grid = np.concatenate([np.concatenate([picture, *row["images"][:GRID_VIEWS]], axis=1)
                           for picture, row in zip(pictures, rows)], axis=0)
    with atomic_file(out) as tmp:
        Image.fromarray(grid).save(tmp)
    print(f"wrote {out}: per row, the voxel grid then {min(GRID_VIEWS, len(rows[0]['images']))} renders")

"""`inspect`: verify shards against the manifest, summarise, and draw renders beside their voxels."""
from pathlib import Path

import numpy as np

from tfrecords_tools.dataset.atomic import atomic_file
from tfrecords_tools.captions import captioned, stacked
from tfrecords_tools.config import RENDER_FLAGS, flag
from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import read_manifest, skipped_by_reason
from tfrecords_tools.meshes.objects import render_voxels
from tfrecords_tools.dataset.read import dataset, reading
from tfrecords_tools.dataset.records import has_masks
from tfrecords_tools.dataset.shards import sha256
from tfrecords_tools.dataset.validate import (check_shards, checked_manifest, file_problem, record_count, record_problem,
                                      unreadable_record)
from tfrecords_tools.workers import imap_spawned

GRID_VIEWS = 4  # renders shown per object in the grid


def shard_problem(path: Path, shard: dict, manifest: dict) -> str | None:
    """What is wrong with one shard: its file, checksum, record count, or its first record against the manifest."""
    problem = file_problem(path, shard)
    if problem:
        return problem
    if sha256(path) != shard["sha256"]:
        return unreadable_record(path) or f"{path}: SHA-256 differs from the manifest (corrupted)"
    try:
        count = record_count(path)
    except UserError as error:
        return str(error)
    if count != shard["objects"]:
        return f"{path}: {count} records, manifest says {shard['objects']}"
    return record_problem(path, manifest)


def verify(data_dir: str) -> dict:
    """The manifest, each shard's size, SHA-256, record count and first record checked; a UserError names each bad one."""
    manifest = checked_manifest(data_dir)
    check_shards(data_dir, manifest, lambda path, shard: shard_problem(path, shard, manifest))
    return manifest


def randomisation(manifest: dict) -> str:
    """The render randomisation flags a dataset was converted with (none in format 2), as `--flag value`s or `none`."""
    config = manifest.get("config", {})
    return ", ".join(f"{flag(name)} {config[name]:g}" for name in RENDER_FLAGS if config.get(name)) or "none"


def up_axis(manifest: dict) -> str:
    """The mesh files' axis that was turned to +y (`--up`; y for datasets converted before the flag)."""
    return manifest.get("up", "y")


def summary(manifest: dict) -> str:
    """A few lines describing the dataset."""
    splits = ", ".join(f"{name} {s['objects']} objects in {len(s['shards'])} shard(s)"
                       for name, s in manifest["splits"].items())
    lines = [f"format v{manifest['format_version']}: {splits}",
             f"voxels {manifest['voxel_res']}^3, {manifest['views']} views of {manifest['image_size']}^2 px, "
             f"background {manifest['background']}, viewpoints {manifest['viewpoints']}, seed {manifest['seed']}, "
             f"up: the meshes' {up_axis(manifest)} axis",
             f"images: {'RGBA, alpha the coverage mask' if has_masks(manifest) else 'RGB, no coverage mask'}; "
             f"render randomisation: {randomisation(manifest)}",
             f"skipped inputs: {len(manifest['skipped'])}"]
    lines += skipped_by_reason(manifest["skipped"])
    lines += [f"warning: {w['object_id']}: {w['warning']}" for w in manifest.get("warnings", [])]
    return "\n".join(lines)


def row_caption(row: dict, up: str) -> str:
    """The caption of one object's row in the grid: its id, category and the meshes' axis turned up."""
    return f"{row['object_id'].decode()} ({row['category'].decode()}; up: {up})"


def draw_grid(data_dir: str, out: str, split: str, objects: int = 4) -> None:
    """A PNG with one row per object under its id, category and up axis: a rendering of its voxel grid, then its first
    renders."""
    with reading(data_dir):
        rows = list(dataset(data_dir, split).take(objects).as_numpy_iterator())
    up = up_axis(read_manifest(data_dir))
    if not rows:
        raise UserError(f"split {split!r} of {data_dir} is empty: nothing to draw")
    size = rows[0]["images"].shape[1]
    jobs = [(row["voxels"].astype(bool), row["viewpoints"][0], size) for row in rows]
    pictures = list(imap_spawned(render_voxels, jobs, workers=1))
    font_size = max(11, size // 24)
    grid = stacked([captioned(np.concatenate([picture, *row["images"][:GRID_VIEWS]], axis=1),  # (S, (1 + V) S, 3)
                              [row_caption(row, up)], font_size)
                    for picture, row in zip(pictures, rows)])
    with atomic_file(out) as tmp:
        grid.save(tmp)
    print(f"wrote {out}: {len(rows)} objects; per row, the object's id, category and up axis, the voxel grid, "
          f"then {min(GRID_VIEWS, len(rows[0]['images']))} renders")

"""A converted dataset validated in one place: manifest schema, shard files, and the first record of each shard.

Every reader (inspect, fit, evaluate, embed, retrieve, the Beam pipeline) calls these checks, so a
dataset that does not match its manifest fails with one line naming the key, shard or record.
They stay cheap: one record per shard; checksums and record counts are `inspect`'s.
"""
import io
import re
from pathlib import Path
from typing import Callable

import tensorflow as tf
from google.protobuf.message import DecodeError
from PIL import Image, UnidentifiedImageError

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.manifest import MANIFEST, read_manifest, shard_paths
from tfrecords_tools.dataset.records import READABLE_VERSIONS, has_masks

MANIFEST_KEYS = {"format_version": int, "seed": int, "voxel_res": int, "image_size": int, "views": int,
                 "background": str, "viewpoints": str, "splits": dict, "skipped": list}
SPLIT_KEYS = {"objects": int, "shards": list}
SHARD_KEYS = {"file": str, "objects": int, "bytes": int, "sha256": str}
SKIPPED_KEYS = {"path": str, "reason": str}
TYPE_NAMES = {int: "an integer", str: "a string", dict: "an object", list: "a list"}
READ_ERROR = re.compile(r"\w+ record at \d+")  # "corrupted record at 49030": TensorFlow names the byte offset


def key_problem(where: str, entry: object, keys: dict, document: str = "the manifest") -> str | None:
    """The first key of `keys` missing from `entry` (found at `where`, "" at the top of `document`) or of another
    type, or None."""
    if not isinstance(entry, dict):
        return f"{where or document} must be a JSON object, not {type(entry).__name__}"
    for key, kind in keys.items():
        name = f"{where}.{key}" if where else key
        if key not in entry:
            return f"key {name} is missing"
        if not isinstance(entry[key], kind) or (kind is int and isinstance(entry[key], bool)):
            return f"key {name} must be {TYPE_NAMES[kind]}, not {type(entry[key]).__name__} {entry[key]!r}"
    return None


def value_problem(manifest: dict) -> str | None:
    """The first top-level value out of range, or None."""
    if manifest["format_version"] not in READABLE_VERSIONS:
        return (f"format_version {manifest['format_version']}: this code reads versions "
                f"{' and '.join(map(str, READABLE_VERSIONS))}")
    if manifest["voxel_res"] < 2 or manifest["voxel_res"] % 2:
        return f"voxel_res {manifest['voxel_res']} must be a positive even number"
    if manifest["image_size"] < 1 or manifest["views"] < 1:
        return f"image_size {manifest['image_size']} and views {manifest['views']} must be positive"
    return None


def shard_entry_problem(where: str, shard: object) -> str | None:
    """The first problem of one shard's manifest entry (keys, types, a file name inside the folder, counts), or None."""
    problem = key_problem(where, shard, SHARD_KEYS)
    if problem:
        return problem
    if Path(shard["file"]).name != shard["file"] or shard["file"] in ("", ".", ".."):
        return f"{where}.file {shard['file']!r} must be a file name inside the dataset folder"
    if min(shard["objects"], shard["bytes"]) < 0:
        return f"{where}: objects and bytes must not be negative"
    return None


def split_problem(name: str, split: object) -> str | None:
    """The first problem of one split's entry: its keys, its shards' entries, its object count, or None."""
    problem = key_problem(f"splits.{name}", split, SPLIT_KEYS)
    if problem:
        return problem
    for index, shard in enumerate(split["shards"]):
        problem = shard_entry_problem(f"splits.{name}.shards[{index}]", shard)
        if problem:
            return problem
    held = sum(shard["objects"] for shard in split["shards"])
    return None if split["objects"] == held else f"splits.{name}.objects is {split['objects']}, its shards hold {held}"


def schema_problem(manifest: object) -> str | None:
    """The first missing key, wrong type or insane value of a manifest, or None."""
    problem = key_problem("", manifest, MANIFEST_KEYS) or value_problem(manifest)
    if problem:
        return problem
    splits = (split_problem(name, split) for name, split in manifest["splits"].items())
    skipped = (key_problem(f"skipped[{i}]", entry, SKIPPED_KEYS) for i, entry in enumerate(manifest["skipped"]))
    return next(filter(None, [*splits, *skipped]), None)


def checked_manifest(data_dir: str) -> dict:
    """The manifest of `data_dir`; a UserError naming the file and the first bad key."""
    manifest = read_manifest(data_dir)
    problem = schema_problem(manifest)
    if problem:
        raise UserError(f"{Path(data_dir) / MANIFEST}: {problem}")
    return manifest


def check_resolution(manifest: dict, data_dir: str, voxel_res: int, image_size: int) -> None:
    """A UserError naming both shapes when the data was converted at other resolutions than a model's."""
    if (manifest["voxel_res"], manifest["image_size"]) != (voxel_res, image_size):
        raise UserError(f"{data_dir} holds {manifest['voxel_res']}^3 voxels and {manifest['image_size']}^2 images; "
                        f"the model expects {voxel_res}^3 voxels and {image_size}^2 images "
                        f"(convert with --voxel-res {voxel_res} --image-size {image_size}, or use a preset or model "
                        "of the data's resolution)")


def file_problem(path: Path, shard: dict) -> str | None:
    """What is wrong with a shard file compared to its manifest entry (missing, other size), or None."""
    if not path.is_file():
        return f"{path}: missing"
    if path.stat().st_size != shard["bytes"]:
        return f"{path}: {path.stat().st_size} bytes, manifest says {shard['bytes']} (truncated or replaced)"
    return None


def read_reason(error: tf.errors.OpError) -> str:
    """TensorFlow's reason for an unreadable record, with its byte offset, without the op's decoration."""
    found = READ_ERROR.search(error.message)
    return found.group(0) if found else error.message.splitlines()[0]


def first_features(path: Path) -> dict | str | None:
    """The features of a shard's first record as Python lists, what makes it unreadable, or None when it is empty."""
    try:
        first = list(tf.data.TFRecordDataset(str(path)).take(1).as_numpy_iterator())
        example = tf.train.Example.FromString(first[0]) if first else None
    except tf.errors.DataLossError as error:
        return f"record index 0 is unreadable ({read_reason(error)})"
    except DecodeError:
        return "record 0 is not a tf.train.Example"
    return None if example is None else {
        name: list(getattr(feature, feature.WhichOneof("kind")).value) if feature.WhichOneof("kind") else []
        for name, feature in example.features.feature.items()}


def image_description(png: bytes) -> str:
    """`W x H px MODE images` from an encoded image's header, or `an undecodable image`."""
    try:
        image = Image.open(io.BytesIO(png))
    except (OSError, UnidentifiedImageError):
        return "an undecodable image"
    return f"{image.width}x{image.height} px {image.mode} images"


def record_problem(path: Path, manifest: dict) -> str | None:
    """What in the first record of a shard disagrees with the manifest's voxel_res, views, image_size and format
    (RGBA images from version 3 on, RGB before), or None."""
    record = first_features(path)
    if record is None or isinstance(record, str):
        return record and f"{path}: {record}"
    missing = [name for name in ("voxel_res", "voxels", "images", "viewpoints") if not record.get(name)]
    if missing:
        return f"{path}: record 0 has no feature {', '.join(missing)}"
    res, views, size = manifest["voxel_res"], manifest["views"], manifest["image_size"]
    if record["voxel_res"][0] != res or len(record["voxels"][0]) * 8 != res**3:
        return (f"{path}: record 0 holds voxel_res {record['voxel_res'][0]} ({len(record['voxels'][0])} voxel bytes), "
                f"the manifest says voxel_res {res} ({res**3 // 8} bytes)")
    if len(record["images"]) != views or len(record["viewpoints"]) != 4 * views:
        return (f"{path}: record 0 holds {len(record['images'])} views ({len(record['viewpoints'])} viewpoint values), "
                f"the manifest says views {views}")
    held, mode = image_description(record["images"][0]), "RGBA" if has_masks(manifest) else "RGB"
    if held != f"{size}x{size} px {mode} images":
        return (f"{path}: record 0 holds {held}, the manifest says image_size {size} and format_version "
                f"{manifest['format_version']} ({mode})")
    return None


def shard_entries(data_dir: str, manifest: dict) -> list[tuple[Path, dict]]:
    """(path, manifest entry) of every shard of every split."""
    return [(path, shard) for split in manifest["splits"]
            for path, shard in zip(shard_paths(data_dir, manifest, split), manifest["splits"][split]["shards"])]


def check_shards(data_dir: str, manifest: dict, problem: Callable[[Path, dict], str | None], advice: str = "") -> None:
    """A UserError naming every shard in which `problem(path, manifest entry)` finds something wrong."""
    problems = [found for path, shard in shard_entries(data_dir, manifest) if (found := problem(path, shard))]
    if problems:
        raise UserError(f"{len(problems)} bad shard(s): " + "; ".join(problems) + advice)


def check_dataset(data_dir: str, voxel_res: int | None = None, image_size: int | None = None) -> dict:
    """The validated manifest: schema, the model's resolution when given, shard files, first records."""
    manifest = checked_manifest(data_dir)
    if voxel_res is not None and image_size is not None:
        check_resolution(manifest, data_dir, voxel_res, image_size)
    check_shards(data_dir, manifest, lambda path, shard: file_problem(path, shard) or record_problem(path, manifest),
                 f" (`python -m tfrecords_tools inspect {data_dir}` checks every record)")
    return manifest


def unreadable_record(path: Path) -> str | None:
    """The shard and the index of its first unreadable record, read record by record, or None."""
    index = 0
    try:
        for index, _ in enumerate(tf.data.TFRecordDataset(str(path)), 1):
            pass
    except tf.errors.DataLossError as error:
        return f"{path}: record index {index} is unreadable ({read_reason(error)})"
    return None


def record_count(path: Path) -> int:
    """Number of records in one shard; a UserError naming the shard and its first unreadable record."""
    try:
        return int(tf.data.TFRecordDataset(str(path)).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    except tf.errors.DataLossError as error:
        raise UserError(unreadable_record(path) or f"{path}: {read_reason(error)}") from None


def unreadable_shard(data_dir: str) -> str | None:
    """The first shard of `data_dir` with an unreadable record (scanned record by record), or None."""
    manifest = checked_manifest(data_dir)
    return next(filter(None, (unreadable_record(path) for path, _ in shard_entries(data_dir, manifest))), None)

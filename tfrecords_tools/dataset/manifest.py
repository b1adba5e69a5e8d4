"""manifest.json: the machine-readable description of a converted dataset."""
import json
from collections import defaultdict
from pathlib import Path
from typing import Callable

from tfrecords_tools.dataset.atomic import write_text_atomic
from tfrecords_tools.errors import UserError, first_few

MANIFEST = "manifest.json"
SHOWN_WARNINGS = 10  # warnings (and reasons for skipping) printed by convert and inspect; all are in the manifest


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON under a temporary name, then rename."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json_document(path: Path, missing: str, problem: Callable[[object], str | None], written_by: str) -> dict:
    """A JSON file that `problem` finds nothing wrong with; a UserError saying `missing` when there is none, else
    naming the file and what is wrong (`written_by` says what should have written it)."""
    if not path.is_file():
        raise UserError(missing)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable: {error}") from None
    found = problem(document)
    if found:
        raise UserError(f"{path}: not {written_by}: {found}")
    return document


def read_manifest(data_dir: str) -> dict:
    """The manifest of a converted dataset; a UserError when there is none or it is unreadable."""
    path = Path(data_dir) / MANIFEST
    if not Path(data_dir).is_dir():
        raise UserError(f"data directory {data_dir} does not exist")
    if not path.is_file():
        raise UserError(f"{data_dir} holds no {MANIFEST}: not a converted dataset "
                        "(make one with `python -m tfrecords_tools convert`)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable manifest: {error}") from None


def shard_paths(data_dir: str, manifest: dict, split: str) -> list[Path]:
    """The shard files of one split, in order."""
    if split not in manifest["splits"]:
        raise UserError(f"{data_dir} has no split {split!r}; it has {sorted(manifest['splits'])}")
    return [Path(data_dir) / shard["file"] for shard in manifest["splits"][split]["shards"]]


def object_count(manifest: dict, split: str) -> int:
    """Number of objects in one split (0 when the split is absent)."""
    return manifest["splits"].get(split, {}).get("objects", 0)


def skipped_by_reason(skipped: list[dict]) -> list[str]:
    """Lines counting the skipped inputs per reason, the most frequent first, each with its first paths."""
    paths = defaultdict(list)
    for entry in skipped:
        paths[entry["reason"]].append(entry["path"])
    ranked = sorted(paths.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = [f"  skipped {len(found)}: {reason}: {first_few(found)}" for reason, found in ranked[:SHOWN_WARNINGS]]
    if len(ranked) > SHOWN_WARNINGS:
        lines.append(f"  ... {len(ranked) - SHOWN_WARNINGS} more reasons in {MANIFEST}")
    return lines

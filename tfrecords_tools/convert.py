"""`convert`: a folder of meshes -> sharded TFRecords + manifest.json, resumable and deterministic."""
import contextlib
import dataclasses
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from tfrecords_tools.config import AUTO_VIEWPOINTS, RENDER_FLAGS, VIEWPOINT_SETS, ConvertConfig, flag
from tfrecords_tools.errors import UserError, first_few, space_for
from tfrecords_tools.dataset.lock import output_lock
from tfrecords_tools.dataset.manifest import (MANIFEST, SHOWN_WARNINGS, read_json_document, skipped_by_reason,
                                              write_json_atomic)
from tfrecords_tools.meshes.objects import Skipped, convert_object, grid_digest, warning_entries
from tfrecords_tools.dataset.records import FEATURES, FORMAT_VERSION, encode_example
from tfrecords_tools.meshes.sources import Source, detect_format, discover, unusable_inputs
from tfrecords_tools.dataset.shards import estimated_object_bytes, plan_shards, sha256, shard_name, write_shard
from tfrecords_tools.dataset.validate import key_problem, schema_problem
from tfrecords_tools.meshes.viewpoints import read_viewpoints
from tfrecords_tools.workers import available_cores, imap_spawned

PROGRESS = ".progress"  # per-shard records of finished work, removed once the manifest is written
SPLITS = ("train", "test")  # the order of a shard plan
SHARD_RECORD = {"split": str, "file": str, "objects": int, "bytes": int, "sha256": str, "skipped": list,
                "warnings": list, "grids": dict}  # a finished shard's record in PROGRESS; grids: object id -> digest


def split_objects(sources: list[Source], test_fraction: float, seed: int) -> dict[str, list[Source]]:
    """Train/test split by object: the layout's split where it gives one, else by the seed."""
    free = [s for s in sources if not s.split]
    order = np.random.default_rng(seed).permutation(len(free))
    n_test = int(round(len(free) * test_fraction))
    test = {free[i].object_id for i in order[:n_test]}
    chosen = {s.object_id: s.split or ("test" if s.object_id in test else "train") for s in sources}
    ranked = [free[i] for i in order] + [s for s in sources if s.split]
    return {split: [s for s in ranked if chosen[s.object_id] == split] for split in SPLITS}


def validate(cfg: ConvertConfig) -> None:
    """Reject settings that cannot produce a dataset."""
    if cfg.voxel_res < 2 or cfg.voxel_res % 2:
        raise UserError(f"--voxel-res must be an even number >= 2 (packed bits fill whole bytes), got {cfg.voxel_res}")
    if cfg.image_size < 8 or cfg.views < 1:
        raise UserError(f"--image-size must be >= 8 and --views >= 1, got {cfg.image_size} and {cfg.views}")
    if not 0.0 <= cfg.test_fraction < 1.0:
        raise UserError(f"--test-fraction must be in [0, 1), got {cfg.test_fraction}")
    if cfg.background not in ("random", "white"):
        raise UserError(f"--background must be random or white, got {cfg.background!r}")
    for name, top in RENDER_FLAGS.items():
        if not 0.0 <= getattr(cfg, name) <= top:
            raise UserError(f"{flag(name)} must be from 0 to {top:g}, got {getattr(cfg, name)}")
    if cfg.viewpoints != AUTO_VIEWPOINTS:
        read_viewpoints(cfg.viewpoints)


def with_workers(cfg: ConvertConfig) -> ConvertConfig:
    """cfg with --workers lowered, saying so, to the cores this process may run on (more only cost memory)."""
    cores = available_cores()
    if cfg.workers <= cores:
        return cfg
    print(f"--workers {cfg.workers}: lowered to {cores}, the cores available (more processes would only add memory "
          "and contention)")
    return dataclasses.replace(cfg, workers=cores)


def with_viewpoints(cfg: ConvertConfig, sources: list[Source]) -> ConvertConfig:
    """cfg with `--viewpoints auto` replaced by the shipped set for its objects (cars when all are cars), printed."""
    if cfg.viewpoints != AUTO_VIEWPOINTS:
        return cfg
    name = "cars" if all(s.category == "car" for s in sources) else "generic"
    why = "every object is a car" if name == "cars" else "not every object is a car"
    print(f"--viewpoints {name}: {why} (pass --viewpoints to choose another)")
    return dataclasses.replace(cfg, viewpoints=VIEWPOINT_SETS[name])


def prepared(cfg: ConvertConfig) -> tuple[ConvertConfig, list[Source], list[dict]]:
    """cfg with its layout and viewpoints resolved, the objects to convert, and the inputs skipped while finding
    them; a UserError before any work when there is no object or several inputs give one id."""
    cfg = with_format(cfg)
    sources = discover(cfg.format, cfg.meshes, cfg.synsets, cfg.category)
    return with_viewpoints(cfg, sources), sources, unusable_inputs(cfg.format, cfg.meshes, cfg.synsets)


def with_format(cfg: ConvertConfig) -> ConvertConfig:
    """cfg with `--format auto` replaced by the detected layout, which is printed; a UserError for render
    randomisation on r2n2's renders, which are not ours to render."""
    if cfg.format == "auto":
        cfg = dataclasses.replace(cfg, format=detect_format(cfg.meshes))
        print(f"--format {cfg.format}: detected from the layout of {cfg.meshes} (pass --format to choose another)")
    randomised = [name for name in RENDER_FLAGS if getattr(cfg, name)]
    if cfg.format == "r2n2" and randomised:
        raise UserError(f"--format r2n2 brings its own renders: {flag(randomised[0])} randomises the renders of "
                        "meshes only (leave it at 0)")
    if cfg.format == "r2n2" and cfg.up != "y":
        raise UserError("--format r2n2 brings its own voxels and renders, upright: --up turns meshes only")
    return cfg


def manifest_problem(document: object) -> str | None:
    """What makes a JSON document other than a manifest with its conversion settings, or None."""
    return key_problem("", document, {"config": dict}) or schema_problem(document)


def shard_record(path: Path) -> dict:
    """A finished shard's record in PROGRESS; a UserError naming the file when it is not one of ours."""
    return read_json_document(path, f"{path} is missing", lambda d: key_problem("", d, SHARD_RECORD, "the record"),
                              "a shard record written by convert (remove the folder it is in to start over)")


def check_output(out: Path, identity: dict) -> dict | None:
    """The finished manifest if `out` already holds this conversion; an error if it holds another."""
    recorded, settings = None, out / PROGRESS / "config.json"
    if (out / MANIFEST).is_file():
        recorded = read_json_document(out / MANIFEST, "", manifest_problem, "a manifest written by convert")
    elif settings.is_file():
        recorded = {"config": read_json_document(settings, "", lambda d: key_problem("", d, {}, "the settings"),
                                                 "the settings written by convert")}
    if recorded is not None and recorded["config"] != identity:
        raise UserError(f"{out} holds a conversion with other settings or inputs: choose another --out")
    return recorded if recorded and "splits" in recorded else None


def counted(results: Iterator, bar: tqdm) -> Iterator:
    """Pass results through, advancing the progress bar."""
    for result in results:
        bar.update()
        yield result


def shard_examples(results: Iterator, count: int, skipped: list, warnings: list, grids: dict) -> Iterator[bytes]:
    """Serialized examples of the next `count` results; skipped inputs, warnings and grid digests are collected."""
    for _ in range(count):
        result = next(results)
        if isinstance(result, Skipped):
            skipped.append(dataclasses.asdict(result))
        else:
            warnings += warning_entries(result)
            grids[result.object_id] = grid_digest(result)
            yield encode_example(result)


def convert(cfg: ConvertConfig) -> dict:
    """Run (or resume) a conversion and return its manifest; one run at a time per output folder."""
    validate(cfg)
    cfg = with_workers(cfg)
    with output_lock(cfg.out):
        return write_dataset(cfg)


def write_dataset(cfg: ConvertConfig) -> dict:
    """Convert into `cfg.out`, resuming what an earlier run of the same settings finished."""
    cfg, sources, unusable = prepared(cfg)
    out, identity = Path(cfg.out), cfg.identity()
    done = check_output(out, identity)
    if done is not None:
        print(f"{out} already holds this conversion; nothing to do")
        return require_objects(out, done)
    shards = plan(cfg, sources)
    state = out / PROGRESS
    state.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(".*.tmp-*"), *state.glob(".*.tmp-*")]:  # files an interrupted or failed run left
        if stale.is_file():
            stale.unlink()
    pending = [p for p in shards if not (state / f"{shard_name(*p[:3])}.json").is_file()]
    jobs = [(source, cfg) for *_, items in pending for source in items]
    if len(pending) < len(shards):
        print(f"resuming: {len(shards) - len(pending)} of {len(shards)} shards already written")
    needed = int(len(jobs) * estimated_object_bytes(cfg.voxel_res, cfg.image_size, cfg.views))
    with space_for(out, needed):
        write_json_atomic(state / "config.json", identity)
        write_shards(cfg, pending, jobs)
        entries = [shard_record(state / f"{shard_name(*p[:3])}.json") for p in shards]
        skipped, warnings = [s for e in entries for s in e["skipped"]], [w for e in entries for w in e["warnings"]]
        grids = {object_id: digest for e in entries for object_id, digest in e["grids"].items()}
        manifest = manifest_of(cfg, entries, unusable + skipped, warnings, grids)
        write_json_atomic(out / MANIFEST, manifest)
    shutil.rmtree(state)
    print(report(out, manifest))
    return require_objects(out, manifest)


def write_shards(cfg: ConvertConfig, pending: list[tuple], jobs: list[tuple]) -> None:
    """Convert the objects of the pending shards in worker processes, writing each shard and then its record."""
    out = Path(cfg.out)
    with tqdm(total=len(jobs), desc="convert", unit="obj") as bar, \
            contextlib.closing(imap_spawned(convert_object, jobs, cfg.workers)) as spawned:  # ends workers on errors
        results = counted(spawned, bar)
        for split, index, count, items in pending:
            name, skipped, warnings, grids = shard_name(split, index, count), [], [], {}
            written = write_shard(out / name, shard_examples(results, len(items), skipped, warnings, grids))
            entry = {"split": split, "file": name, "objects": written, "bytes": (out / name).stat().st_size,
                     "sha256": sha256(out / name), "skipped": skipped, "warnings": warnings, "grids": grids}
            write_json_atomic(out / PROGRESS / f"{name}.json", entry)


def require_objects(out: Path, manifest: dict) -> dict:
    """The manifest of a conversion that wrote objects; a UserError naming the first reason when every input failed."""
    if any(manifest["splits"][split]["objects"] for split in SPLITS):
        return manifest
    skipped = manifest["skipped"]
    first = f"; the first, {skipped[0]['path']}: {skipped[0]['reason']}" if skipped else ""
    raise UserError(f"no object converted: all {len(skipped)} inputs were skipped{first} (all listed in {out / MANIFEST})")


def report(out: Path, manifest: dict) -> str:
    """What a finished conversion prints: object counts, skipped inputs by reason, and the first warnings."""
    counts, warnings = {s: manifest["splits"][s]["objects"] for s in SPLITS}, manifest["warnings"]
    lines = [f"wrote {out}: {counts['train']} train, {counts['test']} test objects; {len(manifest['skipped'])} "
             f"inputs skipped, {len(warnings)} warnings (listed in {MANIFEST})"]
    lines += skipped_by_reason(manifest["skipped"])
    lines += [f"  warning: {w['object_id']}: {w['warning']}" for w in warnings[:SHOWN_WARNINGS]]
    if len(warnings) > SHOWN_WARNINGS:
        lines.append(f"  ... {len(warnings) - SHOWN_WARNINGS} more in {MANIFEST}")
    return "\n".join(lines)


def identical_grids(grids: dict[str, str]) -> list[dict]:
    """A warning entry per group of objects with the same voxel grid, on the group's first object, naming the rest."""
    groups = defaultdict(list)
    for object_id, digest in sorted(grids.items()):
        groups[digest].append(object_id)
    return [{"object_id": first, "warning": f"the same voxel grid as {len(rest)} other object(s): {', '.join(rest)}"}
            for first, *rest in groups.values() if rest]


def plan(cfg: ConvertConfig, sources: list[Source]) -> list[tuple[str, int, int, list[Source]]]:
    """(split, shard index, shard count, sources) of every shard, train first."""
    size = estimated_object_bytes(cfg.voxel_res, cfg.image_size, cfg.views)
    return [(split, index, len(shards), items)
            for split, split_items in split_objects(sources, cfg.test_fraction, cfg.seed).items()
            for shards in [plan_shards(split_items, size, cfg.shard_mb)] for index, items in enumerate(shards)]


def manifest_of(cfg: ConvertConfig, entries: list[dict], skipped: list[dict], warnings: list[dict],
                grids: dict[str, str]) -> dict:
    """The manifest of a conversion from its shard entries ({split, file, objects, bytes, sha256}), skipped inputs,
    warnings and voxel grid digests (object id -> digest: identical grids are warned about)."""
    warnings = warnings + identical_grids(grids)
    splits = {split: {"objects": sum(e["objects"] for e in entries if e["split"] == split),
                      "shards": [{k: e[k] for k in ("file", "objects", "bytes", "sha256")}
                                 for e in entries if e["split"] == split]}
              for split in SPLITS}
    return {
        "format_version": FORMAT_VERSION,
        "source": cfg.meshes,
        "seed": cfg.seed,
        "voxel_res": cfg.voxel_res,
        "image_size": cfg.image_size,
        "views": cfg.views,
        "background": cfg.background,
        "viewpoints": Path(cfg.viewpoints).name,
        "up": cfg.up,
        "features": FEATURES,
        "splits": splits,
        "skipped": sorted(skipped, key=lambda s: s["path"]),
        "warnings": sorted(warnings, key=lambda w: (w["object_id"], w["warning"])),
        "config": cfg.identity(),
    }

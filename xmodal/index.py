"""`python -m xmodal.index`: build, grow and describe an index of shapes for `xmodal.retrieve` and `xmodal.serve`.

    build --model EXPORT --data DATA [--data DATA ...] --out INDEX    embed every object's voxels, index them
    build --model EXPORT --builtin --out INDEX                        the built-in cars of `python -m xmodal.fit`
    build --model EXPORT --embeddings SHARDS --out INDEX              index what `pipelines.embed` embedded
    add --index INDEX --data DATA                                     add more objects (the index's export)
    info INDEX                                                        what an index holds and which export made it
"""
import argparse
import dataclasses
import json
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from tfrecords_tools.errors import UserError, add_verbose_flag, run_cli
from tfrecords_tools.dataset.manifest import object_count, read_manifest
from xmodal.training.builtin_data import builtin_dataset
from xmodal.serving.calibration import calibration
from xmodal.training.config import FitConfig
from xmodal.serving.embedder import load_embedder
from xmodal.search.backends import EXACT_BELOW, KINDS
from xmodal.search.entries import Entries, dataset_entries, dataset_splits
from xmodal.search.folder import read_description, write_index
from xmodal.search.provenance import check_same_export, export_identity
from xmodal.search.shards import read_embeddings
from xmodal.serving.versions import MODEL_HELP


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """One build or add."""

    out: str  # the index folder
    model: str = ""  # the export that embeds; empty with `add`: the index's own
    data: tuple[str, ...] = ()  # converted datasets to embed
    builtin: bool = False  # also the built-in dataset of `python -m xmodal.fit` with no --data (made if missing)
    embeddings: tuple[str, ...] = ()  # folders of embedding shards written by pipelines.embed
    splits: tuple[str, ...] = ()  # splits to take from each dataset; empty: all
    kind: str = "auto"  # FAISS index kind: auto (exact below backends.EXACT_BELOW vectors, else hnsw), exact, hnsw
    adding: bool = False


def batches(cfg: IndexConfig, export: dict) -> Iterator[tuple[dict, Iterator[Entries], int]]:
    """(source, its batches of entries, its object count) per dataset or folder of embedding shards."""
    embedder = load_embedder(export["path"]) if cfg.data or cfg.builtin else None
    builtin = (builtin_dataset(FitConfig.synth_objects, embedder.voxel_res, embedder.image_size),) if cfg.builtin else ()
    for data in cfg.data + builtin:
        splits = dataset_splits(data, cfg.splits)
        total = sum(object_count(read_manifest(data), s) for s in splits)
        yield {"data": str(Path(data).resolve()), "splits": splits}, dataset_entries(embedder, data, cfg.splits), total
    for folder in cfg.embeddings:
        made_by, parts, total = read_embeddings(folder)
        check_same_export(made_by, export, f"the embeddings in {folder}")
        yield {"embeddings": str(Path(folder).resolve())}, parts, total


def run(cfg: IndexConfig) -> dict:
    """Build or grow the index; return its last index.json (with `added` and `skipped`)."""
    if not cfg.data and not cfg.embeddings and not cfg.builtin:
        raise UserError("nothing to index: give --data (a converted dataset), --builtin, or --embeddings "
                        "(from pipelines.embed)")
    export = export_identity(cfg.model or read_description(Path(cfg.out))["export"]["path"])
    adding, result = cfg.adding, {}
    for source, parts, total in batches(cfg, export):
        with tqdm(total=total, desc="index", unit="obj") as bar:
            result = write_index(cfg.out, export, counted(parts, bar), source, cfg.kind, adding)
        print(f"{'added' if adding else 'indexed'} {result['added']} objects of {source.get('data') or source['embeddings']}"
              + (f"; {len(result['skipped'])} already in the index were skipped (first: {result['skipped'][0]})"
                 if result["skipped"] else ""))
        adding = True
    print(summary(result))
    return result


def counted(parts: Iterator[Entries], bar: tqdm) -> Iterator[Entries]:
    """The batches, advancing the progress bar."""
    for part in parts:
        bar.update(len(part))
        yield part


def calibration_line(export: dict) -> str:
    """What the export's calibration holds (the confidences of picture queries), or that it has none."""
    matched = calibration(export)
    if matched is None:
        return "calibration: none (an export made before calibration: picture queries get no confidence)"
    return (f"calibration: {len(matched.distances)} matched pairs of the {matched.split} split, distances "
            f"{matched.distances[0]:.4f} to {matched.distances[-1]:.4f}")


def summary(description: dict) -> str:
    """What an index holds, in a few lines."""
    export = description["export"]
    kind = description["kind"]
    params = "" if kind["name"] == "exact" else (f" (M {kind['m']}, efConstruction {kind['ef_construction']}, "
                                                 f"efSearch {kind['ef_search']})")
    categories = ", ".join(f"{name} {count}" for name, count in sorted(description["categories"].items()))
    return "\n".join([f"index: {description['count']} shapes, {description['dim']} dimensions, {kind['name']}{params}",
                      f"categories: {categories}",
                      f"export: {export['path']} (version {export['version']}, sha256 {export['sha256'][:12]})",
                      calibration_line(export),
                      *(f"source: {s.get('data') or s.get('embeddings')} ({s['objects']} objects)"
                        for s in description["sources"])])


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m xmodal.index", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="embed datasets (or read embedding shards) into a new index folder")
    build.add_argument("--model", required=True, help=MODEL_HELP)
    build.add_argument("--out", required=True, help="the new index folder")
    build.add_argument("--kind", choices=("auto", *KINDS), default="auto",
                       help=f"FAISS index: exact, hnsw, or auto (exact below {EXACT_BELOW:,} shapes, hnsw above; "
                            "default)")
    add = commands.add_parser("add", help="add datasets (or embedding shards) to an index")
    add.add_argument("--index", required=True, help="index folder made by `build`")
    add.add_argument("--model", default="", help="the index's export, checked (default: the one it records)")
    for command in (build, add):
        command.add_argument("--data", action="append", default=[], help="converted dataset (repeatable)")
        command.add_argument("--builtin", action="store_true", help="the built-in dataset that `python -m xmodal.fit` "
                             "trains on with no --data, at the export's resolutions (made and cached if missing)")
        command.add_argument("--embeddings", action="append", default=[],
                             help="folder of embedding shards written by `python -m pipelines.embed` (repeatable)")
        command.add_argument("--splits", default="", help="comma-separated splits to take (default: all)")
        add_verbose_flag(command)
    info = commands.add_parser("info", help="what an index holds and which export made it")
    info.add_argument("index", help="index folder")
    info.add_argument("--json", action="store_true", help="print index.json")
    args = parser.parse_args()
    if args.command == "info":
        description = read_description(Path(args.index))
        print(json.dumps(description, indent=2) if args.json else summary(description))
        return
    splits = tuple(s for s in args.splits.split(",") if s)
    run(IndexConfig(out=args.out if args.command == "build" else args.index, model=args.model, data=tuple(args.data),
                    builtin=args.builtin, embeddings=tuple(args.embeddings), splits=splits, kind=getattr(args, "kind", "auto"),
                    adding=args.command == "add"))


if __name__ == "__main__":
    run_cli(main)

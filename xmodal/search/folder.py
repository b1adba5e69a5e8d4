"""Index folders: the FAISS index of a catalogue's embeddings, its entries and thumbnails, and the export that made them.

    INDEX/index.json              written last: kind, size, export, sources, and every file with its SHA-256
    INDEX/vectors-<g>.faiss       the FAISS index of generation g (each `add` makes the next generation)
    INDEX/entries-<g>.npz         per position: object id, category, split, where its two thumbnails are
    INDEX/thumbnails-<g>.bin      the PNG thumbnails that generation g added, never rewritten
    INDEX/.lock                   one writer at a time (tfrecords_tools.dataset.lock)

A reader sees the generation index.json names, whole; a writer killed before it wrote index.json
leaves files that no index.json names, which the next writer removes (only files of these names).
"""
import dataclasses
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import faiss
import numpy as np

from tfrecords_tools.dataset.atomic import atomic_file
from tfrecords_tools.errors import UserError, first_few
from tfrecords_tools.dataset.lock import LOCK, output_lock
from tfrecords_tools.dataset.manifest import read_json_document, write_json_atomic
from tfrecords_tools.dataset.shards import sha256
from tfrecords_tools.dataset.validate import key_problem
from xmodal.search.backends import KINDS, Kind, all_vectors, chosen_kind, filled_index
from xmodal.search.catalogue import Catalogue, Packs
from xmodal.search.entries import Entries, joined
from xmodal.search.provenance import check_same_export, identity_problem

INDEX = "index.json"
FORMAT = 1
OURS = re.compile(r"(vectors-\d+\.faiss|entries-\d+\.npz|thumbnails-\d+\.bin|index\.json|"
                  r"\.[\w-]+\.tmp-\d+\.(faiss|npz|bin|json))")  # what writers make (atomic.temporary_name too)
DESCRIPTION_KEYS = {"format": int, "kind": dict, "requested_kind": str, "dim": int, "count": int, "generation": int,
                    "export": dict, "sources": list, "files": dict, "categories": dict}
KIND_KEYS = {"name": str, "m": int, "ef_construction": int, "ef_search": int}
FILES_KEYS = {"vectors": dict, "entries": dict, "thumbnails": list}
FILE_KEYS = {"file": str, "bytes": int, "sha256": str}
ROWS = ("object_ids", "categories", "splits", "pack", "offsets", "lengths")  # the arrays of entries-<g>.npz


def file_entry(folder: Path, name: str) -> dict:
    """{file, bytes, sha256} of a file of the folder."""
    return {"file": name, "bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}


def description_problem(description: object) -> str | None:
    """What makes an index.json other than what xmodal.index writes, or None."""
    problem = key_problem("", description, DESCRIPTION_KEYS, INDEX)
    if problem:
        return problem
    if description["format"] != FORMAT:
        return f"index format {description['format']}; this code reads format {FORMAT}"
    problem = (key_problem("kind", description["kind"], KIND_KEYS) or key_problem("files", description["files"], FILES_KEYS)
               or identity_problem("export", description["export"]))
    if problem:
        return problem
    if description["kind"]["name"] not in KINDS or description["requested_kind"] not in ("auto", *KINDS):
        return f"unknown index kind {description['kind']['name']!r} (requested {description['requested_kind']!r})"
    files = description["files"]
    for where, entry in [("files.vectors", files["vectors"]), ("files.entries", files["entries"]),
                         *((f"files.thumbnails[{i}]", t) for i, t in enumerate(files["thumbnails"]))]:
        problem = key_problem(where, entry, FILE_KEYS) or (None if OURS.fullmatch(entry["file"]) else
                                                         f"{where}.file {entry['file']!r} is not a file of an index")
        if problem:
            return problem
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in description["categories"].values()):
        return "categories must map names to counts"
    if not all(isinstance(source, dict) for source in description["sources"]):
        return "sources must be a list of objects"
    return None


def read_description(folder: Path) -> dict:
    """index.json of an index folder; a UserError when there is none or it is not what xmodal.index writes."""
    return read_json_document(folder / INDEX, f"{folder} holds no {INDEX}: not an index (make one with "
                              "`python -m xmodal.index build`)", description_problem,
                              "an index description written by xmodal.index")


def named_files(description: dict) -> list[dict]:
    """The {file, bytes, sha256} entries of every file an index.json names."""
    files = description["files"]
    return [files["vectors"], files["entries"], *files["thumbnails"]]


def checked_files(folder: Path, description: dict) -> None:
    """A UserError naming the first file of the index that is missing or whose size or checksum differs."""
    for entry in named_files(description):
        path = folder / entry["file"]
        if not path.is_file():
            raise UserError(f"{path} is missing: the index is incomplete (rebuild it)")
        if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
            raise UserError(f"{path} does not match its checksum in {INDEX}: the file is damaged (rebuild the index)")


def read_rows(folder: Path, description: dict) -> dict:
    """The arrays of the current entries file."""
    try:
        with np.load(folder / description["files"]["entries"]["file"]) as saved:
            return {name: saved[name] for name in ROWS}
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"{folder}: unreadable index entries: {error}") from None


def loaded(folder: Path, description: dict) -> Catalogue:
    """The catalogue the description names, its files checked against their checksums."""
    checked_files(folder, description)
    try:
        index = faiss.read_index(str(folder / description["files"]["vectors"]["file"]))
    except RuntimeError as error:
        raise UserError(f"{folder}: unreadable FAISS index: {str(error).splitlines()[0]}") from None
    rows = read_rows(folder, description)
    packs = Packs([folder / t["file"] for t in description["files"]["thumbnails"]], rows["pack"], rows["offsets"],
                  rows["lengths"])
    return Catalogue(Kind(**{key: description["kind"][key] for key in KIND_KEYS}), index, rows["object_ids"],
                     rows["categories"], rows["splits"], description["export"], packs.read, description)


def open_index(path: str, attempts: int = 3) -> Catalogue:
    """The catalogue of an index folder. A writer that commits while it is read removes the files of the state
    being read: then the new state is read (a damaged file stays an error)."""
    folder = Path(path)
    description = read_description(folder)
    for _ in range(attempts - 1):
        try:
            return loaded(folder, description)
        except UserError:
            again = read_description(folder)
            if again == description:
                raise
            description = again
    return loaded(folder, description)


def foreign_files(folder: Path) -> list[str]:
    """Names in `folder` that an index writer did not make."""
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK and not OURS.fullmatch(p.name))


def remove_unnamed(folder: Path, description: dict | None) -> None:
    """Remove our files that the current index.json does not name (left by a writer that was killed)."""
    named = {INDEX} | ({e["file"] for e in named_files(description)} if description else set())
    for p in folder.iterdir():
        if p.name != LOCK and OURS.fullmatch(p.name) and p.name not in named:
            p.unlink()


def check_new_folder(folder: Path) -> None:
    """A UserError when `folder` already holds an index, or files that are not an index's."""
    if (folder / INDEX).is_file():
        raise UserError(f"{folder} already holds an index: add to it with `python -m xmodal.index add`, "
                        "or build into a new folder")
    foreign = foreign_files(folder)
    if foreign:
        raise UserError(f"{folder} holds other files ({first_few(foreign)}): build the index into a new or empty "
                        "folder")


def unique(batches: Iterable[Entries], seen: set[str], skipped: list[str]) -> Iterator[Entries]:
    """The batches without entries whose object id is in `seen` (which grows); the ids left out go to `skipped`."""
    for batch in batches:
        keep = []
        for i, object_id in enumerate(batch.object_ids.tolist()):
            if object_id in seen:
                skipped.append(object_id)
            else:
                seen.add(object_id)
                keep.append(i)
        yield batch.subset(keep)


def write_pack(path: Path, batches: Iterable[Entries]) -> tuple[Entries, np.ndarray, np.ndarray]:
    """Write the thumbnails of the batches (per entry its render, then its voxel picture) into one pack, atomically;
    return the entries without their thumbnails, and the offsets and lengths (N, 2) of each entry's two."""
    parts, offsets, lengths, at = [], [], [], 0
    with atomic_file(path) as tmp, open(tmp, "wb") as out:
        for batch in batches:
            for render, voxels in zip(batch.renders, batch.voxel_pictures):
                out.write(render + voxels)
                offsets.append((at, at + len(render)))
                lengths.append((len(render), len(voxels)))
                at += len(render) + len(voxels)
            parts.append(batch.subset(range(len(batch)), thumbnails=False))
        out.flush()
        os.fsync(out.fileno())
    return joined(parts), np.array(offsets, np.int64).reshape(-1, 2), np.array(lengths, np.int64).reshape(-1, 2)


def grown_index(previous: Catalogue | None, requested: str, vectors: np.ndarray) -> tuple[Kind, faiss.Index]:
    """The previous index with `vectors` added; rebuilt when the automatic choice of kind changes with the size."""
    total = len(vectors) + (len(previous) if previous is not None else 0)
    kind = chosen_kind(total, requested)
    if previous is not None and previous.kind == kind:
        previous.index.add(np.ascontiguousarray(vectors, np.float32))
        return kind, previous.index
    old = all_vectors(previous.index) if previous is not None else np.zeros((0, vectors.shape[1]), np.float32)
    return kind, filled_index(kind, np.concatenate([old, vectors]))


def empty_rows() -> dict:
    """The entries arrays of an index with no entries."""
    return {"object_ids": np.array([], str), "categories": np.array([], str), "splits": np.array([], str),
            "pack": np.zeros(0, np.int32), "offsets": np.zeros((0, 2), np.int64), "lengths": np.zeros((0, 2), np.int64)}


def write_index(path: str, export: dict, batches: Iterable[Entries], source: dict, requested_kind: str = "auto",
                adding: bool = False) -> dict:
    """Build an index folder (or add to one) from batches of entries; return its index.json with `added` and
    `skipped` (ids already present). One writer at a time; files are written atomically, index.json last."""
    folder = Path(path)
    if adding:
        read_description(folder)  # before the lock, which would create the folder
    elif folder.is_dir():
        check_new_folder(folder)  # before the lock, which would leave its file in a folder that is not ours
    with output_lock(folder):
        previous = open_index(path) if adding else None
        if previous is None:
            check_new_folder(folder)
        else:
            check_same_export(previous.export, export, f"the index {path}")
            requested_kind = previous.description["requested_kind"]
        remove_unnamed(folder, previous.description if previous is not None else None)
        generation = previous.description["generation"] + 1 if previous is not None else 1
        names = {kind: f"{kind}-{generation:05d}.{suffix}"
                 for kind, suffix in (("vectors", "faiss"), ("entries", "npz"), ("thumbnails", "bin"))}
        skipped: list[str] = []
        seen = set(previous.object_ids.tolist()) if previous is not None else set()
        added, offsets, lengths = write_pack(folder / names["thumbnails"], unique(batches, seen, skipped))
        if not len(added):
            (folder / names["thumbnails"]).unlink()
            if previous is None:
                splits = f" in its split(s) {', '.join(source['splits'])}" if source.get("splits") else ""
                raise UserError(f"nothing to index: {source.get('data') or source.get('embeddings')} holds no "
                                f"objects{splits}")
            return {**previous.description, "added": 0, "skipped": skipped}
        kind, index = grown_index(previous, requested_kind, added.embeddings)
        with atomic_file(folder / names["vectors"]) as tmp:
            faiss.write_index(index, str(tmp))
        old = read_rows(folder, previous.description) if previous is not None else empty_rows()
        packs = (previous.description["files"]["thumbnails"] if previous is not None else [])
        rows = {"object_ids": added.object_ids, "categories": added.categories, "splits": added.splits,
                "pack": np.full(len(added), len(packs), np.int32), "offsets": offsets, "lengths": lengths}
        rows = {name: np.concatenate([old[name], rows[name]]) for name in ROWS}
        with atomic_file(folder / names["entries"]) as tmp:
            np.savez(tmp, **rows)
        categories, counts = np.unique(rows["categories"], return_counts=True)
        description = {
            "format": FORMAT, "kind": dataclasses.asdict(kind), "requested_kind": requested_kind,
            "dim": int(index.d), "count": int(index.ntotal), "generation": generation, "export": export,
            "sources": (previous.description["sources"] if previous is not None else [])
            + [{**source, "objects": len(added), "duplicates_skipped": len(skipped)}],
            "categories": {str(c): int(n) for c, n in zip(categories, counts)},
            "files": {"vectors": file_entry(folder, names["vectors"]), "entries": file_entry(folder, names["entries"]),
                      "thumbnails": packs + [file_entry(folder, names["thumbnails"])]},
        }
        write_json_atomic(folder / INDEX, description)
        remove_unnamed(folder, description)
        return {**description, "added": len(added), "skipped": skipped}

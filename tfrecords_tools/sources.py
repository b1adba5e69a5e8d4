"""Finding the objects of an input folder in each supported layout (`convert --format`).

- synth: the built-in layout `<id>/model.obj` (or any mesh file: id = relative path without
  suffix); category from `--category`, else `metadata.json` (the object's entry in its
  `categories` map, else its `category`), else `object`.
- shapenet: ShapeNetCore v1 `SYNSET/MODEL_ID/model.obj` or v2
  `SYNSET/MODEL_ID/models/model_normalized.obj`; category from the synset id.
- r2n2: 3D-R2N2's data as distributed: `ShapeNetVox32/SYNSET/MODEL_ID/model.binvox` and
  `ShapeNetRendering/SYNSET/MODEL_ID/rendering/` (their voxels, renders and viewpoints).
- folder: any tree of .obj/.off/.ply/.stl/.glb; category = the top folder (the class); a
  `train` or `test` folder on the way (ModelNet's `CLASS/train/NAME.off`) fixes the split.

`auto` (the default) detects the layout: r2n2 when both of its folders are there, shapenet when
synset-id folders hold models, synth when `metadata.json` is there or every mesh is a
`<id>/model.*` or at the top, else folder (class folders).
"""
import dataclasses
import json
import re
from importlib import resources
from pathlib import Path

from tfrecords_tools.errors import UserError
from tfrecords_tools.meshes import MESH_SUFFIXES

FORMATS = ("synth", "shapenet", "r2n2", "folder")
SHAPENET_MODELS = ("*/*/model.obj", "*/*/models/model_normalized.obj")  # SYNSET/MODEL_ID/...


@dataclasses.dataclass(frozen=True)
class Source:
    """One object to convert."""

    object_id: str
    category: str
    path: str  # the mesh file; for r2n2 the binvox file
    split: str = ""  # fixed by the layout (ModelNet), else chosen by the seed
    renderings: str = ""  # r2n2: the folder of the object's renders


def synset_names() -> dict[str, str]:
    """ShapeNetCore synset id -> category name."""
    text = (resources.files("tfrecords_tools") / "data" / "shapenet_synsets.txt").read_text()
    return dict(line.split() for line in text.splitlines() if line and not line.startswith("#"))


def mesh_files(root: Path) -> list[Path]:
    """Mesh files under root, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file())


def synth_metadata(root: Path) -> dict:
    """The folder's metadata.json (empty when there is none); a UserError when it is not a JSON object."""
    path = root / "metadata.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("categories", {}), dict):
        raise UserError(f"{path} must be a JSON object, its `categories` a map of object id to category")
    return meta


def synth_sources(root: Path, category: str) -> list[Source]:
    """The built-in layout."""
    meta = synth_metadata(root)
    per_object = meta.get("categories", {})
    sources = []
    for path in mesh_files(root):
        rel = path.relative_to(root)
        object_id = (rel.parent if rel.stem == "model" else rel.with_suffix("")).as_posix()
        own = category or per_object.get(object_id) or meta.get("category", "object")
        sources.append(Source(object_id, own, str(path)))
    return sources


def shapenet_sources(root: Path, synsets: tuple[str, ...]) -> list[Source]:
    """ShapeNetCore v1 and v2."""
    names = synset_names()
    sources = []
    for pattern in SHAPENET_MODELS:
        for path in sorted(root.glob(pattern)):
            model = path.parent.parent if path.parent.name == "models" else path.parent
            synset = model.parent.name
            if not synsets or synset in synsets:
                sources.append(Source(f"{synset}/{model.name}", names.get(synset, synset), str(path)))
    return sources


def r2n2_sources(root: Path, synsets: tuple[str, ...]) -> list[Source]:
    """3D-R2N2's voxels with their renders; a model missing either is left out."""
    names = synset_names()
    if not (root / "ShapeNetVox32").is_dir() or not (root / "ShapeNetRendering").is_dir():
        raise UserError(f"{root} must hold both ShapeNetVox32/ and ShapeNetRendering/ (3D-R2N2's layout)")
    sources = []
    for path in sorted((root / "ShapeNetVox32").glob("*/*/model.binvox")):
        synset, model = path.parent.parent.name, path.parent.name
        renderings = root / "ShapeNetRendering" / synset / model / "rendering"
        if (not synsets or synset in synsets) and renderings.is_dir():
            sources.append(Source(f"{synset}/{model}", names.get(synset, synset), str(path), renderings=str(renderings)))
    return sources


def folder_sources(root: Path, category: str) -> list[Source]:
    """Any tree of meshes; the class folder is the category, train/test folders fix the split."""
    sources = []
    for path in mesh_files(root):
        rel = path.relative_to(root)
        parts = rel.parts[:-1]
        split = next((p for p in parts if p in ("train", "test")), "")
        cls = parts[0] if parts and parts[0] not in ("train", "test") else (category or "object")
        sources.append(Source(rel.with_suffix("").as_posix(), cls, str(path), split))
    return sources


def input_root(meshes: str) -> Path:
    """The input folder; a UserError when it does not exist."""
    root = Path(meshes)
    if not root.is_dir():
        raise UserError(f"input folder {meshes} does not exist")
    return root


def detect_format(meshes: str) -> str:
    """The layout of an input folder (see the module docstring)."""
    root = input_root(meshes)
    if (root / "ShapeNetVox32").is_dir() and (root / "ShapeNetRendering").is_dir():
        return "r2n2"
    models = (p.relative_to(root) for pattern in SHAPENET_MODELS for p in root.glob(pattern))
    if any(re.fullmatch(r"\d{8}", rel.parts[0]) for rel in models):  # SYNSET/MODEL_ID/...
        return "shapenet"
    if (root / "metadata.json").is_file():
        return "synth"
    rels = [p.relative_to(root) for p in mesh_files(root)]
    return "folder" if any(len(r.parts) > 1 and r.stem != "model" for r in rels) else "synth"


def unique_ids(sources: list[Source]) -> None:
    """A UserError naming both files when two inputs give the same object id."""
    seen: dict[str, str] = {}
    for source in sources:
        if source.object_id in seen:
            raise UserError(f"two inputs give the object id {source.object_id!r}: {seen[source.object_id]} and "
                            f"{source.path}; rename or remove one")
        seen[source.object_id] = source.path


def discover(fmt: str, meshes: str, synsets: tuple[str, ...] = (), category: str = "") -> list[Source]:
    """Every object of the input folder in layout `fmt`; a UserError when there is none."""
    root = input_root(meshes)
    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    found = {"synth": lambda: synth_sources(root, category), "shapenet": lambda: shapenet_sources(root, synsets),
             "r2n2": lambda: r2n2_sources(root, synsets), "folder": lambda: folder_sources(root, category)}[fmt]()
    unique_ids(found)
    if not found:
        raise UserError(f"no objects of --format {fmt} under {meshes}")
    return found

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

Symlinked folders are followed (each real folder once). Files of other types (not materials,
textures or metadata) and ShapeNet model folders without a model are listed as skipped inputs
(for shapenet, none from the synset folders that `--synsets` leaves out).

`auto` (the default) detects the layout: r2n2 when both of its folders are there, shapenet when
synset-id folders hold models, synth when `metadata.json` is there or every mesh is a
`<id>/model.*` or at the top, else folder (class folders).
"""
import dataclasses
import json
import os
import re
from collections import defaultdict
from importlib import resources
from pathlib import Path

from tfrecords_tools.errors import UserError, first_few
from tfrecords_tools.meshes.load import MESH_SUFFIXES

FORMATS = ("synth", "shapenet", "r2n2", "folder")
SHAPENET_MODELS = ("model.obj", "models/model_normalized.obj")  # v1 and v2, in SYNSET/MODEL_ID/
SYNSET_ID = r"\d{8}"  # a ShapeNet synset folder's name (02958343: cars)
SIDECAR_SUFFIXES = (".mtl", ".png", ".jpg", ".jpeg", ".tga", ".bmp", ".json", ".binvox")  # materials, textures,
# metadata (ShapeNet's model_normalized.json, its voxels): read with the meshes or left alone, never skipped


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


def tree_files(root: Path) -> list[Path]:
    """Every file under root, sorted; symlinked folders are followed, each real folder once (a loop ends)."""
    seen, found = set(), []
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        found += [Path(folder) / name for name in files]
    return sorted(found)


def mesh_files(root: Path) -> list[Path]:
    """Mesh files under root, sorted."""
    return [p for p in tree_files(root) if p.suffix.lower() in MESH_SUFFIXES and p.is_file()]


def asked_for(synset: str, synsets: tuple[str, ...]) -> bool:
    """Whether `--synsets` (none: every synset) takes this synset."""
    return not synsets or synset in synsets


def left_out(rel: Path, synsets: tuple[str, ...]) -> bool:
    """Whether a path relative to a ShapeNet root lies in a synset folder (SYNSET/...) that `--synsets` leaves out."""
    top = rel.parts[0]
    return len(rel.parts) > 1 and re.fullmatch(SYNSET_ID, top) is not None and not asked_for(top, synsets)


def unsupported_files(root: Path, synsets: tuple[str, ...] = ()) -> list[dict]:
    """The skipped entries of files under root that are neither meshes nor their sidecars (hidden files left out, and
    those in ShapeNet synset folders that `synsets` leaves out)."""
    return [{"path": str(p), "reason": f"unsupported file type {p.suffix.lower() or '(none)'}"}
            for p in tree_files(root)
            if p.suffix.lower() not in (*MESH_SUFFIXES, *SIDECAR_SUFFIXES) and not p.name.startswith(".")
            and not left_out(p.relative_to(root), synsets)]


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
    for name in SHAPENET_MODELS:
        for path in sorted(root.glob(f"*/*/{name}")):
            model = path.parent.parent if path.parent.name == "models" else path.parent
            synset = model.parent.name
            if asked_for(synset, synsets):
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
        if asked_for(synset, synsets) and renderings.is_dir():
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
    models = (p.relative_to(root) for name in SHAPENET_MODELS for p in root.glob(f"*/*/{name}"))
    if any(re.fullmatch(SYNSET_ID, rel.parts[0]) for rel in models):  # SYNSET/MODEL_ID/...
        return "shapenet"
    if (root / "metadata.json").is_file():
        return "synth"
    rels = [p.relative_to(root) for p in mesh_files(root)]
    return "folder" if any(len(r.parts) > 1 and r.stem != "model" for r in rels) else "synth"


def shapenet_without_model(root: Path, synsets: tuple[str, ...]) -> list[dict]:
    """The skipped entries of ShapeNet model folders (SYNSET/MODEL_ID) holding neither v1's nor v2's model file."""
    return [{"path": str(model), "reason": f"no model: neither {' nor '.join(SHAPENET_MODELS)} in the model folder"}
            for model in sorted(root.glob("*/*"))
            if model.is_dir() and re.fullmatch(SYNSET_ID, model.parent.name) and asked_for(model.parent.name, synsets)
            and not any((model / name).is_file() for name in SHAPENET_MODELS)]


def unusable_inputs(fmt: str, meshes: str, synsets: tuple[str, ...] = ()) -> list[dict]:
    """The skipped entries ({path, reason}) found while discovering: files of other types, models without a mesh."""
    root = Path(meshes)
    if fmt == "r2n2":
        return []
    if fmt != "shapenet":
        return unsupported_files(root)
    return shapenet_without_model(root, synsets) + unsupported_files(root, synsets)


def unique_ids(sources: list[Source]) -> None:
    """A UserError naming every object id that several inputs give (the first few, with their files, and a count)."""
    paths = defaultdict(list)
    for source in sources:
        paths[source.object_id].append(source.path)
    clashes = [f"{object_id!r} ({' and '.join(files)})" for object_id, files in paths.items() if len(files) > 1]
    if clashes:
        raise UserError(f"{len(clashes)} object id(s) given by more than one input: {first_few(clashes)}; "
                        "rename or remove all but one file of each")


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

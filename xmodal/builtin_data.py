"""The built-in synthetic dataset, made once at a preset's resolution and cached."""
import os
from pathlib import Path

from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.manifest import MANIFEST
from tfrecords_tools.synth import synth_dataset

SEED = 0
VIEWS = 12


def cache_dir() -> Path:
    """xmodal's folder in the user's cache directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xmodal"


def builtin_dataset(objects: int, voxel_res: int, image_size: int) -> str:
    """Path of the converted synthetic car dataset, making it on first use (resumable)."""
    root = cache_dir() / f"synth-v1-seed{SEED}-n{objects}"
    data = root / f"data-r{voxel_res}-s{image_size}-v{VIEWS}"
    if not (data / MANIFEST).is_file():
        print(f"making the built-in synthetic dataset ({objects} cars) in {root}")
        if not (root / "meshes" / "metadata.json").is_file():
            synth_dataset(str(root / "meshes"), objects, SEED)
        convert(ConvertConfig(meshes=str(root / "meshes"), out=str(data), voxel_res=voxel_res,
                              image_size=image_size, views=VIEWS, workers=os.cpu_count() or 1, seed=SEED))
    return str(data)

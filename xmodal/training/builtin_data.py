"""The built-in synthetic datasets, made once per resolution and code version and cached."""
import importlib.metadata
import os
from pathlib import Path

from tfrecords_tools.config import VIEWPOINT_SETS, ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.dataset.manifest import MANIFEST
from tfrecords_tools.dataset.records import FORMAT_VERSION
from tfrecords_tools.synth.dataset import check_categories, synth_dataset
from tfrecords_tools.workers import available_cores

SEED = 0
VIEWS = 12
TEST_FRACTION = ConvertConfig.test_fraction


def cache_dir() -> Path:
    """xmodal's folder in the user's cache directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xmodal"


def code_version() -> str:
    """xmodal's installed version and the record format: a cache made by other code is not reused."""
    try:
        version = importlib.metadata.version("xmodal")
    except importlib.metadata.PackageNotFoundError:
        version = "source"
    return f"{version}-f{FORMAT_VERSION}"


def cached_root(objects: int, seed: int, categories: tuple[str, ...]) -> Path:
    """The cache folder of one synthetic dataset; the categories are named unless they are just cars."""
    kinds = "" if categories == ("car",) else "-" + "+".join(categories)
    return cache_dir() / f"synth-{code_version()}-seed{seed}-n{objects}{kinds}"


def synthetic_dataset(objects: int, seed: int, voxel_res: int, image_size: int, views: int,
                      categories: tuple[str, ...] = ("car",), test_fraction: float = TEST_FRACTION) -> str:
    """Path of a converted synthetic dataset of `categories` in the cache, made on first use (resumable)."""
    categories = tuple(categories)
    check_categories(categories)
    root = cached_root(objects, seed, categories)
    split = "" if test_fraction == TEST_FRACTION else f"-t{test_fraction:g}"
    data = root / f"data-r{voxel_res}-s{image_size}-v{views}{split}"
    if not (data / MANIFEST).is_file():
        print(f"making a synthetic dataset ({objects} objects: {', '.join(categories)}) in {root}")
        if not (root / "meshes" / "metadata.json").is_file():
            synth_dataset(str(root / "meshes"), objects, seed, categories)
        convert(ConvertConfig(meshes=str(root / "meshes"), out=str(data), voxel_res=voxel_res,
                              image_size=image_size, views=views, workers=available_cores(), seed=seed,
                              test_fraction=test_fraction,
                              viewpoints=VIEWPOINT_SETS["cars"]))  # every category: what the shipped encoders saw
    return str(data)


def builtin_dataset(objects: int, voxel_res: int, image_size: int) -> str:
    """The built-in car dataset of `python -m xmodal.fit` with no --data."""
    return synthetic_dataset(objects, SEED, voxel_res, image_size, VIEWS)

"""Shared fixtures: a tiny synthetic dataset (voxel-res 32, image-size 64, 4 views), a model and an index of it, and
copies of them that differ in one way."""
import json
import os
import shutil
from pathlib import Path

import xmodal  # noqa: F401  (quiet TensorFlow start-up)

import tensorflow as tf  # noqa: E402

# Two logical CPUs, so MirroredStrategy can be tested with two replicas without a GPU.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import pytest  # noqa: E402

from tfrecords_tools.config import ConvertConfig  # noqa: E402
from tfrecords_tools.convert import convert  # noqa: E402
from tfrecords_tools.synth.dataset import synth_dataset  # noqa: E402

TINY = dict(voxel_res=32, image_size=64, views=4, workers=2, seed=3)


@pytest.fixture(scope="session")
def tiny_meshes(tmp_path_factory) -> str:
    """12 synthetic cars plus one corrupt mesh file."""
    root = tmp_path_factory.mktemp("meshes")
    synth_dataset(str(root), 12, seed=1)
    (root / "broken").mkdir()
    (root / "broken" / "model.obj").write_text("v 0 0 nonsense\nf 1 2 3\n")
    return str(root)


@pytest.fixture(scope="session")
def tiny_data(tiny_meshes, tmp_path_factory) -> str:
    """The tiny meshes converted at 32^3 voxels and 4 views of 64^2."""
    out = tmp_path_factory.mktemp("data")
    convert(ConvertConfig(meshes=tiny_meshes, out=str(out), **TINY))
    return str(out)


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> str:
    """A `small` model trained for a few steps on the tiny dataset: the path of its exported version."""
    from xmodal.training.config import FitConfig
    from xmodal.fit import fit

    root = tmp_path_factory.mktemp("model")
    return fit(FitConfig(data=tiny_data, preset="small", loss="triplet", steps=10, batch_size=4, out=str(root / "run"),
                         export=str(root / "export")))["export"]


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A folder path this process cannot create: below a read-only folder (as root, in sysfs)."""
    if os.geteuid() == 0:  # root writes into read-only folders
        return Path("/sys/xmodal-test/out")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out"


@pytest.fixture(scope="session")
def tiny_index(tiny_data, tiny_model, tmp_path_factory) -> str:
    """An index folder of the tiny dataset's objects (both splits), embedded by the tiny model."""
    from xmodal.index import IndexConfig, run

    out = tmp_path_factory.mktemp("index") / "index"
    run(IndexConfig(out=str(out), model=tiny_model, data=(tiny_data,)))
    return str(out)


@pytest.fixture(scope="session")
def other_model(tmp_path_factory) -> str:
    """Another export of the tiny model's shape (fresh weights): its embeddings must not mix with tiny_model's."""
    from xmodal.serving.export import write_export
    from xmodal.training.models import build_encoders

    return write_export(*build_encoders("small"), str(tmp_path_factory.mktemp("other") / "export"), views=4)


def recalibrated(model: str, folder: Path, distances: list[float] | None) -> str:
    """A copy of an export (the same graph and weights, so the same checksum) whose calibration.json holds these
    matched distances, or none (as an export made before calibration)."""
    from xmodal.serving.calibration import CALIBRATION

    shutil.copytree(model, folder)
    (folder / CALIBRATION).unlink()
    if distances is not None:
        (folder / CALIBRATION).write_text(json.dumps({"split": "test", "objects": 1, "distances": distances}))
    return str(folder)


@pytest.fixture(scope="session")
def uncalibrated_model(tiny_model, tmp_path_factory) -> str:
    """The tiny model as an export made before calibration: no calibration.json."""
    return recalibrated(tiny_model, tmp_path_factory.mktemp("uncalibrated") / "1", None)


@pytest.fixture(scope="session")
def unlike_model(tiny_model, tmp_path_factory) -> str:
    """The tiny model with a calibration whose matched pairs all lay at distance 0: every picture looks unlike."""
    return recalibrated(tiny_model, tmp_path_factory.mktemp("unlike") / "1", [0.0])


def empty_test_split(data: str, root: Path) -> Path:
    """A copy of a dataset whose test split holds no object (its shards gone from the manifest and the folder)."""
    copy = root / "empty-test"
    shutil.copytree(data, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for shard in manifest["splits"]["test"]["shards"]:
        (copy / shard["file"]).unlink()
    manifest["splits"]["test"] = {"objects": 0, "shards": []}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy

"""Versioned exports: a new version per export, older ones kept; refusals before training; base or version loads."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfrecords_tools.errors import UserError
from xmodal.training.config import FitConfig
from xmodal.serving.embedder import load_embedder
from xmodal.serving.export import write_export
from xmodal.fit import fit
from xmodal.training.models import build_encoders
from xmodal.serving.versions import resolve_model

TINY_FIT = dict(preset="small", loss="triplet", batch_size=4, steps=2)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_each_export_is_a_new_version_and_dead_temporaries_are_cleaned(tmp_path):
    base = tmp_path / "sm"
    killed = base / f".3.tmp-{dead_pid()}"  # an export killed mid-write
    running = base / f".4.tmp-{os.getppid()}"  # an export still being written by a live process
    for folder in (killed, running):
        folder.mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"partial")
    voxels, images = build_encoders("small")
    first = write_export(voxels, images, str(base), views=4)
    second = write_export(voxels, images, str(base), views=4)
    assert (first, second) == (str(base / "1"), str(base / "2"))
    assert all((Path(v) / "saved_model.pb").is_file() for v in (first, second))
    assert not killed.exists() and running.exists()
    assert resolve_model(str(base)) == base / "2"


def test_load_embedder_takes_the_base_or_one_version(tiny_model, tmp_path):
    grids = np.zeros((2, 32, 32, 32), np.uint8)
    grids[1, 8:24, 8:24, 8:24] = 1
    by_version = load_embedder(tiny_model).voxels(grids)
    by_base = load_embedder(str(Path(tiny_model).parent)).voxels(grids)
    np.testing.assert_array_equal(by_version, by_base)
    with pytest.raises(UserError, match="not a SavedModel"):
        load_embedder(str(tmp_path))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("case, message", [
    ("dataset", "holds other files than exported versions"),
    ("run", "overlaps the run directory"),
    ("inside run", "overlaps the run directory"),
    ("holding run", "overlaps the run directory"),
    ("unversioned", "holds an unversioned SavedModel"),
    ("unwritable", "cannot create it"),
])
def test_export_refusals_come_before_training_and_touch_nothing(tiny_data, tmp_path, unwritable, case, message):
    run = tmp_path / "runs" / "r"
    unversioned = tmp_path / "old"
    unversioned.mkdir()
    (unversioned / "saved_model.pb").write_bytes(b"an export of an older layout")
    export = {"dataset": Path(tiny_data), "run": run, "inside run": run / "sm", "holding run": tmp_path / "runs",
              "unversioned": unversioned, "unwritable": unwritable}[case]
    before = listing(Path(tiny_data)), listing(unversioned)
    with pytest.raises(UserError, match=message):
        fit(FitConfig(data=tiny_data, out=str(run), export=str(export), **TINY_FIT))
    assert not (run / "checkpoints").exists()
    assert (listing(Path(tiny_data)), listing(unversioned)) == before


def test_cli_refuses_a_dataset_as_export_in_one_line(tiny_data, tmp_path):
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "xmodal.fit", "--data", tiny_data, "--out", str(run),
                           "--export", tiny_data, "--steps", "2", "--loss", "triplet", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and f"--export {tiny_data} holds other files" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "training" not in done.stdout and not run.exists()
    assert json.loads((Path(tiny_data) / "manifest.json").read_text())["splits"]

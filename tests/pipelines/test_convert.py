import json
import os
from pathlib import Path

import pytest
import tensorflow as tf

from pipelines.convert import run
from tests.conftest import TINY
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.lock import LOCK, output_lock


def records(data: str) -> list[bytes]:
    files = sorted(str(p) for p in Path(data).glob("*.tfrecord"))
    return sorted(r.numpy() for r in tf.data.TFRecordDataset(files))


def test_beam_direct_runner_writes_the_same_examples_as_the_local_converter(tiny_meshes, tiny_data, tmp_path):
    out = tmp_path / "beam"
    manifest = run(ConvertConfig(meshes=tiny_meshes, out=str(out), **TINY), ["--runner", "DirectRunner"])
    assert records(str(out)) == records(tiny_data)
    local = json.loads((Path(tiny_data) / "manifest.json").read_text())
    assert manifest["skipped"] == local["skipped"] and manifest["config"] == local["config"]
    assert manifest["warnings"] == local["warnings"] and manifest["up"] == local["up"] == "y"
    for split in ("train", "test"):
        assert manifest["splits"][split]["objects"] == local["splits"][split]["objects"]
        assert [s["file"] for s in manifest["splits"][split]["shards"]] == [s["file"] for s in local["splits"][split]["shards"]]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert not list(out.glob(".beam-*"))


def test_beam_refuses_an_output_in_use(tiny_meshes, tmp_path):
    out = tmp_path / "beam"
    with output_lock(out), pytest.raises(UserError, match=f"{out} is in use by process {os.getpid()}"):
        run(ConvertConfig(meshes=tiny_meshes, out=str(out), **TINY), ["--runner", "DirectRunner"])
    assert sorted(p.name for p in out.iterdir()) == [LOCK]

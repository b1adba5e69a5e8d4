"""Lying manifests, missing and broken shards: each is one UserError naming the key, shard or record."""
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfrecords_tools.errors import UserError
from tfrecords_tools.inspect import summary, verify
from tfrecords_tools.dataset.read import dataset, reading
from tfrecords_tools.dataset.records import has_masks
from tfrecords_tools.dataset.shards import sha256, write_shard
from tfrecords_tools.dataset.validate import check_dataset

SHARD = "train-00000-of-00001.tfrecord"


def copy_of(data: str, root: Path, change=None) -> Path:
    """A copy of a dataset whose manifest `change(manifest)` edited in place."""
    copy = root / "data"
    shutil.copytree(data, copy)
    if change:
        manifest = json.loads((copy / "manifest.json").read_text())
        change(manifest)
        (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def flip_bit(path: Path, offset_from_end: int = 100) -> None:
    """Flip one bit inside the shard's last record: same size, failing record checksum."""
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(voxel_res=64), r"record 0 holds voxel_res 32 .*the manifest says voxel_res 64"),
    (lambda m: m.update(views=6), "record 0 holds 4 views .*the manifest says views 6"),
    (lambda m: m.update(image_size=32), "record 0 holds 64x64 px RGBA images, the manifest says image_size 32"),
    (lambda m: m.update(format_version=2), "record 0 holds 64x64 px RGBA images, .* format_version 2 \\(RGB\\)"),
])
def test_manifest_disagreeing_with_the_records_names_the_shard(tiny_data, tmp_path, change, message):
    data = copy_of(tiny_data, tmp_path, change)
    for check in (check_dataset, verify):
        with pytest.raises(UserError, match=f"{SHARD}: {message}"):
            check(str(data))


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("views"), "key views is missing"),
    (lambda m: m.update(voxel_res="32"), "key voxel_res must be an integer, not str '32'"),
    (lambda m: m.update(views=True), "key views must be an integer, not bool"),
    (lambda m: m["splits"]["train"]["shards"][0].pop("bytes"), r"key splits.train.shards\[0\].bytes is missing"),
    (lambda m: m["splits"]["test"].update(shards={}), "key splits.test.shards must be a list, not dict"),
    (lambda m: m["splits"]["train"]["shards"][0].update(file="../x"),
     r"splits.train.shards\[0\].file '../x' must be a file name"),
    (lambda m: m.update(voxel_res=-4), "voxel_res -4 must be a positive even number"),
    (lambda m: m.update(format_version=4), "format_version 4: this code reads versions 2 and 3"),
    (lambda m: m.update(format_version=1), "format_version 1: this code reads versions 2 and 3"),
])
def test_missing_keys_wrong_types_and_bad_values_name_the_key_and_the_file(tiny_data, tmp_path, change, message):
    data = copy_of(tiny_data, tmp_path, change)
    for check in (check_dataset, verify, lambda d: dataset(d, "train")):
        with pytest.raises(UserError, match=f"manifest.json: {message}"):
            check(str(data))


def test_truncated_and_missing_shards_are_named(tiny_data, tmp_path):
    data = copy_of(tiny_data, tmp_path)
    shard = data / SHARD
    shard.write_bytes(shard.read_bytes()[:-100])
    (data / "test-00000-of-00001.tfrecord").unlink()
    with pytest.raises(UserError, match=f"2 bad shard.*test-00000-of-00001.tfrecord: missing.*{SHARD}: \\d+ bytes, "
                                        "manifest says \\d+ \\(truncated"):
        check_dataset(str(data))


def test_bit_flipped_record_is_named_by_shard_record_and_offset(tiny_data, tmp_path):
    data = copy_of(tiny_data, tmp_path)
    flip_bit(data / SHARD)
    check_dataset(str(data))  # cheap checks: the size and the first record are right
    last = json.loads((data / "manifest.json").read_text())["splits"]["train"]["objects"] - 1
    where = f"{SHARD}: record index {last} is unreadable \\(corrupted record at \\d+\\)"
    with pytest.raises(UserError, match=where):
        verify(str(data))
    with pytest.raises(UserError, match=f"{where}: the shard is truncated or corrupted"):
        with reading(str(data)):
            list(dataset(str(data), "train").as_numpy_iterator())


def test_inspect_cli_rejects_a_lying_manifest_in_one_line(tiny_data, tmp_path):
    data = copy_of(tiny_data, tmp_path, lambda m: m.update(views=6))
    done = subprocess.run([sys.executable, "-m", "tfrecords_tools", "inspect", str(data)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and "all shards verified" not in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert f"{SHARD}: record 0 holds 4 views" in done.stderr and "the manifest says views 6" in done.stderr


def rgb_png(png: bytes) -> bytes:
    """The PNG of an image without its alpha channel, as format 2 stored it."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def as_format_2(data: Path) -> None:
    """Rewrite a converted dataset in place as format 2 wrote it: RGB images, format_version 2."""
    manifest = json.loads((data / "manifest.json").read_text())
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            path = data / shard["file"]
            examples = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
            for example in examples:
                images = example.features.feature["images"].bytes_list.value
                images[:] = [rgb_png(png) for png in images]
            write_shard(path, (e.SerializeToString() for e in examples))
            shard.update(bytes=path.stat().st_size, sha256=sha256(path))
    manifest["format_version"] = 2
    (data / "manifest.json").write_text(json.dumps(manifest))


def test_format_2_still_reads_without_masks(tiny_data, tmp_path):
    data = copy_of(tiny_data, tmp_path)
    as_format_2(data)
    manifest = check_dataset(str(data))
    assert verify(str(data)) == manifest and not has_masks(manifest)
    assert "images: RGB, no coverage mask" in summary(manifest)
    old, new = (next(dataset(d, "train").as_numpy_iterator()) for d in (str(data), tiny_data))
    assert old["object_id"] == new["object_id"] and old["images"].shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(old["images"], new["images"])  # the same RGB
    edited = copy_of(str(data), tmp_path / "v3", lambda m: m.update(format_version=3))  # RGB claiming masks
    with pytest.raises(UserError, match="record 0 holds 64x64 px RGB images, .* format_version 3 \\(RGBA\\)"):
        check_dataset(str(edited))

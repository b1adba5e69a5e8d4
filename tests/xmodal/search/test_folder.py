"""Index folders: built and grown against a numpy brute force, checksummed, one writer, one export, leftovers cleaned."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.lock import output_lock
from tfrecords_tools.dataset.read import dataset
from xmodal.serving.embedder import load_embedder
from xmodal.index import IndexConfig, run
from xmodal.search import folder
from xmodal.search.folder import INDEX, open_index
from xmodal.search.queries import open_searcher


def dataset_voxel_embeddings(model: str, data: str) -> dict[str, np.ndarray]:
    """Each object's voxel embedding, by id, computed straight from the dataset."""
    embedder = load_embedder(model)
    rows = [r for split in ("train", "test") for r in dataset(data, split).as_numpy_iterator()]
    vectors = embedder.voxels(np.stack([r["voxels"] for r in rows]))
    return {r["object_id"].decode(): v for r, v in zip(rows, vectors)}


def test_index_holds_every_object_and_searches_like_brute_force(tiny_index, tiny_model, tiny_data):
    catalogue = open_index(tiny_index)
    truth = dataset_voxel_embeddings(tiny_model, tiny_data)
    ids = sorted(truth)
    assert sorted(catalogue.object_ids.tolist()) == ids and catalogue.kind.name == "exact"
    vectors = np.stack([truth[i] for i in ids])
    queries = vectors[:4] + 0.01
    for query, hits in zip(queries, catalogue.nearest(queries, 5)):
        distances = np.linalg.norm(vectors - query, axis=1)
        assert [h.object_id for h in hits] == [ids[i] for i in np.argsort(distances)[:5]]
        np.testing.assert_allclose([h.distance for h in hits], np.sort(distances)[:5], rtol=1e-4, atol=1e-5)


def test_thumbnails_are_pictures_of_each_object(tiny_index):
    catalogue = open_index(tiny_index)
    for position in (0, len(catalogue) - 1):
        for which in ("render", "voxels"):
            with Image.open(__import__("io").BytesIO(catalogue.thumbnail(position, which))) as picture:
                assert picture.format == "PNG" and picture.size == (128, 128)
                assert np.asarray(picture.convert("L")).min() < 200  # something is drawn on the white


def test_add_grows_the_index_to_what_one_build_makes(tiny_index, tiny_model, tiny_data, tmp_path):
    out = str(tmp_path / "grown")
    first = run(IndexConfig(out=out, model=tiny_model, data=(tiny_data,), splits=("train",)))
    grown = run(IndexConfig(out=out, data=(tiny_data,), splits=("test",), adding=True))
    whole = open_index(tiny_index)
    assert grown["count"] == len(whole) > first["count"] and grown["generation"] == 2
    catalogue = open_index(out)
    query = np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)
    assert ([[h.object_id for h in row] for row in catalogue.nearest(query, 6)]
            == [[h.object_id for h in row] for row in whole.nearest(query, 6)])
    assert sorted(p.name for p in Path(out).iterdir()) == [
        ".lock", "entries-00002.npz", INDEX, "thumbnails-00001.bin", "thumbnails-00002.bin", "vectors-00002.faiss"]
    again = run(IndexConfig(out=out, data=(tiny_data,), adding=True))
    assert again["added"] == 0 and len(again["skipped"]) == len(whole) and again["count"] == len(whole)


def test_category_filter_keeps_only_that_category(tiny_index):
    catalogue = open_index(tiny_index)
    query = np.zeros((1, 128), np.float32)
    assert {h.category for h in catalogue.nearest(query, 50, "car")[0]} == {"car"}
    with pytest.raises(UserError, match="no shape of category 'chair'"):
        catalogue.nearest(query, 5, "chair")


def test_another_export_is_refused(tiny_index, other_model, tiny_data):
    with pytest.raises(UserError, match="was made by the export .* not by"):
        open_searcher(tiny_index, other_model)
    with pytest.raises(UserError, match="was made by the export"):
        run(IndexConfig(out=tiny_index, model=other_model, data=(tiny_data,), adding=True))


def test_second_writer_is_refused(tiny_model, tiny_data, tmp_path):
    out = tmp_path / "busy"
    with output_lock(out):
        holder = subprocess.run([sys.executable, "-m", "xmodal.index", "build", "--model", tiny_model, "--data",
                                 tiny_data, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert holder.returncode == 2 and "Traceback" not in holder.stderr
    assert "is in use by process" in holder.stderr.strip().splitlines()[-1]
    assert not (out / INDEX).exists()


def test_build_refuses_a_folder_with_an_index_or_other_files(tiny_index, tiny_model, tiny_data, tmp_path):
    with pytest.raises(UserError, match="already holds an index"):
        run(IndexConfig(out=tiny_index, model=tiny_model, data=(tiny_data,)))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds other files \\(notes.txt\\)"):
        run(IndexConfig(out=str(tmp_path), model=tiny_model, data=(tiny_data,)))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_damaged_file_is_named(tiny_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    pack = copy / json.loads((copy / INDEX).read_text())["files"]["thumbnails"][0]["file"]
    data = bytearray(pack.read_bytes())
    data[100] ^= 0xFF
    pack.write_bytes(bytes(data))
    with pytest.raises(UserError, match=f"{pack.name} does not match its checksum"):
        open_index(str(copy))


def test_files_of_a_killed_writer_are_removed_and_nothing_else(tiny_index, tiny_data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    leftovers = [copy / "vectors-00007.faiss", copy / ".entries-00002.tmp-99999.npz", copy / "thumbnails-00002.bin"]
    for path in leftovers:
        path.write_bytes(b"half written")
    (copy / "mine.txt").write_text("kept")
    result = run(IndexConfig(out=str(copy), data=(tiny_data,), adding=True))
    assert result["added"] == 0 and not any(p.exists() for p in leftovers)
    assert (copy / "mine.txt").read_text() == "kept" and open_index(str(copy)).object_ids.size == result["count"]


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(kind="exact"), "key kind must be an object"),
    (lambda d: d.update(export={}), "key export.path is missing"),
    (lambda d: d["export"].update(version="1"), "export.version must be an integer or null"),
    (lambda d: d.update(categories=None), "key categories must be an object"),
    (lambda d: d.update(generation="x"), "key generation must be an integer"),
    (lambda d: d.update(format="1"), "key format must be an integer"),
    (lambda d: d.update(requested_kind="bogus"), "unknown index kind"),
    (lambda d: d["files"]["vectors"].update(file="../../etc/passwd"), "is not a file of an index"),
    (lambda d: d["files"].update(thumbnails="x"), "key files.thumbnails must be a list"),
    (lambda d: d["export"].update(calibration={"split": "test"}), "key export.calibration.objects is missing"),
    (lambda d: d["export"]["calibration"].update(distances=["far"]), "export.calibration.distances must hold numbers"),
])
def test_index_json_of_another_shape_is_one_line(change, words, tiny_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    description = json.loads((copy / INDEX).read_text())
    change(description)
    (copy / INDEX).write_text(json.dumps(description))
    with pytest.raises(UserError, match="not an index description written by xmodal.index: .*" + re.escape(words)):
        open_index(str(copy))


def test_a_copy_of_the_export_serves_when_the_original_is_gone(tiny_index, tiny_model, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    description = json.loads((copy / INDEX).read_text())
    description["export"]["path"] = str(tmp_path / "moved" / "1")
    (copy / INDEX).write_text(json.dumps(description))
    with pytest.raises(UserError, match="that made the index .* is gone: pass --model"):
        open_searcher(str(copy))
    assert len(open_searcher(str(copy), tiny_model).catalogue) == len(open_index(tiny_index))


def test_a_reader_caught_by_a_commit_reads_the_new_state(tiny_index, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    stale = json.loads((copy / INDEX).read_text())
    stale["files"]["vectors"]["file"] = "vectors-00000.faiss"  # what a reader holds when a writer removes its files
    reads = iter([stale])
    real = folder.read_description
    monkeypatch.setattr(folder, "read_description", lambda path: next(reads, None) or real(path))
    assert len(folder.open_index(str(copy))) == len(open_index(tiny_index))

import json
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from pipelines.embed import EmbedConfig, run
from tfrecords_tools.errors import UserError
from xmodal.serving.embedder import load_embedder
from xmodal.serving.export import write_export
from xmodal.index import IndexConfig, run as index_run
from xmodal.search.entries import Entries, dataset_entries, joined
from xmodal.search.folder import open_index
from xmodal.search.provenance import export_identity
from xmodal.search.shards import read_embeddings

DIRECT = ["--runner", "DirectRunner"]


@pytest.fixture(scope="module")
def shards(tiny_data, tiny_model, tmp_path_factory) -> str:
    """The tiny dataset embedded by the Beam pipeline into two shards."""
    out = tmp_path_factory.mktemp("embeddings") / "shards"
    run(EmbedConfig(tiny_model, tiny_data, str(out), shards=2), DIRECT)
    return str(out)


def by_id(entries: Entries) -> Entries:
    """The entries sorted by object id."""
    return entries.subset(np.argsort(entries.object_ids))


def test_beam_writes_the_entries_of_the_local_path(shards, tiny_data, tiny_model):
    made_by, parts, total = read_embeddings(shards)
    beam = by_id(joined(list(parts)))
    local = by_id(joined(list(dataset_entries(load_embedder(tiny_model), tiny_data))))
    assert made_by == export_identity(tiny_model)
    assert total == len(beam) == len(local) == 12
    for field in ("object_ids", "categories", "splits"):
        assert getattr(beam, field).tolist() == getattr(local, field).tolist()
    np.testing.assert_allclose(beam.embeddings, local.embeddings, rtol=0, atol=1e-5)
    assert beam.renders == local.renders and beam.voxel_pictures == local.voxel_pictures
    description = json.loads((Path(shards) / "embeddings.json").read_text())
    assert description["data"] == str(Path(tiny_data).resolve()) and sorted(description["splits"]) == ["test", "train"]
    assert [s["file"] for s in description["shards"]] == [f"embeddings-0000{i}-of-00002.tfrecord" for i in range(2)]


def test_index_of_the_shards_answers_as_the_index_of_the_dataset(shards, tiny_data, tiny_model, tmp_path):
    index_run(IndexConfig(out=str(tmp_path / "from-shards"), model=tiny_model, embeddings=(shards,)))
    index_run(IndexConfig(out=str(tmp_path / "from-data"), model=tiny_model, data=(tiny_data,)))
    from_shards, from_data = open_index(str(tmp_path / "from-shards")), open_index(str(tmp_path / "from-data"))
    stored = from_data.index.reconstruct_n(0, from_data.index.ntotal)  # (12, 128)
    rng = np.random.default_rng(0)
    queries = np.concatenate([stored, stored.mean(0) + stored.std(0) * rng.normal(size=(8, stored.shape[1]))])
    for a, b in zip(from_shards.nearest(queries, 5), from_data.nearest(queries, 5)):
        assert [h.object_id for h in a] == [h.object_id for h in b]
        np.testing.assert_allclose([h.distance for h in a], [h.distance for h in b], atol=1e-4)


def test_embeddings_of_another_export_are_refused(shards, tiny_model, tmp_path):
    encoders = [keras.saving.load_model(f"{tiny_model}/{name}.keras") for name in ("voxel_encoder", "image_encoder")]
    encoders[0].set_weights([w + 0.01 for w in encoders[0].get_weights()])
    other = write_export(*encoders, str(tmp_path / "other"), views=4)
    with pytest.raises(UserError, match="made by the export") as refused:
        index_run(IndexConfig(out=str(tmp_path / "index"), model=other, embeddings=(shards,)))
    assert str(Path(tiny_model).resolve()) in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "index").exists()


def test_a_second_run_into_the_same_folder_or_one_holding_other_files_is_refused(shards, tiny_data, tiny_model,
                                                                                 tmp_path):
    before = (Path(shards) / "embeddings.json").read_text()
    with pytest.raises(UserError, match="already holds embeddings"):
        run(EmbedConfig(tiny_model, tiny_data, shards), DIRECT)
    assert (Path(shards) / "embeddings.json").read_text() == before
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"holds other files \(notes.txt\)"):
        run(EmbedConfig(tiny_model, tiny_data, str(tmp_path)), DIRECT)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_user_mistake_is_one_line_and_exit_2(tiny_data, tiny_model, tmp_path):
    done = subprocess.run([sys.executable, "-m", "pipelines.embed", "--model", tiny_model, "--data", tiny_data,
                           "--out", str(tmp_path / "out"), "--splits", "validation"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "no split 'validation'" in done.stderr and not (tmp_path / "out").exists()


def test_a_corrupted_record_is_one_line_naming_the_shard(tiny_data, tiny_model, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    shard = sorted(data.glob("train-*.tfrecord"))[0]
    damaged = bytearray(shard.read_bytes())
    damaged[-2000] ^= 0xFF  # in the last record: the manifest's size and the first record still check out
    shard.write_bytes(bytes(damaged))
    with pytest.raises(UserError, match=rf"{shard}: record index \d+ is unreadable"):
        run(EmbedConfig(tiny_model, str(data), str(tmp_path / "out")), DIRECT)
    assert not (tmp_path / "out" / "embeddings.json").exists()

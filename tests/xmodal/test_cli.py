"""The evaluate, embed and retrieve command lines on the tiny trained model."""
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfrecords_tools.dataset.read import dataset
from xmodal.evaluation.metrics import evaluate_embeddings


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600)


def test_evaluate_writes_the_metric_keys(tiny_model, tiny_data, tmp_path):
    done = run("xmodal.evaluate", "--model", tiny_model, "--data", tiny_data, "--out", str(tmp_path / "m.json"))
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics) == {"image_to_voxel", "voxel_to_image", "image_to_image", "modality_gap", "n_objects", "n_images"}
    assert set(metrics["image_to_voxel"]) == {"recall@1", "recall@5", "recall@10", "map", "chance_recall@1",
                                              "chance_recall@5", "chance_recall@10"}
    assert metrics["image_to_voxel"]["chance_recall@1"] == pytest.approx(1 / 3)
    assert (metrics["n_objects"], metrics["n_images"]) == (3, 12)
    model = tf.saved_model.load(tiny_model)
    rows = list(dataset(tiny_data, "test").as_numpy_iterator())
    voxels = np.concatenate([model.signatures["embed_voxels"](voxels=r["voxels"][None])["embedding"] for r in rows])
    images = np.concatenate([model.signatures["embed_images"](images=r["images"])["embedding"] for r in rows])
    labels = np.arange(len(rows))
    expected = evaluate_embeddings(voxels, labels, images, np.repeat(labels, 4))
    assert metrics["voxel_to_image"]["map"] == pytest.approx(expected["voxel_to_image"]["map"], abs=1e-5)
    assert "image_to_voxel" in done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(1)


def test_embed_writes_projector_files_that_tensorboard_opens_first(tiny_model, tiny_data, tmp_path):
    logdir, tsne = tmp_path / "logs", tmp_path / "tsne.png"
    for run_name in ("train", "test"):  # fit's scalar runs: they must not compete with the projector run
        with tf.summary.create_file_writer(str(logdir / run_name)).as_default():
            tf.summary.scalar("loss", 1.0, step=1)
    done = run("xmodal.embed", "--model", tiny_model, "--data", tiny_data, "--logdir", str(logdir),
               "--objects", "3", "--tsne", str(tsne))
    assert done.returncode == 0, done.stderr[-2000:]
    assert tsne.read_bytes()[:4] == b"\x89PNG"
    lines = (logdir / "projector" / "metadata.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["object_id", "modality", "view", "category", "azimuth", "elevation"]
    assert len(lines) == 1 + 3 * 5 and sum("\tvoxels\t" in line for line in lines) == 3
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(logdir),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/data/plugin/projector"
        deadline = time.time() + 120
        assert json.loads(fetch(f"{base}/runs", deadline)) == ["projector"]
        info = json.loads(fetch(f"{base}/info?run=projector", deadline))
        [embedding] = info["embeddings"]
        assert embedding["tensorShape"] == [15, 128] and embedding["sprite"]["imagePath"] == "sprite.png"
        assert embedding["metadataPath"] == "metadata.tsv"
        sprite = fetch(f"{base}/sprite_image?run=projector&name={embedding['tensorName']}", deadline)
        assert sprite[:4] == b"\x89PNG"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_retrieve_prints_k_shapes_and_an_index_answers_as_the_dataset(tiny_model, tiny_data, tiny_index, tmp_path):
    query = tmp_path / "query.png"
    row = next(dataset(tiny_data, "test").as_numpy_iterator())
    query.write_bytes(tf.io.encode_png(row["images"][0]).numpy())
    done = run("xmodal.retrieve", "--model", tiny_model, "--index", tiny_data, "--image", str(query), "--k", "3",
               "--out", str(tmp_path / "grid.png"))
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [line.split() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in ranks] == ["1", "2", "3"]
    distances = [float(r[3]) for r in ranks]
    assert distances == sorted(distances) and all(r[4].endswith("%") for r in ranks)  # rank, id, category, distance
    grid = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    tile = 160
    strip = grid.shape[0] - tile  # captions above the pictures
    assert grid.shape[1] == 4 * tile + 8 and strip > 20
    for i in range(1, 4):  # each result: rank, id and distance in dark text
        assert (grid[:strip, 8 + i * tile:8 + (i + 1) * tile].min(axis=2) < 100).sum() > 40
    again = run("xmodal.retrieve", "--index", tiny_index, "--image", str(query), "--k", "3")  # the index's export
    assert again.returncode == 0 and [line.split()[1] for line in again.stdout.splitlines() if line.strip()[:1].isdigit()] == [r[1] for r in ranks]


@pytest.mark.parametrize("module, args, message", [
    ("xmodal.evaluate", ["--model", "/nonexistent", "--data", "DATA"], "not a SavedModel"),
    ("xmodal.retrieve", ["--model", "MODEL", "--index", "DATA", "--image", "JUNK"], "not a readable image"),
    ("xmodal.embed", ["--model", "MODEL", "--data", "OTHER", "--logdir", "LOG"], "the model expects 32^3"),
])
def test_bad_inputs_are_one_line_exit_2(module, args, message, tiny_model, tiny_data, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    other = tmp_path / "other"
    other.mkdir()
    manifest = json.loads((Path(tiny_data) / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "voxel_res": 64}))
    values = {"DATA": tiny_data, "MODEL": tiny_model, "JUNK": str(junk), "OTHER": str(other), "LOG": str(tmp_path / "l")}
    done = run(module, *[values.get(a, a) for a in args])
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr

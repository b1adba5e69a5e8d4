"""Query pictures of `retrieve`: broken and oversized files are one-line errors; alpha, 16 bits and grey are shown
right; pictures that are not square are letterboxed; results are printed with their confidence, or a note."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.pictures import broken_crc, png, png_header_only
from tfrecords_tools.errors import UserError, run_cli
from tfrecords_tools.dataset.read import dataset
from xmodal import retrieve
from xmodal.serving.embedder import load_embedder
from xmodal.search.query_image import png_bytes, query_file, read_picture


def write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def read_query(path: Path) -> Image.Image:
    """The query picture file as `retrieve` reads it."""
    return read_picture(query_file(str(path)), str(path))


@pytest.mark.parametrize("name, data, message", [
    ("crc.png", broken_crc(png(np.full((16, 16, 3), 90, np.uint8))), "not a readable image"),
    ("notes.png", b"these are notes, not a picture\n", "not a readable image"),
    ("truncated.png", png(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[:300], "not a readable image"),
    ("bomb.png", png_header_only(14000, 14000), "PIL's limit against decompression bombs"),
    ("large.png", png_header_only(10000, 10000), "PIL's limit against decompression bombs"),  # a warning in PIL
])
def test_unreadable_or_oversized_query_is_a_user_error(name, data, message, tmp_path):
    with pytest.raises(UserError, match=message):
        read_query(write(tmp_path, name, data))


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)  # transparent black
    rgba[:4] = (200, 0, 0, 255)  # opaque red top half
    rgba[4:, :4] = (0, 0, 0, 128)  # half-transparent black
    pixels = np.asarray(read_query(write(tmp_path, "a.png", png(rgba, "RGBA"))))
    assert pixels.shape == (8, 8, 3) and (pixels[0, 0] == (200, 0, 0)).all()
    assert (pixels[7, 7] == 255).all() and abs(int(pixels[7, 0, 0]) - 127) <= 1


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = np.full((8, 8), 30000, np.uint16)
    grey[0, 0] = 65535
    pixels = np.asarray(read_query(write(tmp_path, "g16.png", png(grey))))
    assert (pixels[1, 1] == 117).all() and (pixels[0, 0] == 255).all()


def test_query_embedding_of_rgba_equals_its_composite_on_white(tiny_model, tmp_path):
    embedder = load_embedder(tiny_model)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 16:48] = (30, 60, 200, 255)
    white = np.full((64, 64, 3), 255, np.uint8)
    white[16:48, 16:48] = (30, 60, 200)
    query = png_bytes(read_query(write(tmp_path, "q.png", png(rgba, "RGBA"))))
    embedded = embedder.encoded([query, png(white), png(rgba[..., :3])])  # (3, 128)
    np.testing.assert_allclose(embedded[0], embedded[1], atol=1e-5)
    assert not np.allclose(embedded[0], embedded[2], atol=1e-3)  # black background would differ


def run_retrieve(tiny_model: str, tiny_data: str, image: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xmodal.retrieve", "--model", tiny_model, "--index", tiny_data,
                           "--image", image, *args], capture_output=True, text=True, timeout=300)


def test_broken_png_is_one_line_before_any_work(tiny_model, tmp_path):
    broken = write(tmp_path, "crc.png", broken_crc(png(np.full((16, 16, 3), 90, np.uint8))))
    done = run_retrieve(tiny_model, str(tmp_path / "no-index-needed"), broken)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {broken}: not a readable image: ")


def test_sixteen_bit_query_is_drawn_grey_not_white(tiny_model, tiny_data, tmp_path):
    grey = write(tmp_path, "g16.png", png(np.full((64, 64), 30000, np.uint16)))
    done = run_retrieve(tiny_model, tiny_data, grey, "--k", "2", "--out", str(tmp_path / "grid.png"))
    assert done.returncode == 0, done.stderr[-2000:]
    drawn = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB"))
    assert abs(int(drawn[40, 40, 0]) - 117) <= 1  # the query tile, first on the left


def test_retrieve_through_an_index_by_mesh_and_refuses_another_export(tiny_index, tiny_meshes, other_model, tmp_path):
    mesh = sorted((p for p in __import__("pathlib").Path(tiny_meshes).glob("car-*/model.obj")))[2]
    found = subprocess.run([sys.executable, "-m", "xmodal.retrieve", "--index", tiny_index, "--mesh", str(mesh),
                            "--k", "2"], capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stderr[-2000:]
    assert found.stdout.splitlines()[1].split()[:2] == ["1", mesh.parent.name]
    refused = subprocess.run([sys.executable, "-m", "xmodal.retrieve", "--index", tiny_index, "--model", other_model,
                              "--mesh", str(mesh)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "was made by the export" in refused.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("out, words", [
    ("{tmp}", "is a folder"),
    ("{tmp}/grid", "name a picture file"),
    ("{tmp}/grid.txt", "name a picture file"),
])
def test_a_bad_out_is_one_line_before_any_work(out, words, tiny_index, tmp_path):
    query = write(tmp_path, "q.png", png(np.full((16, 16, 3), 90, np.uint8)))
    done = subprocess.run([sys.executable, "-m", "xmodal.retrieve", "--index", tiny_index, "--image", query,
                           "--out", out.format(tmp=tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr and words in done.stderr.strip().splitlines()[-1]


def test_out_in_a_missing_folder_is_made(tiny_index, tmp_path):
    query = write(tmp_path, "q.png", png(np.full((16, 16, 3), 90, np.uint8)))
    done = subprocess.run([sys.executable, "-m", "xmodal.retrieve", "--index", tiny_index, "--image", query,
                           "--out", str(tmp_path / "new" / "grid.png")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and (tmp_path / "new" / "grid.png").is_file()


def retrieve_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `python -m xmodal.retrieve ARGS`, run in this process."""
    monkeypatch.setattr(sys, "argv", ["retrieve", *args])
    try:
        run_cli(retrieve.main)
        status = 0
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def result_rows(out: str) -> list[list[str]]:
    """The printed results: rank, id, category, distance, confidence."""
    return [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]


def test_results_are_printed_with_their_confidence_or_a_note(tiny_index, tiny_model, uncalibrated_model, unlike_model,
                                                             tiny_data, tmp_path, monkeypatch, capsys):
    matched = np.array(json.loads((Path(tiny_model) / "calibration.json").read_text())["distances"])
    row = next(dataset(tiny_data, "test").as_numpy_iterator())
    query = write(tmp_path, "q.png", png(row["images"][0]))
    status, out, _ = retrieve_in_process(monkeypatch, capsys, "--index", tiny_index, "--image", query, "--k", "3")
    rows = result_rows(out)
    assert status == 0 and out.splitlines()[0].split()[-1] == "confidence" and len(rows) == 3
    for rank in rows:  # the distance is printed to 4 decimals: the confidence is that of a distance within 5e-5
        shown, distance = float(rank[4].rstrip("%")), float(rank[3])
        near = (distance - 5e-5, distance, distance + 5e-5)
        assert any(abs(shown - 100 * np.mean(matched >= d)) <= 0.5 for d in near)
    if abs(float(rows[0][3]) - matched.max()) > 1e-4:  # beyond the printed distance's rounding
        assert ("note: the query looks unlike the catalogue" in out) == (float(rows[0][3]) > matched.max())
    status, out, _ = retrieve_in_process(monkeypatch, capsys, "--index", tiny_index, "--model", unlike_model,
                                         "--image", query, "--k", "2")
    assert status == 0 and "note: the query looks unlike the catalogue: its nearest shape is " in out
    assert [r[4] for r in result_rows(out)] == ["0%", "0%"]
    status, out, _ = retrieve_in_process(monkeypatch, capsys, "--index", tiny_index, "--model", uncalibrated_model,
                                         "--image", query, "--k", "2")
    assert status == 0 and [r[4] for r in result_rows(out)] == ["-", "-"] and "note: no confidence: " in out


def test_the_drawn_query_is_letterboxed_not_stretched(tiny_index, tmp_path, monkeypatch, capsys):
    wide = np.zeros((40, 80, 3), np.uint8)  # a black picture twice as wide as tall
    query = write(tmp_path, "wide.png", png(wide))
    status, _, err = retrieve_in_process(monkeypatch, capsys, "--index", tiny_index, "--image", query, "--k", "1",
                                         "--out", str(tmp_path / "grid.png"))
    assert status == 0, err
    drawn = np.asarray(Image.open(tmp_path / "grid.png").convert("L"))
    tile = drawn[-160:, :160]  # the query's picture, below its caption
    assert (tile[:30] > 240).all() and (tile[-30:] > 240).all() and (tile[50:110, 10:150] < 15).all()

"""Projector files: one metadata row per point whatever the ids hold, in a run of their own; the t-SNE picture in the
format of its file name."""
import numpy as np
import pytest

from xmodal.evaluation.projector import HEADER, RUN, THUMBNAIL, tsne_writes, write_projector, write_tsne


def gathered(object_ids: list[str]) -> dict:
    """Two points (an image and the voxels) per object id."""
    rows = [row for i in object_ids for row in ((i, "image", "0", "cat\tx", "1.0", "2.0"), (i, "voxels", "", "cat", "", ""))]
    return {"vectors": np.random.default_rng(0).normal(size=(len(rows), 128)).astype(np.float32), "metadata": rows,
            "thumbnails": np.zeros((len(rows), THUMBNAIL, THUMBNAIL, 3), np.uint8)}


def test_ids_with_tabs_and_line_breaks_keep_one_row_per_point(tmp_path):
    ids = ["plain", "tab\there", "line\nbreak", "both\r\n\tend\n"]
    run = write_projector(str(tmp_path), gathered(ids))
    lines = (run / "metadata.tsv").read_text().split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == 1 + 2 * len(ids)
    assert all(len(line.split("\t")) == len(HEADER) for line in lines[:-1])
    assert [line.split("\t")[0] for line in lines[1:-1:2]] == ["plain", "tab here", "line break", "both  end"]


def test_only_the_projector_run_holds_a_projector_config_or_checkpoint(tmp_path):
    for name in ("train", "test"):
        (tmp_path / name).mkdir()
    run = write_projector(str(tmp_path), gathered(["a", "b"]))
    assert run == tmp_path / RUN
    assert {"projector_config.pbtxt", "metadata.tsv", "sprite.png", "checkpoint"} <= {p.name for p in run.iterdir()}
    assert any(p.name.startswith("events.out.tfevents") for p in run.iterdir())  # an event file makes it a run
    others = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != run]
    assert others == []  # nothing in logdir itself: TensorBoard would hand its checkpoint to every other run


@pytest.mark.parametrize("name, magic", [("tsne.jpg", b"\xff\xd8"), ("tsne.JPEG", b"\xff\xd8"),
                                         ("tsne.png", b"\x89PNG"), ("tsne.pdf", b"%PDF")])
def test_the_tsne_picture_has_the_format_of_its_suffix(tmp_path, name, magic):
    write_tsne(str(tmp_path / name), gathered(["a", "b", "c"]))
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_tsne_writes_the_suffixes_matplotlib_writes_and_no_others():
    assert all(tsne_writes(suffix) for suffix in (".png", ".jpg", ".JPEG", ".pdf", ".svg"))
    assert not any(tsne_writes(suffix) for suffix in (".bmp", ".pgf", ".raw", ".txt", ""))

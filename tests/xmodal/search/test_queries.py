"""Searching with a picture: letterboxed, never stretched; each hit's confidence from the export's calibration; a
query unlike the catalogue said so; an export without calibration noted, a broken one refused in one line."""
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import recalibrated
from tests.pictures import png
from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.read import dataset
from xmodal.serving.calibration import CALIBRATION
from xmodal.search.folder import open_index
from xmodal.search.queries import open_searcher, query_picture


def wide_picture() -> tuple[np.ndarray, np.ndarray]:
    """A 32 x 64 picture and its letterbox at 64^2: centred on white rows, at scale 1."""
    wide = np.random.default_rng(2).integers(0, 256, (32, 64, 3), dtype=np.uint8)
    boxed = np.full((64, 64, 3), 255, np.uint8)
    boxed[16:48] = wide
    return wide, boxed


def test_a_picture_that_is_not_square_is_letterboxed_on_white_before_the_signature(tiny_index):
    wide, boxed = wide_picture()
    square = np.asarray(Image.open(io.BytesIO(query_picture(png(wide)))))
    np.testing.assert_array_equal(square, boxed)  # what any export's embed_png receives: a square, old ones too
    tall = np.asarray(Image.open(io.BytesIO(query_picture(png(np.zeros((30, 20, 3), np.uint8))))))
    assert tall.shape == (30, 30, 3) and (tall[:, :5] == 255).all() and (tall[:, 5:25] == 0).all()
    searcher = open_searcher(tiny_index)
    [hits] = searcher.pictures([png(wide)], 3)
    [expected] = searcher.catalogue.nearest(searcher.embedder.images(boxed[None]), 3)
    assert [h.object_id for h in hits] == [h.object_id for h in expected]
    np.testing.assert_allclose([h.distance for h in hits], [h.distance for h in expected], atol=1e-5)


def test_each_hit_has_the_share_of_matched_pairs_at_least_as_far(tiny_index, tiny_model, tiny_data):
    matched = np.array(json.loads((Path(tiny_model) / CALIBRATION).read_text())["distances"])  # numpy's reference
    searcher = open_searcher(tiny_index)
    renders = [png(row["images"][v]) for row in dataset(tiny_data, "test").as_numpy_iterator() for v in (0, 2)]
    found = searcher.pictures(renders + [png(np.full((64, 64, 3), 255, np.uint8))], 5)
    for hits in found:
        assert [h.confidence for h in hits] == [np.mean(matched >= h.distance) for h in hits]
        assert searcher.unlike(hits) == (hits[0].distance > matched.max())
        assert (searcher.note(hits) is None) != searcher.unlike(hits)
    assert open_index(tiny_index).export["calibration"]["distances"] == matched.tolist()  # carried into the index


def test_a_query_farther_than_every_matched_pair_looks_unlike_the_catalogue(tiny_index, unlike_model):
    searcher = open_searcher(tiny_index, unlike_model)
    [hits] = searcher.pictures([png(np.full((64, 64, 3), 90, np.uint8))], 2)
    assert searcher.unlike(hits) and [h.confidence for h in hits] == [0.0, 0.0]
    assert searcher.note(hits).startswith("the query looks unlike the catalogue: its nearest shape is ")


def test_an_export_made_before_calibration_gives_no_confidence_and_says_so(tiny_index, uncalibrated_model):
    searcher = open_searcher(tiny_index, uncalibrated_model)
    [hits] = searcher.pictures([png(np.full((64, 64, 3), 90, np.uint8))], 2)
    assert [h.confidence for h in hits] == [None, None] and searcher.unlike(hits) is None
    assert searcher.note(hits).startswith(f"no confidence: the export has no {CALIBRATION}")


def test_a_broken_calibration_is_one_line(tiny_index, tiny_model, tmp_path):
    copy = recalibrated(tiny_model, tmp_path / "1", [0.5])
    (Path(copy) / CALIBRATION).write_text('{"split": "test", "objects": 1, "distances": [0.5, "far"]}')
    with pytest.raises(UserError, match=f"{CALIBRATION}: not a calibration written by xmodal.serving.export: key distances "
                                        "must hold numbers"):
        open_searcher(tiny_index, copy)
    (Path(copy) / CALIBRATION).write_text("{not json")
    with pytest.raises(UserError, match=f"{CALIBRATION}: unreadable: "):
        open_searcher(tiny_index, copy)

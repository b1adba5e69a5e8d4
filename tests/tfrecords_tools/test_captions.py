"""Captions: text on a white strip above a picture, on one line, cut to the picture's width."""
import numpy as np
from PIL import ImageFont

from tfrecords_tools.captions import captioned, fitted


def test_caption_adds_a_strip_with_text_above_the_picture():
    picture = np.full((40, 120, 3), 7, np.uint8)
    out = np.asarray(captioned(picture, ["first", "second"]))
    strip = out.shape[0] - 40
    assert out.shape[1:] == (120, 3) and strip > 2 * 11
    np.testing.assert_array_equal(out[strip:], picture)
    assert (out[:strip].min(axis=2) < 100).sum() > 20


def test_long_or_multiline_text_is_one_line_that_fits():
    font = ImageFont.load_default(11)
    text = fitted("an\nid\twith   breaks " + "x" * 200, font, 100)
    assert text.startswith("an id with breaks") and text.endswith("...") and font.getlength(text) <= 100
    assert fitted("short", font, 100) == "short"

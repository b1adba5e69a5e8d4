import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfrecords_tools.errors import UserError
from xmodal.augmentation.backgrounds import PHOTO_SIDE, load_photos, photo_crops, shipped_photos, textures


def test_textures_are_seeded_in_range_and_varied():
    seed = tf.constant([3, 4], tf.int64)
    a, b = textures(seed, 16, 32).numpy(), textures(seed, 16, 32).numpy()
    other = textures(tf.constant([3, 5], tf.int64), 16, 32).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, other)
    assert a.shape == (16, 32, 32, 3) and a.min() >= 0.0 and a.max() <= 255.0
    assert np.all(a.reshape(16, -1).std(axis=1) > 1.0)  # none is a uniform colour
    assert len({round(float(s), 3) for s in a.std(axis=(1, 2, 3))}) == 16  # each image its own


def test_photo_crops_come_from_the_photographs():
    photos = np.stack([np.full((8, 8, 3), 10, np.uint8), np.full((8, 8, 3), 200, np.uint8)])
    crops = photo_crops(tf.constant(photos), tf.constant([0, 1], tf.int64), 12, 4).numpy()
    values = set(np.unique(np.round(crops)))
    assert values <= {10.0, 200.0} and values == {10.0, 200.0}


def empty_folder(tmp_path):
    """A folder holding only a broken picture."""
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"broken")
    return folder


def test_load_photos_squares_every_readable_picture_and_skips_broken(tmp_path):
    Image.new("RGB", (300, 200), (255, 0, 0)).save(tmp_path / "wide.jpg")
    Image.new("L", (50, 80), 128).save(tmp_path / "tall.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    photos = load_photos(str(tmp_path))
    assert photos.shape == (2, PHOTO_SIDE, PHOTO_SIDE, 3) and photos.dtype == np.uint8
    with pytest.raises(UserError, match="no readable picture"):
        load_photos(str(empty_folder(tmp_path)))
    with pytest.raises(UserError, match="not a folder"):
        load_photos(str(tmp_path / "missing"))



def test_the_shipped_photographs_are_three_distinct_pictures():
    photos = shipped_photos()
    assert photos.shape == (3, PHOTO_SIDE, PHOTO_SIDE, 3)
    assert all(p.std() > 20 for p in photos)  # real pictures, not flat colour
    assert len({p.tobytes() for p in photos}) == 3

import pytest

from tfrecords_tools.errors import UserError
from tfrecords_tools.dataset.read import dataset
from xmodal.training import builtin_data
from xmodal.training.builtin_data import cache_dir, cached_root, code_version, synthetic_dataset


def test_cache_key_names_the_categories_unless_they_are_just_cars(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cached_root(2000, 0, ("car",)) == tmp_path / "xmodal" / f"synth-{code_version()}-seed0-n2000"
    mixed = cached_root(2000, 0, ("car", "chair", "table", "aircraft"))
    assert mixed.name == f"synth-{code_version()}-seed0-n2000-car+chair+table+aircraft"
    assert cached_root(2000, 0, ("chair", "car")) != cached_root(2000, 0, ("car", "chair"))  # the order assigns objects


def test_unknown_category_is_a_user_error_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(UserError, match="unknown category 'boat'"):
        synthetic_dataset(4, 0, 32, 64, 2, ("car", "boat"))
    assert not cache_dir().exists()


def test_mixed_dataset_is_made_once_with_each_objects_category(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    data = synthetic_dataset(4, 1, 32, 64, 2, ("chair", "aircraft"))
    rows = [row for split in ("train", "test") for row in dataset(data, split).as_numpy_iterator()]
    found = {row["object_id"].decode(): row["category"].decode() for row in rows}
    assert found == {"chair-1-00000": "chair", "aircraft-1-00001": "aircraft", "chair-1-00002": "chair",
                     "aircraft-1-00003": "aircraft"}
    monkeypatch.setattr(builtin_data, "convert", None)  # a second conversion would fail
    assert synthetic_dataset(4, 1, 32, 64, 2, ("chair", "aircraft")) == data

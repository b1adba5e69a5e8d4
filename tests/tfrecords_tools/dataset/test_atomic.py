import pytest
from PIL import Image

from tfrecords_tools.dataset.atomic import atomic_file, write_bytes_atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "grid.png"
    write_bytes_atomic(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_the_temporary_keeps_the_file_type(tmp_path):
    path = tmp_path / "grid.png"
    with atomic_file(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path and tmp.name.startswith(".")
        Image.new("RGB", (3, 2), "red").save(tmp)
    assert Image.open(path).size == (3, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]

import numpy as np
import pytest

from tfrecords_tools.meshes.binvox import BadBinvox, Binvox, read_binvox, resample, write_binvox


def test_reads_a_hand_made_file(tmp_path):
    # 2^3 grid; order x outermost, then z, then y fastest: only (x=1, y=0, z=1) is filled.
    # flat index = x*4 + z*2 + y = 1*4 + 1*2 + 0 = 6.
    data = bytes([0, 6, 1, 1, 0, 1])
    path = tmp_path / "hand.binvox"
    path.write_bytes(b"#binvox 1\ndim 2 2 2\ntranslate -0.5 -0.25 0\nscale 1.5\ndata\n" + data)
    grid = read_binvox(path)
    expected = np.zeros((2, 2, 2), bool)
    expected[1, 0, 1] = True
    np.testing.assert_array_equal(grid.voxels, expected)
    assert grid.translate == (-0.5, -0.25, 0.0) and grid.scale == 1.5


def test_write_read_round_trip_with_long_runs(tmp_path):
    voxels = np.zeros((32, 32, 32), bool)
    voxels[4:28, 2:10, 5:30] = True  # runs longer than 255 voxels
    voxels[0, 0, 0] = True
    write_binvox(tmp_path / "a.binvox", Binvox(voxels, (1.0, 2.0, 3.0), 0.5))
    again = read_binvox(tmp_path / "a.binvox")
    np.testing.assert_array_equal(again.voxels, voxels)
    raw = (tmp_path / "a.binvox").read_bytes()
    counts = np.frombuffer(raw[raw.index(b"data\n") + 5:], np.uint8)[1::2]
    assert counts.max() == 255 and counts.min() >= 1


def test_bad_files_say_why(tmp_path):
    (tmp_path / "x.binvox").write_bytes(b"hello\n")
    with pytest.raises(BadBinvox, match="not a binvox"):
        read_binvox(tmp_path / "x.binvox")
    (tmp_path / "y.binvox").write_bytes(b"#binvox 1\ndim 2 2 2\ndata\n" + bytes([1, 3]))
    with pytest.raises(BadBinvox, match="cover 3 voxels"):
        read_binvox(tmp_path / "y.binvox")


def test_resample_keeps_blocks():
    grid = np.zeros((4, 4, 4), bool)
    grid[:2] = True
    np.testing.assert_array_equal(resample(grid, 8)[:4], True)
    np.testing.assert_array_equal(resample(grid, 8)[4:], False)
    np.testing.assert_array_equal(resample(resample(grid, 8), 4), grid)

import numpy as np

from tfrecords_tools.records import unpack_voxels


def test_packbits_round_trip_in_graph():
    grid = np.random.default_rng(0).random((2, 8, 8, 8)) < 0.3
    packed = np.array([np.packbits(g).tobytes() for g in grid])
    np.testing.assert_array_equal(unpack_voxels(packed, 8).numpy(), grid.astype(np.uint8))

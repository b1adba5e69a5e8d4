"""Meshes -> solid voxel grids + headless renders -> sharded TFRecords (see docs/format.md)."""
from tfrecords_tools.errors import set_tensorflow_log_level

set_tensorflow_log_level()

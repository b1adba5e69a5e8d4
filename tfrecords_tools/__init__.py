"""Meshes -> solid voxel grids + headless renders -> sharded TFRecords (see docs/format.md)."""
from tfrecords_tools.errors import interrupt_quietly_while_loading, set_tensorflow_log_level

interrupt_quietly_while_loading()
set_tensorflow_log_level()

"""Meshes -> solid voxel grids + headless renders -> sharded TFRecords (see docs/format.md)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs; errors still raise in Python

"""Meshes -> solid voxel grids + headless renders -> sharded TFRecords (see docs/format.md)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of CLI output

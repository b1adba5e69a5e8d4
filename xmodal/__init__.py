"""xmodal: one embedding space for 3D voxel shapes and 2D images of them."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of CLI output

from tfrecords_tools.errors import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

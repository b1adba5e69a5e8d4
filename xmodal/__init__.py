"""xmodal: one embedding space for 3D voxel shapes and 2D images of them."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow C++ logs; errors still raise in Python

from tfrecords_tools.errors import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

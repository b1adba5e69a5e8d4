"""xmodal: one embedding space for 3D voxel shapes and 2D images of them."""
from tfrecords_tools.errors import import_tensorflow_quietly

import_tensorflow_quietly()

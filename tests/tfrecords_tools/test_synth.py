import io

import numpy as np
import trimesh

from tfrecords_tools.synth import synth_car


def load(text: str) -> trimesh.Trimesh:
    return trimesh.load(io.StringIO(text), file_type="obj", process=False)


def test_same_seed_gives_identical_meshes_and_other_seeds_differ():
    assert synth_car(5, 7) == synth_car(5, 7)
    assert synth_car(5, 7)[1] != synth_car(6, 7)[1]


def test_cars_are_watertight_distinct_shapes():
    meshes = [load(synth_car(0, i)[1]) for i in range(10)]
    assert all(m.is_watertight and m.volume > 0 for m in meshes)
    extents = np.array([m.extents / m.extents.max() for m in meshes])
    gaps = np.linalg.norm(extents[:, None] - extents[None], axis=2)[np.triu_indices(10, 1)]
    assert gaps.min() > 1e-3  # every car has its own proportions

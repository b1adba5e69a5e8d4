"""Drawing one object's continuous parameters around one of its category's archetypes."""
import numpy as np

JITTER = 0.07  # relative standard deviation of each parameter around its archetype
MIN_THICKNESS = 0.035  # of the object's largest size: about one voxel at 32^3


def draw(rng: np.random.Generator, archetypes: dict[str, dict[str, float]],
         jitter: float = JITTER) -> tuple[str, dict[str, float]]:
    """An archetype name, drawn uniformly, and its parameters, each jittered by a relative normal."""
    names = sorted(archetypes)
    kind = names[rng.integers(len(names))]
    mean = archetypes[kind]
    noise = rng.standard_normal(len(mean))
    return kind, {name: value * (1.0 + jitter * n) for (name, value), n in zip(mean.items(), noise)}


def color(rng: np.random.Generator, lo: float = 0.15, hi: float = 0.95) -> tuple[float, float, float]:
    """A random RGB colour with each channel in [lo, hi]."""
    return tuple(float(c) for c in rng.uniform(lo, hi, 3))


def thick(value: float, size: float) -> float:
    """A thickness no smaller than MIN_THICKNESS of an object whose largest size is `size`."""
    return max(value, MIN_THICKNESS * size)

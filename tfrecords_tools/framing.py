"""Camera distances that keep a whole object in the picture: framing by its bounding sphere.

The camera looks at the origin, where meshes are centred, through a square frustum; a sphere of
radius r about the origin seen from distance d fills a cone of half-angle asin(r / d), so it
fits the picture when r / d <= sin(FOV / 2), whatever the direction and in-plane rotation.
"""
import numpy as np

FOV_DEGREES = 35.0  # field of view of the square pictures
MARGIN = 1.05  # the bounding sphere's distance is this much more than the distance where it touches the border


def bounding_radius(vertices: np.ndarray) -> float:
    """Radius of the smallest sphere about the origin holding every vertex (N, 3)."""
    return float(np.linalg.norm(vertices, axis=1).max())


def framing_distance(radius: float) -> float:
    """The camera distance at which a sphere of `radius` about the origin fills the picture, less the margin."""
    return MARGIN * radius / np.sin(np.radians(FOV_DEGREES) / 2)


def framed(viewpoints: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Viewpoints (V, 4) with each distance raised to the framing distance of the object's vertices where it is closer."""
    out = viewpoints.copy()
    out[:, 3] = np.maximum(out[:, 3], framing_distance(bounding_radius(vertices)))
    return out

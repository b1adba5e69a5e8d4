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


def framing_distance(radius: float, fov: float | np.ndarray = FOV_DEGREES,
                     margin: float = MARGIN) -> float | np.ndarray:
    """The camera distance at which a sphere of `radius` about the origin fills a picture of `fov` degrees, times
    `margin` (more than 1: a margin around it; less than 1: cut by the border)."""
    return margin * radius / np.sin(np.radians(fov) / 2)


def framed(viewpoints: np.ndarray, vertices: np.ndarray, fov: float | np.ndarray = FOV_DEGREES) -> np.ndarray:
    """Viewpoints (V, 4) with each distance raised to the framing distance of the object's vertices where it is
    closer, in pictures of `fov` degrees (one, or (V,) one per viewpoint)."""
    out = viewpoints.copy()
    out[:, 3] = np.maximum(out[:, 3], framing_distance(bounding_radius(vertices), fov))
    return out

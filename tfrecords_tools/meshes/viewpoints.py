"""Camera viewpoints drawn by kernel density estimation from a file of real-image viewpoints."""
import numpy as np
from sklearn.neighbors import KernelDensity

from tfrecords_tools.errors import UserError

COLUMNS = ("azimuth", "elevation", "inplane", "distance")  # degrees, degrees, degrees, object sizes


def read_viewpoints(path: str) -> np.ndarray:
    """Viewpoints (N, 4) from a text file: one `azimuth elevation inplane distance` per line, # comments."""
    try:
        rows = np.loadtxt(path, comments="#", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as error:
        raise UserError(f"viewpoint file {path}: {error}") from None
    if rows.shape[1] != 4 or len(rows) < 2:
        raise UserError(f"viewpoint file {path}: expected at least 2 lines of 4 numbers "
                        f"(azimuth elevation inplane distance), got shape {rows.shape}")
    if not np.isfinite(rows).all() or (rows[:, 3] <= 0).any():
        raise UserError(f"viewpoint file {path}: values must be finite and distances positive")
    return rows


class ViewpointSampler:
    """Samples viewpoints from a Gaussian KDE (Scott's bandwidth) fitted to standardised viewpoints."""

    def __init__(self, viewpoints: np.ndarray):
        self.mean = viewpoints.mean(axis=0)
        self.scale = np.where(viewpoints.std(axis=0) > 0, viewpoints.std(axis=0), 1.0)
        self.kde = KernelDensity(kernel="gaussian", bandwidth="scott").fit((viewpoints - self.mean) / self.scale)
        self.min_distance = viewpoints[:, 3].min()

    @classmethod
    def from_file(cls, path: str) -> "ViewpointSampler":
        """Fit to the viewpoints in `path`."""
        return cls(read_viewpoints(path))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw (n, 4) viewpoints: azimuth wrapped to [0, 360), elevation within +-89, distance kept positive."""
        draws = self.kde.sample(n, random_state=int(rng.integers(2**31))) * self.scale + self.mean  # (n, 4)
        draws[:, 0] %= 360.0
        draws[:, 1] = np.clip(draws[:, 1], -89.0, 89.0)
        draws[:, 3] = np.maximum(draws[:, 3], 0.9 * self.min_distance)
        return draws


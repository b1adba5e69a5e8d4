"""Closed, outward-wound mesh parts that the synthetic objects are built from.

Every part is a loft: convex polygons in parallel planes joined ring to ring and capped at both
ends, so it is closed and its faces turn counter-clockwise seen from outside. Rotations keep
that; the voxeliser's winding rule relies on it (a flipped face gives a streak).
"""
import dataclasses

import numpy as np

Color = tuple[float, float, float]
# Where the profile's (u, v) and the extrusion axis w go in (x, y, z): a cyclic permutation,
# so that u x v = w and the winding stays outward.
AXES = {"x": (1, 2, 0), "y": (2, 0, 1), "z": (0, 1, 2)}


@dataclasses.dataclass(frozen=True)
class Part:
    """A closed triangle mesh with one colour."""

    vertices: np.ndarray  # (N, 3) float64
    faces: np.ndarray  # (F, 3) int, outward (counter-clockwise) winding
    color: Color


def signed_area(profile: np.ndarray) -> float:
    """Twice the signed area of a polygon (N, 2): positive when counter-clockwise."""
    u, v = profile[:, 0], profile[:, 1]
    return float(np.sum(u * np.roll(v, -1) - np.roll(u, -1) * v))


def loft(profiles: list[np.ndarray], positions: list[float], axis: str, color: Color) -> Part:
    """Join convex polygons (N, 2) placed at increasing positions along `axis`, capped at both ends."""
    if signed_area(profiles[0]) < 0:
        profiles = [p[::-1] for p in profiles]
    n, rings = len(profiles[0]), len(profiles)
    local = np.vstack([np.column_stack([p, np.full(n, w)]) for p, w in zip(profiles, positions)])  # (rings * n, 3)
    vertices = np.empty_like(local)
    vertices[:, AXES[axis]] = local
    last = (rings - 1) * n
    faces = [[last, last + i, last + i + 1] for i in range(1, n - 1)]
    faces += [[0, i + 1, i] for i in range(1, n - 1)]
    for base in range(0, last, n):
        for i in range(n):
            j = (i + 1) % n
            faces += [[base + i, base + j, base + n + j], [base + i, base + n + j, base + n + i]]
    return Part(vertices, np.array(faces), color)


def prism(profile: np.ndarray, z0: float, z1: float, color: Color) -> Part:
    """Extrude a convex polygon in the x-y plane from z0 to z1."""
    return loft([profile, profile], [z0, z1], "z", color)


def box(lo: tuple, hi: tuple, color: Color) -> Part:
    """An axis-aligned box."""
    (x0, y0, z0), (x1, y1, _) = lo, hi
    return prism(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), z0, hi[2], color)


def rectangle(cu: float, cv: float, half_u: float, half_v: float) -> np.ndarray:
    """A counter-clockwise rectangle (4, 2) centred at (cu, cv)."""
    return np.array([[cu - half_u, cv - half_v], [cu + half_u, cv - half_v], [cu + half_u, cv + half_v],
                     [cu - half_u, cv + half_v]])


def circle(cu: float, cv: float, radius: float, sections: int = 24) -> np.ndarray:
    """A counter-clockwise regular polygon (sections, 2) around (cu, cv)."""
    angles = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    return np.column_stack([cu + radius * np.cos(angles), cv + radius * np.sin(angles)])


def across(axis: str, point: tuple) -> tuple[float, float]:
    """The (u, v) coordinates of an (x, y, z) point in the plane across `axis` (see AXES)."""
    return point[AXES[axis][0]], point[AXES[axis][1]]


def cylinder(axis: str, centre: tuple, radius: float, w0: float, w1: float, color: Color,
             sections: int = 24) -> Part:
    """A cylinder along `axis` from w0 to w1 through the (x, y, z) point `centre`."""
    return solid_of_revolution(axis, centre, [radius, radius], [w0, w1], color, sections)


def solid_of_revolution(axis: str, centre: tuple, radii: list[float], positions: list[float], color: Color,
                        sections: int = 20) -> Part:
    """A round solid along `axis` through `centre`: radius radii[i] (> 0) at positions[i] (increasing)."""
    cu, cv = across(axis, centre)
    return loft([circle(cu, cv, r, sections) for r in radii], positions, axis, color)


def bar(p0: tuple, p1: tuple, half: tuple, color: Color, taper: float = 1.0, side: tuple = (0.0, 0.0, 1.0)) -> Part:
    """A bar of rectangular section from point p0 to p1 (a leg, strut, rail, blade).

    `half` = (h2, h3): half sizes along e2 and e3, where e3 is `side` made square to the bar (x
    when the bar runs along `side`) and e2 = e3 x e1; the section is scaled by `taper` at p1.
    """
    start, end = np.asarray(p0, float), np.asarray(p1, float)
    e1 = (end - start) / np.linalg.norm(end - start)
    hint = np.asarray(side, float) if abs(np.dot(side, e1)) < 0.99 * np.linalg.norm(side) else np.array([1.0, 0, 0])
    e3 = hint - np.dot(hint, e1) * e1
    e3 /= np.linalg.norm(e3)
    e2 = np.cross(e3, e1)
    ends = [rectangle(0.0, 0.0, *half), taper * rectangle(0.0, 0.0, *half)]
    local = loft(ends, [0.0, float(np.linalg.norm(end - start))], "x", color)  # x = along, y = e2, z = e3
    frame = np.stack([e1, e2, e3])  # (3, 3), rows: where local x, y, z go; determinant +1
    return Part(start + local.vertices @ frame, local.faces, color)


def rotate(part: Part, axis: str, degrees: float, pivot: tuple = (0.0, 0.0, 0.0)) -> Part:
    """The part turned counter-clockwise by `degrees` about `axis` through `pivot`."""
    i, j, _ = AXES[axis]  # the plane turned: u -> v
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    moved = part.vertices - np.asarray(pivot)
    turned = moved.copy()
    turned[:, i] = c * moved[:, i] - s * moved[:, j]
    turned[:, j] = s * moved[:, i] + c * moved[:, j]
    return Part(turned + np.asarray(pivot), part.faces, part.color)


def translate(part: Part, offset: tuple) -> Part:
    """The part moved by an (x, y, z) offset."""
    return Part(part.vertices + np.asarray(offset, float), part.faces, part.color)


def merge(parts: list[Part]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate parts into vertices (N,3), faces (F,3) and per-vertex colours (N,3)."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    vertices = np.vstack([p.vertices for p in parts])
    faces = np.vstack([p.faces + o for p, o in zip(parts, offsets)])
    colors = np.vstack([np.tile(p.color, (len(p.vertices), 1)) for p in parts])
    return vertices, faces, colors

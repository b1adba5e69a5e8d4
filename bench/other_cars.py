"""Cars from another generator than xmodal's, for measuring how the defaults carry over to data nobody tuned on.

`python bench/other_cars.py --out MESHES --objects 600 --seed 2` writes MESHES/car/<id>.ply (vertex colours,
y up, x forward): six kinds (pickup, bus, roadster, coupe, wagon, jeep) built from trimesh primitives that the
built-in generator does not use (capsule bodies, sphere or box cabins, hubbed wheels, optional lamps, wings and
spare wheels), each size jittered by up to 15% and painted a random colour. Convert with
`python -m tfrecords_tools convert --meshes MESHES --out DATA --voxel-res 32 --image-size 64 --views 8`.
xmodal never trains on it: docs/results.md tunes on seed 1 and reports seed 2.
"""
import argparse
from pathlib import Path

import numpy as np
import trimesh
from trimesh.creation import box, capsule, cylinder, icosphere

KINDS = {  # length, width, body height, clearance, cabin length (share of the length), cabin height, wheel radius
    "pickup": (5.3, 2.0, 0.9, 0.30, 0.35, 0.75, 0.40),
    "bus": (9.0, 2.5, 2.4, 0.30, 0.95, 0.0, 0.50),
    "roadster": (4.0, 1.75, 0.55, 0.12, 0.20, 0.30, 0.30),
    "coupe": (4.5, 1.85, 0.60, 0.14, 0.35, 0.42, 0.32),
    "wagon": (4.8, 1.85, 0.70, 0.17, 0.60, 0.50, 0.32),
    "jeep": (4.2, 1.90, 1.00, 0.35, 0.50, 0.70, 0.42),
}
ROUND_CABINS = ("coupe", "roadster")
DARK, GLASS, CHROME, LAMP = (0.08, 0.08, 0.1), (0.3, 0.4, 0.55), (0.7, 0.7, 0.72), (1.0, 0.95, 0.7)


def part(mesh: trimesh.Trimesh, at: tuple, rgb) -> trimesh.Trimesh:
    """The mesh moved to `at` and painted `rgb` (floats in [0, 1])."""
    mesh.apply_translation(at)
    mesh.visual.vertex_colors = np.tile(np.r_[np.clip(rgb, 0, 1) * 255, 255].astype(np.uint8), (len(mesh.vertices), 1))
    return mesh


def turned(mesh: trimesh.Trimesh, axis: tuple) -> trimesh.Trimesh:
    """The mesh turned by 90 degrees about `axis`."""
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, axis))
    return mesh


def cabin(kind: str, length: float, height: float, width: float, x: float, top: float, rng) -> trimesh.Trimesh:
    """A glass cabin: half a sphere's worth for the sporty kinds, else a box."""
    if kind in ROUND_CABINS:
        shape = icosphere(subdivisions=2)
        shape.apply_scale([length / 2, height, width * 0.85 / 2])
        return part(shape, (x, top - 0.05, 0), np.array(GLASS) * rng.uniform(0.8, 1.2))
    shape = box([length, height, width * 0.85])
    return part(shape, (x, top + height / 2 - 0.05, 0), np.array(GLASS) * rng.uniform(0.8, 1.2))


def wheels(kind: str, length: float, width: float, radius: float, rng) -> list[trimesh.Trimesh]:
    """Tyres with hubs on two axles, three for buses and some pickups."""
    axles = [length * rng.uniform(0.28, 0.36), -length * rng.uniform(0.28, 0.36)]
    if kind == "bus" or (kind == "pickup" and rng.random() < 0.3):
        axles.append(axles[1] - 2.3 * radius)
    parts = []
    for x in axles:
        for z in (-width / 2 + 0.1, width / 2 - 0.1):
            parts.append(part(cylinder(radius=radius, height=0.28 * rng.uniform(0.8, 1.3), sections=24),
                              (x, radius, z), DARK))
            parts.append(part(cylinder(radius=radius * 0.5, height=0.30, sections=12),
                              (x, radius, z + np.sign(z) * 0.02), CHROME))
    return parts


def car(rng: np.random.Generator) -> trimesh.Trimesh:
    """One car of a random kind."""
    kind = list(KINDS)[rng.integers(len(KINDS))]
    length, width, height, clearance, cab, cab_height, radius = (v * rng.uniform(0.85, 1.15) for v in KINDS[kind])
    paint = rng.uniform(0.1, 0.95, 3)
    body = turned(capsule(height=max(length - height, 0.1), radius=height / 2, count=[16, 16]), (0, 1, 0))
    body.apply_scale([1.0, 1.0, width / height])
    lift = clearance + radius * 0.3
    parts = [part(body, (0, lift + height / 2, 0), paint)]
    top = lift + height
    if kind == "bus":
        parts.append(part(box([length * 0.9, height * 0.25, width * 1.01]), (0, top - height * 0.25, 0), GLASS))
    else:
        x = {"pickup": 0.12 * length, "roadster": -0.05 * length}.get(kind, rng.uniform(-0.1, 0.05) * length)
        parts.append(cabin(kind, length * cab, cab_height, width, x, top, rng))
    if kind == "pickup":
        parts.append(part(box([length * 0.35, height * 0.5, width * 0.95]), (-0.3 * length, top + height * 0.2, 0),
                          paint * 0.7))
    if kind == "jeep" and rng.random() < 0.7:
        spare = turned(cylinder(radius=radius * 0.9, height=0.25, sections=20), (0, 1, 0))
        parts.append(part(spare, (-length / 2 - 0.1, clearance + height * 0.7, 0), DARK))
    parts += wheels(kind, length, width, radius, rng)
    if rng.random() < 0.5:
        parts += [part(icosphere(subdivisions=1, radius=0.12), (length / 2 - 0.05, lift + height * 0.6, z), LAMP)
                  for z in (-width * 0.3, width * 0.3)]
    if kind in ROUND_CABINS and rng.random() < 0.5:
        parts.append(part(box([0.3, 0.05, width * 0.9]), (-length / 2 + 0.2, top + 0.25, 0), paint))
        parts += [part(box([0.08, 0.25, 0.05]), (-length / 2 + 0.2, top + 0.12, z), DARK)
                  for z in (-width * 0.3, width * 0.3)]
    return trimesh.util.concatenate(parts)


def main() -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write car/<id>.ply into")
    parser.add_argument("--objects", type=int, default=600, help="number of cars (default 600)")
    parser.add_argument("--seed", type=int, default=2, help="random seed (default 2)")
    args = parser.parse_args()
    folder = Path(args.out) / "car"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for index in range(args.objects):
        car(rng).export(folder / f"fcar{args.seed}_{index:05d}.ply")
    print(f"wrote {args.objects} cars to {folder}")


if __name__ == "__main__":
    main()

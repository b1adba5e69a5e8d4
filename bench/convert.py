"""Conversion speed at full size (voxel-res 96, 12 views of 486^2), with trimesh's voxeliser as the peer.

Prints per-phase medians (voxelise, render, PNG encode) from one worker, the end-to-end objects/s
of `convert` with all cores, and our voxeliser against `mesh.voxelized(pitch).fill()` on the same
meshes: the speed ratio and the voxel IoU of the two solids.
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tfrecords_tools.config import VIEWPOINT_SETS, ConvertConfig
from tfrecords_tools.synth.dataset import synth_dataset
from tfrecords_tools.workers import imap_spawned


def trimesh_solid(vertices: np.ndarray, faces: np.ndarray, res: int) -> np.ndarray:
    """trimesh's solid voxels on our grid: voxel centres at (i + 0.5) / res - 0.5."""
    import trimesh

    pitch = 1.0 / res
    mesh = trimesh.Trimesh(vertices + 0.5 * pitch, faces, process=False)  # our centres land on k * pitch
    grid = mesh.voxelized(pitch).fill()
    start = np.round(grid.translation / pitch).astype(int) + res // 2 - 1  # index of the first cell
    out = np.zeros((res + 4,) * 3, bool)
    dense = grid.matrix
    lo = np.clip(start + 2, 0, None)
    out[lo[0]:lo[0] + dense.shape[0], lo[1]:lo[1] + dense.shape[1], lo[2]:lo[2] + dense.shape[2]] = dense
    return out[2:res + 2, 2:res + 2, 2:res + 2]


def phases(path: str, cfg: ConvertConfig) -> dict:
    """Seconds spent per phase on one object, and trimesh's voxeliser on the same mesh, in one worker."""
    from tfrecords_tools.meshes.load import load_mesh
    from tfrecords_tools.meshes.objects import backgrounds, camera_views, object_rng, png
    from tfrecords_tools.meshes.render import renderer
    from tfrecords_tools.meshes.voxelize import voxelize

    mesh = load_mesh(Path(path))
    draw = renderer(cfg.image_size)
    rng = object_rng(cfg.seed, path)
    views, colors = camera_views(cfg, mesh, rng), backgrounds(cfg, rng)
    t0 = time.perf_counter()
    ours = voxelize(mesh.vertices, mesh.faces, cfg.voxel_res)
    t1 = time.perf_counter()
    images = [draw.render(mesh, v, c) for v, c in zip(views, colors)]
    t2 = time.perf_counter()
    pngs = [png(image) for image in images]
    t3 = time.perf_counter()
    theirs = trimesh_solid(mesh.vertices, mesh.faces, cfg.voxel_res)
    t4 = time.perf_counter()
    iou = (ours & theirs).sum() / (ours | theirs).sum()
    return {"voxelise": t1 - t0, "render": t2 - t1, "encode": t3 - t2, "trimesh": t4 - t3, "iou": iou,
            "png_bytes": sum(map(len, pngs))}


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=24)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = synth_dataset(f"{tmp}/meshes", args.objects, seed=11)
        cfg = ConvertConfig(meshes=f"{tmp}/meshes", out=f"{tmp}/data", workers=args.workers,
                            viewpoints=VIEWPOINT_SETS["cars"])
        rows = list(imap_spawned(phases, [(str(p), cfg) for p in paths], workers=1))
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"per object, median of {len(rows)} (one worker): voxelise {med['voxelise'] * 1e3:.1f} ms, "
              f"render {cfg.views}x{cfg.image_size}^2 {med['render'] * 1e3:.1f} ms "
              f"({cfg.views / med['render']:.0f} images/s), PNG encode {med['encode'] * 1e3:.1f} ms")
        total = med["voxelise"] + med["render"] + med["encode"]
        print(f"time shares: voxelise {med['voxelise'] / total:.0%}, render {med['render'] / total:.0%}, "
              f"encode {med['encode'] / total:.0%}")
        ratios = [r["trimesh"] / r["voxelise"] for r in rows]
        print(f"voxeliser at {cfg.voxel_res}^3: ours {med['voxelise'] * 1e3:.1f} ms, trimesh voxelized().fill() "
              f"{med['trimesh'] * 1e3:.1f} ms; median ratio trimesh/ours {statistics.median(ratios):.1f}x; "
              f"voxel IoU median {med['iou']:.3f}, min {min(r['iou'] for r in rows):.3f}")

        from tfrecords_tools.convert import convert

        start = time.perf_counter()
        convert(cfg)
        seconds = time.perf_counter() - start
        print(f"end-to-end convert, {args.workers} workers: {args.objects / seconds:.2f} objects/s "
              f"({seconds:.1f} s for {args.objects}, pool start-up included)")


if __name__ == "__main__":
    main()

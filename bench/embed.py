"""Embedding throughput through the exported SavedModel."""

Embeddings/s of `embed_voxels` and `embed_images` for the `small-hd`, `small` and `paper` presets
(untrained weights: speed does not depend on them), mirror-averaged (the default export) and
plain (`--no-mirror-average`) with their ratio. Medians. Search latency over an index is
bench/index.py's.
"""
import argparse
import statistics
import tempfile
import time

import xmodal  # noqa: F401  (first: quiet TensorFlow start-up)

import numpy as np
import tensorflow as tf

from xmodal.serving.embedder import load_embedder
from xmodal.serving.export import write_export
from xmodal.training.models import build_encoders, preset


def median_seconds(call, repeats: int) -> float:
    """Median wall time of `call()` after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["small-hd", "small", "paper"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for name in args.presets:
        rates, encoders, p = {}, build_encoders(name), preset(name)
        r, s = p.voxel_res, p.image_size
        voxels = tf.constant((rng.random((args.batch, r, r, r)) < 0.2).astype(np.uint8))  # (B, R, R, R)
        images = tf.constant(rng.integers(0, 256, (args.batch, s, s, 3), dtype=np.uint8))  # (B, S, S, 3)
        for averaged in (True, False):  # the same encoders and inputs both ways
            with tempfile.TemporaryDirectory() as tmp:
                write_export(*encoders, f"{tmp}/export", views=4, mirror_average=averaged)
                embedder = load_embedder(f"{tmp}/export")
                v = median_seconds(lambda: embedder.model.signatures["embed_voxels"](voxels=voxels), args.repeats)
                i = median_seconds(lambda: embedder.model.signatures["embed_images"](images=images), args.repeats)
                rates[averaged] = (args.batch / v, args.batch / i)
                print(f"{name}, {'mirror-averaged' if averaged else 'plain'}: embed_voxels {args.batch / v:.1f} /s, "
                      f"embed_images {args.batch / i:.1f} /s (batch {args.batch}, SavedModel)")
        print(f"{name}: mirror-averaged / plain throughput: voxels {rates[True][0] / rates[False][0]:.2f}, "
              f"images {rates[True][1] / rates[False][1]:.2f}")


if __name__ == "__main__":
    main()

"""Does the augmented input pipeline keep up with the train step? P x K batches of `fit`'s default loss.

Timed in turns, `--rounds` times, so that a noisy machine slows all of them alike (medians of all timed
batches, ratios of medians): (a) the plain TFRecord stream alone, (b) the stream with every augmentation of
`--shift ... --jpeg` on (new backgrounds through the coverage masks), alone, (c) the train step on one batch
already in memory, (d) the train step fed by (b). (b)/(c) above 1 means the pipeline outruns the step;
(d)/(c) near 1 means training does not wait for it. The data: built-in cars, format 3 (masks).
"""
import argparse
import os
import statistics
import tempfile
import time

import xmodal  # noqa: F401  (first: quiet TensorFlow start-up)

import keras
import tensorflow as tf
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.synth.dataset import synth_dataset
from train import keras_times
from xmodal.training.config import FitConfig
from xmodal.training.data import Stream
from xmodal.fit import batches, compiled_model, strategy_for
from xmodal.training.models import PRESETS

AUGMENTED = dict(shift=0.08, zoom=0.15, rotate=10.0, background=0.8, blur=1.0, noise=4.0, jpeg=0.5,
                 color_jitter=0.2, crop=1.0, mirror=True)


def stream_times(data: tf.data.Dataset, count: int, warmup: int) -> list[float]:
    """Seconds per batch of `count` batches drawn from `data` alone, after `warmup` untimed ones."""
    iterator = iter(data)
    for _ in range(warmup):
        next(iterator)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        next(iterator)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=FitConfig.preset)
    parser.add_argument("--steps", type=int, default=20, help="timed batches per round and contender")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=200)
    args = parser.parse_args()
    p = PRESETS[args.preset]
    with tempfile.TemporaryDirectory() as tmp:
        synth_dataset(f"{tmp}/meshes", args.objects, seed=5)
        data = f"{tmp}/data"
        convert(ConvertConfig(meshes=f"{tmp}/meshes", out=data, voxel_res=p.voxel_res, image_size=p.image_size,
                              views=8, test_fraction=0.0, workers=os.cpu_count()))
        plain_cfg = FitConfig(data=data, preset=args.preset)
        cfg = FitConfig(data=data, preset=args.preset, **AUGMENTED)
        keras.utils.set_random_seed(0)
        with strategy_for(cfg).scope():
            model = compiled_model(cfg)
        objects = cfg.objects_per_batch
        plain = batches(plain_cfg, data, "train", objects, Stream())
        augmented = batches(cfg, data, "train", objects, Stream(augmentation=cfg.augmentation))
        memory = tf.data.Dataset.from_tensors(next(iter(plain))).repeat()
        times = {"a": [], "b": [], "c": [], "d": []}
        for _ in range(args.rounds):
            times["a"] += stream_times(plain, args.steps, args.warmup)
            times["b"] += stream_times(augmented, args.steps, args.warmup)
            times["c"] += keras_times(model, memory, args.steps, args.warmup)
            times["d"] += keras_times(model, augmented, args.steps, args.warmup)
    rate = {k: 1.0 / statistics.median(v) for k, v in times.items()}  # batches per second
    print(f"{args.preset}, batches of {objects} objects x {cfg.views_per_object} views, {os.cpu_count()} cores, "
          f"{args.rounds} rounds of {args.steps}")
    for key, label in zip("abcd", ("(a) plain stream", "(b) augmented stream", "(c) train step, batch in memory",
                                   "(d) train step fed by (b)")):
        print(f"{label:34} {rate[key]:7.2f} batches/s")
    print(f"(b)/(a) {rate['b'] / rate['a']:.2f}   (b)/(c) {rate['b'] / rate['c']:.2f}   "
          f"(d)/(c) {rate['d'] / rate['c']:.2f}")


if __name__ == "__main__":
    main()

"""Train-step throughput (triplets/s) for the `small` and `paper` presets.

(a) from TFRecords through xmodal/training/data.py, (b) from one batch already in memory (the upper bound
of the input pipeline), (c) the same networks, loss and optimizer written in PyTorch, the peer.
The TensorFlow model is the one `python -m xmodal.fit --loss triplet` trains (same strategy,
optimizer and input, without the default augmentation, which the peer lacks: bench/augment.py
measures it). The three are timed in turns, `--rounds` times, so that a noisy machine slows all
of them alike; figures are medians over all timed steps, ratios are of those medians.
"""
import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import xmodal  # noqa: F401  (first: quiet TensorFlow start-up)

import keras
import tensorflow as tf
from tfrecords_tools.config import ConvertConfig
from tfrecords_tools.convert import convert
from tfrecords_tools.synth.dataset import synth_dataset
from xmodal.training.config import PRECISIONS, FitConfig
from xmodal.training.data import Stream
from xmodal.fit import batches, compiled_model, strategy_for
from xmodal.training.models import EMBEDDING_DIM, LEAKY_SLOPE, PRESETS
from xmodal.training.pretrained import PLAIN


class StepTimes(keras.callbacks.Callback):
    """Seconds per train step."""

    def __init__(self):
        super().__init__()
        self.times, self.last = [], None

    def on_train_batch_begin(self, batch, logs=None):
        self.last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])  # wait for the step to finish
        self.times.append(time.perf_counter() - self.last)


def keras_times(model: keras.Model, data: tf.data.Dataset, steps: int, warmup: int) -> list[float]:
    """Seconds of each of `steps` train steps of `model` on `data`, after `warmup` untimed ones."""
    timer = StepTimes()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0, shuffle=False)
    return timer.times[warmup:]


class TorchPeer:
    """The PyTorch peer (bench/torch_peer.py) in its own process, timed on request."""

    def __init__(self, name: str, batch: int, precision: str):
        preset = json.dumps({**dataclasses.asdict(PRESETS[name]), "embedding_dim": EMBEDDING_DIM,
                             "leaky_slope": LEAKY_SLOPE})
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("torch_peer.py")), preset,
                                         str(batch), precision], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def times(self, steps: int, warmup: int) -> list[float]:
        """Seconds of each of `steps` PyTorch steps, after `warmup` untimed ones."""
        self.process.stdin.write(f"{steps} {warmup}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError("the PyTorch peer stopped; its error is above")
        return json.loads(answer)

    def close(self) -> None:
        """Let the peer process end."""
        self.process.stdin.close()
        self.process.wait()


def bench_preset(name: str, data: str, args: argparse.Namespace) -> str:
    """One line of figures for preset `name`."""
    cfg = FitConfig(data=data, preset=name, loss="triplet", batch_size=args.batch_size, precision=args.precision,
                    jit=args.jit, **PLAIN)  # the peer has no augmentation either: bench/augment.py measures its cost
    keras.mixed_precision.set_dtype_policy(cfg.precision)
    keras.utils.set_random_seed(0)
    with strategy_for(cfg).scope():
        model = compiled_model(cfg)
    records = batches(cfg, data, "train", cfg.batch_size, Stream())
    memory = tf.data.Dataset.from_tensors(next(iter(records))).repeat()
    peer = TorchPeer(name, cfg.batch_size, cfg.precision) if importlib.util.find_spec("torch") else None
    times = {"a": [], "b": [], "c": []}
    for _ in range(args.rounds):
        times["a"] += keras_times(model, records, args.steps, args.warmup)
        times["b"] += keras_times(model, memory, args.steps, args.warmup)
        if peer:
            times["c"] += peer.times(args.steps, args.warmup)
    keras.mixed_precision.set_dtype_policy("float32")
    a, b = (cfg.batch_size / statistics.median(times[k]) for k in "ab")
    line = f"{name}: (a) TFRecords {a:.2f} triplets/s, (b) in memory {b:.2f}, (a)/(b) {a / b:.2f}"
    if not peer:
        return line + ", PyTorch not installed"
    peer.close()
    c = cfg.batch_size / statistics.median(times["c"])
    return line + f", PyTorch peer {c:.2f} triplets/s, (a)/PyTorch {a / c:.2f}x"


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--batch-size", type=int, default=FitConfig().batch_size,
                        help="triplets per step (default: the training default)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round and contender")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before each timed run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=192,
                        help="cars in the dataset of (a): enough that epochs (which restart the reading) are rare")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="Keras policy; the PyTorch peer runs mixed ones under autocast")
    parser.add_argument("--jit", action="store_true")
    args = parser.parse_args()
    print(f"device: {[d.device_type for d in tf.config.list_logical_devices()]}, batch {args.batch_size}, "
          f"precision {args.precision}, jit {args.jit}, {args.rounds} rounds of {args.steps} steps")
    with tempfile.TemporaryDirectory() as tmp:
        synth_dataset(f"{tmp}/meshes", max(args.objects, 2 * args.batch_size), seed=5)
        for name in args.presets:
            p = PRESETS[name]
            data = f"{tmp}/data-{p.voxel_res}"
            if not os.path.isdir(data):
                convert(ConvertConfig(meshes=f"{tmp}/meshes", out=data, voxel_res=p.voxel_res, image_size=p.image_size,
                                      views=4, test_fraction=0.0, workers=os.cpu_count()))
            print(bench_preset(name, data, args), flush=True)


if __name__ == "__main__":
    main()

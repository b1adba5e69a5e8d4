"""Train-step throughput (triplets/s) for the `small` and `paper` presets.

(a) from TFRecords through xmodal/data.py, (b) from one batch already in memory (the upper bound
of the input pipeline), (c) the same networks, loss and optimizer written in PyTorch, the peer,
all in the same run. Medians over timed steps after warm-up.
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
from tfrecords_tools.synth import synth_dataset
from xmodal.data import triplets
from xmodal.models import PRESETS, Branch, XModal, build_encoders


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


def keras_rate(name: str, data: tf.data.Dataset, batch: int, steps: int, warmup: int, precision: str, jit: bool) -> float:
    """Median triplets/s of XModal.fit on `data`."""
    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = XModal(*build_encoders(name))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    timer = StepTimes()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0, shuffle=False)
    keras.mixed_precision.set_dtype_policy("float32")
    return batch / statistics.median(timer.times[warmup:])


def torch_branch(branch: Branch, dims: int, channels: int, res: int):
    """The PyTorch twin of one Keras branch, built from the same preset table."""
    import torch.nn as nn

    conv, pool = (nn.Conv3d, nn.MaxPool3d) if dims == 3 else (nn.Conv2d, nn.MaxPool2d)
    avg = nn.AvgPool3d if dims == 3 else nn.AvgPool2d
    layers, width = [avg(branch.pool0)], channels
    res //= branch.pool0
    for (a, b), size in zip(branch.widths, branch.pools):
        layers += [conv(width, a, 3, padding=1), nn.LeakyReLU(0.1), conv(a, b, 3, padding=1), nn.LeakyReLU(0.1), pool(size)]
        width, res = b, res // size
    layers.append(nn.Flatten())
    features = width * res**dims
    for hidden in branch.fc:
        layers += [nn.Linear(features, hidden), nn.LeakyReLU(0.1)]
        features = hidden
    layers.append(nn.Linear(features, 128))
    return nn.Sequential(*layers)


def torch_rate(name: str, batch: int, steps: int, warmup: int) -> float | None:
    """Median triplets/s of the PyTorch peer on random tensors; None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count())
    p = PRESETS[name]
    voxel_net = torch_branch(p.voxel, 3, 2, p.voxel_res)
    image_net = torch_branch(p.image, 2, 3, p.image_size)
    optimizer = torch.optim.Adam(list(voxel_net.parameters()) + list(image_net.parameters()), lr=1e-3)
    voxels = torch.rand(batch, 2, p.voxel_res, p.voxel_res, p.voxel_res)
    images = torch.rand(2 * batch, 3, p.image_size, p.image_size)
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        anchor = voxel_net(voxels)
        positive, negative = image_net(images).chunk(2)
        loss = torch.relu(((positive - anchor) ** 2).sum(1) - ((negative - anchor) ** 2).sum(1) + 1.0).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times[warmup:])


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", action="store_true")
    args = parser.parse_args()
    print(f"device: {[d.device_type for d in tf.config.list_logical_devices()]}, batch {args.batch_size}, "
          f"precision {args.precision}, jit {args.jit}")
    with tempfile.TemporaryDirectory() as tmp:
        synth_dataset(f"{tmp}/meshes", 24, seed=5)
        for name in args.presets:
            p = PRESETS[name]
            data = f"{tmp}/data-{p.voxel_res}"
            if not os.path.isdir(data):
                convert(ConvertConfig(meshes=f"{tmp}/meshes", out=data, voxel_res=p.voxel_res, image_size=p.image_size,
                                      views=4, test_fraction=0.0, workers=os.cpu_count()))
            records = triplets(data, "train", args.batch_size, p.voxel_res, p.image_size)
            memory = tf.data.Dataset.from_tensors(next(iter(records))).repeat()
            run = dict(batch=args.batch_size, steps=args.steps, warmup=args.warmup, precision=args.precision, jit=args.jit)
            a = keras_rate(name, records, **run)
            b = keras_rate(name, memory, **run)
            c = torch_rate(name, args.batch_size, args.steps, args.warmup)
            peer = f", PyTorch peer {c:.2f} triplets/s, (a)/PyTorch {a / c:.2f}x" if c else ", PyTorch not installed"
            print(f"{name}: (a) TFRecords {a:.2f} triplets/s, (b) in memory {b:.2f}, (a)/(b) {a / b:.2f}{peer}")


if __name__ == "__main__":
    main()

"""The PyTorch peer of bench/train.py: the same networks, loss and optimizer, in a process of its own.

Run as `torch_peer.py PRESET_JSON BATCH PRECISION`, where PRESET_JSON is an xmodal preset as a
dict (plus xmodal's `embedding_dim` and `leaky_slope`) and PRECISION a Keras policy name (mixed ones run the forward pass under autocast). Each
line "STEPS WARMUP" read on stdin runs WARMUP untimed and STEPS timed train steps on random
tensors and answers with the seconds of the timed ones, as one JSON line. It runs apart from
TensorFlow because sharing a process with a TensorFlow run was seen to slow PyTorch's steps.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn

AUTOCAST = {"mixed_bfloat16": torch.bfloat16, "mixed_float16": torch.float16}


def branch(spec: dict, dims: int, channels: int, res: int, embedding_dim: int, slope: float) -> nn.Sequential:
    """The PyTorch twin of one Keras branch, built from the same preset table."""
    conv, pool = (nn.Conv3d, nn.MaxPool3d) if dims == 3 else (nn.Conv2d, nn.MaxPool2d)
    avg = nn.AvgPool3d if dims == 3 else nn.AvgPool2d
    layers, width = [avg(spec["pool0"])], channels
    res //= spec["pool0"]
    for (a, b), size in zip(spec["widths"], spec["pools"]):
        layers += [conv(width, a, 3, padding=1), nn.LeakyReLU(slope), conv(a, b, 3, padding=1),
                   nn.LeakyReLU(slope), pool(size)]
        width, res = b, res // size
    layers.append(nn.Flatten())
    features = width * res**dims
    for hidden in spec["fc"]:
        layers += [nn.Linear(features, hidden), nn.LeakyReLU(slope)]
        features = hidden
    layers.append(nn.Linear(features, embedding_dim))
    return nn.Sequential(*layers)


def stepper(preset: dict, batch: int, precision: str):
    """One train step of equation (1) on random tensors, Adam with its default learning rate."""
    shared = preset["embedding_dim"], preset["leaky_slope"]
    voxel_net = branch(preset["voxel"], 3, 2, preset["voxel_res"], *shared)
    image_net = branch(preset["image"], 2, 3, preset["image_size"], *shared)
    optimizer = torch.optim.Adam(list(voxel_net.parameters()) + list(image_net.parameters()), lr=1e-3)
    res, size = preset["voxel_res"], preset["image_size"]
    voxels = torch.rand(batch, 2, res, res, res)  # (B, 2, R, R, R)
    images = torch.rand(2 * batch, 3, size, size)  # (2B, 3, S, S): positives, then negatives

    def step() -> None:
        with torch.autocast("cpu", dtype=AUTOCAST.get(precision), enabled=precision in AUTOCAST):
            anchor = voxel_net(voxels).float()  # (B, 128)
            positive, negative = image_net(images).float().chunk(2)  # (B, 128) each
        loss = torch.relu(((positive - anchor) ** 2).sum(1) - ((negative - anchor) ** 2).sum(1) + 1.0).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    """Answer timing requests until stdin closes."""
    torch.set_num_threads(os.cpu_count())
    step = stepper(json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    for line in sys.stdin:
        steps, warmup = map(int, line.split())
        times = []
        for _ in range(warmup + steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times[warmup:]), flush=True)


if __name__ == "__main__":
    main()

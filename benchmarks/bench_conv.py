"""Convolution forward + backward: shinsou against PyTorch on this CPU, side by side.

For each shape both frameworks run the same channels-last convolution ("same" padding)
and its backward pass (input gradient too, unless the input is an image that needs none),
interleaved repeat by repeat so that both see the same machine load. PyTorch gets two
threads (as NumPy's BLAS uses here) and whichever memory format it is faster with.

    python benchmarks/bench_conv.py            # all shapes
    python benchmarks/bench_conv.py --repeats 20

Prints the median milliseconds of each, ``ratio = torch / shinsou`` of the medians (> 1:
shinsou faster) and, as "best", the same ratio of the fastest repeats, which is steadier
when other processes share the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import shinsou
from shinsou import ops

# (name, batch, height, width, in channels, filters, kernel, input needs a gradient)
SHAPES = [
    ("32x32x64->64 3x3", 64, 32, 32, 64, 64, 3, True),
    ("28x28x1->32 3x3 (first layer)", 128, 28, 28, 1, 32, 3, False),
    ("14x14x32->64 3x3", 128, 14, 14, 32, 64, 3, True),
    ("32x32x64->64 1x1", 64, 32, 32, 64, 64, 1, True),
]


def shinsou_step(x, w, g):
    def step():
        x.grad = w.grad = None
        ops.conv(x, w, padding="same").backward(g)

    return step


def torch_step(torch, x, w, g, padding):
    def step():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=padding).backward(g)

    return step


def seconds(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def torch_steps(torch, x, w, g, kernel, input_grad):
    """The step in NCHW and in channels_last memory format, fastest first."""
    candidates = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)
        wt = torch.from_numpy(w).permute(3, 2, 0, 1).contiguous(memory_format=memory_format)
        gt = torch.from_numpy(g).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)
        step = torch_step(
            torch, xt.requires_grad_(input_grad), wt.requires_grad_(), gt, kernel // 2
        )
        step()  # warm-up: first calls pick algorithms and allocate
        candidates.append((min(seconds(step) for _ in range(3)), str(memory_format), step))
    candidates.sort(key=lambda candidate: candidate[0])
    return candidates[0][1], candidates[0][2]


def bench(torch, shape, repeats):
    name, batch, height, width, channels, filters, kernel, input_grad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, height, width, channels), dtype=np.float32)
    w = rng.standard_normal((kernel, kernel, channels, filters), dtype=np.float32) * 0.1
    g = rng.standard_normal((batch, height, width, filters), dtype=np.float32)
    ours = shinsou_step(
        shinsou.tensor(x, requires_grad=input_grad), shinsou.tensor(w, requires_grad=True), g
    )
    ours()
    memory_format, theirs = torch_steps(torch, x, w, g, kernel, input_grad)
    times_ours, times_theirs = [], []
    for _ in range(repeats):
        times_ours.append(seconds(ours))
        times_theirs.append(seconds(theirs))
    ms_ours = statistics.median(times_ours) * 1e3
    ms_theirs = statistics.median(times_theirs) * 1e3
    best_ratio = min(times_theirs) / min(times_ours)
    print(
        f"{name:30s} shinsou {ms_ours:7.1f} ms  torch {ms_theirs:7.1f} ms "
        f"({memory_format.replace('torch.', '')})  ratio {ms_theirs / ms_ours:4.2f} "
        f"(best {best_ratio:4.2f})",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.repeats} repeats, median")
    for shape in SHAPES:
        bench(torch, shape, args.repeats)


if __name__ == "__main__":
    main()

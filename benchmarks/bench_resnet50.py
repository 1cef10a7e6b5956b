"""ResNet50 inference: shinsou's ``applications.ResNet50`` against the same network in
PyTorch, side by side in one process.

    python benchmarks/bench_resnet50.py                 # batch 8, 224x224x3, model(x)
    python benchmarks/bench_resnet50.py --predict       # time model.predict(x) instead
    python benchmarks/bench_resnet50.py --batch 1 --repeats 20

The PyTorch network is written here (torchvision is not a dependency): Keras's ResNet50 v1,
a bottleneck network with 3, 4, 6, 3 blocks whose stride sits on each stage's first 1x1
convolution, as in Keras (torchvision's "v1.5" puts it on the 3x3, which costs ~0.2 GFLOP
more). shinsou's random weights are copied into it, the outputs compared, and then both run
in inference mode (PyTorch under ``no_grad`` in ``eval()``), interleaved repeat by repeat so
that both see the same machine load. PyTorch gets two threads and whichever memory format
it is faster with. Prints the median milliseconds per batch and ``ratio = torch /
shinsou`` of the medians (> 1: shinsou faster), and the same ratio of the fastest repeats.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

# PyTorch's spinning OpenMP workers starve NumPy's BLAS threads in one process (see
# benchmarks/README.md); passive waiting must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

from shinsou.applications.resnet import ResNet50

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # filters, blocks, stride


def torch_resnet50(torch):
    """Keras's ResNet50 (v1, stride on the first 1x1) as a ``torch.nn.Module``."""
    nn = torch.nn

    def conv_bn(inputs, outputs, kernel, stride=1, padding=0):
        return nn.Sequential(
            nn.Conv2d(inputs, outputs, kernel, stride, padding),
            nn.BatchNorm2d(outputs, eps=1.001e-5),
        )

    class Bottleneck(nn.Module):
        def __init__(self, inputs, filters, stride, project):
            super().__init__()
            self.shortcut = conv_bn(inputs, 4 * filters, 1, stride) if project else None
            self.reduce = conv_bn(inputs, filters, 1, stride)
            self.spatial = conv_bn(filters, filters, 3, 1, 1)
            self.expand = conv_bn(filters, 4 * filters, 1)

        def forward(self, x):
            shortcut = x if self.shortcut is None else self.shortcut(x)
            y = torch.relu(self.reduce(x))
            y = torch.relu(self.spatial(y))
            return torch.relu(shortcut + self.expand(y))

    class TorchResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = conv_bn(3, 64, 7, 2, 3)
            self.pool = nn.MaxPool2d(3, 2, 1)
            blocks, channels = [], 64
            for filters, count, stride in STAGES:
                for index in range(count):
                    first = index == 0
                    blocks.append(Bottleneck(channels, filters, stride if first else 1, first))
                    channels = 4 * filters
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x):
            x = self.blocks(self.pool(torch.relu(self.stem(x))))
            return torch.softmax(self.fc(x.mean(dim=(2, 3))), dim=1)

    return TorchResNet50()


def copy_weights(torch, model, net):
    """shinsou's weights into the PyTorch network, layer by layer (Keras names, in order)."""

    def load(conv_bn, prefix):
        conv, bn = model.get_layer(f"{prefix}_conv"), model.get_layer(f"{prefix}_bn")
        conv_bn[0].weight.copy_(torch.from_numpy(np.asarray(conv.kernel).transpose(3, 2, 0, 1)))
        conv_bn[0].bias.copy_(torch.from_numpy(np.asarray(conv.bias)))
        gamma, beta, mean, variance = (torch.from_numpy(np.asarray(w)) for w in bn.weights)
        conv_bn[1].weight.copy_(gamma)
        conv_bn[1].bias.copy_(beta)
        conv_bn[1].running_mean.copy_(mean)
        conv_bn[1].running_var.copy_(variance)

    with torch.no_grad():
        load(net.stem, "conv1")
        blocks = iter(net.blocks)
        for stage, (_, count, _) in enumerate(STAGES, 2):
            for index in range(1, count + 1):
                block, name = next(blocks), f"conv{stage}_block{index}"
                if block.shortcut is not None:
                    load(block.shortcut, f"{name}_0")
                load(block.reduce, f"{name}_1")
                load(block.spatial, f"{name}_2")
                load(block.expand, f"{name}_3")
        dense = model.get_layer("predictions")
        net.fc.weight.copy_(torch.from_numpy(np.asarray(dense.kernel).T.copy()))
        net.fc.bias.copy_(torch.from_numpy(np.asarray(dense.bias)))


def seconds(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--predict", action="store_true", help="time model.predict(x)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    model = ResNet50(weights=None)
    rng = np.random.default_rng(0)
    for variable in model.weights:  # realistic BN statistics, so the outputs are comparable
        if "variance" in variable.name:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape))
    net = torch_resnet50(torch).eval()
    copy_weights(torch, model, net)
    x = rng.uniform(-1, 1, (args.batch, 224, 224, 3)).astype(np.float32)

    if args.predict:
        ours = lambda: model.predict(x, batch_size=args.batch, verbose=0)  # noqa: E731
    else:
        ours = lambda: model(x)  # noqa: E731
    candidates = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)
        formatted = copy.deepcopy(net).to(memory_format=memory_format)

        def theirs(xt=xt, formatted=formatted):
            with torch.no_grad():
                return formatted(xt)

        theirs()  # warm-up: first calls pick algorithms and allocate
        candidates.append((min(seconds(theirs) for _ in range(2)), str(memory_format), theirs))
    _, memory_format, theirs = min(candidates, key=lambda candidate: candidate[0])

    reference = theirs().numpy()
    difference = np.abs(np.asarray(ours()) - reference).max() / np.abs(reference).max()
    print(
        f"numpy {np.__version__}, torch {torch.__version__}; ResNet50 inference, batch "
        f"{args.batch}, 224x224x3, {'model.predict(x)' if args.predict else 'model(x)'}, "
        f"{args.repeats} repeats; outputs differ by at most {difference:.1e} of the largest"
    )
    times_ours, times_theirs = [], []
    for _ in range(args.repeats):
        times_ours.append(seconds(ours))
        times_theirs.append(seconds(theirs))
    ms_ours = statistics.median(times_ours) * 1e3
    ms_theirs = statistics.median(times_theirs) * 1e3
    print(
        f"shinsou {ms_ours:7.1f} ms  torch {ms_theirs:7.1f} ms "
        f"({memory_format.replace('torch.', '')})  ratio {ms_theirs / ms_ours:4.2f} "
        f"(best {min(times_theirs) / min(times_ours):4.2f})",
        flush=True,
    )


if __name__ == "__main__":
    main()

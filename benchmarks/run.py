"""Training throughput of shinsou against PyTorch on this CPU, side by side in one process.

    python benchmarks/run.py                       # all five models, throughput + ratios
    python benchmarks/run.py mlp lstm --rounds 7   # some models, more rounds
    python benchmarks/run.py --memory --imports    # also peak memory and import time
    python benchmarks/run.py --overhead mlp        # also a small model's per-call cost

For each reference model (``benchmarks/models.py``) both frameworks train on the same random
batches, interleaved round by round (shinsou runs ``model.fit`` as users do; PyTorch a plain
training loop), so both see the same machine load. Reported: median samples/s of each and
``ratio = shinsou / torch`` (> 1: shinsou faster), and the geometric mean of the ratios.
``--memory`` measures, in separate processes, what a training step adds to the resident
memory after import and model build (peak RSS minus RSS before training). ``--imports``
times ``import shinsou`` and ``import torch`` in fresh interpreters.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

# Both frameworks share two cores in one process. PyTorch's OpenMP workers spin for a while
# after each parallel region by default, which starves NumPy's BLAS threads (and measured
# torch itself at a third of its solo speed here); passive waiting gives each framework the
# speed it has when it runs alone. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The same for NumPy's OpenBLAS, whose threads otherwise spin for ~0.1 s after each product
# (slowing PyTorch's steps as well as shinsou's kernels). It is what `import shinsou` sets
# when it is imported before NumPy; this script imports NumPy first.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import MODELS


def _load_torch(threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _batches(reference, steps, seed=0):
    rng = np.random.default_rng(seed)
    pairs = [reference.make_batch(rng, reference.batch_size) for _ in range(steps)]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def _time_shinsou(model, x, y, batch_size):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def _time_torch(step, x, y, batch_size):
    start = time.perf_counter()
    for first in range(0, len(x), batch_size):
        step(x[first : first + batch_size], y[first : first + batch_size])
    return time.perf_counter() - start


def throughput(name, torch, steps, rounds):
    """Median samples/s of shinsou and of PyTorch (None without torch) for one model."""
    import shinsou

    reference = MODELS[name]
    shinsou.utils.set_random_seed(0)
    model = reference.build_shinsou()
    x, y = _batches(reference, steps)
    warm_x, warm_y = x[: 2 * reference.batch_size], y[: 2 * reference.batch_size]
    _time_shinsou(model, warm_x, warm_y, reference.batch_size)
    torch_step = None
    if torch is not None:
        torch.manual_seed(0)
        torch_step = reference.build_torch(torch)
        _time_torch(torch_step, warm_x, warm_y, reference.batch_size)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(len(x) / _time_shinsou(model, x, y, reference.batch_size))
        if torch_step is not None:
            theirs.append(len(x) / _time_torch(torch_step, x, y, reference.batch_size))
    return statistics.median(ours), (statistics.median(theirs) if theirs else None)


# -- memory (child processes) ---------------------------------------------------------------
def _rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(framework, name, batch_size, steps=3):
    """Run in a fresh process: KiB that training steps add to the peak RSS over the RSS after
    import and model build."""
    reference = MODELS[name]
    rng = np.random.default_rng(1)
    pairs = [reference.make_batch(rng, batch_size) for _ in range(steps)]
    if framework == "shinsou":
        model = reference.build_shinsou()
        run = lambda bx, by: model.train_on_batch(bx, by)  # noqa: E731
    else:
        torch = _load_torch(2)
        step = reference.build_torch(torch)
        run = step
    before = _rss_kib("VmRSS:")  # after import and model build, as the issue defines it
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    for bx, by in pairs:
        run(bx, by)
    return {"added_kib": _rss_kib("VmHWM:") - before, "rss_before_kib": before}


def memory(name, batch_size):
    results = {}
    for framework in ("shinsou", "torch"):
        command = [sys.executable, __file__, "--memory-child", framework, name, str(batch_size)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            results[framework] = None
            continue
        results[framework] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def import_seconds(module, repeats=5):
    """Fastest of ``repeats`` fresh-interpreter imports, with bytecode caches allowed (as on
    any user's machine; PYTHONDONTWRITEBYTECODE would recompile every module each time)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(repeats + 1):  # the first run may write the bytecode caches
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return None
        times.append(float(done.stdout.strip()))
    return min(times[1:])


def call_overhead(torch, repeats=2000):
    """Microseconds per call of a 4-layer Dense model (784-64-64-64-10) on one sample: what
    the framework adds around tiny matrix products. shinsou's ``model(x)`` on data records
    no graph; PyTorch is timed under ``no_grad`` and with autograd."""
    import shinsou as keras
    from shinsou import layers

    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    model = keras.Sequential(
        [keras.Input((784,))] + [layers.Dense(64, activation="relu") for _ in range(3)]
    )
    model.add(layers.Dense(10))

    def best_of(call):
        call()
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats // 5):
                call()
            times.append((time.perf_counter() - start) / (repeats // 5))
        return min(times) * 1e6

    results = {"shinsou": best_of(lambda: model(x))}
    if torch is not None:
        nn = torch.nn
        module = nn.Sequential(
            nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
            nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        inputs = torch.from_numpy(x)
        with torch.no_grad():
            results["torch no_grad"] = best_of(lambda: module(inputs))
        results["torch autograd"] = best_of(lambda: module(inputs))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(MODELS), help="models to run")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--memory", action="store_true", help="measure memory of resnet20")
    parser.add_argument("--memory-batch", type=int, default=256)
    parser.add_argument("--imports", action="store_true", help="time the imports")
    parser.add_argument(
        "--overhead", action="store_true", help="time a small model's call on one sample"
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        framework, name, batch = args.memory_child
        print(json.dumps(memory_child(framework, name, int(batch))))
        return 0
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")

    torch = _load_torch(args.threads)
    print(f"{'model':<12} {'shinsou/s':>10} {'torch/s':>10} {'ratio':>7}")
    ratios = []
    for name in args.models:
        ours, theirs = throughput(name, torch, args.steps, args.rounds)
        ratio = ours / theirs if theirs else None
        if ratio:
            ratios.append(ratio)
        theirs_text = f"{theirs:10.0f}" if theirs else f"{'-':>10}"
        ratio_text = f"{ratio:7.2f}" if ratio else f"{'-':>7}"
        print(f"{name:<12} {ours:10.0f} {theirs_text} {ratio_text}", flush=True)
    if ratios:
        geometric_mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"{'geomean':<12} {'':>10} {'':>10} {geometric_mean:7.2f}")
    if args.memory:
        results = memory("resnet20", args.memory_batch)
        for framework, result in results.items():
            added = f"{result['added_kib'] / 1024:.0f} MiB" if result else "failed"
            print(f"memory: resnet20 batch {args.memory_batch} training adds {added} ({framework})")
    if args.overhead:
        for framework, micros in call_overhead(torch).items():
            print(f"call of a 4-layer Dense model on one sample: {micros:.0f} us ({framework})")
    if args.imports:
        for module in ("shinsou", "torch"):
            seconds = import_seconds(module)
            shown = f"{seconds * 1000:.0f} ms" if seconds is not None else "not installed"
            print(f"import {module}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared test tools: PyTorch parity of forward values and gradients, gradient checks.

``check_parity`` runs a shinsou function and a PyTorch function on the same float32 arrays,
compares every output, then back-propagates the same random weighting of the outputs in
both and compares the gradient of every floating-point input. It also asserts that shinsou
kept float32 end to end.
"""

from __future__ import annotations

import numpy as np
import pytest

import shinsou
from shinsou.utils import gradient_check

try:
    import torch

    # One torch thread: torch's spinning worker threads otherwise starve OpenBLAS's in the
    # same process (and the parity tests are small).
    torch.set_num_threads(1)
except ImportError:  # parity tests skip; gradient checks still run
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def random_array(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    """Uniform random values in [low, high) of the given shape, float32 by default."""
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _as_tuple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _assert_close(ours, theirs, rtol, atol, what):
    theirs = np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol * scale, err_msg=what)


def check_parity(shinsou_fn, torch_fn, *arrays, rtol=1e-4, atol=1e-5, grads=True, seed=1):
    """Compare ``shinsou_fn(*tensors)`` with ``torch_fn(*torch_tensors)``, values and grads.

    Floating-point arrays become tensors that require gradients; integer arrays are passed
    as constants. Returns shinsou's outputs.
    """
    if torch is None:
        pytest.skip("PyTorch is not installed")
    arrays = [np.asarray(a) for a in arrays]
    floating = [a.dtype.kind == "f" for a in arrays]
    ours_in = [
        shinsou.tensor(a, requires_grad=grads and f, dtype=a.dtype)
        for a, f in zip(arrays, floating)
    ]
    theirs_in = [torch.tensor(a, requires_grad=grads and f) for a, f in zip(arrays, floating)]
    ours_out = _as_tuple(shinsou_fn(*ours_in))
    theirs_out = _as_tuple(torch_fn(*theirs_in))
    assert len(ours_out) == len(theirs_out), "number of outputs differs from torch's"
    rng = np.random.default_rng(seed)
    weights = []
    for i, (ours, theirs) in enumerate(zip(ours_out, theirs_out)):
        reference = theirs.detach().numpy()
        if reference.dtype.kind == "f":
            assert ours.dtype == np.float32, f"output {i} is {ours.dtype}, not float32"
        _assert_close(ours.numpy(), reference, rtol, atol, f"output {i}")
        weights.append(rng.standard_normal(reference.shape).astype(np.float32))
    if not grads or not any(floating):
        return ours_out
    differentiable = [
        (i, o, t) for i, (o, t) in enumerate(zip(ours_out, theirs_out)) if t.requires_grad
    ]
    ours_loss = sum((o * weights[i]).sum() for i, o, _ in differentiable)
    theirs_loss = sum((t * torch.from_numpy(weights[i])).sum() for i, _, t in differentiable)
    ours_loss.backward()
    theirs_loss.backward()
    for i, (ours, theirs) in enumerate(zip(ours_in, theirs_in)):
        if not floating[i]:
            continue
        reference = theirs.grad
        if reference is None:
            assert ours.grad is None or not np.any(ours.grad), f"input {i} has a spurious grad"
            continue
        assert ours.grad is not None, f"input {i} received no gradient"
        assert ours.grad.dtype == np.float32, f"gradient of input {i} is {ours.grad.dtype}"
        _assert_close(ours.grad, reference.numpy(), rtol, atol, f"gradient of input {i}")
    return ours_out


def check_gradient(fn, *arrays, tolerance=1e-6):
    """Assert that ``fn``'s backward matches central finite differences in float64."""
    error = gradient_check(fn, *arrays)
    assert error < tolerance, f"gradient check: worst relative error {error:.3g} > {tolerance}"

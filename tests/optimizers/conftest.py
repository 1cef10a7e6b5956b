"""Shared tools for the optimizer tests: one small training problem and three ways to run it.

``problem`` gives initial weights of several shapes (a matrix, a vector, a 3-D array and a
scalar, so the flat layout is exercised) and a sequence of gradients. ``trajectory`` runs an
update rule over it and returns the weights after every step: shinsou's optimizers, PyTorch's
(``torch.optim``), or a float64 NumPy reference written from Keras's documented formula.
"""

import types

import numpy as np
import pytest

from shinsou import Variable
from support import torch

SHAPES = [(5, 3), (3,), (2, 2, 2), ()]
STEPS = 6


def _random_arrays(rng):
    return [np.asarray(rng.uniform(-1.0, 1.0, shape), dtype=np.float32) for shape in SHAPES]


def run_shinsou(optimizer, initial, grads):
    variables = [Variable(value.copy(), name=f"w{i}") for i, value in enumerate(initial)]
    history = []
    for step_grads in grads:
        optimizer.apply([g.copy() for g in step_grads], variables)
        history.append([v.numpy() for v in variables])
    for v in variables:
        assert v.dtype == np.float32
    return history


def run_torch(make_optimizer, initial, grads):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    params = [torch.nn.Parameter(torch.tensor(value.copy())) for value in initial]
    optimizer = make_optimizer(params)
    history = []
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = torch.tensor(grad.copy())
        optimizer.step()
        history.append([param.detach().numpy().copy() for param in params])
    return history


def run_reference(step, initial, grads):
    """``step(weights, grad, state, t)`` updates one float64 weight in place (``state`` is a
    dict kept per variable, ``t`` counts from 1)."""
    weights = [value.astype(np.float64) for value in initial]
    states = [{} for _ in weights]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        for weight, grad, state in zip(weights, step_grads, states):
            step(weight, grad.astype(np.float64), state, t)
        history.append([w.copy() for w in weights])
    return history


def assert_same_trajectory(ours, theirs, rtol=1e-5, atol=1e-6):
    for step, (ours_step, theirs_step) in enumerate(zip(ours, theirs), start=1):
        for index, (a, b) in enumerate(zip(ours_step, theirs_step)):
            np.testing.assert_allclose(
                a, b, rtol=rtol, atol=atol, err_msg=f"variable {index} after step {step}"
            )


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    initial = _random_arrays(rng)
    grads = [_random_arrays(rng) for _ in range(STEPS)]
    return initial, grads


@pytest.fixture
def trajectory():
    return types.SimpleNamespace(
        shinsou=run_shinsou,
        torch=run_torch,
        reference=run_reference,
        assert_same=assert_same_trajectory,
    )

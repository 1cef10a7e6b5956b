"""Trigonometry, rounding, cumsum and friends: parity, gradients, dtypes."""

import numpy as np
import pytest

from shinsou import ops
from support import check_gradient, check_parity, random_array, torch


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "reciprocal"])
def test_smooth_elementwise(name):
    x = random_array((3, 4), seed=1, low=0.2, high=1.2)
    check_parity(getattr(ops, name), getattr(torch, name) if torch else None, x)
    check_gradient(getattr(ops, name), x)


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cumsum(axis):
    x = random_array((3, 4), seed=2)
    check_parity(
        lambda t: ops.cumsum(t, axis=axis),
        lambda t: torch.cumsum(
            t.reshape(-1) if axis is None else t, dim=0 if axis is None else axis
        ),
        x,
    )
    check_gradient(lambda t: ops.cumsum(t, axis=axis), x)


def test_flat_ops_and_tests():
    x = np.array([-1.5, 0.5, 2.5, np.inf, np.nan], dtype="float32")
    assert ops.floor(x[:3]).tolist() == [-2.0, 0.0, 2.0]
    assert ops.ceil(x[:3]).tolist() == [-1.0, 1.0, 3.0]
    assert ops.round(x[:3]).tolist() == [-2.0, 0.0, 2.0]
    assert ops.isnan(x).tolist() == [False, False, False, False, True]
    assert ops.isinf(x).tolist() == [False, False, False, True, False]
    assert ops.isfinite(x).tolist() == [True, True, True, False, False]
    assert ops.any(np.array([0, 1])).item() and not ops.all(np.array([0, 1])).item()
    assert ops.sort(np.array([3.0, 1.0])).tolist() == [1.0, 3.0]
    assert ops.argsort(np.array([3.0, 1.0])).tolist() == [1, 0]
    assert ops.linspace(0, 1, 5).dtype == np.float32
    assert ops.sin(np.array([1, 2])).dtype == np.float32  # integers become floatx

"""Reductions: gradient checks, PyTorch parity, negative axes, ties, dtypes."""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

AXES = [None, 0, -1, (0, 2), (-1, -3)]


def _torch_dims(axis):
    return tuple(range(3)) if axis is None else axis


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_and_mean(axis, keepdims):
    x = random_array((2, 3, 4))
    check_parity(
        lambda t: (ops.sum(t, axis, keepdims), ops.mean(t, axis, keepdims)),
        lambda t: (t.sum(_torch_dims(axis), keepdims), t.mean(_torch_dims(axis), keepdims)),
        x,
    )
    check_gradient(lambda t: ops.mean(t, axis, keepdims) * ops.sum(t, axis, keepdims), x)


@pytest.mark.parametrize("axis", AXES)
def test_max_and_min(axis):
    x = random_array((2, 3, 4), seed=3)
    check_parity(
        lambda t: (ops.max(t, axis), ops.min(t, axis, keepdims=True)),
        lambda t: (t.amax(_torch_dims(axis)), t.amin(_torch_dims(axis), keepdim=True)),
        x,
    )
    check_gradient(lambda t: ops.max(t, axis) + ops.min(t, axis), x)


def test_max_splits_gradient_between_ties_like_torch_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype="float32")
    check_parity(lambda t: ops.max(t, axis=1), lambda t: t.amax(1), x)


@pytest.mark.parametrize("axis", AXES)
def test_var_and_std(axis):
    x = random_array((2, 3, 4), seed=4)
    check_parity(
        lambda t: (ops.var(t, axis), ops.std(t, axis)),
        lambda t: (
            t.var(_torch_dims(axis), unbiased=False),
            t.std(_torch_dims(axis), unbiased=False),
        ),
        x,
    )
    check_gradient(lambda t: ops.var(t, axis) + ops.std(t, axis), x)


@pytest.mark.parametrize("axis", [None, -1, (0, 1)])
def test_logsumexp(axis):
    x = random_array((3, 5), seed=5, low=-3, high=3)
    dims = tuple(range(2)) if axis is None else axis
    check_parity(lambda t: ops.logsumexp(t, axis), lambda t: torch.logsumexp(t, dims), x)
    check_gradient(lambda t: ops.logsumexp(t, axis), x)


def test_logsumexp_of_huge_values_is_finite():
    x = np.array([[1e30, 1e30, -1e30], [-1e4, 0.0, 1e4]], dtype="float32")
    check_parity(lambda t: ops.logsumexp(t, -1), lambda t: torch.logsumexp(t, -1), x)


def test_argmax_argmin_are_integer_without_gradient():
    x = shinsou.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    assert ops.argmax(x, axis=-1).tolist() == [1, 0]
    assert ops.argmin(x, axis=1).tolist() == [0, 1]
    assert ops.argmax(x).item() == 3
    assert ops.argmax(x, axis=-1).dtype.kind == "i"
    assert not ops.argmax(x).requires_grad


def test_mean_of_integers_is_floatx():
    assert ops.mean(shinsou.tensor([1, 2, 4])).dtype == np.float32
    assert ops.var(shinsou.tensor([1, 2])).dtype == np.float32


def test_reductions_keep_float32():
    x = shinsou.tensor(random_array((3, 4)), requires_grad=True)
    for out in (ops.sum(x), ops.mean(x, 0), ops.var(x), ops.std(x, -1), ops.logsumexp(x)):
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_bad_axis_is_reported():
    with pytest.raises(ValueError, match="sum: axis 3 is out of range.*rank 2"):
        ops.sum(np.ones((2, 2)), axis=3)
    with pytest.raises(ValueError, match="mean: repeated axis"):
        ops.mean(np.ones((2, 2)), axis=(0, -2))

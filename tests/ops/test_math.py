"""Elementwise maths, matmul and comparisons: gradient checks, PyTorch parity, dtypes, errors."""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

BINARY = {
    "add": (ops.add, lambda a, b: a + b),
    "subtract": (ops.subtract, lambda a, b: a - b),
    "multiply": (ops.multiply, lambda a, b: a * b),
    "divide": (ops.divide, lambda a, b: a / b),
    "maximum": (ops.maximum, lambda a, b: torch.maximum(a, b)),
    "minimum": (ops.minimum, lambda a, b: torch.minimum(a, b)),
}

# (shape of x1, shape of x2): equal, size-1 broadcasting both ways, rank extension, scalar.
BROADCAST_CASES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((2, 1, 4), ()),
    ((1,), (5, 1)),
]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_CASES)
def test_binary_parity(name, shapes):
    ours, theirs = BINARY[name]
    a = random_array(shapes[0], seed=1)
    b = random_array(shapes[1], seed=2, low=0.5, high=2.0)  # away from 0 for divide
    check_parity(ours, theirs, a, b)


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient(name):
    ours = BINARY[name][0]
    check_gradient(ours, random_array((3, 1), seed=1), random_array((4,), seed=2, low=0.5))


def test_maximum_splits_gradient_on_ties_like_torch():
    a = np.array([1.0, 2.0, 3.0], dtype="float32")
    check_parity(ops.maximum, torch.maximum if torch else None, a, a.copy())


def test_power_parity_and_gradient():
    base = random_array((3, 4), seed=3, low=0.5, high=2.0)
    exponent = random_array((4,), seed=4, low=-2.0, high=3.0)
    check_parity(ops.power, torch.pow if torch else None, base, exponent)
    check_gradient(ops.power, base, exponent)


def test_power_with_python_exponent_keeps_float32():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    y = x**2
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


@pytest.mark.parametrize(
    "shapes",
    [
        ((4, 3), (3, 5)),
        ((2, 4, 3), (3, 5)),
        ((2, 4, 3), (2, 3, 5)),
        ((1, 4, 3), (2, 3, 5)),
        ((3,), (3, 5)),
        ((4, 3), (3,)),
        ((3,), (3,)),
    ],
)
def test_matmul_parity(shapes):
    a, b = random_array(shapes[0], seed=5), random_array(shapes[1], seed=6)
    check_parity(ops.matmul, torch.matmul if torch else None, a, b)
    check_gradient(ops.matmul, a, b)


UNARY = {
    "exp": (ops.exp, "exp", (-2, 2)),
    "log": (ops.log, "log", (0.1, 3)),
    "log1p": (ops.log1p, "log1p", (-0.5, 3)),
    "sqrt": (ops.sqrt, "sqrt", (0.1, 3)),
    "square": (ops.square, "square", (-2, 2)),
    "abs": (ops.abs, "abs", (0.1, 2)),
    "negative": (ops.negative, "neg", (-2, 2)),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_parity_and_gradient(name):
    ours, torch_name, (low, high) = UNARY[name]
    x = random_array((3, 5), seed=7, low=low, high=high)
    check_parity(ours, (lambda t: getattr(torch, torch_name)(t)) if torch else None, x)
    check_gradient(ours, x)


def test_clip_passes_gradient_inside_only():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], dtype="float32")
    check_parity(lambda t: ops.clip(t, -1.0, 1.0), lambda t: torch.clamp(t, -1.0, 1.0), x)


def test_where_parity_and_gradient():
    condition = random_array((3, 4), seed=8) > 0
    a, b = random_array((3, 4), seed=9), random_array((4,), seed=10)
    check_parity(
        lambda x, y: ops.where(condition, x, y),
        lambda x, y: torch.where(torch.from_numpy(condition), x, y),
        a,
        b,
    )
    check_gradient(lambda x, y: ops.where(condition, x, y), a, b)


def test_cast_between_floats_carries_gradient_and_to_int_does_not():
    x = shinsou.tensor([1.5, 2.5], requires_grad=True)
    y = ops.cast(x, "float64")
    (y * 2).sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
    assert not ops.cast(x, "int32").requires_grad


def test_comparisons_return_bool_without_gradient():
    x = shinsou.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert result.dtype == np.bool_ and not result.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]


def test_python_scalars_and_float64_arrays_do_not_promote():
    x = shinsou.tensor(random_array((2, 2)))
    for y in (x * 2, 2 * x, x + 0.5, x / 3, 1 - x, x * np.float64(2.0), x + np.ones(2)):
        assert y.dtype == np.float32


def test_ndarray_on_the_left_keeps_the_graph():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype="float32") * x
    assert isinstance(y, shinsou.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 5)))


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        ops.add(np.ones((2, 3)), np.ones(4))


@pytest.mark.parametrize(
    "shapes",
    [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((300, 257), (300, 257))],  # the last one compiled
)
def test_add_relu_is_relu_of_the_sum(shapes):
    a, b = random_array(shapes[0], seed=3), random_array(shapes[1], seed=4)
    (out,) = check_parity(ops.add_relu, (lambda x, y: torch.relu(x + y)) if torch else None, a, b)
    assert out.shape == np.broadcast_shapes(*shapes)


def test_add_relu_gradient():
    check_gradient(ops.add_relu, random_array((3, 4), seed=5), random_array((3, 4), seed=6))

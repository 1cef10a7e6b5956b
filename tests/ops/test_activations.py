"""Activations: gradient checks, PyTorch parity, float32, huge inputs, Keras definitions, errors."""

import math

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

F = torch.nn.functional if torch else None

# name: (shinsou function, torch function, input range). Ranges cover every branch: the
# negative side, the positive side and the saturated ends of relu6 and hard_sigmoid.
ACTIVATIONS = {
    "relu": (ops.relu, lambda t: F.relu(t), (-3, 3)),
    "relu6": (ops.relu6, lambda t: F.relu6(t), (-3, 9)),
    "leaky_relu": (ops.leaky_relu, lambda t: F.leaky_relu(t, 0.2), (-3, 3)),
    "leaky_relu_steep": (
        lambda x: ops.leaky_relu(x, negative_slope=1.5),
        lambda t: F.leaky_relu(t, 1.5),
        (-3, 3),
    ),
    "leaky_relu_negative": (
        lambda x: ops.leaky_relu(x, negative_slope=-0.5),
        lambda t: F.leaky_relu(t, -0.5),
        (-3, 3),
    ),
    "elu": (ops.elu, lambda t: F.elu(t), (-4, 3)),
    "elu_alpha": (lambda x: ops.elu(x, alpha=0.5), lambda t: F.elu(t, alpha=0.5), (-4, 3)),
    "selu": (ops.selu, lambda t: F.selu(t), (-4, 3)),
    "gelu_tanh": (ops.gelu, lambda t: F.gelu(t, approximate="tanh"), (-6, 6)),
    "gelu_erf": (
        lambda x: ops.gelu(x, approximate=False),
        lambda t: F.gelu(t, approximate="none"),
        (-6, 6),
    ),
    "sigmoid": (ops.sigmoid, lambda t: torch.sigmoid(t), (-8, 8)),
    "hard_sigmoid": (ops.hard_sigmoid, lambda t: F.hardsigmoid(t), (-5, 5)),
    "tanh": (ops.tanh, lambda t: torch.tanh(t), (-4, 4)),
    "softplus": (ops.softplus, lambda t: F.softplus(t), (-30, 30)),
    "softsign": (ops.softsign, lambda t: F.softsign(t), (-5, 5)),
    "silu": (ops.silu, lambda t: F.silu(t), (-8, 8)),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_parity_with_torch(name):
    ours, theirs, (low, high) = ACTIVATIONS[name]
    check_parity(ours, theirs, random_array((4, 6), seed=1, low=low, high=high))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_gradient(name):
    ours, _, (low, high) = ACTIVATIONS[name]
    check_gradient(ours, random_array((3, 4), seed=2, low=low, high=high))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_zero_dimensional_input(name):
    ours = ACTIVATIONS[name][0]
    x = shinsou.tensor(0.7, requires_grad=True)
    y = ours(x)
    y.backward()
    assert y.shape == () and x.grad.shape == () and y.dtype == np.float32


def test_swish_is_silu():
    assert ops.swish is ops.silu


HUGE = np.array([-1e30, -1e4, -100.0, -1.0, 0.5, 100.0, 1e4, 1e30], dtype="float32")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_huge_inputs_stay_finite_and_match_torch(name):
    # RuntimeWarnings are errors in this suite, so an overflowing exp fails here too.
    ours, theirs, _ = ACTIVATIONS[name]
    x = shinsou.tensor(HUGE, requires_grad=True)
    y = ours(x)
    y.backward(np.ones_like(HUGE))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad).all()
    if torch is None:
        return
    t = torch.tensor(HUGE, requires_grad=True)
    reference = theirs(t)
    reference.sum().backward()
    for got, expected in ((y.numpy(), reference.detach().numpy()), (x.grad, t.grad.numpy())):
        finite = np.isfinite(expected)  # torch's gelu gradient is nan at ±1e30
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-5, atol=1e-6)


def test_tails_are_exact():
    np.testing.assert_array_equal(ops.sigmoid(HUGE[[0, 1, -2, -1]]).numpy(), [0, 0, 1, 1])
    np.testing.assert_array_equal(ops.softplus(HUGE[[0, -1]]).numpy(), [0, HUGE[-1]])
    assert ops.sigmoid(np.float32(-80)).item() > 0  # no premature underflow to 0 (0-d input too)


def test_keras_definitions():
    x = np.array([-4.0, -1.0, 0.0, 1.0, 4.0], dtype="float32")
    np.testing.assert_allclose(ops.leaky_relu(x).numpy(), [-0.8, -0.2, 0, 1, 4], rtol=1e-6)
    np.testing.assert_allclose(ops.hard_sigmoid(x).numpy(), [0, 1 / 3, 0.5, 2 / 3, 1], rtol=1e-6)
    alpha, scale = 1.67326324, 1.05070098  # keras.activations.selu's constants
    np.testing.assert_allclose(
        ops.selu(x).numpy(), np.where(x > 0, scale * x, scale * alpha * np.expm1(x)), rtol=1e-6
    )
    np.testing.assert_allclose(ops.elu(x, alpha=2.0).numpy(), np.where(x > 0, x, 2 * np.expm1(x)))
    np.testing.assert_allclose(ops.relu6(np.float32([7.0])).numpy(), [6.0])


def test_leaky_relu_passes_positive_values_exactly():
    x = random_array((1000,), seed=3, low=0.01, high=100)
    np.testing.assert_array_equal(ops.leaky_relu(x).numpy(), x)
    np.testing.assert_array_equal(ops.elu(x).numpy(), x)


def test_exact_gelu_matches_erf_to_float32_precision():
    x = np.linspace(-12, 12, 2001)
    expected = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    got = ops.gelu(shinsou.tensor(x, dtype="float64"), approximate=False).numpy()
    # relative accuracy holds in the far negative tail, where 1 + erf(x) would cancel
    np.testing.assert_allclose(got, expected, rtol=3e-7, atol=1e-300)


def test_parameters_given_as_numpy_float64_keep_float32():
    x = random_array((5,), seed=4)
    assert ops.leaky_relu(x, negative_slope=np.float64(0.1)).dtype == np.float32
    assert ops.elu(x, alpha=np.float64(0.5)).dtype == np.float32


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu_tanh", "softsign"])
def test_integer_inputs_become_float32(name):
    ours = ACTIVATIONS[name][0]
    assert ours(np.array([-2, 0, 3])).dtype == np.float32


def test_float64_stays_float64():
    x = shinsou.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    for fn in (ops.sigmoid, ops.gelu, ops.softplus, ops.elu, ops.softmax, ops.log_softmax):
        y = fn(x)
        y.sum().backward()
        assert y.dtype == np.float64 and x.grad.dtype == np.float64


# -- softmax and log_softmax ----------------------------------------------------------------


def _torch_softmax_over(dims):
    return lambda t: torch.exp(t - torch.logsumexp(t, dim=dims, keepdim=True))


def _torch_log_softmax_over(dims):
    return lambda t: t - torch.logsumexp(t, dim=dims, keepdim=True)


@pytest.mark.parametrize("axis", [-1, 0, 1, (1, 2)])
def test_softmax_parity_and_gradient(axis):
    x = random_array((2, 3, 4), seed=5, low=-3, high=3)
    dims = axis if isinstance(axis, tuple) else (axis,)
    check_parity(lambda t: ops.softmax(t, axis=axis), _torch_softmax_over(dims), x)
    check_parity(lambda t: ops.log_softmax(t, axis=axis), _torch_log_softmax_over(dims), x)
    check_gradient(lambda t: ops.softmax(t, axis=axis), x)
    check_gradient(lambda t: ops.log_softmax(t, axis=axis), x)


def test_softmax_default_axis_matches_torch_functional():
    x = random_array((3, 5), seed=6, low=-5, high=5)
    check_parity(ops.softmax, lambda t: F.softmax(t, dim=-1), x)
    check_parity(ops.log_softmax, lambda t: F.log_softmax(t, dim=-1), x)


@pytest.mark.parametrize("fn", [ops.softmax, ops.log_softmax])
def test_softmax_huge_logits_match_torch(fn):
    rows = np.array(
        [[1e4, -1e4, 0.0], [1e30, 1e30, -1e30], [-1e30, -1e30, -1e30], [3.0, 1.0, 2.0]],
        dtype="float32",
    )
    torch_fn = (
        (lambda t: F.softmax(t, -1)) if fn is ops.softmax else (lambda t: F.log_softmax(t, -1))
    )
    out = check_parity(fn, torch_fn, rows)[0].numpy()
    assert np.isfinite(out).all()


def test_softmax_rows_sum_to_one():
    y = ops.softmax(random_array((8, 10), seed=7, low=-50, high=50))
    np.testing.assert_allclose(y.numpy().sum(-1), 1, rtol=1e-6)


def test_softmax_is_one_node():
    x = shinsou.tensor(random_array((2, 3)), requires_grad=True)
    y = ops.softmax(x)
    assert y._node.op_name == "softmax" and y._node.inputs == (x,)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [ops.softmax, ops.log_softmax])
def test_softmax_bad_axis_names_op(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: axis 2 is out of range.*rank 2"):
        fn(np.ones((2, 3), dtype="float32"), axis=2)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "softmax"])
def test_non_numeric_input_names_op_and_dtype(name):
    with pytest.raises(TypeError, match=rf"{name}: expected a real-valued numeric.*<U1"):
        getattr(ops, name)(np.array(["a", "b"]))

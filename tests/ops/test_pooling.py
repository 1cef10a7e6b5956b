"""Max and average pooling: PyTorch parity, gradient checks, tie-breaking, "same" counts, errors.

The references pad explicitly with TensorFlow's "same" rule (odd pixel after): -inf for max
pooling; for average pooling the window sums are divided by the count of real values.
"""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

if torch is not None:
    from torch.nn import functional as torch_nn


def tf_same_pads(size, pool, stride):
    total = max((-(-size // stride) - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def as_tuple(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def torch_pool(kind, x, pool_size, strides, padding):
    """Keras-semantics pooling on a channels-last torch tensor."""
    rank = x.ndim - 2
    pool = as_tuple(pool_size, rank)
    strides = pool if strides is None else as_tuple(strides, rank)
    pads = [(0, 0)] * rank
    if padding == "same":
        pads = [tf_same_pads(n, k, s) for n, k, s in zip(x.shape[1:-1], pool, strides)]
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    xt = x.permute(0, rank + 1, *range(1, rank + 1))
    pool_fn = {
        "max": (torch_nn.max_pool1d, torch_nn.max_pool2d, torch_nn.max_pool3d),
        "avg": (torch_nn.avg_pool1d, torch_nn.avg_pool2d, torch_nn.avg_pool3d),
    }[kind][rank - 1]
    if kind == "max":
        out = pool_fn(torch_nn.pad(xt, flat, value=float("-inf")), pool, strides)
    else:
        sums = (
            pool_fn(torch_nn.pad(xt, flat), pool, strides, divisor_override=1) if rank > 1 else None
        )
        if rank == 1:
            sums = pool_fn(torch_nn.pad(xt, flat), pool, strides) * pool[0]
        ones = torch_nn.pad(torch.ones_like(xt[:1, :1]), flat)
        counts = pool_fn(ones, pool, strides) * float(np.prod(pool))
        out = sums / counts
    return out.permute(0, *range(2, rank + 2), 1)


CASES = [
    # (input shape, pool_size, strides, padding)
    ((2, 8, 3), 2, None, "valid"),
    ((2, 9, 3), 3, 2, "same"),
    ((2, 7, 3), 2, 1, "valid"),
    ((2, 8, 8, 3), 2, None, "valid"),
    ((2, 9, 7, 3), 2, None, "valid"),
    ((2, 9, 7, 3), 2, None, "same"),
    ((2, 8, 8, 3), 3, 2, "same"),
    ((2, 8, 8, 3), 3, 1, "valid"),
    ((2, 7, 9, 2), (2, 3), (1, 2), "same"),
    ((2, 6, 6, 2), 1, 2, "valid"),
    ((2, 5, 5, 2), 2, 3, "same"),
    ((1, 4, 5, 6, 2), 2, None, "same"),
    ((1, 4, 5, 6, 2), (2, 3, 2), 1, "valid"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_parity(kind, case):
    shape, pool_size, strides, padding = case
    ours = ops.max_pool if kind == "max" else ops.average_pool
    check_parity(
        lambda a: ours(a, pool_size, strides, padding),
        lambda a: torch_pool(kind, a, pool_size, strides, padding),
        random_array(shape, seed=1),
    )


@pytest.mark.parametrize(
    "case",
    [((2, 5, 2), 2, None, "same"), ((1, 5, 6, 2), 3, 2, "same"), ((1, 4, 4, 2), 2, 1, "valid")],
    ids=str,
)
@pytest.mark.parametrize("pool", [ops.max_pool, ops.average_pool], ids=["max", "avg"])
def test_pool_gradient(pool, case):
    shape, pool_size, strides, padding = case
    # Distinct values spaced apart, so that finite differences never cross a tie.
    values = np.random.default_rng(0).permutation(np.prod(shape)).reshape(shape) * 0.1
    check_gradient(lambda a: pool(a, pool_size, strides, padding), values)


def test_max_pool_ties_send_the_gradient_to_the_first_position_only():
    x = shinsou.tensor(np.zeros((1, 4, 4, 1), "float32"), requires_grad=True)
    ops.max_pool(x, 2).sum().backward()
    assert x.grad[0, :, :, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    # Overlapping windows: each window still gives its gradient to one position.
    y = shinsou.tensor(np.zeros((1, 4, 1), "float32"), requires_grad=True)
    ops.max_pool(y, 2, strides=1).sum().backward()
    assert y.grad[0, :, 0].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_max_pool_tie_breaking_matches_torch():
    x = np.repeat(random_array((1, 3, 3, 2)), 2, axis=1)  # equal pairs along the rows
    check_parity(lambda a: ops.max_pool(a, 2, 1), lambda a: torch_pool("max", a, 2, 1, "valid"), x)


def test_average_pool_same_counts_only_real_values():
    x = np.ones((1, 5, 5, 1), "float32")
    np.testing.assert_array_equal(ops.average_pool(x, 3, 2, "same").numpy(), np.ones((1, 3, 3, 1)))


def test_max_pool_same_never_picks_padding():
    x = -np.ones((1, 3, 1), "float32") * 5
    assert ops.max_pool(x, 2, padding="same")[0, :, 0].tolist() == [-5.0, -5.0]


def test_max_pool_of_integers_keeps_the_dtype():
    x = np.arange(8, dtype="int32").reshape(1, 8, 1)
    y = ops.max_pool(x, 3, 2, "same")
    assert y.dtype == np.int32 and y[0, :, 0].tolist() == [2, 4, 6, 7]


def test_pool_channels_first_matches_channels_last():
    x = random_array((2, 6, 7, 3))
    for pool in (ops.max_pool, ops.average_pool):
        last = pool(x, 3, 2, "same").numpy()
        first = pool(np.moveaxis(x, -1, 1), 3, 2, "same", data_format="channels_first").numpy()
        np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, rtol=1e-6)


def test_pool_keeps_float32_and_float64():
    x = shinsou.tensor(random_array((1, 4, 4, 2)), dtype="float64", requires_grad=True)
    assert ops.average_pool(x, 2).dtype == np.float64
    assert ops.max_pool(random_array((1, 4, 4, 2)), 2).dtype == np.float32


def test_pool_of_an_empty_batch():
    assert ops.max_pool(np.zeros((0, 4, 4, 2), "float32"), 2).shape == (0, 2, 2, 2)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("pool_size", [0, (2,), (2, 2, 2), 2.0])
def test_bad_pool_size(pool_size):
    with pytest.raises(ValueError, match=r"max_pool: pool_size must be a positive int or a tuple"):
        ops.max_pool(np.ones((1, 4, 4, 1)), pool_size)


def test_bad_strides():
    with pytest.raises(ValueError, match=r"average_pool: strides must be a positive int"):
        ops.average_pool(np.ones((1, 4, 4, 1)), 2, strides=0)


def test_unknown_padding():
    with pytest.raises(ValueError, match=r"max_pool: padding must be one of \('valid', 'same'\)"):
        ops.max_pool(np.ones((1, 4, 4, 1)), 2, padding="full")


def test_pool_larger_than_input_with_valid_padding():
    with pytest.raises(
        ValueError, match=r"average_pool: with padding='valid'.*\(3, 4\).*pool_size"
    ):
        ops.average_pool(np.ones((1, 3, 4, 1)), 4)


def test_pool_input_rank_is_checked():
    with pytest.raises(ValueError, match=r"max_pool: inputs must have rank 3, 4 or 5.*\(4, 4\)"):
        ops.max_pool(np.ones((4, 4)), 2)


def test_average_pool_needs_floats():
    with pytest.raises(TypeError, match=r"average_pool: expected a floating-point tensor"):
        ops.average_pool(np.ones((1, 4, 4, 1), dtype="int32"), 2)

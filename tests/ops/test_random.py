"""Random ops: statistics, reproducibility, dropout's gradient and mask, dtypes, errors.

PyTorch draws from other random streams, so parity with it is checked on what is
deterministic given the mask: the forward product and the gradient.
"""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

# -- dropout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_keep_rate_and_scale(rate):
    y = ops.dropout(np.ones((500, 400), dtype="float32"), rate, seed=3).numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.005  # 200,000 draws: std of the rate ~0.001
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_gradient_is_the_scaled_mask():
    x = random_array((6, 5), seed=1)
    check_gradient(lambda t: ops.dropout(t, 0.4, seed=11), x)
    mask = ops.dropout(np.ones((6, 5), dtype="float32"), 0.4, seed=11).numpy()
    reference = (lambda t: t * torch.from_numpy(mask)) if torch else None
    check_parity(lambda t: ops.dropout(t, 0.4, seed=11), reference, x)


def test_dropout_noise_shape_broadcasts_the_mask():
    x = np.ones((8, 4, 4, 6), dtype="float32")
    y = ops.dropout(x, 0.5, noise_shape=(8, 1, 1, 6), seed=2).numpy()
    # Each (sample, channel) is dropped or kept as a whole: spatial dropout.
    assert np.all(y == y[:, :1, :1, :])
    assert 0 < (y == 0).mean() < 1
    z = ops.dropout(x, 0.5, noise_shape=(None, 1, 1, None), seed=2).numpy()
    np.testing.assert_array_equal(y, z)


def test_dropout_reproducible_with_seed_and_with_set_seed():
    x = np.ones((50, 50), dtype="float32")
    a = ops.dropout(x, 0.3, seed=5).numpy()
    np.testing.assert_array_equal(a, ops.dropout(x, 0.3, seed=5).numpy())
    shinsou.backend.set_seed(9)
    first, second = ops.dropout(x, 0.3).numpy(), ops.dropout(x, 0.3).numpy()
    assert not np.array_equal(first, second)  # the shared generator advances
    shinsou.backend.set_seed(9)
    np.testing.assert_array_equal(first, ops.dropout(x, 0.3).numpy())


def test_dropout_with_a_generator_as_seed_advances_it():
    generator = np.random.default_rng(4)
    x = np.ones((20, 20), dtype="float32")
    a, b = ops.dropout(x, 0.5, seed=generator), ops.dropout(x, 0.5, seed=generator)
    assert not np.array_equal(a.numpy(), b.numpy())
    again = np.random.default_rng(4)
    np.testing.assert_array_equal(a.numpy(), ops.dropout(x, 0.5, seed=again).numpy())


def test_dropout_rate_zero_returns_the_input():
    x = shinsou.tensor(random_array((3, 3)), requires_grad=True)
    assert ops.dropout(x, 0.0) is x


def test_dropout_keeps_float64():
    x = shinsou.tensor(random_array((4, 4), dtype="float64"), dtype="float64", requires_grad=True)
    y = ops.dropout(x, 0.5, seed=0)
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float64


def test_dropout_rejects_bad_input():
    x = random_array((4, 3))
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\).*got 1.0"):
        ops.dropout(x, 1.0)
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\).*got -0.1"):
        ops.dropout(x, -0.1)
    with pytest.raises(ValueError, match=r"noise_shape \(4, 2\) does not broadcast.*\(4, 3\)"):
        ops.dropout(x, 0.5, noise_shape=(4, 2))
    with pytest.raises(ValueError, match=r"noise_shape \(4,\) must have one entry per axis"):
        ops.dropout(x, 0.5, noise_shape=(4,))
    with pytest.raises(TypeError, match="dropout: seed must be an int"):
        ops.dropout(x, 0.5, seed="abc")
    with pytest.raises(TypeError, match="dropout: expected a floating-point tensor"):
        ops.dropout(np.ones(3, dtype="int32"), 0.5)


# -- samplers ---------------------------------------------------------------------------------


def test_normal_statistics_and_dtype():
    values = ops.normal((400, 500), mean=2.0, stddev=3.0, seed=1)
    assert values.dtype == np.float32 and values.shape == (400, 500)
    assert not values.requires_grad
    data = values.numpy()
    assert abs(data.mean() - 2.0) < 0.03 and abs(data.std() - 3.0) < 0.03


def test_uniform_statistics_bounds_and_dtype():
    data = ops.uniform((200_000,), minval=-1.0, maxval=3.0, seed=2).numpy()
    assert data.dtype == np.float32
    assert data.min() >= -1.0 and data.max() < 3.0
    assert abs(data.mean() - 1.0) < 0.02 and abs(data.var() - 16 / 12) < 0.02


def test_uniform_degenerate_interval_gives_minval():
    assert ops.uniform((3,), minval=0.5, maxval=0.5, seed=0).tolist() == [0.5, 0.5, 0.5]


def test_truncated_normal_stays_within_two_stddev():
    data = ops.truncated_normal((300, 300), mean=1.0, stddev=0.5, seed=3).numpy()
    assert data.dtype == np.float32
    assert data.min() >= 0.0 and data.max() <= 2.0
    # The standard normal truncated to [-2, 2] has std ~0.880.
    assert abs(data.mean() - 1.0) < 0.01 and abs(data.std() - 0.5 * 0.8796) < 0.01


@pytest.mark.parametrize("sampler", [ops.normal, ops.uniform, ops.truncated_normal])
def test_samplers_are_reproducible_and_honour_dtype(sampler):
    a, b = sampler((5, 4), seed=42), sampler((5, 4), seed=42)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), sampler((5, 4), seed=43).numpy())
    assert sampler((2,), dtype="float64", seed=0).dtype == np.float64
    assert sampler((2,), dtype="float16", seed=0).dtype == np.float16
    assert sampler(3, seed=0).shape == (3,)


@pytest.mark.parametrize("sampler", [ops.normal, ops.uniform, ops.truncated_normal])
def test_samplers_reject_bad_input(sampler):
    name = sampler.__name__
    with pytest.raises(ValueError, match=f"{name}: requires a floating-point dtype; got .*int32"):
        sampler((2,), dtype="int32")
    with pytest.raises(ValueError, match=f"{name}: shape must be a tuple of non-negative ints"):
        sampler((2, -1))
    with pytest.raises(ValueError, match=f"{name}: seed must be a non-negative int"):
        sampler((2,), seed=-1)


def test_uniform_rejects_inverted_interval():
    with pytest.raises(ValueError, match=r"uniform: maxval \(0.0\) must not be below minval"):
        ops.uniform((2,), minval=1.0, maxval=0.0)

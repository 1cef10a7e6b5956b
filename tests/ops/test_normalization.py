"""Normalization ops: gradient checks, PyTorch parity, dtypes, conditioning, errors."""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

F = torch.nn.functional if torch is not None else None


def _to_nchw(t):
    return t.permute(0, 3, 1, 2)


def _from_nchw(t):
    return t.permute(0, 2, 3, 1)


# -- moments ----------------------------------------------------------------------------------

MOMENTS_CASES = [
    # (shape, axes, keepdims): leading axes (batch-norm statistics), trailing axes (layer
    # statistics), a middle kept axis, kept axes that are not contiguous, everything.
    ((4, 3, 3, 5), (0, 1, 2), False),
    ((4, 3, 6), -1, True),
    ((2, 5, 3, 4), (0, 2, 3), False),
    ((3, 4, 5), (1,), True),
    ((3, 4), None, False),
]


@pytest.mark.parametrize(("shape", "axes", "keepdims"), MOMENTS_CASES)
def test_moments_parity_and_gradient(shape, axes, keepdims):
    x = random_array(shape, seed=1)
    dims = tuple(range(len(shape))) if axes is None else axes

    def theirs(t):
        return t.mean(dim=dims, keepdim=keepdims), t.var(dim=dims, unbiased=False, keepdim=keepdims)

    check_parity(lambda t: ops.moments(t, axes, keepdims=keepdims), theirs, x)
    check_gradient(lambda t: ops.moments(t, axes, keepdims=keepdims), random_array(shape, seed=2))


def test_moments_gradient_through_one_output_only():
    x = shinsou.tensor(random_array((6, 4), seed=3), requires_grad=True)
    mean, _ = ops.moments(x, axes=0)
    mean.sum().backward()
    np.testing.assert_allclose(x.grad, np.full((6, 4), 1 / 6), rtol=1e-6)


def test_moments_of_data_far_from_zero_stay_exact():
    # mean 1000, std ~0.3: E[x²] - mean² would keep almost no correct digits in float32.
    x = random_array((256, 4), seed=4) + 1000.0
    mean, variance = ops.moments(x, axes=0)
    np.testing.assert_allclose(variance.numpy(), x.astype(np.float64).var(axis=0), rtol=1e-3)
    assert variance.dtype == np.float32 and mean.dtype == np.float32


def test_moments_of_a_constant_has_zero_variance():
    _, variance = ops.moments(np.full((5, 3), 7.3, dtype="float32"), axes=0)
    assert variance.tolist() == [0.0, 0.0, 0.0]


def test_moments_accepts_synchronized_and_rejects_bad_axes():
    mean, _ = ops.moments(random_array((3, 2)), axes=[0], synchronized=True)
    assert mean.shape == (2,)
    with pytest.raises(ValueError, match="moments: axis 2 is out of range"):
        ops.moments(random_array((3, 2)), axes=2)
    with pytest.raises(TypeError, match="moments: expected a floating-point tensor"):
        ops.moments(np.ones((3, 2), dtype="int32"), axes=0)


# -- fused (training-mode) batch normalization ------------------------------------------------


def _torch_training_batch_norm(axis, epsilon=1e-3):
    """torch reference: F.batch_norm in training mode plus the batch statistics."""

    def run(x, scale=None, offset=None):
        channels_first = x.movedim(axis, 1)
        y = F.batch_norm(channels_first, None, None, scale, offset, training=True, eps=epsilon)
        dims = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
        return y.movedim(1, axis), x.mean(dim=dims), x.var(dim=dims, unbiased=False)

    return run


@pytest.mark.parametrize(
    ("shape", "axis"),
    [((4, 3, 5, 8), -1), ((4, 6, 3, 5), 1), ((10, 7), -1), ((3, 5, 7), -1), ((2, 3, 4, 6), 2)],
)
def test_fused_batch_normalization_parity(shape, axis):
    channels = shape[axis]
    x = random_array(shape, seed=5, low=-2.0, high=3.0)
    scale = random_array((channels,), seed=6, low=0.5, high=1.5)
    offset = random_array((channels,), seed=7)
    ours = lambda t, s, o: ops.fused_batch_normalization(t, s, o, axis=axis)  # noqa: E731
    check_parity(ours, _torch_training_batch_norm(axis), x, scale, offset)


def test_fused_batch_normalization_without_scale_or_offset():
    x = random_array((6, 2, 2, 3), seed=8)
    check_parity(lambda t: ops.fused_batch_normalization(t), _torch_training_batch_norm(-1), x)
    check_parity(
        lambda t, s: ops.fused_batch_normalization(t, scale=s),
        lambda t, s: _torch_training_batch_norm(-1)(t, scale=s),
        x,
        random_array((3,), seed=9),
    )


@pytest.mark.parametrize(("shape", "axis"), [((3, 2, 2, 4), -1), ((4, 3, 5), 1), ((5, 3), 0)])
def test_fused_batch_normalization_gradient(shape, axis):
    channels = shape[axis]
    arrays = (
        random_array(shape, seed=10),
        random_array((channels,), seed=11, low=0.5, high=1.5),
        random_array((channels,), seed=12),
    )
    check_gradient(lambda x, s, o: ops.fused_batch_normalization(x, s, o, axis=axis), *arrays)


def test_fused_batch_normalization_gradient_of_badly_conditioned_data():
    x = random_array((8, 3), seed=13) + 50.0  # takes the centred (exact) path
    check_gradient(lambda t, s: ops.fused_batch_normalization(t, s), x, random_array((3,)))


def test_fused_batch_normalization_stays_exact_far_from_zero():
    x = random_array((64, 8, 8, 4), seed=14, low=0.0, high=0.01) + 300.0
    y, _, variance = ops.fused_batch_normalization(x, epsilon=0.0)
    reference = x.astype(np.float64)
    expected = (reference - reference.mean(axis=(0, 1, 2))) / reference.std(axis=(0, 1, 2))
    np.testing.assert_allclose(variance.numpy(), reference.var(axis=(0, 1, 2)), rtol=1e-3)
    np.testing.assert_allclose(y.numpy(), expected, atol=2e-3)


def test_fused_batch_normalization_of_a_constant_channel_is_offset():
    x = np.full((4, 2), 3.0, dtype="float32")
    y, mean, variance = ops.fused_batch_normalization(x, offset=[0.5, -1.0])
    np.testing.assert_array_equal(y.numpy(), np.tile([0.5, -1.0], (4, 1)))
    assert mean.tolist() == [3.0, 3.0] and variance.tolist() == [0.0, 0.0]


def test_fused_batch_normalization_float64_in_float64_out():
    x = shinsou.tensor(random_array((4, 3), dtype="float64"), dtype="float64", requires_grad=True)
    y, mean, variance = ops.fused_batch_normalization(x, scale=np.ones(3, dtype="float32"))
    assert y.dtype == mean.dtype == variance.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_fused_batch_normalization_rejects_bad_input():
    x = random_array((4, 3))
    with pytest.raises(
        ValueError, match=r"fused_batch_normalization: scale must have shape \(3,\)"
    ):
        ops.fused_batch_normalization(x, scale=np.ones(4, dtype="float32"))
    with pytest.raises(ValueError, match="fused_batch_normalization: axis 2 is out of range"):
        ops.fused_batch_normalization(x, axis=2)
    with pytest.raises(ValueError, match=r"empty tensor of shape \(0, 3\)"):
        ops.fused_batch_normalization(np.zeros((0, 3), dtype="float32"))
    with pytest.raises(TypeError, match="expected a floating-point tensor"):
        ops.fused_batch_normalization(np.ones((4, 3), dtype="int64"))


# -- batch normalization with given statistics ------------------------------------------------


def _torch_batch_norm(axis, epsilon=1e-3):
    def run(x, mean, variance, offset, scale):
        shape = [1] * x.ndim
        shape[axis] = -1
        inv = (variance.reshape(shape) + epsilon).rsqrt()
        return (x - mean.reshape(shape)) * inv * scale.reshape(shape) + offset.reshape(shape)

    return run


@pytest.mark.parametrize(("shape", "axis"), [((4, 3, 3, 5), -1), ((3, 4, 5), 1), ((6, 4), 1)])
def test_batch_normalization_parity_and_gradient(shape, axis):
    channels = shape[axis]
    arrays = (
        random_array(shape, seed=15, low=-2, high=2),
        random_array((channels,), seed=16),
        random_array((channels,), seed=17, low=0.5, high=2.0),
        random_array((channels,), seed=18),
        random_array((channels,), seed=19, low=0.5, high=1.5),
    )

    def ours(x, mean, variance, offset, scale):
        return ops.batch_normalization(x, mean, variance, axis, offset=offset, scale=scale)

    check_parity(ours, _torch_batch_norm(axis), *arrays)
    check_gradient(ours, *arrays)


def test_batch_normalization_matches_torch_inference_mode():
    x = random_array((4, 3, 3, 5), seed=20)
    mean, variance = random_array((5,), seed=21), random_array((5,), seed=22, low=0.5, high=2)

    def theirs(t):
        y = F.batch_norm(_to_nchw(t), torch.from_numpy(mean), torch.from_numpy(variance), eps=1e-3)
        return _from_nchw(y)

    check_parity(lambda t: ops.batch_normalization(t, mean, variance, axis=-1), theirs, x)


def test_batch_normalization_rejects_bad_input():
    x = random_array((4, 3))
    with pytest.raises(ValueError, match=r"batch_normalization: variance must have shape \(3,\)"):
        ops.batch_normalization(x, np.zeros(3), np.ones((1, 3)), axis=-1)
    with pytest.raises(ValueError, match="batch_normalization: mean and variance are required"):
        ops.batch_normalization(x, None, np.ones(3), axis=-1)
    with pytest.raises(ValueError, match="got a scalar"):
        ops.batch_normalization(np.float32(1.0), np.zeros(1), np.ones(1), axis=0)


# -- layer and RMS normalization --------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 8)])
def test_layer_normalization_parity_last_axis(shape):
    features = shape[-1]
    x = random_array(shape, seed=23, low=-3, high=3)
    gamma, beta = random_array((features,), seed=24), random_array((features,), seed=25)
    check_parity(
        lambda t, g, b: ops.layer_normalization(t, g, b, epsilon=1e-5),
        lambda t, g, b: F.layer_norm(t, (features,), g, b, eps=1e-5),
        x,
        gamma,
        beta,
    )


def test_layer_normalization_parity_several_trailing_axes():
    x = random_array((3, 4, 5), seed=26)
    gamma, beta = random_array((4, 5), seed=27), random_array((4, 5), seed=28)
    check_parity(
        lambda t, g, b: ops.layer_normalization(t, g, b, axis=(-2, -1), epsilon=1e-5),
        lambda t, g, b: F.layer_norm(t, (4, 5), g, b, eps=1e-5),
        x,
        gamma,
        beta,
    )


def test_layer_normalization_parity_middle_axis_with_broadcast_gamma():
    x = random_array((3, 4, 5), seed=29)
    gamma, beta = random_array((1, 4, 1), seed=30), random_array((4,), seed=31)

    def theirs(t, g, b):
        mean, var = t.mean(dim=1, keepdim=True), t.var(dim=1, unbiased=False, keepdim=True)
        return (t - mean) / (var + 1e-3).sqrt() * g + b.reshape(1, 4, 1)

    check_parity(lambda t, g, b: ops.layer_normalization(t, g, b, 1, 1e-3), theirs, x, gamma, beta)
    check_gradient(lambda t, g, b: ops.layer_normalization(t, g, b, 1, 1e-3), x, gamma, beta)


@pytest.mark.parametrize("axis", [-1, (1, 2)])
def test_layer_normalization_gradient(axis):
    x = random_array((3, 4, 5), seed=32)
    shape = (5,) if axis == -1 else (4, 5)
    gamma, beta = random_array(shape, seed=33), random_array(shape, seed=34)
    check_gradient(lambda t, g, b: ops.layer_normalization(t, g, b, axis=axis), x, gamma, beta)
    check_gradient(lambda t: ops.layer_normalization(t, axis=axis), x)


def test_layer_normalization_default_epsilon_is_keras_epsilon():
    x = random_array((2, 4), seed=35, low=-1e-3, high=1e-3)  # tiny variance: epsilon shows
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(ops.layer_normalization(x).numpy(), expected, rtol=1e-4)
    assert ops.normalization.KERAS_EPSILON == 1e-7


def test_layer_normalization_rms_scaling_matches_keras_formula():
    x = random_array((3, 6), seed=36, low=0.0, high=2.0)
    gamma, beta = random_array((6,), seed=37), random_array((6,), seed=38)

    def theirs(t, g):
        return t * (t.var(dim=-1, unbiased=False, keepdim=True) + 1e-3).rsqrt() * g

    check_parity(
        lambda t, g: ops.layer_normalization(t, g, beta, epsilon=1e-3, rms_scaling=True),
        theirs,
        x,
        gamma,
    )
    check_gradient(lambda t, g: ops.layer_normalization(t, g, rms_scaling=True), x, gamma)


def test_rms_normalization_parity_and_gradient():
    x = random_array((3, 4, 6), seed=39)
    scale = random_array((6,), seed=40)
    check_parity(
        lambda t, s: ops.rms_normalization(t, s, epsilon=1e-6),
        lambda t, s: F.rms_norm(t, (6,), s, eps=1e-6),
        x,
        scale,
    )
    check_gradient(lambda t, s: ops.rms_normalization(t, s, axis=(1, 2)), x, random_array((4, 6)))
    check_gradient(lambda t: ops.rms_normalization(t, axis=1), x)


def test_layer_and_rms_normalization_reject_bad_input():
    x = random_array((2, 3, 4))
    with pytest.raises(ValueError, match=r"layer_normalization: gamma must have shape \(4,\)"):
        ops.layer_normalization(x, gamma=np.ones(3, dtype="float32"))
    with pytest.raises(ValueError, match=r"rms_normalization: scale must have shape \(3, 4\)"):
        ops.rms_normalization(x, scale=np.ones(4, dtype="float32"), axis=(1, 2))
    with pytest.raises(ValueError, match="layer_normalization: axis 3 is out of range"):
        ops.layer_normalization(x, axis=3)
    with pytest.raises(ValueError, match="layer_normalization: cannot normalise an empty tensor"):
        ops.layer_normalization(np.zeros((2, 0), dtype="float32"))


def test_float64_parameters_do_not_promote_float32_inputs():
    x = random_array((4, 3))
    scale = shinsou.tensor(np.ones(3), dtype="float64", requires_grad=True)
    y, mean, _ = ops.fused_batch_normalization(x, scale=scale)
    assert y.dtype == mean.dtype == np.float32
    (y * shinsou.tensor(random_array((4, 3), seed=41))).sum().backward()
    assert scale.grad.dtype == np.float64
    assert ops.batch_normalization(x, np.zeros(3), scale, axis=-1).dtype == np.float32
    assert ops.layer_normalization(x, gamma=scale, beta=scale).dtype == np.float32
    assert ops.rms_normalization(x, scale=scale).dtype == np.float32

"""Convolutions: PyTorch parity (values and gradients), gradient checks, Keras shapes, errors.

PyTorch is channels-first and pads symmetrically, so the references move axes and pad
explicitly with TensorFlow's "same" rule (odd pixel after), computed here from its
definition rather than from shinsou's helpers.
"""

import numpy as np
import pytest

import shinsou
from shinsou import native, ops
from support import check_gradient, check_parity, random_array, torch

if torch is not None:
    from torch.nn import functional as torch_nn


def tf_same_pads(size, kernel, stride, dilation=1):
    extent = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def torch_pad(x, pads):
    """Pad the spatial axes of an NC... torch tensor; ``pads`` in spatial order."""
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    return torch_nn.pad(x, flat)


def spatial_pads(shape, kernel_shape, strides, dilations, padding):
    if padding == "valid":
        return [(0, 0)] * len(kernel_shape)
    return [tf_same_pads(n, k, s, d) for n, k, s, d in zip(shape, kernel_shape, strides, dilations)]


def as_tuple(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def to_torch_layout(x):
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def from_torch_layout(y):
    return y.permute(0, *range(2, y.ndim), 1)


def torch_conv(x, w, strides=1, padding="valid", dilation_rate=1, groups=1):
    """Keras-semantics conv on channels-last torch tensors, kernel (*k, C, F)."""
    rank = x.ndim - 2
    strides, dilations = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    kernel_shape = tuple(w.shape[:rank])
    pads = spatial_pads(x.shape[1:-1], kernel_shape, strides, dilations, padding)
    xt = torch_pad(to_torch_layout(x), pads)
    wt = w.permute(rank + 1, rank, *range(rank))
    conv = (torch_nn.conv1d, torch_nn.conv2d, torch_nn.conv3d)[rank - 1]
    return from_torch_layout(conv(xt, wt, stride=strides, dilation=dilations, groups=groups))


CONV_CASES = [
    # (input shape, kernel shape, strides, padding, dilation). With stride 1 the input gradient
    # takes the flipped-kernel path when filters <= 2 * channels and col2im otherwise.
    ((2, 9, 3), (3, 3, 4), 1, "valid", 1),
    ((2, 9, 3), (4, 3, 2), 2, "same", 1),
    ((2, 10, 2), (3, 2, 3), 1, "same", 2),
    ((2, 7, 8, 3), (3, 3, 3, 4), 1, "same", 1),
    ((2, 7, 8, 3), (3, 3, 3, 4), 1, "valid", 1),
    ((2, 7, 8, 3), (3, 3, 3, 4), 2, "same", 1),
    ((2, 8, 8, 3), (2, 2, 3, 4), 2, "valid", 1),
    ((2, 8, 9, 3), (4, 2, 3, 2), (2, 3), "same", 1),
    ((2, 9, 9, 2), (3, 3, 2, 3), 1, "same", (2, 1)),
    ((2, 9, 9, 2), (3, 3, 2, 3), 2, "valid", 2),
    ((2, 6, 6, 4), (1, 1, 4, 5), 1, "valid", 1),
    ((2, 6, 7, 4), (1, 1, 4, 5), 2, "same", 1),
    ((2, 5, 5, 3), (5, 5, 3, 2), 1, "valid", 1),
    ((2, 8, 9, 4), (2, 3, 4, 2), 1, "same", (2, 1)),  # fewer filters than channels
    ((2, 7, 6, 2), (3, 3, 2, 5), 1, "same", 1),  # more than twice as many: col2im
    ((2, 9, 8, 1), (3, 2, 1, 4), 1, "same", (2, 2)),
    ((1, 3, 3, 2), (3, 3, 2, 2), 4, "same", 1),
    ((2, 5, 6, 4, 2), (3, 2, 3, 2, 3), 1, "same", 1),
    ((2, 5, 6, 4, 2), (2, 2, 2, 2, 3), 2, "valid", 1),
]


# Shapes the compiled direct convolution (shinsou.native) takes: float32, 1-D and 2-D, a
# multiple of 16 filters. Filters 16, 32, 48, 64, 80 cover one to four vectors per tile and a
# second group; widths cover remainders.
DIRECT_CASES = [
    ((2, 9, 9, 16), (3, 3, 16, 16), 1, "same", 1),
    ((2, 7, 11, 3), (3, 3, 3, 32), 1, "valid", 1),
    ((2, 8, 8, 16), (3, 3, 16, 32), 2, "same", 1),
    ((3, 6, 13, 20), (3, 2, 20, 48), (1, 2), "same", 1),
    ((2, 9, 9, 5), (3, 3, 5, 64), 1, "same", (2, 1)),
    ((2, 9, 5, 13), (3, 3, 13, 16), 1, "same", (2, 1)),  # sliding tiles with row dilation
    ((2, 6, 30, 1), (2, 3, 1, 80), 1, "valid", 1),
    ((2, 7, 10, 8), (3, 3, 8, 48), 1, "same", 1),  # sliding tiles of two vectors, then one
    ((2, 4, 30, 16), (3, 3, 16, 16), 1, "same", 1),  # tiles on the left edge, inside, right
    ((2, 4, 26, 8), (3, 3, 8, 32), 1, "same", 1),
    ((2, 8, 8, 32), (1, 1, 32, 16), 2, "valid", 1),  # the strided 1×1 projection
    ((2, 3, 4, 16), (5, 5, 16, 16), 1, "same", 2),  # windows reaching past both borders
    ((2, 12, 8), (5, 8, 16), 1, "same", 1),  # 1-D
    ((2, 12, 16), (3, 16, 32), 2, "valid", 2),
]


@pytest.mark.parametrize("case", CONV_CASES + DIRECT_CASES, ids=str)
def test_conv_parity(case):
    shape, kernel_shape, strides, padding, dilation = case
    x, w = random_array(shape, seed=1), random_array(kernel_shape, seed=2)
    check_parity(
        lambda a, b: ops.conv(a, b, strides, padding, dilation_rate=dilation),
        lambda a, b: torch_conv(a, b, strides, padding, dilation),
        x,
        w,
    )


@pytest.mark.parametrize(
    "case",
    [
        ((2, 5, 2), (3, 2, 3), 2, "same", 1),
        ((1, 5, 6, 2), (3, 3, 2, 2), 1, "same", 1),
        ((1, 6, 5, 2), (2, 3, 2, 3), 2, "valid", 1),
        ((1, 6, 6, 2), (2, 2, 2, 2), 1, "valid", 2),
        ((1, 5, 4, 1), (3, 3, 1, 3), 1, "same", 1),
        ((2, 3, 4, 3, 2), (2, 2, 2, 2, 2), (1, 2, 1), "same", 1),
    ],
    ids=str,
)
def test_conv_gradient(case):
    shape, kernel_shape, strides, padding, dilation = case
    check_gradient(
        lambda a, b: ops.conv(a, b, strides, padding, dilation_rate=dilation),
        random_array(shape, seed=3),
        random_array(kernel_shape, seed=4),
    )


def test_conv_same_pads_the_odd_pixel_after_like_tensorflow():
    # Even kernel, stride 1: 1 pixel of padding in total, all of it after the input.
    x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    y = ops.conv(x, np.ones((2, 1, 1), "float32"), padding="same")
    assert y[0, :, 0].tolist() == [1.0, 3.0, 5.0, 3.0]


def test_conv_without_input_gradient_skips_it_and_still_trains_the_kernel():
    x = shinsou.tensor(random_array((2, 6, 6, 3)))
    w = shinsou.tensor(random_array((3, 3, 3, 4), seed=5), requires_grad=True)
    ops.conv(x, w, padding="same").sum().backward()
    assert x.grad is None and w.grad.shape == (3, 3, 3, 4) and w.grad.dtype == np.float32


def test_conv_with_constant_kernel_gives_only_the_input_gradient():
    x = shinsou.tensor(random_array((2, 6, 6, 3)), requires_grad=True)
    w = random_array((3, 3, 3, 4), seed=5)
    ops.conv(x, w, strides=2).sum().backward()
    assert x.grad.shape == x.shape and x.grad.dtype == np.float32


def test_conv_keeps_float32_and_takes_integer_images():
    image = np.arange(2 * 5 * 5 * 1, dtype="uint8").reshape(2, 5, 5, 1)
    y = ops.conv(image, random_array((3, 3, 1, 2)), padding="same")
    assert y.dtype == np.float32 and y.shape == (2, 5, 5, 2)
    expected = ops.conv(image.astype("float32"), random_array((3, 3, 1, 2)), padding="same")
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6)


def test_conv_float64_stays_float64():
    x = shinsou.tensor(random_array((1, 4, 4, 2)), dtype="float64")
    assert ops.conv(x, shinsou.tensor(np.ones((3, 3, 2, 1)), dtype="float64")).dtype == np.float64


def test_conv_channels_first_matches_channels_last():
    x, w = random_array((2, 6, 7, 3)), random_array((3, 3, 3, 4), seed=2)
    last = ops.conv(x, w, 2, "same").numpy()
    first = ops.conv(np.moveaxis(x, -1, 1), w, 2, "same", data_format="channels_first").numpy()
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, rtol=1e-6)


def test_conv_of_an_empty_batch():
    y = ops.conv(np.zeros((0, 5, 5, 2), "float32"), random_array((3, 3, 2, 4)), padding="same")
    assert y.shape == (0, 5, 5, 4)


def test_conv_kernel_as_large_as_the_input_gives_one_pixel():
    x, w = random_array((2, 4, 4, 3)), random_array((4, 4, 3, 2), seed=2)
    y = ops.conv(x, w)
    assert y.shape == (2, 1, 1, 2)
    np.testing.assert_allclose(y.numpy()[:, 0, 0], x.reshape(2, -1) @ w.reshape(-1, 2), rtol=1e-5)


# -- conv_transpose ---------------------------------------------------------------------------

TRANSPOSE_CASES = [
    # (input shape, kernel shape, strides, padding, output_padding, dilation, expected spatial)
    ((2, 4, 3), (3, 2, 3), 2, "same", None, 1, (8,)),
    ((2, 4, 3), (3, 2, 3), 2, "valid", None, 1, (9,)),
    ((2, 4, 3), (2, 2, 3), 3, "valid", None, 1, (12,)),
    ((2, 3, 4, 3), (3, 3, 2, 3), 2, "same", None, 1, (6, 8)),
    ((2, 3, 4, 3), (3, 3, 2, 3), 1, "same", None, 1, (3, 4)),
    ((2, 3, 4, 3), (3, 3, 2, 3), 2, "valid", None, 1, (7, 9)),
    ((2, 3, 4, 3), (4, 4, 2, 3), 2, "same", None, 1, (6, 8)),
    ((2, 3, 3, 2), (3, 3, 2, 2), 2, "same", 1, 1, (6, 6)),
    ((2, 3, 3, 2), (3, 3, 2, 2), 2, "same", 0, 1, (5, 5)),
    ((2, 3, 3, 2), (4, 4, 2, 2), 2, "same", 1, 1, (5, 5)),
    ((2, 3, 3, 2), (3, 3, 2, 2), 2, "valid", 1, 1, (8, 8)),
    ((2, 3, 4, 2), (3, 2, 2, 2), (1, 2), "valid", None, 2, (7, 9)),
    ((2, 4, 4, 2), (3, 3, 2, 2), 1, "same", None, 2, (4, 4)),
    ((2, 3, 3, 4), (1, 1, 3, 4), 2, "valid", None, 1, (6, 6)),
    ((1, 2, 3, 2, 2), (2, 3, 2, 2, 2), 2, "same", None, 1, (4, 6, 4)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv_transpose_is_the_adjoint_of_conv(case):
    """conv_transpose(x) is the gradient of conv at an input of the output's shape, as in TF."""
    shape, kernel_shape, strides, padding, output_padding, dilation, expected = case
    x, w = random_array(shape, seed=1), random_array(kernel_shape, seed=2)

    def reference(x, w):
        # w is (*k, out, in): as a conv kernel from the transposed output back to x.
        y = torch.zeros((shape[0], *expected, kernel_shape[-2]), requires_grad=True)
        out = torch_conv(y, w, strides, padding, dilation)
        assert tuple(out.shape) == shape, "test case is not a consistent TF conv shape"
        (grad,) = torch.autograd.grad(out, y, grad_outputs=x, create_graph=True)
        return grad

    result = check_parity(
        lambda a, b: ops.conv_transpose(a, b, strides, padding, output_padding, None, dilation),
        reference,
        x,
        w,
    )
    assert result[0].shape[1:-1] == expected


def test_conv_transpose_gradient():
    check_gradient(
        lambda a, b: ops.conv_transpose(a, b, 2, "same"),
        random_array((2, 3, 3, 2), seed=5),
        random_array((3, 3, 3, 2), seed=6),
    )
    check_gradient(
        lambda a, b: ops.conv_transpose(a, b, (1, 2), "valid", output_padding=(0, 1)),
        random_array((1, 3, 2, 2), seed=7),
        random_array((2, 3, 2, 2), seed=8),
    )


def test_conv_transpose_channels_first():
    x, w = random_array((2, 3, 4, 3)), random_array((3, 3, 2, 3), seed=2)
    last = ops.conv_transpose(x, w, 2, "same").numpy()
    first = ops.conv_transpose(np.moveaxis(x, -1, 1), w, 2, "same", data_format="channels_first")
    np.testing.assert_allclose(np.moveaxis(first.numpy(), 1, -1), last, rtol=1e-6)


# -- depthwise and separable ----------------------------------------------------------------

DEPTHWISE_CASES = [
    ((2, 9, 3), (3, 3, 2), 1, "same", 1),
    ((2, 7, 8, 3), (3, 3, 3, 1), 1, "same", 1),
    ((2, 7, 8, 3), (3, 3, 3, 2), 2, "same", 1),
    ((2, 8, 8, 2), (2, 3, 2, 3), (2, 1), "valid", 1),
    ((2, 9, 9, 2), (3, 3, 2, 1), 1, "valid", 2),
]


def torch_depthwise(x, w, strides, padding, dilation):
    rank = x.ndim - 2
    channels, multiplier = w.shape[-2:]
    grouped = w.reshape(*w.shape[:rank], 1, channels * multiplier)
    return torch_conv(x, grouped, strides, padding, dilation, groups=channels)


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
def test_depthwise_conv_parity(case):
    shape, kernel_shape, strides, padding, dilation = case
    x, w = random_array(shape, seed=1), random_array(kernel_shape, seed=2)
    check_parity(
        lambda a, b: ops.depthwise_conv(a, b, strides, padding, dilation_rate=dilation),
        lambda a, b: torch_depthwise(a, b, strides, padding, dilation),
        x,
        w,
    )


def test_depthwise_conv_gradient():
    check_gradient(
        lambda a, b: ops.depthwise_conv(a, b, 2, "same"),
        random_array((2, 5, 4, 2), seed=3),
        random_array((3, 2, 2, 2), seed=4),
    )


def test_separable_conv_parity_and_gradient():
    x = random_array((2, 6, 6, 3), seed=1)
    depthwise, pointwise = random_array((3, 3, 3, 2), seed=2), random_array((1, 1, 6, 4), seed=3)
    check_parity(
        lambda a, b, c: ops.separable_conv(a, b, c, 1, "same"),
        lambda a, b, c: torch_conv(torch_depthwise(a, b, 1, "same", 1), c),
        x,
        depthwise,
        pointwise,
    )
    check_gradient(
        lambda a, b, c: ops.separable_conv(a, b, c, 2), x[:, :5, :5], depthwise, pointwise
    )


# -- bad input ------------------------------------------------------------------------------


def test_conv_kernel_rank_mismatch_names_both_shapes():
    with pytest.raises(
        ValueError, match=r"conv: kernel must have rank 4.*\(1, 5, 5, 3\).*\(3, 3, 3\)"
    ):
        ops.conv(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3)))


def test_conv_channel_mismatch_names_both_shapes():
    with pytest.raises(
        ValueError, match=r"conv: inputs have 3 channels.*expects 2.*\(3, 3, 2, 4\)"
    ):
        ops.conv(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 4)))


def test_conv_transpose_channel_mismatch_uses_its_kernel_layout():
    with pytest.raises(
        ValueError, match=r"conv_transpose: inputs have 3 channels.*out_channels, in"
    ):
        ops.conv_transpose(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 4)), 1)


@pytest.mark.parametrize("padding", ["full", "causal", 1, None])
def test_conv_unknown_padding_lists_the_choices(padding):
    with pytest.raises(ValueError, match=r"conv: padding must be one of \('valid', 'same'\)"):
        ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), padding=padding)


def test_padding_is_case_insensitive():
    assert ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), padding="SAME").shape == (
        1,
        5,
        5,
        1,
    )


@pytest.mark.parametrize("strides", [0, -1, (1, 0), (1, 1, 1), 1.5, True])
def test_conv_bad_strides(strides):
    with pytest.raises(ValueError, match=r"conv: strides must be a positive int or a tuple of 2"):
        ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), strides=strides)


def test_conv_bad_dilation():
    with pytest.raises(ValueError, match=r"depthwise_conv: dilation_rate must be a positive"):
        ops.depthwise_conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), dilation_rate=0)


def test_conv_input_smaller_than_kernel_with_valid_padding():
    with pytest.raises(ValueError, match=r"conv: with padding='valid' the spatial shape \(2, 5\)"):
        ops.conv(np.ones((1, 2, 5, 1)), np.ones((3, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"window's extent \(5, 5\).*kernel shape \(3, 3, 1, 1\)"):
        ops.conv(np.ones((1, 4, 5, 1)), np.ones((3, 3, 1, 1)), dilation_rate=2)


def test_conv_input_rank_is_checked():
    with pytest.raises(ValueError, match=r"conv: inputs must have rank 3, 4 or 5.*\(5, 5\)"):
        ops.conv(np.ones((5, 5)), np.ones((3, 3, 1, 1)))


def test_conv_unknown_data_format():
    with pytest.raises(ValueError, match=r"conv: data_format must be 'channels_last'"):
        ops.conv(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), data_format="NHWC")


def test_conv_transpose_output_padding_must_be_smaller_than_the_stride():
    with pytest.raises(ValueError, match=r"conv_transpose: output_padding must be None or 2"):
        ops.conv_transpose(np.ones((1, 3, 3, 1)), np.ones((3, 3, 1, 1)), 2, output_padding=2)


def test_parallel_over_batch_covers_each_item_once_and_reraises():
    windows = __import__("sys").modules["shinsou.ops._windows"]
    seen = np.zeros(37, dtype=int)

    def mark(start, stop):
        seen[start:stop] += 1

    windows.parallel_over_batch(mark, 37, bytes_per_item=windows._SLICE_BYTES // 4)
    assert seen.tolist() == [1] * 37

    def fail(start, stop):
        raise RuntimeError(f"slice {start}:{stop}")

    with pytest.raises(RuntimeError, match="slice"):
        windows.parallel_over_batch(fail, 37, bytes_per_item=windows._SLICE_BYTES)


def test_results_do_not_share_the_reused_work_buffer():
    # Without a gradient the im2col rows go to a per-thread scratch buffer; the outputs
    # must not alias it.
    w = random_array((3, 3, 2, 2), seed=2)
    with shinsou.no_grad():
        first = ops.conv(random_array((2, 6, 6, 2), seed=1), w, padding="same")
        expected = first.numpy().copy()
        ops.conv(random_array((2, 6, 6, 2), seed=3), w, padding="same")
        ops.conv_transpose(random_array((2, 3, 3, 2), seed=4), w, 2)
    np.testing.assert_array_equal(first.numpy(), expected)


# -- the compiled direct convolution (shinsou.native) ---------------------------------------
# DIRECT_CASES run against PyTorch in test_conv_parity, and here against shinsou's own NumPy
# path. Gradient checks run in float64, which the compiled kernels do not take; there
# PyTorch's float32 gradients are the independent reference.

requires_native = pytest.mark.skipif(not native.available(), reason="compiled kernels not built")


@requires_native
@pytest.mark.parametrize("case", DIRECT_CASES, ids=str)
def test_direct_conv_equals_the_numpy_path(case):
    shape, kernel_shape, strides, padding, dilation = case

    def run():
        x = shinsou.tensor(random_array(shape, seed=3), requires_grad=True)
        w = shinsou.tensor(random_array(kernel_shape, seed=4), requires_grad=True)
        y = ops.conv(x, w, strides, padding, dilation_rate=dilation)
        (y * random_array(y.shape, seed=5)).sum().backward()
        return y.numpy(), x.grad, w.grad

    direct = run()
    with native.disabled():
        reference = run()
    for ours, theirs in zip(direct, reference):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@requires_native
def test_transposed_conv_runs_through_the_direct_kernels():
    x, w = random_array((2, 5, 5, 16), seed=6), random_array((3, 3, 32, 16), seed=7)
    if torch is None:
        pytest.skip("PyTorch is not installed")
    check_parity(
        lambda a, b: ops.conv_transpose(a, b, strides=2, padding="valid"),
        lambda a, b: torch.nn.functional.conv_transpose2d(
            a.permute(0, 3, 1, 2), b.permute(3, 2, 0, 1), stride=2
        ).permute(0, 2, 3, 1),
        x,
        w,
    )


@requires_native
def test_other_shapes_fall_back_to_numpy():
    assert native.supports_conv(np.float32, 32)
    assert not native.supports_conv(np.float32, 8)
    assert not native.supports_conv(np.float64, 32)
    with native.disabled():
        assert not native.available()
    assert native.available()


@requires_native
def test_direct_conv_reads_zeros_outside_the_input():
    x, w = np.ones((1, 4, 4, 1), np.float32), np.ones((3, 3, 1, 16), np.float32)
    out = native.conv2d_forward(x, w, (1, 1), (1, 1), pads_before=(1, 1), out_spatial=(5, 5))
    expected = [[4, 6, 6, 4, 2], [6, 9, 9, 6, 3], [6, 9, 9, 6, 3], [4, 6, 6, 4, 2], [2, 3, 3, 2, 1]]
    assert out[0, :, :, 0].tolist() == expected


def test_split_batch_covers_every_item_once():
    seen = []
    native.split_batch(lambda a, b: seen.extend(range(a, b)), 7, parts=3)
    assert sorted(seen) == list(range(7))

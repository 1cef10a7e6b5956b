"""Convolution layers: values and gradients (inputs and weights) against PyTorch with the
weights copied from Keras's layout, output shapes (computed, symbolic and real), parameter
counts, weight names, configs, channels-first, the fused bias + ReLU, and bad arguments."""

import itertools
import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.layers.core import add_bias_in_place
from support import check_gradient, random_array, torch

F = torch.nn.functional if torch else None
requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(json.loads(json.dumps(config)))  # lists, as from a file
    assert clone.get_config() == config
    return clone


def to_torch_layout(t):
    """(N, *spatial, C) -> (N, C, *spatial)"""
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


def to_keras_layout(t):
    return t.permute(0, *range(2, t.ndim), 1)


def compare_with_torch(layer, x, torch_forward, parameters, rtol=1e-4, atol=1e-5):
    """Run ``layer`` and ``torch_forward`` (channels-last in and out) on ``x``; compare the
    outputs, then the gradients of the input and of every weight for one random upstream
    gradient. ``parameters`` maps a weight's name to ``to_torch(array)``, the function that
    turns the Keras layout into PyTorch's; the PyTorch tensors go to ``torch_forward``."""
    ours_x = shinsou.tensor(x, requires_grad=True)
    ours = layer(ours_x)
    weights = {w.name: w for w in layer.weights}
    theirs_params = {
        name: torch.tensor(to_torch(weights[name].numpy()), requires_grad=True)
        for name, to_torch in parameters.items()
    }
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = torch_forward(theirs_x, **theirs_params)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    upstream = np.random.default_rng(7).standard_normal(ours.shape).astype("float32")
    (ours * upstream).sum().backward()
    (theirs * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=rtol, atol=atol)
    for name, to_torch in parameters.items():
        grad = weights[name].grad
        assert grad is not None and grad.dtype == np.float32, name
        np.testing.assert_allclose(
            to_torch(grad), theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )


def tf_same_pads(length, extent, stride):
    """TensorFlow's "same" padding: the odd pixel goes after."""
    total = max((-(-length // stride) - 1) * stride + extent - length, 0)
    return total // 2, total - total // 2


def torch_conv(x, kernel, bias, strides, padding, dilation, groups=1):
    """Channels-last convolution in PyTorch, with TensorFlow's "same" and Keras's "causal"."""
    rank = x.ndim - 2
    strides, dilation = _tuple(strides, rank), _tuple(dilation, rank)
    extents = [(k - 1) * d + 1 for k, d in zip(kernel.shape[2:], dilation)]
    pads = [(0, 0)] * rank
    if padding == "same":
        pads = [tf_same_pads(n, e, s) for n, e, s in zip(x.shape[1:-1], extents, strides)]
    elif padding == "causal":
        pads = [(extents[0] - 1, 0)]
    flat_pads = [p for pair in reversed(pads) for p in pair]
    xt = F.pad(to_torch_layout(x), flat_pads)
    conv = getattr(F, f"conv{rank}d")
    return to_keras_layout(conv(xt, kernel, bias, strides, 0, dilation, groups))


def _tuple(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def conv_kernel_to_torch(kernel):
    """Keras (*k, in, out) -> PyTorch (out, in, *k)."""
    rank = kernel.ndim - 2
    return kernel.transpose(rank + 1, rank, *range(rank))


def identity(array):
    return array


# -- Conv1D / Conv2D / Conv3D: parity --------------------------------------------------------

CONV2D_CASES = [
    # (input shape, filters, kernel_size, strides, padding, dilation_rate, activation, use_bias)
    ((2, 7, 8, 3), 4, 3, 1, "valid", 1, None, True),
    ((2, 7, 8, 3), 4, 3, 2, "same", 1, None, True),
    ((2, 7, 8, 3), 5, (3, 2), (2, 1), "same", 1, "relu", True),
    ((2, 9, 9, 2), 3, 3, 1, "valid", 2, "relu", True),
    ((2, 9, 8, 2), 3, (2, 3), 1, "same", (2, 1), None, True),
    ((2, 5, 6, 4), 6, 1, 1, "valid", 1, "tanh", False),
    ((2, 6, 6, 3), 2, 4, 3, "valid", 1, None, True),
    ((2, 8, 8, 16), 16, 3, 1, "same", 1, "relu", True),  # the Winograd path
    ((2, 11, 10, 2), 3, 3, 2, "same", 2, None, True),  # Keras forbids this; shinsou allows it
]


@requires_torch
@pytest.mark.parametrize("case", CONV2D_CASES, ids=str)
def test_conv2d_matches_torch(case):
    shape, filters, kernel_size, strides, padding, dilation, activation, use_bias = case
    layer = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        activation=activation,
        use_bias=use_bias,
        bias_initializer="random_normal",
    )

    def forward(x, kernel, bias=None):
        y = torch_conv(x, kernel, bias, strides, padding, dilation)
        return {"relu": torch.relu, "tanh": torch.tanh}.get(activation, identity)(y)

    parameters = {"kernel": conv_kernel_to_torch}
    if use_bias:
        parameters["bias"] = identity
    compare_with_torch(layer, random_array(shape, seed=3), forward, parameters)


@requires_torch
@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv1d_matches_torch(padding, dilation):
    layer = layers.Conv1D(4, 3, padding=padding, dilation_rate=dilation, activation="relu")
    compare_with_torch(
        layer,
        random_array((2, 11, 3), seed=4),
        lambda x, kernel, bias: torch.relu(torch_conv(x, kernel, bias, 1, padding, dilation)),
        {"kernel": conv_kernel_to_torch, "bias": identity},
    )


@requires_torch
def test_conv3d_matches_torch():
    layer = layers.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same")
    compare_with_torch(
        layer,
        random_array((2, 4, 5, 4, 2), seed=5),
        lambda x, kernel, bias: torch_conv(x, kernel, bias, (1, 2, 1), "same", 1),
        {"kernel": conv_kernel_to_torch, "bias": identity},
    )


def test_conv1d_causal_output_sees_no_future():
    layer = layers.Conv1D(1, 3, padding="causal", kernel_initializer="ones", use_bias=False)
    x = np.zeros((1, 6, 1), dtype="float32")
    x[0, 3] = 1.0  # an impulse at step 3 reaches outputs 3, 4, 5 only
    assert layer(x).numpy().ravel().tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


# -- transposed convolutions -----------------------------------------------------------------


def torch_conv_transpose(x, kernel, bias, strides, padding, dilation, output_padding=None):
    """Channels-last transposed convolution in PyTorch with Keras's output lengths: the full
    (unpadded) result, cropped (or extended with zeros) as Keras's "same"/"valid" define."""
    rank = x.ndim - 2
    strides, dilation = _tuple(strides, rank), _tuple(dilation, rank)
    conv = getattr(F, f"conv_transpose{rank}d")
    if output_padding is not None:  # "valid" only here: no cropping, PyTorch's own padding
        extra = _tuple(output_padding, rank)
        y = conv(to_torch_layout(x), kernel, None, strides, 0, extra, 1, dilation)
    else:
        y = conv(to_torch_layout(x), kernel, None, strides, 0, 0, 1, dilation)
        flat_pads = []
        for axis in reversed(range(rank)):
            n, k, s, d = x.shape[1 + axis], kernel.shape[2 + axis], strides[axis], dilation[axis]
            extent = (k - 1) * d + 1
            full = (n - 1) * s + extent
            if padding == "same":
                target, start = n * s, max(extent - s, 0) // 2
            else:
                target, start = n * s + max(extent - s, 0), 0
            flat_pads += [-start, target - (full - start)]
        y = F.pad(y, flat_pads)
    if bias is not None:  # on every output, the zeros past the full result included
        y = y + bias.reshape(1, -1, *(1,) * rank)
    return to_keras_layout(y)


TRANSPOSE_CASES = [
    # (input shape, filters, kernel_size, strides, padding, dilation_rate)
    ((2, 4, 5, 3), 2, 3, 2, "same", 1),
    ((2, 4, 5, 3), 2, 3, 2, "valid", 1),
    ((2, 4, 4, 3), 2, 4, 2, "same", 1),
    ((2, 4, 4, 3), 2, 2, 2, "valid", 1),
    ((2, 4, 5, 3), 4, (3, 2), (2, 1), "same", 1),
    ((2, 5, 5, 2), 3, 3, 1, "same", 2),
    ((2, 5, 4, 2), 3, 3, 1, "valid", 1),
]


@requires_torch
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=str)
def test_conv2d_transpose_matches_torch(case):
    shape, filters, kernel_size, strides, padding, dilation = case
    layer = layers.Conv2DTranspose(
        filters, kernel_size, strides, padding, dilation_rate=dilation, use_bias=False
    )
    compare_with_torch(
        layer,
        random_array(shape, seed=6),
        # Keras (kh, kw, out, in) -> PyTorch ConvTranspose2d (in, out, kh, kw)
        lambda x, kernel: torch_conv_transpose(x, kernel, None, strides, padding, dilation),
        {"kernel": lambda k: k.transpose(3, 2, 0, 1)},
    )


@requires_torch
def test_conv2d_transpose_with_bias_relu_and_output_padding_matches_torch():
    layer = layers.Conv2DTranspose(
        3, 3, strides=2, output_padding=1, activation="relu", bias_initializer="random_normal"
    )
    compare_with_torch(
        layer,
        random_array((2, 3, 4, 2), seed=7),
        lambda x, kernel, bias: torch.relu(
            torch_conv_transpose(x, kernel, bias, 2, "valid", 1, output_padding=1)
        ),
        {"kernel": lambda k: k.transpose(3, 2, 0, 1), "bias": identity},
    )


@requires_torch
def test_conv1d_transpose_matches_torch():
    layer = layers.Conv1DTranspose(3, 3, strides=2, padding="same", bias_initializer="ones")
    compare_with_torch(
        layer,
        random_array((2, 5, 4), seed=8),
        lambda x, kernel, bias: torch_conv_transpose(x, kernel, None, 2, "same", 1) + bias,
        {"kernel": lambda k: k.transpose(2, 1, 0), "bias": identity},
    )


# -- depthwise and separable -----------------------------------------------------------------


def depthwise_kernel_to_torch(kernel):
    """Keras (*k, in, multiplier) -> PyTorch grouped conv (in * multiplier, 1, *k)."""
    rank = kernel.ndim - 2
    channels, multiplier = kernel.shape[-2:]
    flat = kernel.reshape(*kernel.shape[:rank], channels * multiplier)
    return flat.transpose(rank, *range(rank))[:, None]


@requires_torch
@pytest.mark.parametrize(
    "strides, padding, multiplier, dilation",
    [(1, "valid", 1, 1), (2, "same", 2, 1), ((1, 2), "same", 3, 1), (1, "same", 1, 2)],
)
def test_depthwise_conv2d_matches_torch(strides, padding, multiplier, dilation):
    channels = 3
    layer = layers.DepthwiseConv2D(
        3,
        strides=strides,
        padding=padding,
        depth_multiplier=multiplier,
        dilation_rate=dilation,
        bias_initializer="random_normal",
        activation="relu",
    )
    compare_with_torch(
        layer,
        random_array((2, 7, 8, channels), seed=9),
        lambda x, kernel, bias: torch.relu(
            torch_conv(x, kernel, bias, strides, padding, dilation, groups=channels)
        ),
        {"kernel": depthwise_kernel_to_torch, "bias": identity},
    )


@requires_torch
def test_depthwise_conv1d_matches_torch():
    layer = layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same")
    compare_with_torch(
        layer,
        random_array((2, 9, 4), seed=10),
        lambda x, kernel, bias: torch_conv(x, kernel, bias, 1, "same", 1, groups=4),
        {"kernel": depthwise_kernel_to_torch, "bias": identity},
    )


@requires_torch
@pytest.mark.parametrize("rank", [1, 2])
def test_separable_conv_matches_torch(rank):
    channels, multiplier = 3, 2
    cls = layers.SeparableConv1D if rank == 1 else layers.SeparableConv2D
    layer = cls(5, 3, strides=2, padding="same", depth_multiplier=multiplier, use_bias=True)
    layer.build((2, *(7,) * rank, channels))
    layer.bias.assign(random_array((5,), seed=11))

    def forward(x, depthwise_kernel, pointwise_kernel, bias):
        depthwise = torch_conv(x, depthwise_kernel, None, 2, "same", 1, groups=channels)
        return torch_conv(depthwise, pointwise_kernel, bias, 1, "valid", 1)

    compare_with_torch(
        layer,
        random_array((2, *(7,) * rank, channels), seed=12),
        forward,
        {
            "depthwise_kernel": depthwise_kernel_to_torch,
            "pointwise_kernel": conv_kernel_to_torch,
            "bias": identity,
        },
    )


# -- the fused bias (+ ReLU) ------------------------------------------------------------------


def test_bias_add_in_place_gradient():
    y = random_array((2, 3, 4), seed=13)
    y[np.abs(y) < 0.1] = 0.5  # away from ReLU's kink, where differences are not derivatives
    bias = random_array((4,), seed=14, low=-0.05, high=0.05)
    for relu in (False, True):
        check_gradient(lambda a, b, relu=relu: add_bias_in_place(a * 1.0, b, relu), y, bias)


def test_fused_relu_equals_separate_ops():
    x = random_array((2, 6, 6, 3), seed=15)
    fused = layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal")
    plain = layers.Conv2D(4, 3, bias_initializer="random_normal")
    plain.build(x.shape)
    fused.build(x.shape)
    plain.set_weights(fused.get_weights())
    expected = np.maximum(plain(x).numpy(), 0)
    np.testing.assert_array_equal(fused(x).numpy(), expected)


def test_bias_receives_its_gradient_without_input_gradient():
    layer = layers.Conv2D(2, 3, bias_initializer="zeros")
    layer(random_array((3, 5, 5, 1), seed=16)).sum().backward()
    np.testing.assert_allclose(layer.bias.grad, [27.0, 27.0])  # 3 samples x 3 x 3 outputs


# -- shapes ----------------------------------------------------------------------------------


def check_shapes(layer, sample_shape):
    """The real output, compute_output_shape and symbolic inputs (batch and sizes unknown)."""
    out = layer(random_array((2, *sample_shape)))
    assert layer.compute_output_shape((2, *sample_shape)) == out.shape
    assert layer(shinsou.Input(sample_shape)).shape == (None, *out.shape[1:])
    unknown = (None,) * (len(sample_shape) - 1) + (sample_shape[-1],)
    symbolic = layer(shinsou.Input(unknown)).shape
    assert symbolic == (None, *(None,) * (len(sample_shape) - 1), out.shape[-1])
    return out.shape


@pytest.mark.parametrize(
    "padding, strides, dilation",
    list(itertools.product(["valid", "same"], [1, 2, 3], [1, 2])),
)
def test_conv2d_shapes(padding, strides, dilation):
    shape = check_shapes(
        layers.Conv2D(3, (3, 2), strides, padding, dilation_rate=dilation), (9, 8, 2)
    )
    if padding == "same":
        assert shape[1:3] == (-(-9 // strides), -(-8 // strides))


@pytest.mark.parametrize(
    "padding, strides, dilation",
    list(itertools.product(["valid", "same", "causal"], [1, 2], [1, 3])),
)
def test_conv1d_shapes(padding, strides, dilation):
    check_shapes(layers.Conv1D(3, 3, strides, padding, dilation_rate=dilation), (10, 2))


@pytest.mark.parametrize(
    "padding, strides, output_padding, kernel_size",
    [
        (p, s, o, k)
        for p, s, o, k in itertools.product(["valid", "same"], [1, 2, 3], [None, 0, 1], [1, 2, 3])
        if o is None or o < s
    ],
)
def test_conv2d_transpose_shapes(padding, strides, output_padding, kernel_size):
    layer = layers.Conv2DTranspose(2, kernel_size, strides, padding, output_padding)
    shape = check_shapes(layer, (4, 5, 3))
    if output_padding is None and padding == "same":
        assert shape[1:3] == (4 * strides, 5 * strides)


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Conv3D(2, 3, padding="same", strides=2),
        lambda: layers.Conv3DTranspose(2, 3, strides=2, padding="same"),
        lambda: layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2),
        lambda: layers.SeparableConv2D(4, 3, strides=2, padding="same"),
        lambda: layers.Conv1DTranspose(3, 2, strides=2),
    ],
)
def test_other_layer_shapes(make):
    layer = make()
    sample = (6, 7, 5, 3)[: layer.rank] + (3,)
    check_shapes(layer, sample)


def test_channels_first_matches_channels_last():
    x = random_array((2, 6, 7, 3), seed=17)
    for last in (
        layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
        layers.DepthwiseConv2D(3, depth_multiplier=2),
        layers.SeparableConv2D(4, 3),
    ):
        config = last.get_config()
        config.update(data_format="channels_first", name=last.name + "_cf")
        first = type(last).from_config(config)
        expected = last(x).numpy()
        first.build((2, 3, 6, 7))
        first.set_weights(last.get_weights())
        out = first(x.transpose(0, 3, 1, 2))
        np.testing.assert_allclose(out.numpy(), expected.transpose(0, 3, 1, 2), rtol=1e-5)
        assert first.compute_output_shape((2, 3, 6, 7)) == out.shape


# -- Keras semantics: parameters, weights, configs ---------------------------------------------


@pytest.mark.parametrize(
    "make, input_shape, params",
    [
        (lambda: layers.Conv2D(32, 3), (1, 28, 28, 1), 320),
        (lambda: layers.Conv2D(64, 3, use_bias=False), (1, 8, 8, 32), 18432),
        (lambda: layers.Conv1D(16, 5), (1, 20, 8), 656),
        (lambda: layers.Conv2DTranspose(8, 3), (1, 4, 4, 16), 1160),
        (lambda: layers.DepthwiseConv2D(3), (1, 8, 8, 16), 160),
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2), (1, 8, 8, 16), 320),
        (lambda: layers.SeparableConv2D(8, 3), (1, 8, 8, 4), 76),
    ],
)
def test_parameter_counts(make, input_shape, params):
    layer = make()
    layer(np.zeros(input_shape, dtype="float32"))
    assert layer.count_params() == params


def test_weight_names_layouts_and_paths():
    conv = layers.Conv2D(8, (3, 2), name="c")
    conv.build((None, 9, 9, 3))
    assert [(w.path, w.shape) for w in conv.weights] == [
        ("c/kernel", (3, 2, 3, 8)),
        ("c/bias", (8,)),
    ]
    transpose = layers.Conv2DTranspose(8, 3, name="t")
    transpose.build((None, 9, 9, 3))
    assert transpose.kernel.shape == (3, 3, 8, 3)  # (kh, kw, filters, in)
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, name="d")
    depthwise.build((None, 9, 9, 3))
    assert [(w.name, w.shape) for w in depthwise.weights] == [
        ("kernel", (3, 3, 3, 2)),
        ("bias", (6,)),
    ]
    separable = layers.SeparableConv2D(5, 3, depth_multiplier=2, use_bias=False)
    separable.build((None, 9, 9, 3))
    assert [(w.name, w.shape) for w in separable.weights] == [
        ("depthwise_kernel", (3, 3, 3, 2)),
        ("pointwise_kernel", (1, 1, 6, 5)),
    ]


BASE_KEYS = {
    *("name", "trainable", "dtype", "kernel_size", "strides", "padding", "data_format"),
    *("dilation_rate", "activation", "use_bias", "bias_initializer", "bias_regularizer"),
    *("activity_regularizer", "bias_constraint"),
}
CONV_KEYS = {"filters", "groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"}
TRANSPOSE_KEYS = CONV_KEYS - {"groups"} | {"output_padding"}
DEPTHWISE_KEYS = {
    *("depth_multiplier", "depthwise_initializer", "depthwise_regularizer"),
    "depthwise_constraint",
}
SEPARABLE_KEYS = DEPTHWISE_KEYS | {
    *("filters", "pointwise_initializer", "pointwise_regularizer", "pointwise_constraint"),
}


@pytest.mark.parametrize(
    "make, extra_keys",
    [
        (lambda: layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"), CONV_KEYS),
        (lambda: layers.Conv1D(4, 3, padding="causal", kernel_regularizer="l2"), CONV_KEYS),
        (lambda: layers.Conv3D(2, 2), CONV_KEYS),
        (lambda: layers.Conv2DTranspose(4, 3, 2, output_padding=1), TRANSPOSE_KEYS),
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2), DEPTHWISE_KEYS),
        (lambda: layers.SeparableConv2D(4, 3), SEPARABLE_KEYS),
    ],
)
def test_config_keys_and_round_trip(make, extra_keys):
    layer = make()
    config = layer.get_config()
    assert set(config) == BASE_KEYS | extra_keys
    clone = round_trip(layer)
    x = random_array((1, 7, 7, 7, 3)[: layer.rank + 1] + (3,), seed=18)
    layer(x)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), rtol=1e-6)


def test_keras_aliases():
    assert layers.Convolution2D is layers.Conv2D
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution2D is layers.SeparableConv2D


def test_conv_trains_in_a_model():
    model = shinsou.Sequential(
        [
            shinsou.Input((8, 8, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x = random_array((32, 8, 8, 1), seed=19)
    y = x.mean(axis=(1, 2))
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- bad input ---------------------------------------------------------------------------------


def test_channel_mismatch_names_the_layer_and_both_shapes():
    layer = layers.Conv2D(4, 3, name="features")
    layer(np.zeros((1, 5, 5, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"'features'.*\(1, 5, 5, 2\).*axis -1 of size 3"):
        layer(np.zeros((1, 5, 5, 2), dtype="float32"))


def test_wrong_input_rank_names_the_expected_layout():
    with pytest.raises(ValueError, match=r"Conv2D 'c2' expects inputs of rank 4.*\(2, 5, 3\)"):
        layers.Conv2D(4, 3, name="c2")(np.zeros((2, 5, 3), dtype="float32"))


def test_input_smaller_than_the_kernel():
    with pytest.raises(ValueError, match=r"too small for kernel_size \(5, 5\).*\(-1, -1\)"):
        layers.Conv2D(4, 5)(np.zeros((1, 3, 3, 1), dtype="float32"))


@pytest.mark.parametrize("kernel_size", [0, -1, (3, 0), (3, 3, 3), 2.5, "3"])
def test_bad_kernel_size(kernel_size):
    with pytest.raises(ValueError, match=r"Conv2D: kernel_size must be a positive int"):
        layers.Conv2D(4, kernel_size)


def test_unknown_padding_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"padding must be one of \('valid', 'same'\)"):
        layers.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match=r"\('valid', 'same', 'causal'\)"):
        layers.Conv1D(4, 3, padding="reflect")
    with pytest.raises(ValueError, match=r"\('valid', 'same'\), received padding='causal'"):
        layers.Conv2D(4, 3, padding="causal")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Conv2D(0, 3), r"Conv2D: filters must be a positive integer"),
        (lambda: layers.Conv2D(4, 3, strides=0), r"strides must be a positive int"),
        (lambda: layers.Conv2D(4, 3, groups=2), r"groups=2 \(grouped convolution\)"),
        (lambda: layers.Conv2D(4, 3, data_format="NHWC"), r"data_format must be one of"),
        (lambda: layers.Conv2D(4, 3, lora_rank=4), r"lora_rank is not supported"),
        (
            lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=2),
            r"output_padding must be smaller than strides",
        ),
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), r"depth_multiplier must be"),
        (lambda: layers.SeparableConv2D(-2, 3), r"SeparableConv2D: filters must be"),
        (lambda: layers.Conv2D(4, 3, foo=1), r"unrecognized keyword arguments \['foo'\]"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()

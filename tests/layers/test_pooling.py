"""Pooling layers: values and input gradients against PyTorch (TensorFlow's "same" padding
built explicitly), global pooling with keepdims, data formats and masks, output shapes
(computed, symbolic and real), configs, aliases and bad arguments."""

import itertools
import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import check_parity, random_array, torch

F = torch.nn.functional if torch else None


def round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(json.loads(json.dumps(config)))  # lists, as from a file
    assert clone.get_config() == config
    return clone


def to_torch_layout(t):
    return t.permute(0, t.ndim - 1, *range(1, t.ndim - 1))


def to_keras_layout(t):
    return t.permute(0, *range(2, t.ndim), 1)


def tf_same_pads(length, window, stride):
    total = max((-(-length // stride) - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def torch_pool(x, mode, pool_size, strides, padding):
    """Channels-last pooling in PyTorch with TensorFlow's "same": -inf padding for max; for
    average, window sums divided by the number of real values in each window."""
    rank = x.ndim - 2
    pool_size = (pool_size,) * rank if isinstance(pool_size, int) else pool_size
    strides = pool_size if strides is None else strides
    strides = (strides,) * rank if isinstance(strides, int) else strides
    pads = [(0, 0)] * rank
    if padding == "same":
        pads = [tf_same_pads(n, k, s) for n, k, s in zip(x.shape[1:-1], pool_size, strides)]
    flat_pads = [p for pair in reversed(pads) for p in pair]
    xt = to_torch_layout(x)
    if mode == "max":
        pool = getattr(F, f"max_pool{rank}d")
        return to_keras_layout(pool(F.pad(xt, flat_pads, value=-np.inf), pool_size, strides))
    pool = getattr(F, f"avg_pool{rank}d")
    sums = pool(F.pad(xt, flat_pads), pool_size, strides)
    counts = pool(F.pad(torch.ones_like(xt[:, :1]), flat_pads), pool_size, strides)
    return to_keras_layout(sums / counts)


POOL_CASES = [
    # (input shape, pool_size, strides, padding)
    ((2, 6, 8, 3), 2, None, "valid"),
    ((2, 7, 9, 3), 2, None, "valid"),  # the odd row/column is dropped
    ((2, 7, 9, 3), 3, 2, "valid"),
    ((2, 7, 9, 3), 3, 2, "same"),
    ((2, 7, 8, 2), (2, 3), (1, 2), "same"),
    ((2, 5, 5, 2), 2, None, "same"),
    ((2, 6, 6, 2), 3, 1, "valid"),
]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pooling2d_matches_torch(mode, case):
    shape, pool_size, strides, padding = case
    cls = layers.MaxPooling2D if mode == "max" else layers.AveragePooling2D
    layer = cls(pool_size, strides, padding)
    out = check_parity(
        layer,
        lambda t: torch_pool(t, mode, pool_size, strides, padding),
        random_array(shape, seed=1),
    )
    assert out[0].shape == layer.compute_output_shape(shape)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("pool_size, strides, padding", [(2, None, "valid"), (3, 2, "same")])
def test_pooling1d_matches_torch(mode, pool_size, strides, padding):
    cls = layers.MaxPooling1D if mode == "max" else layers.AveragePooling1D
    check_parity(
        cls(pool_size, strides, padding),
        lambda t: torch_pool(t, mode, pool_size, strides, padding),
        random_array((2, 9, 3), seed=2),
    )


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling3d_matches_torch(mode):
    cls = layers.MaxPooling3D if mode == "max" else layers.AveragePooling3D
    check_parity(
        cls(2, padding="same"),
        lambda t: torch_pool(t, mode, 2, None, "same"),
        random_array((2, 5, 4, 3, 2), seed=3),
    )


def test_max_pooling_gradient_goes_to_the_maximum():
    x = shinsou.tensor([[[1.0], [5.0], [2.0], [3.0]]], requires_grad=True)
    layers.MaxPooling1D()(x).sum().backward()
    assert x.grad.ravel().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_channels_first_matches_channels_last():
    x = random_array((2, 7, 6, 3), seed=4)
    for cls in (layers.MaxPooling2D, layers.AveragePooling2D):
        last = cls(3, 2, "same")(x).numpy()
        first_layer = cls(3, 2, "same", data_format="channels_first")
        first = first_layer(x.transpose(0, 3, 1, 2))
        np.testing.assert_allclose(first.numpy(), last.transpose(0, 3, 1, 2), rtol=1e-6)
        assert first_layer.compute_output_shape((2, 3, 7, 6)) == first.shape


def test_integer_images_are_pooled_as_float32():
    x = np.arange(16, dtype="uint8").reshape(1, 4, 4, 1)
    for layer in (layers.MaxPooling2D(), layers.AveragePooling2D(), layers.GlobalMaxPooling2D()):
        assert layer(x).dtype == np.float32


# -- global pooling -----------------------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("mode", ["average", "max"])
def test_global_pooling_matches_torch(rank, keepdims, mode):
    name = {"average": "GlobalAveragePooling", "max": "GlobalMaxPooling"}[mode] + f"{rank}D"
    layer = getattr(layers, name)(keepdims=keepdims)
    axes = tuple(range(1, rank + 1))

    def reference(t):
        if mode == "average":
            return t.mean(dim=axes, keepdim=keepdims)
        return t.amax(dim=axes, keepdim=keepdims)

    shape = (2, 5, 4, 3)[: rank + 1] + (3,)
    out = check_parity(layer, reference, random_array(shape, seed=5))
    assert out[0].shape == layer.compute_output_shape(shape)
    assert layer(shinsou.Input((None,) * rank + (3,))).shape == (None, *out[0].shape[1:])


def test_global_pooling_channels_first():
    x = random_array((2, 3, 4, 5), seed=6)
    for cls, reduce in (
        (layers.GlobalAveragePooling2D, np.mean),
        (layers.GlobalMaxPooling2D, np.max),
    ):
        out = cls(data_format="channels_first")(x).numpy()
        np.testing.assert_allclose(out, reduce(x, axis=(2, 3)), rtol=1e-6)
        kept = cls(data_format="channels_first", keepdims=True)
        assert kept(x).shape == kept.compute_output_shape(x.shape) == (2, 3, 1, 1)


def test_global_average_pooling1d_averages_only_unmasked_steps():
    x = random_array((2, 4, 3), seed=7)
    x[0, 3] = np.nan  # a masked step must not leak, not even as NaN
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    tensor = shinsou.tensor(x, requires_grad=True)
    layer = layers.GlobalAveragePooling1D()
    out = layer(tensor, mask=mask)
    expected = np.stack([x[0, :3].mean(axis=0), x[1, :1].mean(axis=0)])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(tensor.grad[..., 0], mask / mask.sum(axis=1, keepdims=True))
    assert out._keras_mask is None  # the mask stops here
    channels_first = layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    out = channels_first(x.transpose(0, 2, 1), mask=mask)
    np.testing.assert_allclose(out.numpy()[..., 0], expected, rtol=1e-6)


def test_global_average_pooling1d_takes_the_mask_of_an_embedding():
    ids = np.array([[3, 1, 0, 0], [2, 0, 0, 0]])
    embed = layers.Embedding(5, 2, mask_zero=True)
    pooled = layers.GlobalAveragePooling1D()(embed(ids)).numpy()
    vectors = embed.embeddings.numpy()
    np.testing.assert_allclose(pooled, [vectors[[3, 1]].mean(axis=0), vectors[2]], rtol=1e-6)


# -- shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "padding, pool_size, strides",
    list(itertools.product(["valid", "same"], [1, 2, 3], [None, 1, 2, 3])),
)
def test_pooling_shapes(padding, pool_size, strides):
    for layer in (
        layers.MaxPooling2D(pool_size, strides, padding),
        layers.AveragePooling1D(pool_size, strides, padding),
    ):
        sample = (9, 8, 2)[-(layer.rank + 1) :]
        out = layer(random_array((2, *sample)))
        assert layer.compute_output_shape((2, *sample)) == out.shape
        assert layer(shinsou.Input(sample)).shape == (None, *out.shape[1:])
        unknown = layer(shinsou.Input((None,) * layer.rank + (2,))).shape
        assert unknown == (None, *(None,) * layer.rank, 2)


# -- Keras semantics: configs and aliases --------------------------------------------------------


def test_pooling_config_keys_defaults_and_round_trip():
    layer = layers.MaxPooling2D()
    config = layer.get_config()
    keys = {"name", "trainable", "dtype", "pool_size", "padding", "strides", "data_format"}
    assert set(config) == keys
    assert (config["pool_size"], config["strides"], config["padding"]) == ((2, 2), (2, 2), "valid")
    assert config["data_format"] == "channels_last"
    round_trip(layers.AveragePooling1D(3, 1, "same"))
    round_trip(layers.MaxPooling3D((1, 2, 2), data_format="channels_first"))
    assert layers.AveragePooling3D().get_config()["pool_size"] == (2, 2, 2)


def test_global_pooling_config_keys_and_round_trip():
    layer = layers.GlobalAveragePooling2D(keepdims=True)
    assert set(layer.get_config()) == {"name", "trainable", "dtype", "data_format", "keepdims"}
    assert round_trip(layer).keepdims is True
    round_trip(layers.GlobalMaxPooling1D(data_format="channels_first"))


def test_keras_aliases():
    assert layers.MaxPool2D is layers.MaxPooling2D
    assert layers.AvgPool2D is layers.AveragePooling2D
    assert layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    assert layers.GlobalMaxPool1D is layers.GlobalMaxPooling1D


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.MaxPooling2D(0), r"MaxPooling2D: pool_size must be a positive int"),
        (lambda: layers.MaxPooling2D((2, 2, 2)), r"tuple of 2 positive ints"),
        (lambda: layers.AveragePooling1D(2, strides=0), r"strides must be a positive int"),
        (
            lambda: layers.MaxPooling2D(padding="full"),
            r"padding must be one of \('valid', 'same'\), received padding='full'",
        ),
        (lambda: layers.GlobalAveragePooling2D(data_format="NCHW"), r"data_format must be one of"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_rank_names_the_layer_and_shape():
    with pytest.raises(ValueError, match=r"'pool'.*\(2, 4, 3\).*rank 4"):
        layers.MaxPooling2D(name="pool")(np.zeros((2, 4, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"GlobalMaxPooling1D 'g' expects inputs of rank 3"):
        layers.GlobalMaxPooling1D(name="g").compute_output_shape((2, 4, 4, 3))


def test_input_smaller_than_the_pool():
    with pytest.raises(ValueError, match=r"smaller than pool_size \(3, 3\)"):
        layers.MaxPooling2D(3).compute_output_shape((1, 2, 5, 1))
    with pytest.raises(ValueError, match=r"max_pool"):
        layers.MaxPooling2D(3)(np.zeros((1, 2, 5, 1), dtype="float32"))

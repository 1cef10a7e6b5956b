"""Reshaping layers: values and gradients against PyTorch, views, shape inference (with
unknown sizes), data formats, configs and bad arguments."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import check_parity, random_array, torch

F = torch.nn.functional if torch else None


def round_trip(layer):
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(json.loads(json.dumps(config)))  # lists, as from a file
    assert clone.get_config() == type(layer).from_config(config).get_config()
    return clone


def check_shapes(layer, sample_shape):
    """Symbolic shape (batch unknown), compute_output_shape and the real output agree."""
    x = random_array((2, *sample_shape))
    out = layer(x)
    assert layer.compute_output_shape((2, *sample_shape)) == out.shape
    assert layer(shinsou.Input(sample_shape)).shape == (None, *out.shape[1:])
    return out


def to_nchw(t):
    return t.permute(0, 3, 1, 2)


def to_nhwc(t):
    return t.permute(0, 2, 3, 1)


# -- Flatten, Reshape, Permute, RepeatVector --------------------------------------------------


def test_flatten_matches_torch_and_returns_a_view():
    x = random_array((2, 3, 4, 5))
    check_parity(layers.Flatten(), lambda t: t.flatten(1), x)
    tensor = shinsou.tensor(x)
    assert np.shares_memory(layers.Flatten()(tensor).numpy(), tensor.numpy())
    assert layers.Flatten()(np.arange(3.0)).shape == (3, 1)  # (batch,) gets a feature axis


def test_flatten_channels_first_puts_channels_last_first():
    x = random_array((2, 3, 4, 5))
    check_parity(
        layers.Flatten(data_format="channels_first"), lambda t: t.permute(0, 2, 3, 1).flatten(1), x
    )


def test_flatten_shapes_with_unknown_sizes_and_int_inputs():
    assert check_shapes(layers.Flatten(), (3, 4)).shape == (2, 12)
    assert layers.Flatten()(shinsou.Input((None, 4))).shape == (None, None)
    flat = layers.Flatten()(shinsou.Input((3, 4), dtype="int64"))
    assert flat.dtype == "int64"


def test_reshape_infers_minus_one_and_matches_torch():
    x = random_array((2, 12))
    check_parity(layers.Reshape((3, -1)), lambda t: t.reshape(2, 3, 4), x)
    assert check_shapes(layers.Reshape((-1, 2, 2)), (12,)).shape == (2, 3, 2, 2)
    assert layers.Reshape((-1, 4))(shinsou.Input((None, 4))).shape == (None, None, 4)
    tensor = shinsou.tensor(x)
    assert np.shares_memory(layers.Reshape((4, 3))(tensor).numpy(), tensor.numpy())


def test_reshape_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"inputs of shape \(batch, 12\).*target_shape \(5, 3\)"):
        layers.Reshape((5, 3))(shinsou.Input((12,)))
    with pytest.raises(ValueError, match=r"\(batch, 3, 3\) \(9 values per sample\).*\(2, -1\)"):
        layers.Reshape((2, -1))(np.ones((1, 3, 3)))


def test_permute_and_repeat_vector_match_torch():
    x = random_array((2, 3, 4, 5))
    check_parity(layers.Permute((3, 1, 2)), lambda t: t.permute(0, 3, 1, 2), x)
    assert check_shapes(layers.Permute((2, 1)), (3, 4)).shape == (2, 4, 3)
    v = random_array((2, 5))
    check_parity(layers.RepeatVector(3), lambda t: t.unsqueeze(1).repeat(1, 3, 1), v)
    assert check_shapes(layers.RepeatVector(4), (5,)).shape == (2, 4, 5)


# -- up-sampling ----------------------------------------------------------------------------


def test_upsampling1d_matches_torch():
    x = random_array((2, 3, 4))
    check_parity(layers.UpSampling1D(3), lambda t: t.repeat_interleave(3, dim=1), x)
    assert layers.UpSampling1D()(shinsou.Input((None, 4))).shape == (None, None, 4)


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (1, 3)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsampling2d_matches_torch_interpolate(size, interpolation):
    x = random_array((2, 4, 5, 3), seed=3)
    extra = {"align_corners": False} if interpolation == "bilinear" else {}

    def reference(t):
        return to_nhwc(F.interpolate(to_nchw(t), scale_factor=size, mode=interpolation, **extra))

    check_parity(layers.UpSampling2D(size, interpolation=interpolation), reference, x)


def test_upsampling2d_channels_first_and_shapes():
    x = random_array((2, 3, 4, 5), seed=4)
    check_parity(
        layers.UpSampling2D(2, data_format="channels_first", interpolation="bilinear"),
        lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False),
        x,
    )
    assert check_shapes(layers.UpSampling2D((2, 3)), (4, 5, 3)).shape == (2, 8, 15, 3)
    ints = np.arange(4).reshape(1, 2, 2, 1)
    assert layers.UpSampling2D(interpolation="bilinear")(ints).dtype == np.float32
    assert layers.UpSampling2D()(ints).dtype == ints.dtype
    assert layers.UpSampling2D()(shinsou.Input((None, 5, 3))).shape == (None, None, 10, 3)


# -- padding and cropping ---------------------------------------------------------------------


def test_zero_padding_matches_torch():
    x = random_array((2, 4, 3))
    check_parity(layers.ZeroPadding1D((1, 2)), lambda t: F.pad(t, (0, 0, 1, 2)), x)
    check_parity(
        layers.ZeroPadding1D(2, data_format="channels_first"), lambda t: F.pad(t, (2, 2)), x
    )
    image = random_array((2, 4, 5, 3))
    check_parity(
        layers.ZeroPadding2D(((1, 0), (2, 3))),
        lambda t: to_nhwc(F.pad(to_nchw(t), (2, 3, 1, 0))),
        image,
    )
    check_parity(
        layers.ZeroPadding2D((1, 2), data_format="channels_first"),
        lambda t: F.pad(t, (2, 2, 1, 1)),
        image,
    )


def test_cropping_matches_slicing():
    x = random_array((2, 6, 3))
    check_parity(layers.Cropping1D((1, 2)), lambda t: t[:, 1:4], x)
    image = random_array((2, 6, 7, 3))
    check_parity(layers.Cropping2D(((1, 2), (0, 3))), lambda t: t[:, 1:4, 0:4], image)
    check_parity(
        layers.Cropping2D(1, data_format="channels_first"), lambda t: t[:, :, 1:6, 1:2], image
    )


@pytest.mark.parametrize(
    ("layer", "sample_shape", "expected"),
    [
        (layers.ZeroPadding1D(), (4, 3), (6, 3)),
        (layers.ZeroPadding2D(((1, 0), (2, 3))), (4, 5, 3), (5, 10, 3)),
        (layers.Cropping1D(), (6, 3), (4, 3)),
        (layers.Cropping2D(((1, 2), (0, 3))), (6, 7, 3), (3, 4, 3)),
    ],
)
def test_padding_and_cropping_shapes(layer, sample_shape, expected):
    assert check_shapes(layer, sample_shape).shape == (2, *expected)
    unknown = (None, *sample_shape[1:])
    assert layer(shinsou.Input(unknown)).shape == (None, None, *expected[1:])


def test_cropping_everything_is_an_error_naming_the_shape():
    with pytest.raises(ValueError, match=r"cropping \(2, 2\) removes all of axis 1.*\(1, 4, 3\)"):
        layers.Cropping1D(2)(np.ones((1, 4, 3)))
    with pytest.raises(ValueError, match=r"removes all of axis 2"):
        layers.Cropping2D(((0, 0), (3, 3)))(shinsou.Input((8, 5, 1)))


# -- configs and arguments --------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        layers.Flatten(),
        layers.Reshape((2, -1)),
        layers.Permute((2, 1)),
        layers.RepeatVector(2),
        layers.UpSampling1D(2),
        layers.UpSampling2D((2, 3), interpolation="bilinear"),
        layers.ZeroPadding1D((1, 2)),
        layers.ZeroPadding2D(((1, 2), (3, 4))),
        layers.Cropping1D((1, 0)),
        layers.Cropping2D(((1, 2), (3, 4)), data_format="channels_first"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    round_trip(layer)


def test_config_values_are_keras_s():
    assert layers.Flatten().get_config()["data_format"] == "channels_last"
    assert layers.Reshape([3, 4]).get_config()["target_shape"] == (3, 4)
    assert layers.ZeroPadding2D(1).get_config()["padding"] == ((1, 1), (1, 1))
    assert layers.Cropping2D(((1, 2), 3)).get_config()["cropping"] == ((1, 2), (3, 3))
    upsampling = layers.UpSampling2D(3).get_config()
    assert (upsampling["size"], upsampling["interpolation"]) == ((3, 3), "nearest")
    assert layers.Permute([2, 1]).get_config()["dims"] == (2, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Flatten(data_format="NCHW"), r"Flatten: data_format must be one of"),
        (lambda: layers.Reshape((-1, -1)), r"Reshape: target_shape .* at most one -1"),
        (lambda: layers.Reshape((0, 3)), r"target_shape=\(0, 3\)"),
        (lambda: layers.Permute((0, 1)), r"Permute: dims must be a permutation of 1..n"),
        (lambda: layers.RepeatVector(0), r"RepeatVector: n must be a positive integer"),
        (lambda: layers.UpSampling1D(1.5), r"UpSampling1D: size must be a positive integer"),
        (lambda: layers.UpSampling2D((2, 0)), r"UpSampling2D: size must be a positive int"),
        (lambda: layers.UpSampling2D(interpolation="bicubic"), r"one of \('nearest', 'bilinear'"),
        (lambda: layers.ZeroPadding1D(-1), r"ZeroPadding1D: padding must be a non-negative"),
        (lambda: layers.ZeroPadding2D((1, 2, 3)), r"ZeroPadding2D: padding must be an int"),
        (lambda: layers.Cropping1D((1, 2, 3)), r"Cropping1D: cropping must be"),
        (lambda: layers.Cropping2D("1"), r"Cropping2D: cropping must be"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_rank_checks_name_the_layer():
    with pytest.raises(ValueError, match=r"RepeatVector\).*\(2, 3, 4\).*rank 2"):
        layers.RepeatVector(2)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"UpSampling2D\).*rank 4"):
        layers.UpSampling2D()(shinsou.Input((4, 4)))

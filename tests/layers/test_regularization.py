"""Regularization layers: training vs inference, drop statistics and scaling, gradients,
seeds, spatial masks, noise statistics, activity losses, configs and bad arguments.

PyTorch's dropout draws from its own random stream, so it cannot be compared value by value:
the tests check what defines dropout instead (rate, scale, gradient = mask * scale).
"""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import check_parity, random_array, torch


def round_trip(layer):
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_drops_the_rate_and_scales_the_rest(rate):
    y = layers.Dropout(rate)(np.ones((400, 500), dtype="float32"), training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.005  # 200,000 draws
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)
    assert y.dtype == np.float32


def test_dropout_is_the_identity_at_inference():
    x = random_array((4, 6))
    layer = layers.Dropout(0.5)
    for training in (None, False, 0):
        np.testing.assert_array_equal(layer(x, training=training).numpy(), x)
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True).numpy(), x)


def test_dropout_gradient_is_mask_times_scale():
    x = random_array((5, 7), seed=1, low=0.5, high=1.5)  # no zeros: the mask is y != 0
    layer = layers.Dropout(0.4, seed=3)
    tensor = shinsou.tensor(x, requires_grad=True)
    y = layer(tensor, training=True)
    y.sum().backward()
    mask = (y.numpy() != 0).astype("float32")
    np.testing.assert_allclose(tensor.grad, mask / 0.6, rtol=1e-6)
    # Same mask in torch (the seed repeats it): values and gradients agree.
    again = layers.Dropout(0.4, seed=3)
    check_parity(
        lambda t: again(t, training=True),
        (lambda t: t * torch.from_numpy(mask / 0.6)) if torch else None,
        x,
    )


def test_seeded_layers_repeat_and_successive_calls_differ():
    x = np.ones((50, 40), dtype="float32")
    first, second = layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=7)
    a1, a2 = first(x, training=True).numpy(), first(x, training=True).numpy()
    b1 = second(x, training=True).numpy()
    np.testing.assert_array_equal(a1, b1)
    assert not np.array_equal(a1, a2)


def test_unseeded_dropout_follows_the_global_seed():
    x = np.ones((30, 30), dtype="float32")
    layer = layers.Dropout(0.5)
    shinsou.backend.set_seed(5)
    first = layer(x, training=True).numpy()
    shinsou.backend.set_seed(5)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), first)


def test_noise_shape_shares_the_mask_along_axes():
    y = layers.Dropout(0.5, noise_shape=(None, 1, 6), seed=0)(
        np.ones((8, 5, 6)), training=True
    ).numpy()
    assert np.all(y == y[:, :1, :]) and 0 < (y == 0).mean() < 1


def test_dropout_in_a_model_acts_only_in_training():
    model = shinsou.Sequential([shinsou.Input((20,)), layers.Dropout(0.5)])
    x = np.ones((3, 20), dtype="float32")
    np.testing.assert_array_equal(model(x).numpy(), x)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert (model(x, training=True).numpy() == 0).any()


def test_spatial_dropout_drops_whole_channels():
    y1 = layers.SpatialDropout1D(0.5, seed=1)(np.ones((16, 5, 8)), training=True).numpy()
    assert np.all(y1 == y1[:, :1, :]) and 0 < (y1 == 0).mean() < 1
    y2 = layers.SpatialDropout2D(0.5, seed=1)(np.ones((16, 3, 4, 8)), training=True).numpy()
    assert np.all(y2 == y2[:, :1, :1, :]) and 0 < (y2 == 0).mean() < 1
    first = layers.SpatialDropout2D(0.5, data_format="channels_first", seed=1)
    y3 = first(np.ones((16, 8, 3, 4)), training=True).numpy()
    assert np.all(y3 == y3[:, :, :1, :1]) and 0 < (y3 == 0).mean() < 1
    np.testing.assert_allclose(y2[y2 != 0], 2.0)


def test_spatial_dropout_configs_have_exactly_keras_s_keys():
    config = layers.SpatialDropout1D(0.3, seed=2, name="sd").get_config()
    assert config == {"rate": 0.3, "seed": 2, "name": "sd", "dtype": "float32"}
    assert set(layers.SpatialDropout2D(0.3).get_config()) == {
        "rate",
        "seed",
        "name",
        "dtype",
        "data_format",
    }
    round_trip(layers.SpatialDropout2D(0.3, data_format="channels_first"))


def test_spatial_dropout_checks_the_rank():
    with pytest.raises(ValueError, match=r"SpatialDropout1D\).*\(2, 3\).*rank 3"):
        layers.SpatialDropout1D(0.5)(np.ones((2, 3)), training=True)
    with pytest.raises(ValueError, match=r"rank 4"):
        layers.SpatialDropout2D(0.5)(shinsou.Input((3, 3)))


def test_gaussian_noise_statistics_gradient_and_inference():
    x = np.zeros((300, 300), dtype="float32")
    layer = layers.GaussianNoise(0.5, seed=0)
    y = layer(x, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 0.5) < 0.01 and y.dtype == np.float32
    np.testing.assert_array_equal(layer(x).numpy(), x)
    tensor = shinsou.tensor(random_array((3, 4)), requires_grad=True)
    layer(tensor, training=True).sum().backward()
    np.testing.assert_array_equal(tensor.grad, np.ones((3, 4)))


def test_gaussian_dropout_statistics_and_gradient():
    rate = 0.3
    layer = layers.GaussianDropout(rate, seed=0)
    y = layer(np.ones((300, 300), dtype="float32"), training=True).numpy()
    assert abs(y.mean() - 1) < 0.01 and abs(y.std() - np.sqrt(rate / (1 - rate))) < 0.01
    x = random_array((4, 5), seed=2, low=0.5, high=1.5)
    tensor = shinsou.tensor(x, requires_grad=True)
    out = layers.GaussianDropout(rate, seed=4)(tensor, training=True)
    out.sum().backward()
    np.testing.assert_allclose(tensor.grad, out.numpy() / x, rtol=1e-5)  # the noise itself
    np.testing.assert_array_equal(layer(x).numpy(), x)


def test_activity_regularization_adds_the_penalty():
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01)
    x = np.array([[1.0, -2.0, 3.0]], dtype="float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    (loss,) = layer.losses
    np.testing.assert_allclose(loss.item(), 0.1 * 6 + 0.01 * 14, rtol=1e-6)
    config = round_trip(layer).get_config()
    assert config["l1"] == 0.1 and config["l2"] == 0.01


@pytest.mark.parametrize(
    "layer",
    [
        layers.Dropout(0.5, noise_shape=(None, 1, 3), seed=3),
        layers.SpatialDropout1D(0.5),
        layers.GaussianNoise(0.1, seed=1),
        layers.GaussianDropout(0.2),
        layers.ActivityRegularization(l2=0.5),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_shape_inference_and_config_round_trip(layer):
    x = shinsou.Input((4, 3))
    assert layer(x).shape == (None, 4, 3)
    assert layer.compute_output_shape((2, 4, 3)) == (2, 4, 3)
    assert layer(random_array((2, 4, 3)), training=True).shape == (2, 4, 3)
    round_trip(layer)


def test_dropout_config_keys():
    config = layers.Dropout(0.25, noise_shape=[None, 1], seed=9).get_config()
    assert (config["rate"], config["seed"], config["noise_shape"]) == (0.25, 9, (None, 1))


def test_dropout_keeps_the_input_mask_in_training():
    embedded = layers.Embedding(4, 2, mask_zero=True)(np.array([[3, 0]]))
    out = layers.Dropout(0.5, seed=0)(embedded, training=True)
    assert out._keras_mask.tolist() == [[True, False]]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Dropout(1.5), r"Dropout: rate must be a float in the range \[0, 1\)"),
        (lambda: layers.Dropout(1.0), r"rate=1.0"),
        (lambda: layers.Dropout(-0.1), r"rate=-0.1"),
        (lambda: layers.Dropout("half"), r"rate='half'"),
        (lambda: layers.Dropout(0.5, noise_shape=(None, 0)), r"noise_shape entries"),
        (lambda: layers.Dropout(0.5, noise_shape="(1, 2)"), r"noise_shape must be None"),
        (lambda: layers.Dropout(0.5, seed=-1), r"Dropout: seed must be None or a non-negative"),
        (lambda: layers.SpatialDropout1D(2.0), r"SpatialDropout1D: rate"),
        (lambda: layers.SpatialDropout2D(0.1, data_format="nhwc"), r"data_format must be one"),
        (lambda: layers.GaussianNoise(-1.0), r"GaussianNoise: stddev must be a number >= 0"),
        (lambda: layers.GaussianDropout(1.0), r"GaussianDropout: rate"),
        (lambda: layers.ActivityRegularization(l1=-1), r"ActivityRegularization: l1"),
    ],
)
def test_bad_arguments_fail_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dropout_rejects_integer_inputs_in_training():
    with pytest.raises(TypeError, match="dropout: expected a floating-point tensor"):
        layers.Dropout(0.5)(np.ones((2, 2), dtype="int64"), training=True)

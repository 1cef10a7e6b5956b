"""Preprocessing layers: Rescaling and Normalization — values, adapt over arrays and batches,
weights (names, get/set), inversion, configs, models and bad input."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import check_parity, random_array, torch

# -- Rescaling --------------------------------------------------------------------------------


def test_rescaling_scales_and_shifts_with_gradient():
    x = random_array((2, 3, 4), seed=1)
    check_parity(layers.Rescaling(0.5, offset=-1.0), lambda t: t * 0.5 - 1.0, x)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0, 4.0], offset=[0.0, 0.0, 1.0, 1.0])
    expected = x * np.array([1, 2, 3, 4], "float32") + np.array([0, 0, 1, 1], "float32")
    np.testing.assert_allclose(per_channel(x).numpy(), expected, rtol=1e-6)


def test_rescaling_turns_integer_images_into_float32():
    image = np.array([[[[0, 128, 255]]]], dtype="uint8")
    out = layers.Rescaling(1.0 / 255)(image)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy().ravel(), [0.0, 128 / 255, 1.0], rtol=1e-6)
    assert layers.Rescaling(2.0)(shinsou.Input((4, 4, 3), dtype="uint8")).dtype == "float32"


def test_rescaling_config_round_trip():
    for layer in (layers.Rescaling(1 / 255), layers.Rescaling(np.array([1.0, 2.0]), offset=0.5)):
        config = layer.get_config()
        json.dumps(config)
        assert layers.Rescaling.from_config(config).get_config() == config
    assert layers.Rescaling(np.array([1.0, 2.0])).get_config()["scale"] == [1.0, 2.0]


def test_rescaling_rejects_non_numbers():
    with pytest.raises(ValueError, match=r"Rescaling: scale must be a number or an array"):
        layers.Rescaling("half")


# -- Normalization ----------------------------------------------------------------------------


def test_adapt_on_an_array_learns_per_feature_statistics():
    data = random_array((200, 3), seed=2, low=-5, high=5) * np.array([1, 10, 100], "float32")
    layer = layers.Normalization()
    layer.adapt(data)
    mean, variance, count = layer.get_weights()
    np.testing.assert_allclose(mean, data.mean(axis=0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(variance, data.var(axis=0), rtol=1e-5)
    assert mean.dtype == np.float32 and count.shape == ()
    out = layer(data).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)


def test_normalization_matches_torch_with_gradient():
    data = random_array((50, 4), seed=3)
    layer = layers.Normalization()
    layer.adapt(data)
    mean = torch.from_numpy(data.mean(axis=0)) if torch else None
    std = torch.from_numpy(data.std(axis=0)) if torch else None
    check_parity(layer, lambda t: (t - mean) / std, random_array((5, 4), seed=4), rtol=1e-4)


@pytest.mark.parametrize(
    ("axis", "reduced"), [(None, (0, 1, 2, 3)), (-1, (0, 1, 2)), ((1, 2), (0, 3))]
)
def test_adapt_axes(axis, reduced):
    images = random_array((10, 4, 5, 3), seed=5)
    layer = layers.Normalization(axis=axis)
    layer.adapt(images)
    np.testing.assert_allclose(
        layer.adapt_mean.numpy(), images.mean(axis=reduced), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(layer.adapt_variance.numpy(), images.var(axis=reduced), rtol=1e-4)


def test_adapt_over_batches_equals_adapt_over_all_the_data():
    data = random_array((103, 4), seed=6, low=0, high=20)
    whole = layers.Normalization()
    whole.adapt(data)
    expected = [w.numpy() for w in (whole.adapt_mean, whole.adapt_variance)]

    def batches():
        for start in range(0, len(data), 16):
            yield data[start : start + 16], np.zeros(len(data[start : start + 16]))

    for source, kwargs in [(batches(), {}), (data, {"batch_size": 10}), (list(data[None]), {})]:
        layer = layers.Normalization()
        layer.adapt(source, **kwargs)
        np.testing.assert_allclose(layer.adapt_mean.numpy(), expected[0], rtol=1e-5)
        np.testing.assert_allclose(layer.adapt_variance.numpy(), expected[1], rtol=1e-4)
    limited = layers.Normalization()
    limited.adapt(batches(), steps=1)
    np.testing.assert_allclose(limited.adapt_mean.numpy(), data[:16].mean(axis=0), rtol=1e-5)


def test_given_mean_and_variance_and_invert():
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    x = np.array([[3.0, 8.0]], "float32")
    np.testing.assert_allclose(layer(x).numpy(), [[1.0, 2.0]])
    inverse = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(inverse(layer(x)).numpy(), x)
    assert layer.weights == []  # given statistics are constants, not weights
    scalar = layers.Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(scalar(np.array([[1.0], [3.0]])).numpy(), [[-np.sqrt(2)], [0.0]])


def test_constant_features_do_not_divide_by_zero():
    layer = layers.Normalization()
    layer.adapt(np.ones((5, 2), "float32"))
    assert np.all(np.isfinite(layer(np.ones((1, 2))).numpy()))


def test_weights_are_named_as_keras_and_move_with_set_weights():
    layer = layers.Normalization(name="norm")
    layer.adapt(random_array((20, 3), seed=7))
    assert [w.path for w in layer.weights] == ["norm/mean", "norm/variance", "norm/count"]
    assert layer.trainable_weights == [] and layer.count_params() == 7
    copy = layers.Normalization()
    copy.build((None, 3))
    copy.set_weights(layer.get_weights())
    x = random_array((4, 3), seed=8)
    np.testing.assert_array_equal(copy(x).numpy(), layer(x).numpy())


def test_config_and_build_config_round_trip():
    layer = layers.Normalization(axis=(1, 2), mean=[[0.0, 1.0]], variance=[[1.0, 4.0]])
    config = layer.get_config()
    json.dumps(config)
    assert config["axis"] == (1, 2) and config["mean"] == [[0.0, 1.0]]
    assert layers.Normalization.from_config(config).get_config() == config
    adapted = layers.Normalization()
    adapted.adapt(random_array((8, 5)))
    clone = layers.Normalization.from_config(adapted.get_config())
    clone.build_from_config(adapted.get_build_config())
    assert [w.shape for w in clone.weights] == [(5,), (5,), ()]


def test_normalization_in_a_model():
    data = random_array((40, 6), seed=9, low=10, high=20)
    norm = layers.Normalization()
    norm.adapt(data)
    inputs = shinsou.Input((6,))
    model = shinsou.Model(inputs, layers.Dense(1)(norm(inputs)))
    assert model(data).shape == (40, 1)
    assert len(model.non_trainable_weights) == 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.Normalization(mean=1.0), r"give both mean and variance, or neither"),
        (
            lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]),
            r"same shape, received shapes \(2,\) and \(1,\)",
        ),
        (lambda: layers.Normalization(axis="last"), r"axis must be None, an int or a tuple"),
        (lambda: layers.Normalization(mean=[[1.0]], variance=[[1.0]]), r"more axes than"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_adapt_calls():
    layer = layers.Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(4, 3\).*\(2, 5\)"):
        layer.adapt(np.ones((2, 5)))
    with pytest.raises(TypeError, match=r"adapt: data must be a NumPy array"):
        layers.Normalization().adapt(5.0)
    with pytest.raises(ValueError, match=r"cannot change a mean and variance given"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"received no data"):
        layers.Normalization().adapt(iter([]))
    with pytest.raises(ValueError, match=r"axis=\(3,\) is out of range.*\(2, 3\)"):
        layers.Normalization(axis=3).adapt(np.ones((2, 3)))

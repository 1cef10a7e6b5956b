"""Activation layers: values and gradients against PyTorch, Keras defaults and configs, masks,
shape inference, bad arguments."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import activations, layers
from support import check_parity, random_array, torch


def round_trip(layer):
    config = layer.get_config()
    json.dumps(config)  # a config must be plain JSON
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def symbolic_shape_matches_eager(layer, sample_shape):
    symbolic = layer(shinsou.Input(sample_shape)).shape
    eager = layer(random_array((2, *sample_shape))).shape
    assert symbolic == (None, *sample_shape) and eager == (2, *sample_shape)
    assert layer.compute_output_shape((2, *sample_shape)) == eager


@pytest.mark.parametrize(
    ("kwargs", "reference"),
    [
        ({}, lambda x: torch.relu(x)),
        ({"max_value": 0.5}, lambda x: torch.clamp(x, 0.0, 0.5)),
        ({"negative_slope": 0.2}, lambda x: torch.where(x > 0, x, 0.2 * x)),
        (
            {"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.3},
            lambda x: torch.where(x > 0.3, torch.clamp(x, max=0.6), 0.1 * (x - 0.3)),
        ),
    ],
)
def test_relu_variants_match_torch(kwargs, reference):
    check_parity(layers.ReLU(**kwargs), reference, random_array((4, 5), seed=1))


def test_leaky_relu_elu_and_softmax_match_torch():
    x = random_array((3, 4, 5), seed=2, low=-3, high=3)
    check_parity(layers.LeakyReLU(), lambda t: torch.nn.functional.leaky_relu(t, 0.3), x)
    check_parity(layers.ELU(alpha=0.7), lambda t: torch.nn.functional.elu(t, alpha=0.7), x)
    check_parity(layers.Softmax(axis=1), lambda t: torch.softmax(t, dim=1), x)
    check_parity(
        layers.Softmax(axis=[1, 2]),
        lambda t: torch.softmax(t.reshape(3, -1), dim=1).reshape(3, 4, 5),
        x,
    )


def test_activation_by_name_and_by_callable():
    x = random_array((2, 6), seed=3)
    check_parity(layers.Activation("tanh"), torch.tanh, x)
    check_parity(layers.Activation(activations.sigmoid), torch.sigmoid, x)
    np.testing.assert_array_equal(layers.Activation(None)(x).numpy(), x)  # None is linear
    assert layers.Activation("relu").get_config()["activation"] == "relu"


def test_softmax_mask_gives_zero_probability_and_no_gradient():
    x = random_array((2, 4), seed=4)
    mask = np.array([[True, True, False, True], [False, True, True, True]])
    layer = layers.Softmax()

    def reference(t):
        return torch.softmax(t.masked_fill(torch.from_numpy(~mask), -1e9), dim=-1)

    (out,) = check_parity(lambda t: layer(t, mask=mask), reference, x)
    assert np.all(out.numpy()[~mask] == 0.0)
    np.testing.assert_allclose(out.numpy().sum(axis=-1), 1.0, rtol=1e-6)


def test_softmax_reads_the_mask_of_its_input():
    ids = np.array([[4, 2, 0, 0]])
    logits = layers.Embedding(5, 1, mask_zero=True)(ids)[..., 0]
    logits._keras_mask = ids != 0
    probabilities = layers.Softmax()(logits).numpy()
    assert np.all(probabilities[:, 2:] == 0.0)


def test_prelu_matches_torch_for_values_and_both_gradients():
    layer = layers.PReLU(shared_axes=[1])
    layer.build((None, 4, 3))
    assert layer.alpha.shape == (1, 3)
    x = random_array((2, 4, 3), seed=5)
    alpha = random_array((1, 3), seed=6, low=0.0, high=0.5)

    def ours(inputs, slope):
        layer.alpha = slope  # differentiate with respect to the slope as an input
        return layer.call(inputs)

    check_parity(ours, lambda t, a: torch.where(t > 0, t, a * t), x, alpha)


def test_prelu_weight_shape_params_and_input_check():
    layer = layers.PReLU(alpha_initializer="constant")
    out = layer(np.full((2, 3, 4), -1.0, dtype="float32"))
    assert layer.alpha.shape == (3, 4) and layer.count_params() == 12
    assert np.all(out.numpy() == 0.0)  # default alpha is zero: a plain ReLU
    assert [w.path for w in layer.weights] == [f"{layer.name}/alpha"]
    with pytest.raises(ValueError, match=r"cannot take its input of shape \(2, 3, 5\)"):
        layer(np.ones((2, 3, 5)))
    conv_like = layers.PReLU(shared_axes=[1, 2])
    conv_like(np.ones((1, 5, 5, 8)))
    assert conv_like.alpha.shape == (1, 1, 8)


@pytest.mark.parametrize(
    "layer",
    [
        layers.Activation("relu"),
        layers.ReLU(max_value=6.0),
        layers.LeakyReLU(0.1),
        layers.Softmax(axis=1),
        layers.ELU(0.5),
        layers.PReLU(),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_shapes_configs_and_float32(layer):
    symbolic_shape_matches_eager(layer, (3, 4))
    assert layer(random_array((2, 3, 4))).dtype == np.float32
    round_trip(layer)


def test_config_keys_are_keras_s():
    assert set(layers.ReLU().get_config()) >= {"max_value", "negative_slope", "threshold"}
    assert layers.LeakyReLU().get_config()["negative_slope"] == 0.3
    prelu = layers.PReLU(shared_axes=2).get_config()
    assert prelu["shared_axes"] == [2]
    assert prelu["alpha_initializer"]["class_name"] == "Zeros"
    assert {"alpha_regularizer", "alpha_constraint"} <= set(prelu)


def test_leaky_relu_accepts_keras2_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="negative_slope"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1


def test_activation_layers_keep_the_input_mask():
    ids = np.array([[3, 1, 0]])
    embedded = layers.Embedding(4, 2, mask_zero=True)(ids)
    for layer in (layers.Activation("relu"), layers.ReLU(), layers.PReLU()):
        assert layer(embedded)._keras_mask.tolist() == [[True, True, False]]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: layers.ReLU(max_value=-1.0), r"ReLU: max_value must be None or a number >= 0"),
        (lambda: layers.ReLU(negative_slope=None), r"ReLU: negative_slope must be a number"),
        (lambda: layers.ReLU(threshold=-0.5), r"threshold=-0.5"),
        (lambda: layers.LeakyReLU(-0.1), r"LeakyReLU: negative_slope .*-0.1"),
        (lambda: layers.ELU("big"), r"ELU: alpha must be a number"),
        (lambda: layers.Softmax(axis="last"), r"Softmax: axis must be an int"),
        (lambda: layers.PReLU(shared_axes=[0]), r"PReLU: shared_axes .* batch"),
        (lambda: layers.Activation("no_such_thing"), r"unknown activation 'no_such_thing'"),
    ],
)
def test_bad_constructor_arguments_fail_with_clear_messages(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_prelu_rejects_unknown_sizes_and_out_of_range_shared_axes():
    with pytest.raises(ValueError, match=r"known size.*\(None, None, 3\)"):
        layers.PReLU()(shinsou.Input((None, 3)))
    with pytest.raises(ValueError, match=r"shared_axes \[3\] out of range"):
        layers.PReLU(shared_axes=3)(np.ones((1, 2, 2)))

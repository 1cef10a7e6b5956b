"""Normalization layers against PyTorch: batch normalization in training (moving statistics
included, with PyTorch's unbiased running variance accounted for) and inference, frozen
layers, masks; layer, group and unit normalization; gradient checks of the fused group
normalization; parameter counts, configs and bad arguments."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.layers.normalization import group_normalization
from support import check_gradient, random_array, torch

F = torch.nn.functional if torch else None
requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(json.loads(json.dumps(config)))  # lists, as from a file
    assert clone.get_config() == json.loads(json.dumps(config))
    return clone


def compare_with_torch(layer, x, torch_forward, names, rtol=1e-4, atol=1e-5, **call_kwargs):
    """Outputs, input gradient and the gradients of the weights ``names`` (same layout in
    both frameworks here) for one random upstream gradient; returns PyTorch's tensors."""
    ours_x = shinsou.tensor(x, requires_grad=True)
    weights = {w.name: w for w in layer.weights}
    theirs = {name: torch.tensor(weights[name].numpy(), requires_grad=True) for name in names}
    ours = layer(ours_x, **call_kwargs)
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs_out = torch_forward(theirs_x, **theirs)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), theirs_out.detach().numpy(), rtol=rtol, atol=atol)
    upstream = np.random.default_rng(3).standard_normal(ours.shape).astype("float32")
    (ours * upstream).sum().backward()
    (theirs_out * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=rtol, atol=atol)
    for name in names:
        np.testing.assert_allclose(
            weights[name].grad, theirs[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name
        )
    return theirs


def nchw(t):
    return t.permute(0, 3, 1, 2)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def built_bn(shape, seed=0, **kwargs):
    """A BatchNormalization with random gamma, beta and moving statistics."""
    layer = layers.BatchNormalization(**kwargs)
    layer.build(shape)
    rng = np.random.default_rng(seed)
    channels = layer.moving_mean.shape[0]
    values = {
        "gamma": rng.uniform(0.5, 1.5, channels),
        "beta": rng.uniform(-0.5, 0.5, channels),
        "moving_mean": rng.uniform(-0.5, 0.5, channels),
        "moving_variance": rng.uniform(0.5, 2.0, channels),
    }
    for weight in layer.weights:
        weight.assign(values[weight.name].astype("float32"))
    return layer


# -- BatchNormalization ---------------------------------------------------------------------------


@requires_torch
def test_batch_norm_training_matches_torch_including_moving_statistics():
    shape = (4, 5, 6, 3)
    layer = built_bn(shape, momentum=0.9)
    moving_mean, moving_variance = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    running_mean, running_var = torch.tensor(moving_mean), torch.tensor(moving_variance)
    compare_with_torch(
        layer,
        random_array(shape, seed=1, low=-2.0, high=3.0),
        lambda x, gamma, beta: nhwc(
            # PyTorch's momentum weighs the new batch: 1 - Keras's momentum.
            F.batch_norm(nchw(x), running_mean, running_var, gamma, beta, True, 0.1, 1e-3)
        ),
        ["gamma", "beta"],
        training=True,
    )
    np.testing.assert_allclose(layer.moving_mean.numpy(), running_mean.numpy(), rtol=1e-5)
    # Keras adds 0.1 x the population variance; PyTorch 0.1 x the unbiased one (x n / (n - 1)).
    count = shape[0] * shape[1] * shape[2]
    keras_step = layer.moving_variance.numpy() - 0.9 * moving_variance
    torch_step = running_var.numpy() - 0.9 * moving_variance
    np.testing.assert_allclose(keras_step * count / (count - 1), torch_step, rtol=1e-4)
    assert not layer.moving_variance.requires_grad and layer.moving_variance.is_leaf


@requires_torch
@pytest.mark.parametrize("training", [None, False])
def test_batch_norm_inference_matches_torch_eval(training):
    shape = (3, 4, 4, 5)
    layer = built_bn(shape, seed=2)
    before = [w.numpy() for w in layer.weights]
    mean = torch.tensor(layer.moving_mean.numpy())
    variance = torch.tensor(layer.moving_variance.numpy())
    compare_with_torch(
        layer,
        random_array(shape, seed=3),
        lambda x, gamma, beta: nhwc(
            F.batch_norm(nchw(x), mean, variance, gamma, beta, False, 0.0, 1e-3)
        ),
        ["gamma", "beta"],
        training=training,
    )
    for old, new in zip(before, layer.weights):
        np.testing.assert_array_equal(old, new.numpy())  # inference changes nothing


@requires_torch
def test_batch_norm_channels_first_axis_and_dense_inputs():
    for shape, axis in (((4, 3, 5, 5), 1), ((8, 6), -1)):
        layer = built_bn(shape, seed=4, axis=axis, epsilon=1e-5)
        running_mean = torch.tensor(layer.moving_mean.numpy())
        running_var = torch.tensor(layer.moving_variance.numpy())
        compare_with_torch(
            layer,
            random_array(shape, seed=5),
            lambda x, gamma, beta, m=running_mean, v=running_var: F.batch_norm(
                x, m, v, gamma, beta, True, 0.01, 1e-5
            ),
            ["gamma", "beta"],
            training=True,
        )
        np.testing.assert_allclose(layer.moving_mean.numpy(), running_mean.numpy(), rtol=1e-5)


def test_batch_norm_without_center_and_scale():
    layer = layers.BatchNormalization(center=False, scale=False, epsilon=0.0)
    x = random_array((16, 3), seed=6)
    out = layer(x, training=True).numpy()
    expected = (x - x.mean(axis=0)) / x.std(axis=0)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert [w.name for w in layer.weights] == ["moving_mean", "moving_variance"]


def test_frozen_batch_norm_runs_in_inference_mode():
    shape = (4, 3, 3, 2)
    layer = built_bn(shape, seed=7)
    reference = built_bn(shape, seed=7)
    layer.trainable = False
    x = random_array(shape, seed=8)
    tensor = shinsou.tensor(x, requires_grad=True)
    out = layer(tensor, training=True)
    np.testing.assert_allclose(out.numpy(), reference(x, training=False).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), reference.moving_mean.numpy())
    out.sum().backward()
    assert layer.gamma.grad is None and tensor.grad is not None
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_moving_statistics_converge_to_the_data_statistics():
    layer = layers.BatchNormalization(momentum=0.5)
    x = random_array((64, 2), seed=9) * np.array([1.0, 3.0], "float32") + np.array([2.0, -1.0])
    x = x.astype("float32")
    for _ in range(30):
        layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=0), rtol=1e-5)
    assert layer.moving_variance.dtype == np.float32


def test_masked_batch_norm_uses_only_unmasked_positions():
    x = random_array((2, 5, 3), seed=10)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=bool)
    layer = layers.BatchNormalization(momentum=0.0, epsilon=0.0)
    tensor = shinsou.tensor(x, requires_grad=True)
    out = layer(tensor, training=True, mask=mask)
    kept = x[mask]
    np.testing.assert_allclose(layer.moving_mean.numpy(), kept.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), kept.var(axis=0), rtol=1e-4)
    normalized = (kept - kept.mean(axis=0)) / kept.std(axis=0)
    np.testing.assert_allclose(out.numpy()[mask], normalized, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert tensor.grad is not None


def test_batch_norm_in_a_model_trains_and_predicts_with_moving_statistics():
    model = shinsou.Sequential(
        [shinsou.Input((4, 4, 2)), layers.BatchNormalization(), layers.Flatten(), layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = random_array((32, 4, 4, 2), seed=11) * 3 + 1
    x = x.astype("float32")
    bn = model.layers[0]
    model.fit(x, x.mean(axis=(1, 2, 3)), epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(bn.moving_mean.numpy(), 0)  # fit ran it with training=True
    moving = bn.moving_mean.numpy()
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving)  # predict did not


def test_batch_norm_parameters_weights_and_config():
    layer = layers.BatchNormalization()
    layer.build((None, 8, 8, 64))
    assert layer.count_params() == 256
    assert sum(w.size for w in layer.trainable_weights) == 128
    assert [(w.path, w.trainable) for w in layer.weights] == [
        (f"{layer.name}/gamma", True),
        (f"{layer.name}/beta", True),
        (f"{layer.name}/moving_mean", False),
        (f"{layer.name}/moving_variance", False),
    ]
    config = layer.get_config()
    assert set(config) == {
        *("name", "trainable", "dtype", "axis", "momentum", "epsilon", "center", "scale"),
        *("beta_initializer", "gamma_initializer", "moving_mean_initializer"),
        *("moving_variance_initializer", "beta_regularizer", "gamma_regularizer"),
        *("beta_constraint", "gamma_constraint", "synchronized"),
    }
    assert (config["axis"], config["momentum"], config["epsilon"]) == (-1, 0.99, 0.001)
    clone = round_trip(layers.BatchNormalization(axis=1, momentum=0.9, gamma_regularizer="l2"))
    assert clone.axis == 1 and clone.momentum == 0.9


# -- LayerNormalization -----------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("axis", [-1, [-2, -1], [1, 2, 3]])
def test_layer_norm_matches_torch(axis):
    shape = (3, 4, 5, 6)
    layer = layers.LayerNormalization(
        axis=axis, gamma_initializer="random_normal", beta_initializer="random_normal"
    )
    layer.build(shape)
    normalized_shape = layer.gamma.shape
    compare_with_torch(
        layer,
        random_array(shape, seed=12, low=-2.0),
        lambda x, gamma, beta: F.layer_norm(x, normalized_shape, gamma, beta, 1e-3),
        ["gamma", "beta"],
    )


@requires_torch
def test_layer_norm_rms_scaling_and_no_weights():
    x = random_array((4, 6), seed=13)
    layer = layers.LayerNormalization(rms_scaling=True, gamma_initializer="random_normal")
    layer.build(x.shape)
    assert [w.name for w in layer.weights] == ["gamma"]  # no beta with rms_scaling
    # Keras's rms_scaling: x / sqrt(var(x) + epsilon) * gamma, without centring x.
    compare_with_torch(
        layer,
        x,
        lambda t, gamma: t * torch.rsqrt(t.var(-1, unbiased=False, keepdim=True) + 1e-3) * gamma,
        ["gamma"],
    )
    bare = layers.LayerNormalization(center=False, scale=False)
    bare(x)
    assert bare.weights == []


def test_layer_norm_parameters_and_config():
    layer = layers.LayerNormalization(axis=[1, 2])
    layer(random_array((2, 3, 4)))
    assert layer.count_params() == 24 and layer.gamma.shape == (3, 4)
    assert set(layer.get_config()) == {
        *("name", "trainable", "dtype", "axis", "epsilon", "center", "scale", "rms_scaling"),
        *("beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer"),
        *("beta_constraint", "gamma_constraint"),
    }
    assert round_trip(layer).axis == [1, 2]
    assert layers.LayerNormalization().get_config()["epsilon"] == 0.001


# -- GroupNormalization -----------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("groups, shape", [(2, (3, 4, 5, 6)), (4, (2, 7, 4)), (-1, (2, 3, 3, 4))])
def test_group_norm_matches_torch(groups, shape):
    layer = layers.GroupNormalization(
        groups, gamma_initializer="random_normal", beta_initializer="random_normal"
    )
    channels = shape[-1]
    torch_groups = channels if groups == -1 else groups

    def reference(x, gamma, beta):
        moved = x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
        out = F.group_norm(moved, torch_groups, gamma, beta, 1e-3)
        return out.permute(0, *range(2, x.ndim), 1)

    layer.build(shape)
    compare_with_torch(
        layer, random_array(shape, seed=14, low=-1, high=2), reference, ["gamma", "beta"]
    )


@requires_torch
def test_group_norm_channels_first_axis_matches_torch():
    layer = layers.GroupNormalization(3, axis=1, gamma_initializer="random_normal")
    layer.build((2, 6, 4, 5))
    compare_with_torch(
        layer,
        random_array((2, 6, 4, 5), seed=15),
        lambda x, gamma, beta: F.group_norm(x, 3, gamma, beta, 1e-3),
        ["gamma", "beta"],
    )


def test_group_normalization_gradient():
    x = random_array((2, 3, 4, 6), seed=16)
    gamma, beta = random_array((6,), seed=17), random_array((6,), seed=18)
    check_gradient(lambda a, g, b: group_normalization(a, 3, g, b), x, gamma, beta)
    check_gradient(lambda a: group_normalization(a, 2), x)
    check_gradient(lambda a, b: group_normalization(a, 6, beta=b), x, beta)


def test_group_norm_parameters_and_config():
    layer = layers.GroupNormalization(groups=4)
    layer(random_array((2, 5, 8)))
    assert layer.count_params() == 16
    assert set(layer.get_config()) == {
        *("name", "trainable", "dtype", "groups", "axis", "epsilon", "center", "scale"),
        *("beta_initializer", "gamma_initializer", "beta_regularizer", "gamma_regularizer"),
        *("beta_constraint", "gamma_constraint"),
    }
    assert layers.GroupNormalization().get_config()["groups"] == 32
    assert round_trip(layers.GroupNormalization(-1, axis=1)).groups == -1


# -- UnitNormalization ------------------------------------------------------------------------


@requires_torch
def test_unit_normalization_matches_torch():
    x = random_array((3, 4, 5), seed=19)
    x[0, 0] = 0.0  # the zero vector stays zero, with a finite gradient
    tensor = shinsou.tensor(x, requires_grad=True)
    out = layers.UnitNormalization(axis=[1, 2])(tensor)
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = theirs_x / theirs_x.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
    np.testing.assert_allclose(out.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = random_array(x.shape, seed=20)
    (out * upstream).sum().backward()
    (theirs * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(tensor.grad, theirs_x.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert np.isfinite(layers.UnitNormalization()(np.zeros((1, 3), "float32")).numpy()).all()
    assert round_trip(layers.UnitNormalization(axis=[1, 2])).axis == [1, 2]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: layers.BatchNormalization(momentum=1.5), ValueError, r"momentum must be a number"),
        (lambda: layers.BatchNormalization(epsilon=-1), ValueError, r"epsilon must be a number"),
        (lambda: layers.BatchNormalization(axis=[1, 2]), TypeError, r"axis must be an int"),
        (lambda: layers.LayerNormalization(axis="last"), TypeError, r"axis must be an int or a"),
        (lambda: layers.GroupNormalization(0), ValueError, r"groups must be a positive integer"),
        (lambda: layers.UnitNormalization(axis=1.0), TypeError, r"UnitNormalization: axis must"),
    ],
)
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_inputs_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'bn': axis 3 is out of range for inputs of rank 2"):
        layers.BatchNormalization(axis=3, name="bn")(np.zeros((2, 3), "float32"))
    bn = layers.BatchNormalization(name="bn2")
    bn(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"'bn2'.*\(2, 4\).*axis -1 of size 3"):
        bn(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"mask must have one axis fewer.*\(2, 5, 3\)"):
        layers.BatchNormalization()(
            np.zeros((2, 5, 3), "float32"), training=True, mask=np.ones((2, 5, 3), bool)
        )
    with pytest.raises(ValueError, match=r"groups=4 must divide the 6 channels.*\(2, 6\)"):
        layers.GroupNormalization(4)(np.zeros((2, 6), "float32"))
    with pytest.raises(ValueError, match=r"group_normalization: gamma must have shape \(4,\)"):
        group_normalization(np.zeros((2, 4), "float32"), 2, gamma=np.ones(3, "float32"))
    with pytest.raises(ValueError, match=r"'ln': the normalized axes \[1\].*\(2, None\)"):
        layers.LayerNormalization(name="ln").build((2, None))

import numpy as np
import pytest

import shinsou
from shinsou.applications import LeNet5
from shinsou.saving import load_model
from support import random_array, requires_torch, torch


def test_parameter_counts_per_layer_and_total():
    model = LeNet5()
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert counts == {
        "input": 0,
        "c1": 156,
        "s2": 0,
        "c3": 2_416,
        "s4": 0,
        "c5": 48_120,
        "flatten": 0,
        "f6": 10_164,
        "predictions": 850,
    }
    assert model.count_params() == 61_706
    assert not model.non_trainable_weights
    assert model.output_shape == (None, 10)
    assert model.get_layer("c5").output.shape == (None, 1, 1, 120)


def test_mnist_input_is_padded_to_32():
    model = LeNet5(input_shape=(28, 28, 1))
    assert model.get_layer("padding").padding == ((2, 2), (2, 2))
    assert model.get_layer("c1").output.shape == (None, 28, 28, 6)
    assert model.count_params() == 61_706
    outputs = model.predict(random_array((3, 28, 28, 1)), verbose=0)
    assert outputs.shape == (3, 10) and outputs.dtype == np.float32
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)


def test_channels_classes_and_activations_are_configurable():
    model = LeNet5((32, 32, 3), classes=100, activation="relu", classifier_activation=None)
    assert model.get_layer("c1").kernel.shape == (5, 5, 3, 6)
    assert model.get_layer("f6").activation is shinsou.activations.relu
    assert model.output_shape == (None, 100)


@requires_torch
def test_forward_matches_pytorch_lenet():
    model = LeNet5(input_shape=(28, 28, 1), classifier_activation=None)
    nn = torch.nn
    reference = nn.Sequential(
        nn.ZeroPad2d(2),
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(16, 120, 5),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )
    ours = [model.get_layer(name) for name in ("c1", "c3", "c5", "f6", "predictions")]
    theirs = [m for m in reference if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for layer, module in zip(ours, theirs):
            kernel = layer.kernel.numpy()
            kernel = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
            module.weight.copy_(torch.from_numpy(kernel.copy()))
            module.bias.copy_(torch.from_numpy(random_array(module.bias.shape, seed=3)))
            layer.bias.assign(module.bias.numpy())
    images = random_array((4, 28, 28, 1), seed=1)
    expected = reference(torch.from_numpy(images).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_short_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 64)
    # Each class brightens its own band of rows: learnable in a few epochs.
    images = rng.random((64, 28, 28, 1), dtype=np.float32) * 0.3
    for index, label in enumerate(labels):
        images[index, 2 * label : 2 * label + 4] += 0.7
    model = LeNet5(input_shape=(28, 28, 1))
    model.compile(optimizer=shinsou.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    history = model.fit(images, labels, batch_size=16, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_keras_file_round_trip(tmp_path):
    model = LeNet5(input_shape=(28, 28, 1))
    path = tmp_path / "lenet.keras"
    model.save(path)
    loaded = load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    images = random_array((2, 28, 28, 1))
    np.testing.assert_array_equal(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (30, 30, 1)}, r"input_shape must be \(32, 32, channels\)"),
        ({"input_shape": (28, 28)}, "received input_shape=\\(28, 28\\)"),
        ({"classes": 0}, "classes must be a positive integer, received 0"),
        ({"activation": "tanhh"}, "LeNet5: activation: unknown activation 'tanhh'"),
        ({"classifier_activation": "soft"}, "LeNet5: classifier_activation"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LeNet5(**kwargs)

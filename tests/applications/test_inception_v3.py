"""InceptionV3: Keras's parameter counts, layer names and settings (batch normalization
without scale), the smallest input (75×75), weights files (Keras 3, and Keras 2's whose
automatic layer names are numbered differently), a short training run, preprocessing and
the argument errors. Never touches the network."""

import os
import re

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications.inception_v3 import InceptionV3, decode_predictions, preprocess_input
from shinsou.utils import data_utils


def counts(model):
    """(total, trainable, non-trainable) parameter counts."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def random_weights(model, seed):
    """Random values for every weight (variances in [0.5, 1.5])."""
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(*((0.5, 1.5) if w.name == "moving_variance" else (-0.1, 0.1)), w.shape).astype(
            "float32"
        )
        for w in model.weights
    ]


@pytest.fixture(scope="module")
def model():
    return InceptionV3(weights=None)


@pytest.fixture(scope="module")
def small():
    """Headless, on the smallest input, built once."""
    return InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))


def test_counts_name_and_shapes_match_keras(model):
    # Keras's documentation table: InceptionV3, 23,851,784 parameters.
    assert counts(model) == (23_851_784, 23_817_352, 34_432)
    assert model.count_params() == 23_851_784
    assert model.name == "inception_v3"
    assert len(model.layers) == 313
    assert model.input_shape == (None, 299, 299, 3) and model.output_shape == (None, 1000)
    headless = InceptionV3(weights=None, include_top=False, pooling="max")
    assert counts(headless) == (21_802_784, 21_768_352, 34_432)
    assert headless.output_shape == (None, 2048)


def test_layers_have_keras_names_and_settings(model):
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    assert len(convs) == len(norms) == 94
    assert not any(conv.use_bias for conv in convs)
    # Batch normalization without scale: beta and the moving statistics only.
    for bn in norms:
        assert (bn.scale, bn.epsilon, bn.momentum) == (False, 1e-3, 0.99)
        assert [w.name for w in bn.weights] == ["beta", "moving_mean", "moving_variance"]
    assert convs[0].kernel.shape == (3, 3, 3, 32) and convs[0].strides == (2, 2)
    mixed = {
        "mixed0": (35, 256),
        "mixed1": (35, 288),
        "mixed2": (35, 288),
        "mixed3": (17, 768),
        "mixed4": (17, 768),
        "mixed5": (17, 768),
        "mixed6": (17, 768),
        "mixed7": (17, 768),
        "mixed8": (8, 1280),
        "mixed9_0": (8, 768),
        "mixed9": (8, 2048),
        "mixed9_1": (8, 768),
        "mixed10": (8, 2048),
    }
    for name, (side, channels) in mixed.items():
        assert model.get_layer(name).output.shape == (None, side, side, channels), name
    assert model.get_layer("avg_pool").output.shape == (None, 2048)
    assert model.get_layer("predictions").kernel.shape == (2048, 1000)
    # 1×7 / 7×1 factorized kernels in the 17×17 modules.
    assert sum(conv.kernel_size == (1, 7) for conv in convs) == 13
    assert sum(conv.kernel_size == (7, 1) for conv in convs) == 13


@pytest.mark.parametrize(
    "pooling, expected", [(None, (None, 1, 1, 2048)), ("avg", (None, 2048)), ("max", (None, 2048))]
)
def test_smallest_input_with_each_pooling(pooling, expected):
    model = InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3), pooling=pooling)
    assert model.output_shape == expected


def test_smallest_input_runs(small):
    out = small.predict(np.random.default_rng(0).uniform(-1, 1, (2, 75, 75, 3)), verbose=0)
    assert out.shape == (2, 1, 1, 2048) and out.dtype == np.float32
    assert np.all(np.isfinite(out))


def test_weights_file_round_trip(small, tmp_path):
    small.set_weights(random_weights(small, seed=1))
    path = str(tmp_path / "inception.weights.h5")
    small.save_weights(path)
    # Built in the same process, the copy's automatic layer names are numbered on.
    loaded = InceptionV3(weights=path, include_top=False, input_shape=(75, 75, 3))
    assert loaded.layers[1].name != small.layers[1].name
    for ours, theirs in zip(loaded.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def keras2_names(model):
    """The names Keras 2 gave the layers: automatic ones numbered per class from 1."""
    numbers, names = {}, {}
    for layer in model.layers:
        base = re.sub(r"_\d+$", "", layer.name)
        if layer.name.startswith("mixed") or layer.name in ("avg_pool", "predictions"):
            names[layer.name] = layer.name
        else:
            numbers[base] = numbers.get(base, 0) + 1
            names[layer.name] = f"{base}_{numbers[base]}"
    return names


def write_keras2_file(path, model, rename):
    """A weights file laid out as Keras 2 saved the applications' ones: a group per layer
    (``rename``d), listed in the root's ``layer_names``, its datasets in ``weight_names``."""
    with h5py.File(path, "w") as h5file:
        names = []
        for layer in model.layers:
            name = rename(layer.name)
            names.append(name.encode())
            group = h5file.create_group(name)
            weight_names = [f"{name}/{w.name}:0" for w in layer.weights]
            for weight_name, weight in zip(weight_names, layer.weights):
                group.create_dataset(weight_name, data=np.asarray(weight))
            group.attrs["weight_names"] = np.array([n.encode() for n in weight_names], dtype="S")
        h5file.attrs["layer_names"] = np.array(names, dtype="S")


def test_keras2_file_with_other_automatic_names_loads_layer_by_layer(small, tmp_path):
    small.set_weights(random_weights(small, seed=2))
    names = keras2_names(small)
    assert "conv2d_1" in names.values() and "batch_normalization_94" in names.values()
    path = str(tmp_path / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
    write_keras2_file(path, small, rename=names.get)
    loaded = InceptionV3(weights=path, include_top=False, input_shape=(75, 75, 3))
    for ours, theirs in zip(loaded.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_imagenet_weights_are_fetched_under_keras_file_name(monkeypatch):
    requested = []

    def offline(fname=None, origin=None, **kwargs):
        requested.append((fname, origin, kwargs.get("file_hash")))
        raise OSError("no network")

    monkeypatch.setattr(data_utils, "get_file", offline)
    name = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
    with pytest.raises(OSError, match=name):
        InceptionV3()
    base = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    assert requested == [(name, base + name, "9a0d58056eeedaa3f26cb7ebd46da564")]


def test_short_training_run_lowers_the_loss():
    model = InceptionV3(weights=None, input_shape=(75, 75, 3), classes=3)
    model.compile(optimizer=shinsou.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(-1, 1, (4, 75, 75, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    before = [w.numpy().copy() for w in model.trainable_weights]
    losses = model.fit(x, y, epochs=3, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0], losses
    unchanged = [
        w.path for w, old in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), old)
    ]
    assert unchanged == []  # gradients reach every layer


def keras_applications():
    """Keras 3's own applications, when Keras is installed (the test skips otherwise)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras").applications


def assert_same_as_keras(ours, theirs, x):
    """Same layers with weights in the same order, and the same outputs on ``x`` once both
    models hold the same random weights."""

    def kinds(model):
        return [type(layer).__name__ for layer in model.layers if layer.weights]

    assert kinds(ours) == kinds(theirs)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = random_weights(ours, seed=5)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_outputs_match_keras_when_installed(small):
    theirs = keras_applications().InceptionV3(
        weights=None, include_top=False, input_shape=(75, 75, 3)
    )
    assert_same_as_keras(small, theirs, np.random.default_rng(6).uniform(-1, 1, (2, 75, 75, 3)))


def test_preprocess_input_scales_pixels_to_minus_one_one():
    pixels = np.array([[[[0.0, 127.5, 255.0], [51.0, 102.0, 204.0]]]])
    out = preprocess_input(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pixels / 127.5 - 1.0, rtol=0, atol=1e-7)


def test_decode_predictions_checks_the_shape():
    with pytest.raises(ValueError, match="\\(samples, 1000\\)"):
        decode_predictions(np.zeros((2, 1001)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": "inception"}, "weights must be None"),
        ({"weights": "imagenet", "classes": 2}, "classes must be 1000"),
        ({"include_top": False, "pooling": "sum"}, "pooling must be None"),
        ({"include_top": False, "input_shape": (75, 74, 3)}, "at least 75x75"),
        ({"weights": "imagenet", "input_shape": (224, 224, 3)}, "\\(299, 299, 3\\)"),
        ({"weights": "imagenet", "include_top": False, "input_shape": (99, 99, 1)}, "3 input"),
        ({"include_top": True, "input_shape": (None, None, 3)}, "fully known"),
    ],
)
def test_bad_arguments_are_rejected_before_building(kwargs, message, monkeypatch):
    monkeypatch.setattr(data_utils, "get_file", pytest.fail)  # never a download
    with pytest.raises(ValueError, match=message):
        InceptionV3(**{"weights": None, **kwargs})

"""VGG16: Keras's parameter counts and layer names, the headless variants, input_tensor,
weights (Keras 3 file, Keras 2 application file, "imagenet" without the network), errors."""

import os
import urllib.error
import urllib.request

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications import imagenet_utils, vgg16
from shinsou.applications.vgg16 import VGG16
from shinsou.utils import data_utils

KERAS_LAYER_NAMES = [
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool",
    "flatten", "fc1", "fc2", "predictions",
]  # fmt: skip


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def write_keras2_weights(path, model):
    """A Keras 2 application weights file of ``model``: a group per layer, ``layer_names``
    on the root, ``weight_names`` per group, datasets at ``<layer>/<layer>/<weight>:0``."""
    with h5py.File(path, "w") as h5file:
        for layer in model.layers:
            names = [f"{layer.name}/{variable.name}:0" for variable in layer.weights]
            group = h5file.create_group(layer.name)
            for name, variable in zip(names, layer.weights):
                group[name] = np.asarray(variable)
            group.attrs["weight_names"] = [name.encode() for name in names]
        h5file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]


@pytest.fixture(scope="module")
def full_model():
    return VGG16(weights=None)


@pytest.fixture(scope="module")
def headless():
    """A headless VGG16 on 32x32 inputs with distinctive (seeded) weights."""
    model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    for index, variable in enumerate(model.weights):
        variable.assign(np.random.default_rng(index).normal(0, 0.05, variable.shape))
    return model


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_parameter_counts_and_names_match_keras(full_model):
    assert full_model.name == "vgg16"
    assert full_model.count_params() == 138_357_544
    assert _count(full_model.trainable_weights) == 138_357_544
    assert _count(full_model.non_trainable_weights) == 0
    assert [layer.name for layer in full_model.layers[1:]] == KERAS_LAYER_NAMES
    assert full_model.input_shape == (None, 224, 224, 3)
    assert full_model.output_shape == (None, 1000)
    assert tuple(full_model.get_layer("fc1").kernel.shape) == (25088, 4096)
    assert full_model.get_layer("predictions").activation is shinsou.activations.softmax


@pytest.mark.parametrize(
    ("pooling", "shape"), [(None, (2, 1, 1, 512)), ("avg", (2, 512)), ("max", (2, 512))]
)
def test_headless_variants_on_small_inputs(pooling, shape):
    model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert model.count_params() == 14_714_688
    out = model(np.ones((2, 32, 32, 3), "float32"))
    assert out.shape == shape and out.dtype == np.float32
    assert VGG16(weights=None, include_top=False).input_shape == (None, None, None, 3)


def test_small_top_and_logits():
    model = VGG16(weights=None, input_shape=(32, 32, 3), classes=7, classifier_activation=None)
    assert model.get_layer("fc1").kernel.shape == (512, 4096)
    out = np.asarray(model(np.ones((1, 32, 32, 3), "float32")))
    assert out.shape == (1, 7) and not np.isclose(out.sum(), 1.0)


def test_input_tensor_becomes_the_model_input(headless):
    source = shinsou.Input((32, 32, 3))
    scaled = layers.Rescaling(2.0)(source)
    model = VGG16(weights=None, include_top=False, input_tensor=scaled, pooling="avg")
    assert model.inputs == [source]
    model.set_weights(headless.get_weights())
    x = np.random.default_rng(0).uniform(0, 1, (1, 32, 32, 3)).astype("float32")
    expected = np.asarray(headless(2.0 * x)).mean(axis=(1, 2))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-6)


def test_keras3_weights_file_round_trip(tmp_path, headless):
    path = str(tmp_path / "vgg16_notop.weights.h5")
    headless.save_weights(path)
    loaded = VGG16(weights=path, include_top=False, input_shape=(32, 32, 3))
    assert _same_weights(headless, loaded)


def test_keras2_application_file_loads_by_layer_name(tmp_path, headless):
    path = tmp_path / "vgg16_notop_keras2.h5"
    write_keras2_weights(path, headless)
    loaded = VGG16(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    assert _same_weights(headless, loaded)
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(headless(x)))
    with pytest.raises(ValueError, match="layer 'fc1' of the model is not in the file"):
        VGG16(weights=str(path), input_shape=(32, 32, 3))


def test_imagenet_weights_use_kerass_file_without_the_network(tmp_path, headless, monkeypatch):
    path = tmp_path / "downloaded.h5"
    write_keras2_weights(path, headless)
    requested = []

    def fake_get_file(fname, origin, **kwargs):
        requested.append((fname, origin, kwargs))
        return str(path)

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    loaded = VGG16(include_top=False, input_shape=(32, 32, 3))  # weights="imagenet" by default
    assert _same_weights(headless, loaded)
    name = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert requested == [
        (
            name,
            f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{name}",
            {"cache_subdir": "models", "file_hash": "6d6bbae143d832006294945121d1f1fc"},
        )
    ]


def test_imagenet_weights_offline_say_where_to_put_the_file(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path))
    with pytest.raises(OSError) as info:
        VGG16(include_top=False, input_shape=(32, 32, 3))
    message = str(info.value)
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert f"put it in the folder {tmp_path / 'models'}" in message
    assert os.listdir(tmp_path / "models") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": 10}, "vgg16: with weights='imagenet' and include_top=True, classes must"),
        ({"weights": "vgg", "include_top": False}, "vgg16: weights must be None.*'vgg'"),
        ({"weights": None, "include_top": False, "input_shape": (16, 16, 3)}, "at least 32x32"),
        ({"weights": None, "include_top": False, "pooling": "sum"}, "pooling must be None"),
        ({"input_shape": (256, 256, 3)}, "input_shape must be \\(224, 224, 3\\)"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VGG16(**kwargs)


def test_preprocess_and_decode_follow_keras(monkeypatch, tmp_path):
    image = np.array([[[[10.0, 20.0, 30.0]]]])
    expected = imagenet_utils.preprocess_input(image, mode="caffe")
    np.testing.assert_array_equal(vgg16.preprocess_input(image), expected)
    assert vgg16.preprocess_input(image)[0, 0, 0, 0] == np.float32(30.0) - np.float32(103.939)
    index = tmp_path / "index.json"
    index.write_text("{" + ",".join(f'"{i}": ["n{i}", "c{i}"]' for i in range(1000)) + "}")
    monkeypatch.setattr(data_utils, "get_file", lambda *args, **kwargs: str(index))
    preds = np.eye(1000, dtype="float32")[[5]]
    assert vgg16.decode_predictions(preds, top=1) == [[("n5", "c5", np.float32(1.0))]]

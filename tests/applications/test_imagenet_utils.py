"""imagenet_utils: preprocess_input (Keras's three modes, float32, arrays and tensors),
decode_predictions (a fake class index; never the network), the argument checks and the
weights machinery shared by the zoo (Keras 3 files, Keras 2 application files, downloads)."""

import json
import os
import urllib.request

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications import imagenet_utils
from shinsou.applications.imagenet_utils import (
    application_input,
    decode_predictions,
    load_application_weights,
    load_legacy_h5_weights,
    preprocess_input,
    validate_application_args,
)
from shinsou.utils import data_utils

PIXELS = np.array([[[[255.0, 0.0, 128.0], [10.0, 20.0, 30.0]]]], dtype="float32")  # (1,1,2,3)


# -- preprocess_input ----------------------------------------------------------------------
def test_caffe_mode_flips_to_bgr_and_subtracts_the_imagenet_mean():
    out = preprocess_input(PIXELS)
    expected = [
        [128.0 - 103.939, 0.0 - 116.779, 255.0 - 123.68],
        [30 - 103.939, 20 - 116.779, -113.68],
    ]
    assert out.dtype == np.float32 and out.shape == PIXELS.shape
    np.testing.assert_allclose(out[0, 0], expected, rtol=0, atol=1e-5)
    # Keras's own float32 steps, bit for bit.
    keras_steps = PIXELS[..., ::-1].copy()
    for channel, mean in enumerate((103.939, 116.779, 123.68)):
        keras_steps[..., channel] -= mean
    np.testing.assert_array_equal(out, keras_steps)


def test_tf_mode_scales_to_minus_one_one():
    out = preprocess_input(np.array([0.0, 127.5, 255.0]), mode="tf")
    assert out.dtype == np.float32
    assert out.tolist() == [-1.0, 0.0, 1.0]


def test_torch_mode_normalises_with_imagenet_mean_and_std():
    out = preprocess_input(PIXELS, mode="torch")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out, (PIXELS / 255.0 - mean) / std, rtol=1e-6, atol=1e-6)
    assert round(float(out[0, 0, 0, 0]), 4) == round((1.0 - 0.485) / 0.229, 4)  # 2.2489
    keras_steps = PIXELS / np.float32(255.0)
    for channel in range(3):
        keras_steps[..., channel] -= mean[channel].astype("float32")
        keras_steps[..., channel] /= std[channel].astype("float32")
    np.testing.assert_array_equal(out, keras_steps)


def test_preprocess_copies_and_accepts_integers_and_channels_first():
    image = PIXELS.copy()
    preprocess_input(image)
    np.testing.assert_array_equal(image, PIXELS)  # unlike Keras, the input is left alone
    as_uint8 = preprocess_input(PIXELS.astype("uint8"), mode="tf")
    assert as_uint8.dtype == np.float32
    channels_first = preprocess_input(PIXELS.transpose(0, 3, 1, 2), data_format="channels_first")
    np.testing.assert_array_equal(channels_first.transpose(0, 2, 3, 1), preprocess_input(PIXELS))
    single = preprocess_input(PIXELS[0].transpose(2, 0, 1), data_format="channels_first")
    np.testing.assert_array_equal(single.transpose(1, 2, 0), preprocess_input(PIXELS)[0])


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_tensors_give_the_same_numbers_and_gradients(mode):
    x = shinsou.tensor(PIXELS, requires_grad=True)
    out = preprocess_input(x, mode=mode)
    assert isinstance(out, shinsou.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), preprocess_input(PIXELS, mode=mode), atol=1e-5)
    out.sum().backward()
    slope = {
        "caffe": [1.0] * 3,
        "tf": [1 / 127.5] * 3,
        "torch": 1 / 255 / np.array([0.229, 0.224, 0.225]),
    }
    np.testing.assert_allclose(x.grad[0, 0, 0], slope[mode], rtol=1e-6)


def test_symbolic_input_builds_a_preprocessing_model():
    inputs = shinsou.Input((1, 2, 3), dtype="uint8")
    model = shinsou.Model(inputs, preprocess_input(inputs))
    out = model(PIXELS.astype("uint8"))
    np.testing.assert_allclose(np.asarray(out), preprocess_input(PIXELS), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "keras"}, "mode must be one of .*'caffe'.*received mode='keras'"),
        ({"data_format": "NHWC"}, "data_format must be one of"),
        ({"x": np.zeros((2, 4, 4, 1))}, "3 color channels .* received shape \\(2, 4, 4, 1\\)"),
        ({"x": np.zeros((2, 4, 4, 1)), "mode": "torch"}, "3 color channels"),
    ],
)
def test_preprocess_rejects_bad_arguments(kwargs, message):
    kwargs = {"x": PIXELS, **kwargs}
    with pytest.raises(ValueError, match=message):
        preprocess_input(**kwargs)


# -- decode_predictions --------------------------------------------------------------------
@pytest.fixture
def fake_class_index(tmp_path, monkeypatch):
    """A 1000-class index file served by a get_file stand-in: the network is never used."""
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps({str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}))
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        return str(path)

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    return calls


def test_decode_predictions_gives_the_top_classes_best_first(fake_class_index):
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [7, 3, 999]] = [0.5, 0.3, 0.2]
    preds[1, 42] = 1.0
    decoded = decode_predictions(preds, top=3)
    assert [entry[:2] for entry in decoded[0]] == [
        ("n00000007", "class_7"),
        ("n00000003", "class_3"),
        ("n00000999", "class_999"),
    ]
    assert decoded[0][0][2] == np.float32(0.5)
    assert decoded[1][0] == ("n00000042", "class_42", np.float32(1.0))
    assert len(decode_predictions(shinsou.tensor(preds))[1]) == 5  # tensors too; top=5
    fname, origin, kwargs = fake_class_index[0]
    assert fname == "imagenet_class_index.json" and origin.endswith("imagenet_class_index.json")
    assert kwargs == {"cache_subdir": "models", "file_hash": imagenet_utils.CLASS_INDEX_HASH}


@pytest.mark.parametrize(
    ("preds", "top", "message"),
    [
        (np.zeros((1, 10)), 5, "shaped \\(samples, 1000\\); received .* \\(1, 10\\)"),
        (np.zeros(1000), 5, "received an array of shape \\(1000,\\)"),
        (np.zeros((1, 1000)), 0, "top must be a positive integer; received 0"),
    ],
)
def test_decode_predictions_rejects_bad_input(fake_class_index, preds, top, message):
    with pytest.raises(ValueError, match=message):
        decode_predictions(preds, top=top)


def test_decode_predictions_offline_names_the_file_and_folder(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path))
    with pytest.raises(OSError, match="imagenet_class_index.json") as info:
        decode_predictions(np.zeros((1, 1000)))
    assert str(tmp_path / "models") in str(info.value)


# -- validate_application_args ------------------------------------------------------------
def _validate(**overrides):
    arguments = {"weights": None, "include_top": True, "classes": 1000, "input_shape": None}
    return validate_application_args("mynet", **{**arguments, **overrides})


def test_input_shape_defaults_follow_keras():
    assert _validate() == (224, 224, 3)
    assert _validate(include_top=False) == (None, None, 3)
    assert _validate(weights="imagenet", include_top=False, input_shape=(64, 48, 3)) == (64, 48, 3)
    assert _validate(default_size=299, min_size=75) == (299, 299, 3)
    assert _validate(include_top=False, input_tensor=shinsou.Input((40, 40, 3))) == (40, 40, 3)
    # A tensor is built on whatever its size, as Keras does (a ResNet top takes any size).
    any_size = shinsou.Input((None, None, 3))
    assert _validate(weights="imagenet", input_tensor=any_size) == (None, None, 3)
    with pytest.raises(ValueError, match="at least 32x32"):
        _validate(input_tensor=shinsou.Input((16, 16, 3)))
    assert _validate(weights="imagenet", input_shape=[224, 224, 3]) == (224, 224, 3)
    with pytest.warns(UserWarning, match="1 or 3 input channels"):
        assert _validate(include_top=False, input_shape=(32, 32, 5)) == (32, 32, 5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"weights": "imagenet21k"}, "mynet: weights must be None.*received weights='imagenet21k'"),
        ({"weights": "/no/such/file.h5"}, "which is not a file"),
        ({"weights": "imagenet", "classes": 10}, "classes must be 1000 .*received classes=10"),
        ({"classes": 0}, "classes must be a positive integer"),
        ({"pooling": "mean"}, "pooling must be None, 'avg' or 'max'; received pooling='mean'"),
        ({"weights": "imagenet", "classifier_activation": "relu"}, "classifier activations"),
        ({"weights": "imagenet", "input_shape": (200, 200, 3)}, "must be \\(224, 224, 3\\)"),
        ({"include_top": False, "input_shape": (31, 64, 3)}, "at least 32x32 .*\\(31, 64, 3\\)"),
        ({"include_top": False, "input_shape": (32, 32)}, "three integers"),
        ({"include_top": False, "weights": "imagenet", "input_shape": (64, 64, 1)}, "3 input ch"),
        ({"input_shape": (None, None, 3)}, "must be fully known"),
    ],
)
def test_bad_arguments_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        _validate(**overrides)


def test_application_input_reuses_symbolic_tensors_and_finds_their_source():
    image, inputs = application_input(None, (16, 16, 3))
    assert image.shape == (None, 16, 16, 3) and inputs is image
    source = shinsou.Input((16, 16, 3))
    derived = layers.Rescaling(1 / 255)(source)
    image, inputs = application_input(derived, None)
    assert image is derived and inputs == [source]
    image, inputs = application_input(np.zeros((2, 8, 8, 3), "float32"), (8, 8, 3))
    assert image.shape == (2, 8, 8, 3) and inputs is image


# -- weights -------------------------------------------------------------------------------
def _mini_model(names=("c1", "bn", "predictions"), units=2, name="mini"):
    inputs = shinsou.Input((6, 6, 3))
    x = layers.Conv2D(4, 3, name=names[0])(inputs)
    x = layers.BatchNormalization(name=names[1])(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return shinsou.Model(inputs, layers.Dense(units, name=names[2])(x), name=name)


def _write_legacy(path, model, rename=None, full_model=False, order=None):
    """A Keras 2 application weights file of ``model``: a group per layer, ``layer_names`` on
    the root, ``weight_names`` per group (datasets at ``<layer>/<layer>/<weight>:0``)."""
    rename = rename or {}
    model_layers = list(model.layers) if order is None else [model.layers[i] for i in order]
    with h5py.File(path, "w") as h5file:
        root = h5file.create_group("model_weights") if full_model else h5file
        for layer in model_layers:
            name = rename.get(layer.name, layer.name)
            group = root.create_group(name)
            weight_names = []
            for variable in layer.weights:
                weight_names.append(f"{name}/{variable.name}:0".encode())
                group[weight_names[-1].decode()] = np.asarray(variable)
            group.attrs["weight_names"] = weight_names
        root.attrs["layer_names"] = [
            rename.get(layer.name, layer.name).encode() for layer in model_layers
        ]
        root.attrs["backend"] = b"tensorflow"


@pytest.fixture
def trained_pair():
    """A source model with distinctive weights, and a fresh model of the same structure."""
    source = _mini_model()
    for index, variable in enumerate(source.weights):
        variable.assign(np.random.default_rng(index).normal(size=variable.shape) + index)
    return source, _mini_model()


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("full_model", [False, True])
def test_legacy_file_loads_by_layer_name_in_any_order(tmp_path, trained_pair, full_model):
    source, target = trained_pair
    path = tmp_path / "legacy.h5"
    _write_legacy(path, source, full_model=full_model, order=[4, 0, 3, 2, 1])
    assert not _same_weights(source, target)
    assert (
        load_application_weights(target, str(path), file_name="", file_hash=None, url="") is target
    )
    assert _same_weights(source, target)
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(target(x)), np.asarray(source(x)))


def test_legacy_file_loads_by_order_when_names_differ(tmp_path, trained_pair):
    source, target = trained_pair
    path = tmp_path / "numbered.h5"
    _write_legacy(path, source, rename={"c1": "conv2d_1", "bn": "batch_normalization_1"})
    with pytest.raises(ValueError, match="layer 'c1' of the model is not in the file"):
        load_legacy_h5_weights(target, path)
    load_legacy_h5_weights(target, path, match="order")
    assert _same_weights(source, target)


def test_legacy_mismatches_are_listed_and_nothing_is_loaded(tmp_path, trained_pair):
    source, _ = trained_pair
    path = tmp_path / "legacy.h5"
    _write_legacy(path, source)
    target = _mini_model(units=3, names=("c1", "norm", "predictions"))
    before = target.get_weights()
    with pytest.raises(ValueError) as info:
        load_legacy_h5_weights(target, path)
    message = str(info.value)
    assert "layer 'norm' of the model is not in the file" in message
    assert "the file has 1 layer(s) the model lacks: 'bn'" in message
    assert "layer 'predictions': shapes differ: 'kernel' (4, 3) vs (4, 2) in the file" in message
    assert "Nothing was loaded" in message
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights()))
    with pytest.warns(UserWarning, match="The other layers were loaded"):
        load_legacy_h5_weights(target, path, skip_mismatch=True)
    np.testing.assert_array_equal(target.get_layer("c1").kernel, source.get_layer("c1").kernel)
    with pytest.raises(ValueError, match="the model has 3 layers with weights but the file has 2"):
        _write_legacy(tmp_path / "short.h5", source, order=[0, 1, 3, 4])
        load_legacy_h5_weights(target, tmp_path / "short.h5", match="order")
    with pytest.raises(ValueError, match="match must be 'name' or 'order'"):
        load_legacy_h5_weights(target, path, match="topological")


def test_legacy_reader_refuses_links_and_non_numeric_data(tmp_path, trained_pair):
    source, target = trained_pair
    path = tmp_path / "linked.h5"
    _write_legacy(path, source)
    with h5py.File(path, "a") as h5file:
        del h5file["c1/c1/bias:0"]
        h5file["c1/c1/bias:0"] = h5py.SoftLink("/bn/bn/gamma:0")
    with pytest.raises(ValueError, match="refusing to follow the link at 'c1/c1/bias:0'"):
        load_legacy_h5_weights(target, path)
    with h5py.File(path, "a") as h5file:
        del h5file["c1/c1/bias:0"]
        h5file["c1/c1/bias:0"] = np.array([b"x", b"y", b"z", b"w"])
    with pytest.raises(ValueError, match="holds .* data, not numbers"):
        load_legacy_h5_weights(target, path)


def test_keras3_weights_file_round_trip(tmp_path, trained_pair):
    source, target = trained_pair
    path = str(tmp_path / "mini.weights.h5")
    source.save_weights(path)
    load_application_weights(target, path, file_name="", file_hash=None, url="")
    assert _same_weights(source, target)


def test_imagenet_weights_come_through_get_file(tmp_path, trained_pair, monkeypatch):
    source, target = trained_pair
    path = tmp_path / "mini_weights_tf_dim_ordering_tf_kernels.h5"
    _write_legacy(path, source)
    calls = []

    def fake_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        return str(path)

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    load_application_weights(
        target, "imagenet", file_name=path.name, file_hash="0" * 32, url="https://x.invalid/w.h5"
    )
    assert _same_weights(source, target)
    assert calls == [
        (path.name, "https://x.invalid/w.h5", {"cache_subdir": "models", "file_hash": "0" * 32})
    ]


def test_imagenet_weights_offline_name_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path))
    missing = (tmp_path / "nowhere" / "w.h5").as_uri()  # a file URL: fails without a network
    with pytest.raises(OSError) as info:
        load_application_weights(
            _mini_model(), "imagenet", file_name="mini_notop.h5", file_hash=None, url=missing
        )
    message = str(info.value)
    assert "mini: the ImageNet weights file mini_notop.h5" in message
    assert f"put it in the folder {tmp_path / 'models'}" in message
    assert os.listdir(tmp_path / "models") == []


def test_unknown_weights_value_is_rejected():
    with pytest.raises(ValueError, match="mini: weights must be None, 'imagenet' or the path"):
        load_application_weights(_mini_model(), 3, file_name="", file_hash=None, url="")

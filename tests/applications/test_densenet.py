"""DenseNet-121/169/201: Keras's parameter counts and layer names, the smallest inputs,
weights files (Keras 3, and Keras 2's with their old "conv1/conv" names), a short training
run, preprocessing and the argument errors. Never touches the network."""

import os

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications.densenet import (
    DenseNet121,
    DenseNet169,
    DenseNet201,
    decode_predictions,
    preprocess_input,
)
from shinsou.utils import data_utils

# Keras's documentation table, and Keras 3.15 itself for the split and the headless models:
# (total, trainable, non-trainable) with the 1000-class top, total without it, feature
# channels, number of layers with the top.
KERAS_COUNTS = {
    "DenseNet121": ((8_062_504, 7_978_856, 83_648), 7_037_504, 1024, 429),
    "DenseNet169": ((14_307_880, 14_149_480, 158_400), 12_642_880, 1664, 597),
    "DenseNet201": ((20_242_984, 20_013_928, 229_056), 18_321_984, 1920, 709),
}
BUILDERS = {"DenseNet121": DenseNet121, "DenseNet169": DenseNet169, "DenseNet201": DenseNet201}


def counts(model):
    """(total, trainable, non-trainable) parameter counts."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


@pytest.fixture(scope="module")
def models():
    """Each variant with the top, built once (random weights)."""
    return {name: build(weights=None) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def small():
    """A headless DenseNet-121 on the smallest input, built once."""
    return DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))


def random_weights(model, seed):
    """Random values for every weight (variances in [0.5, 1.5]), so that nothing is left at
    its initial value by accident."""
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(*((0.5, 1.5) if w.name == "moving_variance" else (-0.1, 0.1)), w.shape).astype(
            "float32"
        )
        for w in model.weights
    ]


@pytest.mark.parametrize("name", sorted(KERAS_COUNTS))
def test_counts_names_and_shapes_match_keras(models, name):
    with_top, without_top, channels, depth = KERAS_COUNTS[name]
    model = models[name]
    assert counts(model) == with_top
    assert model.count_params() == with_top[0]
    assert model.name == name.lower()
    assert len(model.layers) == depth
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert model.get_layer("relu").output.shape == (None, 7, 7, channels)
    headless = BUILDERS[name](weights=None, include_top=False, pooling="max")
    assert headless.count_params() == without_top
    assert headless.output_shape == (None, channels)


def test_layers_have_keras_names_and_settings(models):
    model = models["DenseNet121"]
    stem = model.get_layer("conv1_conv")
    assert stem.kernel.shape == (7, 7, 3, 64) and stem.strides == (2, 2)
    assert stem.padding == "valid" and not stem.use_bias
    pads = [layer.padding for layer in model.layers if isinstance(layer, layers.ZeroPadding2D)]
    assert pads == [((3, 3), (3, 3)), ((1, 1), (1, 1))]
    assert model.get_layer("pool1").output.shape == (None, 56, 56, 64)
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    assert len(norms) == 2 * 58 + 3 + 2  # two per dense layer, one per transition, stem, final
    assert all(bn.epsilon == 1.001e-5 and bn.momentum == 0.99 for bn in norms)
    # A dense layer: BN-ReLU-1×1 conv to 128, BN-ReLU-3×3 conv to 32, concatenated on.
    assert model.get_layer("conv2_block1_0_bn").gamma.shape == (64,)
    assert model.get_layer("conv2_block1_1_conv").kernel.shape == (1, 1, 64, 128)
    assert model.get_layer("conv2_block1_2_conv").kernel.shape == (3, 3, 128, 32)
    assert model.get_layer("conv2_block6_concat").output.shape == (None, 56, 56, 256)
    # A transition halves channels and resolution.
    assert model.get_layer("pool2_conv").kernel.shape == (1, 1, 256, 128)
    assert model.get_layer("pool2_pool").output.shape == (None, 28, 28, 128)
    assert model.get_layer("conv5_block16_concat").output.shape == (None, 7, 7, 1024)
    assert model.get_layer("avg_pool").output.shape == (None, 1024)
    assert model.get_layer("predictions").kernel.shape == (1024, 1000)
    concats = [layer for layer in model.layers if isinstance(layer, layers.Concatenate)]
    assert len(concats) == 6 + 12 + 24 + 16


@pytest.mark.parametrize(
    "pooling, expected, last",
    [
        (None, (None, 1, 1, 1024), "relu"),
        ("avg", (None, 1024), "avg_pool"),
        ("max", (None, 1024), "max_pool"),
    ],
)
def test_smallest_input_with_each_pooling(pooling, expected, last):
    model = DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert model.output_shape == expected
    assert model.layers[-1].name == last


def test_smallest_input_runs(small):
    out = small.predict(np.random.default_rng(0).uniform(-2, 2, (2, 32, 32, 3)), verbose=0)
    assert out.shape == (2, 1, 1, 1024) and out.dtype == np.float32
    assert np.all(np.isfinite(out))


def test_weights_file_round_trip(small, tmp_path):
    small.set_weights(random_weights(small, seed=1))
    path = str(tmp_path / "densenet121.weights.h5")
    small.save_weights(path)
    loaded = DenseNet121(weights=path, include_top=False, input_shape=(32, 32, 3))
    for ours, theirs in zip(loaded.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


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


def test_keras2_file_with_old_stem_names_loads_layer_by_layer(small, tmp_path):
    # Keras 2's DenseNet files name the stem "conv1/conv" and "conv1/bn" (Keras 3 renamed
    # them), so layers are paired by order, as Keras does.
    small.set_weights(random_weights(small, seed=3))
    path = str(tmp_path / "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5")
    write_keras2_file(path, small, rename=lambda name: name.replace("conv1_", "conv1/"))
    with h5py.File(path, "r") as h5file:
        assert "conv1/conv/conv1/conv/kernel:0" in h5file
    loaded = DenseNet121(weights=path, include_top=False, input_shape=(32, 32, 3))
    for ours, theirs in zip(loaded.get_weights(), small.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_imagenet_weights_are_fetched_under_keras_file_name(monkeypatch):
    requested = []

    def offline(fname=None, origin=None, **kwargs):
        requested.append((fname, origin, kwargs.get("file_hash")))
        raise OSError("no network")

    monkeypatch.setattr(data_utils, "get_file", offline)
    with pytest.raises(OSError, match="densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        DenseNet169(include_top=False)
    name = "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5"
    base = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
    assert requested == [(name, base + name, "b8c4d4c20dd625c148057b9ff1c1176b")]


def test_short_training_run_lowers_the_loss():
    model = DenseNet121(weights=None, input_shape=(32, 32, 3), classes=3)
    model.compile(optimizer=shinsou.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (4, 32, 32, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    before = [w.numpy().copy() for w in model.trainable_weights]
    losses = model.fit(x, y, epochs=3, batch_size=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0], losses
    unchanged = [
        w.path for w, old in zip(model.trainable_weights, before) if np.array_equal(w.numpy(), old)
    ]
    assert unchanged == []  # gradients reach every layer


def test_preprocess_input_is_keras_torch_mode():
    pixels = np.array([[[[255.0, 0.0, 128.0], [124.0, 116.0, 104.0]]]])
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    out = preprocess_input(pixels)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    np.testing.assert_allclose(out, (pixels / 255.0 - mean) / std, rtol=1e-6, atol=1e-6)
    first = preprocess_input(pixels.transpose(0, 3, 1, 2), data_format="channels_first")
    np.testing.assert_allclose(first, out.transpose(0, 3, 1, 2), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="3 color channels"):
        preprocess_input(np.zeros((1, 4, 4, 2)))


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


def test_outputs_match_keras_when_installed():
    theirs = keras_applications().DenseNet121(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"
    )
    ours = DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    assert_same_as_keras(ours, theirs, np.random.default_rng(6).uniform(-2, 2, (2, 32, 32, 3)))


def test_decode_predictions_checks_the_shape():
    with pytest.raises(ValueError, match="\\(samples, 1000\\)"):
        decode_predictions(np.zeros((2, 10)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": "imagenet21k"}, "weights must be None"),
        ({"weights": os.path.join("no", "such", "file.h5")}, "which is not a file"),
        ({"weights": "imagenet", "classes": 10}, "classes must be 1000"),
        ({"include_top": False, "pooling": "mean"}, "pooling must be None"),
        ({"include_top": False, "input_shape": (32, 31, 3)}, "at least 32x32"),
        ({"include_top": False, "input_shape": (32, 32)}, "three integers"),
        ({"weights": "imagenet", "input_shape": (64, 64, 3)}, "\\(224, 224, 3\\)"),
        ({"weights": "imagenet", "classifier_activation": "relu"}, "classifier activations"),
    ],
)
def test_bad_arguments_are_rejected_before_building(kwargs, message, monkeypatch):
    monkeypatch.setattr(data_utils, "get_file", pytest.fail)  # never a download
    for build in BUILDERS.values():
        with pytest.raises(ValueError, match=message):
            build(**{"weights": None, **kwargs})

"""MobileNetV2: Keras's parameter counts for every width, its layer names and settings,
input sizes (down to 32×32), the alpha / rows rules of the ImageNet weights, weights files,
a short training run, and the argument errors. Never touches the network."""

import json
import os

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications import mobilenet_v2
from shinsou.applications.mobilenet_v2 import MobileNetV2, decode_predictions, preprocess_input
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
    return MobileNetV2(weights=None)


def test_default_model_has_keras_counts_name_and_shapes(model):
    # Keras's documentation table: MobileNetV2, 3,538,984 parameters.
    assert counts(model) == (3_538_984, 3_504_872, 34_112)
    assert model.count_params() == 3_538_984
    assert model.name == "mobilenetv2_1.00_224"
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert len(model.layers) == 156


def test_layers_have_keras_names_and_settings(model):
    conv1 = model.get_layer("Conv1")
    assert conv1.kernel.shape == (3, 3, 3, 32) and conv1.strides == (2, 2)
    assert conv1.padding == "same" and not conv1.use_bias
    for bn in (layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)):
        assert (bn.epsilon, bn.momentum) == (1e-3, 0.999), bn.name
    relus = [layer for layer in model.layers if isinstance(layer, layers.ReLU)]
    assert len(relus) == 35 and all(relu.max_value == 6.0 for relu in relus)
    # The first block has no expansion and keeps Keras's old "expanded_conv" prefix.
    assert model.get_layer("expanded_conv_depthwise").kernel.shape == (3, 3, 32, 1)
    assert model.get_layer("expanded_conv_project").kernel.shape == (1, 1, 32, 16)
    with pytest.raises(ValueError):
        model.get_layer("block_0_expand")
    assert model.get_layer("block_1_expand").kernel.shape == (1, 1, 16, 96)
    assert model.get_layer("block_16_project").kernel.shape == (1, 1, 960, 320)
    assert model.get_layer("Conv_1").kernel.shape == (1, 1, 320, 1280)
    assert model.get_layer("out_relu").output.shape == (None, 7, 7, 1280)
    assert model.get_layer("predictions").kernel.shape == (1280, 1000)
    adds = {layer.name for layer in model.layers if isinstance(layer, layers.Add)}
    assert adds == {f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)}
    # Stride-2 blocks pad like TensorFlow's "same": one row/column less before an even side.
    pads = [layer for layer in model.layers if isinstance(layer, layers.ZeroPadding2D)]
    assert [pad.name for pad in pads] == [f"block_{i}_pad" for i in (1, 3, 6, 13)]
    assert all(pad.padding == ((0, 1), (0, 1)) for pad in pads)


# Counted with Keras 3.15 itself (keras.applications.MobileNetV2(weights=None, alpha=...)):
# with the top at 224×224 (total, trainable, non-trainable), and without the top (total,
# channels of the output).
KERAS_COUNTS = {
    0.35: ((1_691_208, 1_677_128, 14_080), 410_208, 1280),
    0.5: ((1_987_224, 1_968_680, 18_544), 706_224, 1280),
    0.75: ((2_663_064, 2_636_424, 26_640), 1_382_064, 1280),
    1.3: ((5_431_048, 5_386_792, 44_256), 3_766_048, 1664),
    1.4: ((6_156_712, 6_108_776, 47_936), 4_363_712, 1792),
}


@pytest.mark.parametrize("alpha", sorted(KERAS_COUNTS))
def test_width_multiplier_gives_keras_counts(alpha):
    with_top, without_top, channels = KERAS_COUNTS[alpha]
    model = MobileNetV2(weights=None, alpha=alpha)
    assert counts(model) == with_top
    assert model.name == f"mobilenetv2_{alpha:.2f}_224"
    headless = MobileNetV2(weights=None, alpha=alpha, include_top=False, input_shape=(32, 32, 3))
    assert headless.count_params() == without_top
    assert headless.output_shape == (None, 1, 1, channels)


def test_make_divisible_rounds_to_multiples_of_eight_like_keras():
    assert [mobilenet_v2._make_divisible(v) for v in (11.2, 12, 16 * 0.35, 96 * 0.35)] == [
        16,
        16,
        8,
        32,
    ]
    assert mobilenet_v2._make_divisible(1280 * 1.3) == 1664


@pytest.mark.parametrize(
    "pooling, expected", [(None, (2, 1, 1, 1280)), ("avg", (2, 1280)), ("max", (2, 1280))]
)
def test_smallest_input_runs_with_each_pooling(pooling, expected):
    model = MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_shape=(32, 32, 3), pooling=pooling
    )
    out = model.predict(np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)), verbose=0)
    assert out.shape == expected and out.dtype == np.float32
    assert np.all(np.isfinite(out))


def test_odd_and_unknown_sides_pad_like_keras():
    odd = MobileNetV2(weights=None, alpha=0.35, include_top=False, input_shape=(33, 33, 3))
    assert odd.get_layer("block_1_pad").padding == ((1, 1), (1, 1))  # 17 is odd
    assert odd.output_shape == (None, 2, 2, 1280)  # 33 → 17 → 9 → 5 → 3 → 2, as "same"
    unknown = MobileNetV2(weights=None, alpha=0.35, include_top=False)
    assert unknown.name == "mobilenetv2_0.35_None"
    assert unknown.output_shape == (None, None, None, 1280)
    assert unknown.get_layer("block_1_pad").padding == ((0, 1), (0, 1))
    assert unknown.predict(np.zeros((1, 64, 64, 3)), verbose=0).shape == (1, 2, 2, 1280)


def test_input_tensor_is_built_on_and_its_source_becomes_the_input():
    pixels = shinsou.Input((32, 32, 3))
    scaled = layers.Rescaling(1 / 127.5, offset=-1.0)(pixels)
    model = MobileNetV2(weights=None, alpha=0.35, include_top=False, input_tensor=scaled)
    assert len(model.inputs) == 1 and model.inputs[0] is pixels
    assert model.name == "mobilenetv2_0.35_None"  # as Keras: named from input_shape alone
    assert model.predict(np.full((1, 32, 32, 3), 255.0), verbose=0).shape == (1, 1, 1, 1280)


def test_weights_file_round_trip(tmp_path):
    source = MobileNetV2(weights=None, alpha=0.35, include_top=False, input_shape=(32, 32, 3))
    rng = np.random.default_rng(1)
    source.set_weights([rng.uniform(0.5, 1.0, w.shape).astype("float32") for w in source.weights])
    path = str(tmp_path / "mobilenet.weights.h5")
    source.save_weights(path)
    loaded = MobileNetV2(
        weights=path, alpha=0.35, include_top=False, input_shape=(32, 32, 3), name="copy"
    )
    assert loaded.name == "copy"
    for ours, theirs in zip(loaded.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), source.predict(x, verbose=0))


def test_imagenet_weights_for_another_size_load_the_224_file_with_a_warning(tmp_path, monkeypatch):
    # Stand in for the download: Keras's file name is asked for, our local file is returned.
    donor = MobileNetV2(weights=None, alpha=0.35, include_top=False, input_shape=(32, 32, 3))
    donor.set_weights([np.full(w.shape, 0.5, "float32") for w in donor.weights])
    path = str(tmp_path / "donor.weights.h5")
    donor.save_weights(path)
    requested = []

    def fake_get_file(fname=None, origin=None, **kwargs):
        requested.append((fname, origin, kwargs.get("cache_subdir")))
        return path

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    with pytest.warns(UserWarning, match="Weights for input shape \\(224, 224\\)"):
        model = MobileNetV2(
            weights="imagenet", alpha=0.35, include_top=False, input_shape=(32, 32, 3)
        )
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert requested == [(name, mobilenet_v2._BASE_WEIGHTS_URL + name, "models")]
    assert model.name == "mobilenetv2_0.35_224"  # Keras names it after the weights' size
    assert all(np.all(w == 0.5) for w in model.get_weights())


def test_imagenet_with_top_accepts_published_sizes_and_names_the_file_offline(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(data_utils, "get_file", offline)
    expected = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160.h5"
    with pytest.raises(OSError, match=expected) as caught:
        MobileNetV2(weights="imagenet", input_shape=(160, 160, 3))
    assert os.path.join(data_utils.shinsou_home(), "models") in str(caught.value)


def test_short_training_run_lowers_the_loss():
    model = MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3)
    model.compile(optimizer=shinsou.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    moving_mean = model.get_layer("bn_Conv1").moving_mean.numpy().copy()
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    assert not np.array_equal(model.get_layer("bn_Conv1").moving_mean.numpy(), moving_mean)


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
    theirs = keras_applications().MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_shape=(33, 33, 3), pooling="avg"
    )
    ours = MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_shape=(33, 33, 3), pooling="avg"
    )
    assert_same_as_keras(ours, theirs, np.random.default_rng(6).uniform(-1, 1, (2, 33, 33, 3)))


def test_preprocess_input_scales_pixels_to_minus_one_one():
    pixels = np.array([[[[0.0, 127.5, 255.0], [51.0, 102.0, 204.0]]]])
    out = preprocess_input(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, pixels / 127.5 - 1.0, rtol=0, atol=1e-7)
    assert pixels[0, 0, 0, 2] == 255.0  # the input is left alone
    tensor_out = preprocess_input(shinsou.ops.convert_to_tensor(pixels.astype("float32")))
    np.testing.assert_allclose(np.asarray(tensor_out), out, rtol=0, atol=1e-7)


def test_decode_predictions_uses_the_imagenet_class_index(tmp_path, monkeypatch):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    monkeypatch.setattr(data_utils, "get_file", lambda *args, **kwargs: str(path))
    scores = np.zeros((1, 1000), "float32")
    scores[0, [7, 3]] = [0.75, 0.25]
    top = decode_predictions(scores, top=2)
    assert [(cid, name) for cid, name, _ in top[0]] == [
        ("n00000007", "class_7"),
        ("n00000003", "class_3"),
    ]
    with pytest.raises(ValueError, match="\\(samples, 1000\\)"):
        decode_predictions(np.zeros((1, 10)))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"weights": "imagenet21k"}, ValueError, "weights must be None"),
        ({"weights": "imagenet", "classes": 10}, ValueError, "classes must be 1000"),
        ({"include_top": False, "pooling": "mean"}, ValueError, "pooling must be None"),
        ({"include_top": False, "input_shape": (31, 31, 3)}, ValueError, "at least 32x32"),
        (
            {"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 4)},
            ValueError,
            "3 input channels",
        ),
        ({"weights": "imagenet", "input_shape": (64, 64, 3)}, ValueError, "\\(224, 224, 3\\)"),
        ({"alpha": 0}, ValueError, "alpha must be a positive number; received alpha=0"),
        ({"alpha": "wide"}, ValueError, "alpha must be a positive number"),
        ({"alpha": 0.6, "weights": "imagenet"}, ValueError, "alpha must be one of 0.35"),
        (
            {"weights": "imagenet", "classifier_activation": "relu"},
            ValueError,
            "classifier activations",
        ),
        ({"name": 5}, TypeError, "name must be a string"),
    ],
)
def test_bad_arguments_are_rejected_before_building(kwargs, error, message, monkeypatch):
    monkeypatch.setattr(data_utils, "get_file", pytest.fail)  # never a download
    with pytest.raises(error, match=message):
        MobileNetV2(**{"weights": None, **kwargs})


def test_input_tensor_of_a_published_size_names_the_model_like_keras():
    tensor = shinsou.Input((160, 160, 3))
    assert MobileNetV2(weights=None, input_tensor=tensor).name == "mobilenetv2_1.00_160"
    small = MobileNetV2(weights=None, input_tensor=shinsou.Input((32, 32, 3)), classes=2)
    assert small.name == "mobilenetv2_1.00_224" and small.output_shape == (None, 2)


def test_input_tensor_width_must_match_input_shape():
    with pytest.raises(ValueError, match="input_tensor.shape\\[2\\] must equal input_shape\\[1\\]"):
        MobileNetV2(
            weights=None,
            include_top=False,
            input_tensor=shinsou.Input((32, 32, 3)),
            input_shape=(32, 48, 3),
        )

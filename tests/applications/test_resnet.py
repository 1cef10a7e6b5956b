"""ResNet50/101/152: Keras's parameter counts and layer names, the v1 block against PyTorch,
headless variants, input_tensor, weights files (Keras 3, Keras 2, "imagenet" without the
network), fine-tuning with Keras's transfer-learning semantics, errors."""

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.applications import imagenet_utils, resnet
from shinsou.applications.resnet import ResNet50, ResNet101, ResNet152, residual_block_v1
from shinsou.utils import data_utils
from support import torch


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def _randomize(model, seed=0):
    """Distinctive weights everywhere, with positive moving variances."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = rng.normal(0, 0.1, variable.shape)
        variable.assign(np.abs(value) + 0.5 if "variance" in variable.name else value)


@pytest.fixture(scope="module")
def resnet50():
    return ResNet50(weights=None)


@pytest.fixture(scope="module")
def headless():
    model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    _randomize(model)
    return model


def test_resnet50_counts_and_names_match_keras(resnet50):
    assert resnet50.name == "resnet50"
    assert resnet50.count_params() == 25_636_712
    assert _count(resnet50.trainable_weights) == 25_583_592
    assert _count(resnet50.non_trainable_weights) == 53_120
    names = [layer.name for layer in resnet50.layers]
    assert len(names) == 177
    assert names[1:7] == [
        "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool",
    ]  # fmt: skip
    assert names[-2:] == ["avg_pool", "predictions"]
    for name in (
        "conv2_block1_0_conv",
        "conv2_block1_3_bn",
        "conv3_block4_out",
        "conv5_block3_add",
    ):
        assert name in names
    assert "conv2_block2_0_conv" not in names  # identity shortcuts after each stage's first
    assert resnet50.get_layer("conv1_conv").kernel.shape == (7, 7, 3, 64)
    # Keras's v1 puts a stage's stride on the block's first 1x1 convolution.
    assert resnet50.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert resnet50.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert resnet50.get_layer("conv2_block1_1_conv").strides == (1, 1)
    assert resnet50.get_layer("conv4_block2_2_bn").epsilon == 1.001e-5
    assert resnet50.output_shape == (None, 1000)


@pytest.mark.parametrize(
    ("builder", "total", "trainable", "last_block"),
    [
        (ResNet101, 44_707_176, 44_601_832, "conv4_block23_out"),
        (ResNet152, 60_419_944, 60_268_520, "conv4_block36_out"),
    ],
)
def test_deeper_resnets_match_keras(builder, total, trainable, last_block):
    model = builder(weights=None)
    assert model.name == builder.__name__.lower()
    assert model.count_params() == total
    assert _count(model.trainable_weights) == trainable
    assert model.get_layer(last_block).name == last_block
    assert model.layers[-1].name == "predictions"


@pytest.mark.parametrize(
    ("pooling", "shape", "last"),
    [(None, (2, 1, 1, 2048), "conv5_block3_out"), ("avg", (2, 2048), "avg_pool"),
     ("max", (2, 2048), "max_pool")],
)  # fmt: skip
def test_headless_variants_on_small_inputs(pooling, shape, last):
    model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert model.count_params() == 23_587_712
    assert model.layers[-1].name == last
    out = model(np.ones((2, 32, 32, 3), "float32"))
    assert out.shape == shape and out.dtype == np.float32
    assert ResNet50(weights=None, include_top=False).output_shape == (None, None, None, 2048)


def test_block_v1_matches_pytorch():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    inputs = shinsou.Input((8, 8, 16))
    block = shinsou.Model(inputs, residual_block_v1(inputs, 4, stride=2, name="b"))
    _randomize(block, seed=3)
    x = np.random.default_rng(4).normal(size=(2, 8, 8, 16)).astype("float32")

    def conv(t, name, stride=1, padding=0):
        layer = block.get_layer(name)
        kernel = torch.tensor(np.asarray(layer.kernel).transpose(3, 2, 0, 1))
        bias = torch.tensor(np.asarray(layer.bias))
        return torch.nn.functional.conv2d(t, kernel, bias, stride=stride, padding=padding)

    def bn(t, name):
        layer = block.get_layer(name)
        stats = [torch.tensor(np.asarray(w)) for w in layer.weights]  # gamma, beta, mean, var
        return torch.nn.functional.batch_norm(
            t, stats[2], stats[3], stats[0], stats[1], training=False, eps=1.001e-5
        )

    t = torch.tensor(x.transpose(0, 3, 1, 2))
    shortcut = bn(conv(t, "b_0_conv", stride=2), "b_0_bn")
    h = torch.relu(bn(conv(t, "b_1_conv", stride=2), "b_1_bn"))
    h = torch.relu(bn(conv(h, "b_2_conv", padding=1), "b_2_bn"))
    expected = torch.relu(shortcut + bn(conv(h, "b_3_conv"), "b_3_bn"))
    ours = np.asarray(block(x)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_input_tensor_becomes_the_model_input(headless):
    source = shinsou.Input((32, 32, 3))
    model = ResNet50(weights=None, include_top=False, input_tensor=resnet.preprocess_input(source))
    assert model.inputs == [source]
    model.set_weights(headless.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    expected = np.asarray(headless(resnet.preprocess_input(x)))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-4)
    # As in Keras, the top (global pooling) takes a tensor of any size.
    any_size = ResNet50(weights=None, input_tensor=shinsou.Input((None, None, 3)))
    assert any_size.output_shape == (None, 1000)


def write_keras2_weights(path, model):
    """A Keras 2 application weights file of ``model`` (see test_vgg16)."""
    with h5py.File(path, "w") as h5file:
        for layer in model.layers:
            names = [f"{layer.name}/{variable.name}:0" for variable in layer.weights]
            group = h5file.create_group(layer.name)
            for name, variable in zip(names, layer.weights):
                group[name] = np.asarray(variable)
            group.attrs["weight_names"] = [name.encode() for name in names]
        h5file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]


def _same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_keras3_weights_file_round_trip(tmp_path, headless):
    path = str(tmp_path / "resnet50_notop.weights.h5")
    headless.save_weights(path)
    assert _same_weights(headless, ResNet50(weights=path, include_top=False))


def test_imagenet_weights_use_kerass_file_without_the_network(tmp_path, headless, monkeypatch):
    path = tmp_path / "resnet50_notop.h5"
    write_keras2_weights(path, headless)  # BN weights in Keras's order: gamma, beta, mean, var
    requested = []

    def fake_get_file(fname, origin, **kwargs):
        requested.append((fname, origin, kwargs))
        return str(path)

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    loaded = ResNet50(include_top=False, input_shape=(32, 32, 3))
    assert _same_weights(headless, loaded)
    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert requested == [
        (
            name,
            f"https://storage.googleapis.com/tensorflow/keras-applications/resnet/{name}",
            {"cache_subdir": "models", "file_hash": "4d473c1dd8becc155b73f8504c6f6626"},
        )
    ]


def test_fine_tuning_follows_kerass_transfer_learning_guide():
    base = ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    base.trainable = False
    inputs = shinsou.Input((32, 32, 3))
    outputs = layers.Dense(10, name="head")(base(inputs, training=False))
    model = shinsou.Model(inputs, outputs)
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = np.arange(4)
    bn = base.get_layer("conv1_bn")
    conv = base.get_layer("conv1_conv")
    stats = [np.array(bn.moving_mean), np.array(bn.moving_variance)]
    kernel, gamma = np.array(conv.kernel), np.array(bn.gamma)

    model.compile(optimizer=shinsou.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    assert len(model.trainable_weights) == 2
    head_before = np.array(model.get_layer("head").kernel)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # one step
    assert not np.array_equal(head_before, model.get_layer("head").kernel)
    assert np.array_equal(kernel, conv.kernel) and np.array_equal(gamma, bn.gamma)
    assert np.array_equal(stats[0], bn.moving_mean)
    assert np.array_equal(stats[1], bn.moving_variance)

    base.trainable = True  # unfreeze, recompile: the base trains, still in inference mode
    model.compile(optimizer=shinsou.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy")
    assert len(model.trainable_weights) == 2 + len(base.trainable_weights)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert not np.array_equal(kernel, conv.kernel) and not np.array_equal(gamma, bn.gamma)
    assert np.array_equal(stats[0], bn.moving_mean)  # training=False: statistics are kept
    assert np.array_equal(stats[1], bn.moving_variance)

    # Called without training=False, an unfrozen base updates its moving statistics.
    free = shinsou.Model(inputs, layers.Dense(10)(base(inputs)))
    free.compile(optimizer=shinsou.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy")
    free.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert not np.array_equal(stats[0], bn.moving_mean)
    assert not np.array_equal(stats[1], bn.moving_variance)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": 10}, "resnet50: with weights='imagenet' and include_top=True, classes"),
        ({"weights": None, "include_top": False, "input_shape": (31, 31, 3)}, "at least 32x32"),
        ({"weights": None, "include_top": False, "pooling": "mean"}, "received pooling='mean'"),
        ({"weights": "resnet"}, "resnet50: weights must be None.*'resnet'"),
        ({"classifier_activation": "sigmoid"}, "only None and 'softmax' classifier activations"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNet50(**kwargs)


def test_preprocess_is_caffe_mode():
    image = np.array([[[[0.0, 127.5, 255.0]]]])
    expected = imagenet_utils.preprocess_input(image, mode="caffe")
    np.testing.assert_array_equal(resnet.preprocess_input(image), expected)
    with pytest.raises(ValueError, match="expected a batch of predictions"):
        resnet.decode_predictions(np.zeros((3,)))

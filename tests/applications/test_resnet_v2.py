"""ResNet50V2/101V2/152V2: Keras's parameter counts and layer names, the pre-activation block
against PyTorch, headless variants, "tf"-mode preprocessing, its ImageNet files, errors."""

import numpy as np
import pytest

import shinsou
from shinsou.applications import imagenet_utils, resnet_v2
from shinsou.applications.resnet_v2 import (
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    residual_block_v2,
)
from shinsou.utils import data_utils
from support import torch


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


@pytest.mark.parametrize(
    ("builder", "total", "trainable", "deepest"),
    [
        (ResNet50V2, 25_613_800, 25_568_360, "conv4_block6_out"),
        (ResNet101V2, 44_675_560, 44_577_896, "conv4_block23_out"),
        (ResNet152V2, 60_380_648, 60_236_904, "conv4_block36_out"),
    ],
)
def test_counts_and_names_match_keras(builder, total, trainable, deepest):
    model = builder(weights=None)
    assert model.name == builder.__name__.lower()
    assert model.count_params() == total
    assert _count(model.trainable_weights) == trainable
    assert _count(model.non_trainable_weights) == total - trainable
    names = [layer.name for layer in model.layers]
    assert names[1:5] == ["conv1_pad", "conv1_conv", "pool1_pad", "pool1_pool"]  # no stem BN
    assert names[-4:] == ["post_bn", "post_relu", "avg_pool", "predictions"]
    assert deepest in names and "conv2_block1_preact_bn" in names
    assert model.get_layer("conv1_conv").use_bias
    # Each stage but the last downsamples in its last block (strided 3x3, pooled shortcut).
    assert model.get_layer("conv2_block3_2_conv").strides == (2, 2)
    assert model.get_layer("conv5_block3_2_conv").strides == (1, 1)
    assert not model.get_layer("conv3_block1_1_conv").use_bias
    assert sum(isinstance(layer, shinsou.layers.MaxPooling2D) for layer in model.layers) == 4


@pytest.mark.parametrize(("pooling", "shape"), [(None, (1, 1, 1, 2048)), ("avg", (1, 2048))])
def test_headless_variants(pooling, shape):
    model = ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert model.count_params() == 23_564_800
    assert model(np.ones((1, 32, 32, 3), "float32")).shape == shape


@pytest.mark.parametrize(("stride", "conv_shortcut"), [(2, False), (1, True)])
def test_block_v2_matches_pytorch(stride, conv_shortcut):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    functional = torch.nn.functional
    inputs = shinsou.Input((8, 8, 16))
    outputs = residual_block_v2(inputs, 4, stride=stride, conv_shortcut=conv_shortcut, name="b")
    block = shinsou.Model(inputs, outputs)
    rng = np.random.default_rng(5)
    for variable in block.weights:
        value = rng.normal(0, 0.2, variable.shape)
        variable.assign(np.abs(value) + 0.5 if "variance" in variable.name else value)
    x = np.random.default_rng(6).normal(size=(2, 8, 8, 16)).astype("float32")

    def conv(t, name, **kwargs):
        layer = block.get_layer(name)
        kernel = torch.tensor(np.asarray(layer.kernel).transpose(3, 2, 0, 1))
        bias = torch.tensor(np.asarray(layer.bias)) if layer.use_bias else None
        return functional.conv2d(t, kernel, bias, **kwargs)

    def bn_relu(t, name):
        gamma, beta, mean, var = (
            torch.tensor(np.asarray(w)) for w in block.get_layer(name).weights
        )
        return torch.relu(functional.batch_norm(t, mean, var, gamma, beta, False, eps=1.001e-5))

    t = torch.tensor(x.transpose(0, 3, 1, 2))
    preact = bn_relu(t, "b_preact_bn")
    if conv_shortcut:
        shortcut = conv(preact, "b_0_conv", stride=stride)
    else:
        shortcut = t[:, :, ::stride, ::stride]  # a 1x1 max pooling with stride 2
    h = bn_relu(conv(preact, "b_1_conv"), "b_1_bn")
    h = bn_relu(conv(h, "b_2_conv", stride=stride, padding=1), "b_2_bn")
    expected = shortcut + conv(h, "b_3_conv")
    ours = np.asarray(block(x)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_imagenet_weights_request_kerass_file(tmp_path, monkeypatch):
    source = ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = str(tmp_path / "resnet50v2_notop.weights.h5")
    source.save_weights(path)
    requested = []

    def fake_get_file(fname, origin, **kwargs):
        requested.append((fname, origin, kwargs["file_hash"]))
        return path

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    ResNet50V2(include_top=False, input_shape=(32, 32, 3))
    name = "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert requested == [
        (
            name,
            f"https://storage.googleapis.com/tensorflow/keras-applications/resnet/{name}",
            "fac2f116257151a9d068a22e544a4917",
        )
    ]


def test_preprocess_is_tf_mode():
    image = np.array([[[[0.0, 127.5, 255.0]]]])
    np.testing.assert_array_equal(resnet_v2.preprocess_input(image), [[[[-1.0, 0.0, 1.0]]]])
    expected = imagenet_utils.preprocess_input(image, mode="tf")
    np.testing.assert_array_equal(resnet_v2.preprocess_input(image), expected)
    with pytest.raises(ValueError, match="expected a batch of predictions"):
        resnet_v2.decode_predictions(np.zeros((1, 2, 1000)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="resnet50v2: with weights='imagenet'.*classes=5"):
        ResNet50V2(classes=5)
    with pytest.raises(ValueError, match="resnet101v2: the input must be at least 32x32"):
        ResNet101V2(weights=None, include_top=False, input_shape=(8, 8, 3))

"""VGG19: Keras's parameter counts and layer names, headless variants, its own ImageNet file
(fetched without the network), preprocessing, errors."""

import numpy as np
import pytest

from shinsou.applications import imagenet_utils, vgg19
from shinsou.applications.vgg19 import VGG19
from shinsou.utils import data_utils


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def test_parameter_counts_and_names_match_keras():
    model = VGG19(weights=None)
    assert model.name == "vgg19"
    assert model.count_params() == 143_667_240
    assert _count(model.trainable_weights) == 143_667_240
    assert _count(model.non_trainable_weights) == 0
    names = [layer.name for layer in model.layers[1:]]
    assert names[:3] == ["block1_conv1", "block1_conv2", "block1_pool"]
    assert names[6:11] == [f"block3_conv{i}" for i in range(1, 5)] + ["block3_pool"]
    assert names[-9:] == [
        "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
        "flatten", "fc1", "fc2", "predictions",
    ]  # fmt: skip


@pytest.mark.parametrize(("pooling", "shape"), [(None, (1, 1, 1, 512)), ("max", (1, 512))])
def test_headless_variants(pooling, shape):
    model = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert model.count_params() == 20_024_384
    assert model(np.ones((1, 32, 32, 3), "float32")).shape == shape


def test_imagenet_weights_request_kerass_vgg19_file(tmp_path, monkeypatch):
    source = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = str(tmp_path / "vgg19_notop.weights.h5")
    source.save_weights(path)  # served in Keras 3's layout: loading goes by content
    requested = []

    def fake_get_file(fname, origin, **kwargs):
        requested.append((fname, origin, kwargs["file_hash"]))
        return path

    monkeypatch.setattr(data_utils, "get_file", fake_get_file)
    loaded = VGG19(include_top=False, input_shape=(32, 32, 3))
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), loaded.get_weights()))
    name = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert requested == [
        (
            name,
            f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{name}",
            "253f8cb515780f3b799900260a226db6",
        )
    ]


def test_bad_arguments():
    with pytest.raises(ValueError, match="vgg19: with weights='imagenet'.*received classes=2"):
        VGG19(classes=2)
    with pytest.raises(ValueError, match="vgg19: the ImageNet weights need 3 input channels"):
        VGG19(include_top=False, input_shape=(64, 64, 1))


def test_preprocess_is_caffe_mode():
    image = np.array([[[[10.0, 20.0, 30.0]]]])
    expected = imagenet_utils.preprocess_input(image, mode="caffe")
    np.testing.assert_array_equal(vgg19.preprocess_input(image), expected)
    with pytest.raises(ValueError, match="expected a batch of predictions"):
        vgg19.decode_predictions(np.zeros((1, 999)))

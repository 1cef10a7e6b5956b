"""from_torchvision: torchvision's parameter counts, eval-mode parity with PyTorch reference
modules whose random state dicts are loaded from .safetensors and .pth files, the padding,
pooling and flattening blocks against torch, and the errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import shinsou
from shinsou.applications import _torchvision_blocks as blocks
from shinsou.applications.torchvision_models import from_torchvision
from support import random_array, torch

try:
    import safetensors.numpy as safetensors_numpy
except ImportError:
    safetensors_numpy = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# torchvision's documented parameter counts (its weights' "num_params": parameters only,
# without BatchNorm's running statistics), and the BatchNorm channels of each model.
TORCHVISION_PARAMETERS = {
    "alexnet": (61_100_840, 0),
    "vgg11": (132_863_336, 0),
    "vgg11_bn": (132_868_840, 2_752),
    "vgg13": (133_047_848, 0),
    "vgg13_bn": (133_053_736, 2_944),
    "vgg16": (138_357_544, 0),
    "vgg16_bn": (138_365_992, 4_224),
    "vgg19": (143_667_240, 0),
    "vgg19_bn": (143_678_248, 5_504),
    "googlenet": (6_624_904, 7_280),
    "resnet18": (11_689_512, 4_800),
    "resnet34": (21_797_672, 8_512),
    "resnet50": (25_557_032, 26_560),
    "resnet101": (44_549_160, 52_672),
    "resnet152": (60_192_808, 75_712),
    "densenet121": (7_978_856, 41_824),
    "densenet161": (28_681_000, 109_968),
    "densenet169": (14_149_480, 79_200),
    "densenet201": (20_013_928, 114_528),
    "mobilenet_v2": (3_504_872, 17_056),
}


def torch_reference():
    from applications import torch_reference as module

    return module


@pytest.fixture
def cheap_initializers(monkeypatch):
    """Zero initial weights: parameter counts do not depend on values, and a loaded model
    must get every value from the file. Skips drawing ~140M random numbers per VGG."""
    monkeypatch.setattr(blocks, "_conv_initializer", lambda: "zeros")
    monkeypatch.setattr(blocks, "_dense_initializer", lambda: "zeros")


@pytest.mark.parametrize("name", list(TORCHVISION_PARAMETERS))
def test_parameter_counts_equal_torchvisions(name, cheap_initializers):
    parameters, batch_norm_channels = TORCHVISION_PARAMETERS[name]
    model = from_torchvision(name)
    assert sum(w.size for w in model.trainable_weights) == parameters
    # Keras also counts the moving mean and variance (torch's running_mean/var buffers).
    assert model.count_params() == parameters + 2 * batch_norm_channels
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    assert model.name == name


@requires_torch
@pytest.mark.parametrize("name", ["googlenet", "resnet50", "densenet121", "mobilenet_v2"])
def test_reference_modules_have_torchvisions_parameter_counts(name):
    parameters, batch_norm_channels = TORCHVISION_PARAMETERS[name]
    kwargs = {"aux_logits": False} if name == "googlenet" else {}
    module = torch_reference().build(name, initialized=None, **kwargs)
    assert sum(p.numel() for p in module.parameters()) == parameters
    buffers = sum(b.numel() for n, b in module.named_buffers() if "num_batches" not in n)
    assert buffers == 2 * batch_norm_channels


@requires_torch
@pytest.mark.parametrize(
    "name",
    ["alexnet", "vgg11", "vgg11_bn", "googlenet", "resnet18", "resnet50", "densenet121"]
    + ["mobilenet_v2"],
)
def test_model_loads_exactly_the_reference_keys(name, cheap_initializers):
    kwargs = {"aux_logits": False} if name == "googlenet" else {}
    module = torch_reference().build(name, initialized=None, **kwargs)
    expected = {
        key: tuple(value.shape)
        for key, value in module.state_dict().items()
        if not key.endswith("num_batches_tracked")
    }
    sizes = {"alexnet": (224, 224, 3), "vgg11": (32, 32, 3), "vgg11_bn": (32, 32, 3)}
    model = from_torchvision(name, input_shape=sizes.get(name, (64, 64, 3)))
    assert blocks.torch_state_dict_shapes(model) == expected


# -- parity -----------------------------------------------------------------------------------


def save_state_dict(module, folder, file_format):
    state_dict = module.state_dict()
    if file_format == "pth":
        path = folder / "weights.pth"
        torch.save(state_dict, path)
        return path
    path = folder / "weights.safetensors"
    arrays = {key: value.detach().numpy() for key, value in state_dict.items()}
    safetensors_numpy.save_file(arrays, str(path))
    return path


def check_torchvision_parity(name, tmp_path, file_format, size, num_classes=1000, **kwargs):
    """Random reference weights and BN statistics, saved and loaded; outputs within 1e-4."""
    if file_format == "safetensors" and safetensors_numpy is None:
        pytest.skip("safetensors is not installed")
    reference = torch_reference().build(name, num_classes, initialized=False, **kwargs)
    torch_reference().randomize(reference, seed=1)
    images = random_array((2, *size, 3), seed=2)
    with torch.no_grad():
        expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    path = save_state_dict(reference, tmp_path, file_format)
    del reference
    model = from_torchvision(name, weights=path, num_classes=num_classes, input_shape=(*size, 3))
    outputs = model(images)
    assert outputs.dtype == np.float32
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-4, atol=1e-4 * scale)
    return model


@requires_torch
@pytest.mark.parametrize(
    ("name", "file_format", "size"),
    [
        ("alexnet", "pth", (224, 224)),  # adaptive pooling is the identity: 6x6 features
        ("vgg11_bn", "pth", (224, 32)),  # 7x1 features: the identity down, repeated across
        ("resnet18", "safetensors", (64, 64)),
        ("resnet18", "pth", (40, 56)),
        ("resnet50", "safetensors", (32, 32)),
        ("densenet121", "pth", (32, 40)),
        ("mobilenet_v2", "safetensors", (64, 64)),
    ],
)
def test_outputs_match_the_torch_reference(name, file_format, size, tmp_path, cheap_initializers):
    # Zero initial weights: any weight the file does not fill would show in the outputs.
    check_torchvision_parity(name, tmp_path, file_format, size)


@requires_torch
def test_googlenet_matches_torchvisions_loaded_model(tmp_path, cheap_initializers):
    # torchvision's googlenet(weights=...) transforms its input and its state dicts hold the
    # auxiliary classifiers, which eval mode never runs: loading ignores them.
    model = check_torchvision_parity(
        "googlenet", tmp_path, "safetensors", (64, 64), aux_logits=True, transform_input=True
    )
    assert model.get_layer("transform_input") is not None


@requires_torch
def test_googlenet_without_transform_input(tmp_path):
    reference = torch_reference().build("googlenet", initialized=False, aux_logits=False)
    torch_reference().randomize(reference, seed=3)
    path = save_state_dict(reference, tmp_path, "pth")
    images = random_array((1, 48, 40, 3), seed=4)
    with torch.no_grad():
        expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    model = from_torchvision("googlenet", path, input_shape=(48, 40, 3), transform_input=False)
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=1e-4, atol=1e-4 * scale)


def test_googlenet_transforms_its_input_only_when_weights_are_loaded():
    names = [layer.name for layer in from_torchvision("googlenet", input_shape=(32, 32, 3)).layers]
    assert "transform_input" not in names
    model = from_torchvision("googlenet", input_shape=(32, 32, 3), transform_input=True)
    assert model.get_layer("transform_input").get_config()["scale"] == pytest.approx(
        [0.458, 0.448, 0.45]
    )


@requires_torch
def test_num_classes_other_than_1000(tmp_path, cheap_initializers):
    model = check_torchvision_parity("resnet18", tmp_path, "pth", (32, 32), num_classes=10)
    assert model.output_shape == (None, 10)
    with pytest.raises(ValueError, match=r"fc\.weight \(file \(10, 512\), model \(1000, 512\)\)"):
        from_torchvision("resnet18", weights=tmp_path / "weights.pth", input_shape=(32, 32, 3))


@requires_torch
def test_state_dict_mismatches_are_listed_in_one_error(tmp_path):
    state_dict = torch_reference().build("resnet18", initialized=False).state_dict()
    del state_dict["layer1.0.bn1.running_var"]
    state_dict["layer9.weight"] = torch.zeros(3)
    state_dict["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / "broken.pth"
    torch.save(state_dict, path)
    with pytest.raises(ValueError) as error:
        from_torchvision("resnet18", weights=path)
    message = str(error.value)
    assert "1 missing keys: layer1.0.bn1.running_var" in message
    assert "1 unexpected keys: layer9.weight" in message
    assert "1 shape mismatches: conv1.weight (file (64, 3, 3, 3), model (64, 3, 7, 7))" in message


def test_weights_load_into_the_named_layers():
    inputs = shinsou.Input((5, 5, 2))
    x = blocks.conv2d(inputs, "features.0", 4, 3, stride=2, padding=1)
    x = blocks.batch_norm(x, "features.1")
    x = blocks.depthwise_conv2d(x, "features.2", 3, padding=1)
    x = blocks.dense(blocks.flatten_channels_first(x, "flatten"), "fc", 3)
    model = shinsou.Model(inputs, x)
    rng = np.random.default_rng(0)
    state_dict = {
        "features.0.weight": rng.standard_normal((4, 2, 3, 3)),
        "features.0.bias": rng.standard_normal(4),
        "features.1.weight": rng.standard_normal(4),
        "features.1.bias": rng.standard_normal(4),
        "features.1.running_mean": rng.standard_normal(4),
        "features.1.running_var": rng.random(4),
        "features.1.num_batches_tracked": np.array(7),
        "features.2.weight": rng.standard_normal((4, 1, 3, 3)),
        "fc.weight": rng.standard_normal((3, 36)),
        "fc.bias": rng.standard_normal(3),
    }
    blocks.load_state_dict(model, state_dict, "test")
    conv = model.get_layer("features.0")
    np.testing.assert_array_equal(
        conv.kernel.numpy(), state_dict["features.0.weight"].transpose(2, 3, 1, 0).astype("float32")
    )
    bn = model.get_layer("features.1")
    np.testing.assert_array_equal(
        bn.moving_variance.numpy(), state_dict["features.1.running_var"].astype("float32")
    )
    depthwise = model.get_layer("features.2")
    assert depthwise.kernel.shape == (3, 3, 4, 1)
    np.testing.assert_array_equal(
        depthwise.kernel.numpy()[..., 0],
        state_dict["features.2.weight"][:, 0].transpose(1, 2, 0).astype("float32"),
    )
    assert all(w.dtype == np.float32 for w in model.weights)


def test_legacy_densenet_keys_are_renamed():
    assert blocks._modern_key("features.denseblock1.denselayer1.norm.1.weight") == (
        "features.denseblock1.denselayer1.norm1.weight"
    )
    assert blocks._modern_key("features.transition1.norm.weight") == (
        "features.transition1.norm.weight"
    )


# -- blocks against torch ---------------------------------------------------------------------


def run_block(block, array, *args, **kwargs):
    inputs = shinsou.Input(array.shape[1:])
    return shinsou.Model(inputs, block(inputs, "block", *args, **kwargs))(array).numpy()


@requires_torch
@pytest.mark.parametrize(
    ("size", "output_size"),
    [((6, 6), (6, 6)), ((12, 18), (6, 6)), ((1, 1), (7, 7)), ((14, 1), (7, 7)), ((2, 21), (6, 7))],
)
def test_adaptive_average_pool_matches_torch(size, output_size):
    array = random_array((2, *size, 3), seed=5)
    ours = run_block(blocks.adaptive_average_pool, array, output_size)
    tensor = torch.from_numpy(array.transpose(0, 3, 1, 2).copy())
    theirs = torch.nn.functional.adaptive_avg_pool2d(tensor, output_size)
    np.testing.assert_allclose(ours, theirs.numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)


def test_adaptive_average_pool_rejects_non_uniform_bins():
    with pytest.raises(ValueError, match=r"spatial size \(2, 2\) cannot be pooled to \(7, 7\)"):
        blocks.adaptive_average_pool(shinsou.Input((2, 2, 8)), "avgpool", (7, 7))


@requires_torch
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "ceil_mode"),
    [(15, 3, 2, 0, True), (16, 3, 2, 0, True), (7, 2, 2, 0, True), (2, 3, 2, 0, True)]
    + [(9, 3, 1, 1, True), (9, 3, 2, 1, False), (10, 3, 2, 1, False)],
)
def test_max_pool_after_relu_matches_torch(size, kernel, stride, padding, ceil_mode):
    array = np.maximum(random_array((2, size, size + 1, 3), seed=6), 0)
    ours = run_block(blocks.max_pool_after_relu, array, kernel, stride, padding, ceil_mode)
    pool = torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    theirs = pool(torch.from_numpy(array.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_array_equal(ours, theirs.transpose(0, 2, 3, 1))


@requires_torch
@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(7, 2, 3), (3, 1, 1), (3, 2, 1), (1, 2, 0)]
)
def test_conv2d_pads_like_torch(kernel, stride, padding):
    array = random_array((1, 9, 8, 3), seed=7)
    inputs = shinsou.Input(array.shape[1:])
    model = shinsou.Model(inputs, blocks.conv2d(inputs, "conv", 4, kernel, stride, padding))
    conv = torch.nn.Conv2d(3, 4, kernel, stride, padding)
    state = {f"conv.{key}": value.detach().numpy() for key, value in conv.state_dict().items()}
    blocks.load_state_dict(model, state, "test")
    theirs = conv(torch.from_numpy(array.transpose(0, 3, 1, 2).copy())).detach().numpy()
    np.testing.assert_allclose(
        model(array).numpy(), theirs.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5
    )


# -- shapes, configs and errors ---------------------------------------------------------------


def test_free_spatial_size_where_the_architecture_allows():
    model = from_torchvision("resnet18", num_classes=3, input_shape=(None, None, 3))
    assert model(np.zeros((1, 40, 40, 3), "float32")).shape == (1, 3)
    assert model(np.zeros((1, 33, 65, 3), "float32")).shape == (1, 3)
    with pytest.raises(ValueError, match="needs a known height and width"):
        from_torchvision("googlenet", input_shape=(None, None, 3))


def test_keras_file_round_trip(tmp_path):
    # Only standard Keras layers: the model saves and reloads as an ordinary .keras file.
    model = from_torchvision(
        "googlenet", num_classes=5, input_shape=(32, 32, 3), transform_input=True
    )
    model.save(tmp_path / "googlenet.keras")
    restored = shinsou.models.load_model(tmp_path / "googlenet.keras")
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    images = random_array((2, 32, 32, 3), seed=8)
    np.testing.assert_array_equal(restored(images).numpy(), model(images).numpy())


def test_unknown_name_lists_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown architecture 'resnet20'; choose one of \[.*'alexnet'"
    ):
        from_torchvision("resnet20")


@pytest.mark.parametrize("num_classes", [0, -3, 2.5, True, "10"])
def test_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        from_torchvision("resnet18", num_classes=num_classes)


@pytest.mark.parametrize("input_shape", [(224, 224, 1), (224, 224), (0, 224, 3), (3, 224, 224)])
def test_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, 3\)"):
        from_torchvision("resnet18", input_shape=input_shape)


def test_input_too_small_for_the_architecture():
    with pytest.raises(
        ValueError, match=r"input_shape=\(16, 16, 3\) does not fit the architecture"
    ):
        from_torchvision("densenet121", input_shape=(16, 16, 3))


def test_transform_input_is_for_googlenet_only():
    with pytest.raises(ValueError, match="transform_input applies to 'googlenet' only"):
        from_torchvision("resnet18", transform_input=True)


def test_bad_weights(tmp_path):
    with pytest.raises(ValueError, match="'IMAGENET1K_V1' is not a .safetensors, .pth or .pt file"):
        from_torchvision("resnet18", weights="IMAGENET1K_V1")
    with pytest.raises(FileNotFoundError, match="no weights file at"):
        from_torchvision("resnet18", weights=tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="weights must be None or the path"):
        from_torchvision("resnet18", weights=True)


def test_pth_without_torch_names_torch(tmp_path, monkeypatch):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="needs 'torch'"):
        from_torchvision("resnet18", weights=path)


def test_safetensors_without_the_package_names_it(tmp_path, monkeypatch):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="needs the 'safetensors' package"):
        from_torchvision("resnet18", weights=path)


@requires_torch
def test_pth_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "model": {"w": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="does not hold a state dict"):
        from_torchvision("resnet18", weights=path)

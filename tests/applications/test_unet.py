import numpy as np
import pytest

import shinsou
from shinsou.applications import UNet
from shinsou.saving import load_model
from support import random_array, requires_torch, torch


def paper_parameter_count(in_channels=1, classes=2, filters=64, depth=5):
    """The U-Net's parameters counted from the paper's description, layer by layer."""
    total, channels = 0, in_channels
    for level in range(depth):  # two 3×3 convolutions per level going down
        width = filters * 2**level
        total += 9 * channels * width + width + 9 * width * width + width
        channels = width
    for level in range(depth - 2, -1, -1):  # up-convolution, then two 3×3 on the concat
        width = filters * 2**level
        total += 4 * channels * width + width
        total += 9 * 2 * width * width + width + 9 * width * width + width
        channels = width
    return total + channels * classes + classes


# The paper's U-Net: no batch normalization, logits out (the defaults add both).
PAPER = {"batch_norm": False, "final_activation": None}


@pytest.fixture(scope="module")
def paper_unet():
    """The paper's network: 572×572 single-channel tiles, two classes, unpadded."""
    return UNet((572, 572, 1), num_classes=2, padding="valid", **PAPER)


def test_paper_network_sizes_and_parameter_count(paper_unet):
    assert paper_parameter_count() == 31_030_658
    assert paper_unet.count_params() == 31_030_658
    assert paper_unet.output_shape == (None, 388, 388, 2)
    # The figure's map sizes along the contracting and the expansive path.
    sizes = {
        name: paper_unet.get_layer(name).output.shape[1:]
        for name in ("down1_conv2", "down4_conv2", "down5_conv2", "up4_upconv", "up1_conv2")
    }
    assert sizes == {
        "down1_conv2": (568, 568, 64),
        "down4_conv2": (64, 64, 512),
        "down5_conv2": (28, 28, 1024),
        "up4_upconv": (56, 56, 512),
        "up1_conv2": (388, 388, 64),
    }
    assert paper_unet.get_layer("up4_crop").cropping == ((4, 4), (4, 4))
    assert paper_unet.get_layer("up1_crop").cropping == ((88, 88), (88, 88))


def test_same_padding_keeps_the_size_and_the_weights():
    model = UNet((None, None, 1), num_classes=2, **PAPER)
    assert model.output_shape == (None, None, None, 2)
    assert model.count_params() == 31_030_658
    assert not any("crop" in layer.name for layer in model.layers)


def test_small_configuration_and_options():
    model = UNet((32, 32, 3), num_classes=5, filters=16, depth=3, **PAPER)
    channels = [model.get_layer(f"down{level}_conv2").filters for level in (1, 2, 3)]
    assert channels == [16, 32, 64]
    assert [model.get_layer(f"up{level}_upconv").filters for level in (2, 1)] == [32, 16]
    assert model.count_params() == paper_parameter_count(3, 5, filters=16, depth=3)
    outputs = model.predict(random_array((2, 32, 32, 3)), verbose=0)
    assert outputs.shape == (2, 32, 32, 5) and outputs.dtype == np.float32

    normalized = UNet((32, 32, 3), 5, filters=16, depth=3, batch_norm=True, dropout=0.5)
    assert normalized.get_layer("down1_conv1").use_bias is False
    assert normalized.get_layer("down1_bn1").output.shape == (None, 32, 32, 16)
    assert normalized.get_layer("down3_dropout").rate == 0.5
    probabilities = UNet((16, 16, 1), 3, filters=4, depth=2, final_activation="softmax")
    summed = probabilities.predict(random_array((1, 16, 16, 1)), verbose=0).sum(axis=-1)
    np.testing.assert_allclose(summed, 1.0, rtol=1e-5)


def torch_unet(in_channels, classes, filters, depth, padding):
    """An independent PyTorch U-Net: the paper's blocks, skip maps centre-cropped."""
    nn = torch.nn
    pad = 1 if padding == "same" else 0

    def twice(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=pad),
            nn.ReLU(),
        )

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            widths = [filters * 2**level for level in range(depth)]
            self.down = nn.ModuleList(
                twice(cin, cout) for cin, cout in zip([in_channels, *widths], widths)
            )
            self.upconv = nn.ModuleList(
                nn.ConvTranspose2d(2 * w, w, 2, stride=2) for w in widths[-2::-1]
            )
            self.up = nn.ModuleList(twice(2 * w, w) for w in widths[-2::-1])
            self.head = nn.Conv2d(filters, classes, 1)

        def forward(self, x):
            skips = []
            for index, block in enumerate(self.down):
                x = block(x)
                if index < depth - 1:
                    skips.append(x)
                    x = nn.functional.max_pool2d(x, 2)
            for upconv, block, skip in zip(self.upconv, self.up, reversed(skips)):
                x = upconv(x)
                top = (skip.shape[2] - x.shape[2]) // 2
                left = (skip.shape[3] - x.shape[3]) // 2
                skip = skip[:, :, top : top + x.shape[2], left : left + x.shape[3]]
                x = block(torch.cat([skip, x], dim=1))
            return self.head(x)

    return Net()


@requires_torch
@pytest.mark.parametrize("padding, size", [("same", 16), ("valid", 44)])
def test_forward_matches_pytorch(padding, size):
    model = UNet((size, size, 2), num_classes=3, filters=4, depth=3, padding=padding, **PAPER)
    reference = torch_unet(2, 3, 4, 3, padding)
    pairs = []
    for level, block in enumerate(reference.down, start=1):
        pairs += [(f"down{level}_conv1", block[0]), (f"down{level}_conv2", block[2])]
    for level, upconv, block in zip((2, 1), reference.upconv, reference.up):
        pairs += [(f"up{level}_upconv", upconv)]
        pairs += [(f"up{level}_conv1", block[0]), (f"up{level}_conv2", block[2])]
    pairs.append(("predictions", reference.head))
    with torch.no_grad():
        for name, module in pairs:
            layer = model.get_layer(name)
            # Conv2D (kh, kw, in, out) and Conv2DTranspose (kh, kw, out, in) both map to
            # PyTorch's layouts (out, in, kh, kw) and (in, out, kh, kw) by the same transpose.
            module.weight.copy_(torch.from_numpy(layer.kernel.numpy().transpose(3, 2, 0, 1)))
            bias = random_array(module.bias.shape, seed=len(name), low=-0.1, high=0.1)
            module.bias.copy_(torch.from_numpy(bias))
            layer.bias.assign(bias)
    images = random_array((2, size, size, 2), seed=1)
    expected = reference(torch.from_numpy(images).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    outputs = model.predict(images, verbose=0)
    assert outputs.shape == tuple(expected.shape)
    np.testing.assert_allclose(outputs, expected.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_short_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    images = rng.random((16, 16, 16, 1), dtype=np.float32)
    masks = (images[..., 0] > 0.5).astype(np.int32)  # segment the bright pixels
    model = UNet((16, 16, 1), 2, filters=4, depth=3, batch_norm=True, dropout=0.1)
    model.compile(optimizer=shinsou.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    losses = model.fit(images, masks, batch_size=8, epochs=12, verbose=0).history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses


def test_keras_file_round_trip(tmp_path):
    model = UNet((44, 44, 1), 2, filters=4, depth=3, padding="valid", batch_norm=True)
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_layer("up1_crop").cropping == model.get_layer("up1_crop").cropping
    images = random_array((2, 44, 44, 1))
    np.testing.assert_array_equal(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (((100, 100, 1), 2), {}, "divisible by 2 \\*\\* \\(depth - 1\\) = 16.* next size .* 112"),
        (((570, 570, 1), 2), {"padding": "valid"}, "even size.* next size that fits is 572"),
        (((None, None, 1), 2), {"padding": "valid"}, "must then be known"),
        (((64, 64), 2), {}, "input_shape must be \\(height, width, channels\\)"),
        (((64, 64, 1), 0), {}, "num_classes must be an integer >= 1, received 0"),
        (((64, 64, 1), 2), {"depth": 0}, "depth must be an integer >= 1"),
        (((64, 64, 1), 2), {"padding": "full"}, "padding must be one of \\('same', 'valid'\\)"),
        (((64, 64, 1), 2), {"dropout": 1.0}, "dropout must be a rate in \\[0, 1\\)"),
        (((64, 64, 1), 2), {"final_activation": "soft"}, "final_activation: unknown"),
    ],
)
def test_bad_arguments_are_rejected(args, kwargs, message):
    with pytest.raises(ValueError, match=f"UNet: .*{message}"):
        UNet(*args, **kwargs)

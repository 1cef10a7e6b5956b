import numpy as np
import pytest

import shinsou
from shinsou.applications import CIFARResNet, ResNet20, ResNet32, ResNet56, ResNet110
from shinsou.saving import load_model
from support import random_array, requires_torch, torch

BUILDERS = {20: ResNet20, 32: ResNet32, 56: ResNet56, 110: ResNet110}

# (trainable, non-trainable) with 10 classes: the paper's option A and option B.
COUNTS = {
    (20, "identity"): (269_722, 1_376),
    (32, "identity"): (464_154, 2_272),
    (56, "identity"): (853_018, 4_064),
    (110, "identity"): (1_727_962, 8_096),
    (20, "projection"): (272_474, 1_568),
    (32, "projection"): (466_906, 2_464),
    (56, "projection"): (855_770, 4_256),
    (110, "projection"): (1_730_714, 8_288),
}


def sizes(weights):
    return sum(int(w.size) for w in weights)


@pytest.mark.parametrize("depth, shortcut", sorted(COUNTS))
def test_parameter_counts(depth, shortcut):
    model = BUILDERS[depth](shortcut=shortcut)
    assert (sizes(model.trainable_weights), sizes(model.non_trainable_weights)) == COUNTS[
        depth, shortcut
    ]
    assert model.name == f"resnet{depth}"
    # 6n + 2 weighted layers: the convolutions of the residual path and the classifier.
    weighted = [
        layer
        for layer in model.layers
        if type(layer).__name__ in ("Conv2D", "Dense") and "_0_" not in layer.name
    ]
    assert len(weighted) == depth


def torch_cifar_resnet(depth, shortcut):
    """An independent PyTorch CIFAR ResNet in the layout of the widely used
    pytorch_resnet_cifar10 (option A: strided slicing and channel zero padding)."""
    nn, functional = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-3)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-3)
            self.project = None
            self.pad = 0
            if stride != 1 or cin != cout:
                if shortcut == "projection":
                    self.project = nn.Sequential(
                        nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-3)
                    )
                else:
                    self.pad = (cout - cin) // 2

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            if self.project is not None:
                x = self.project(x)
            elif self.pad:
                x = functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
            return torch.relu(y + x)

    blocks, cin = [], 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range((depth - 2) // 6):
            blocks.append(Block(cin, cout, 2 if stage and not block else 1))
            cin = cout
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16, eps=1e-3),
        nn.ReLU(),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


@requires_torch
@pytest.mark.parametrize("depth, shortcut", sorted(COUNTS))
def test_counts_equal_an_independent_pytorch_implementation(depth, shortcut):
    reference = torch_cifar_resnet(depth, shortcut)
    trainable = sum(p.numel() for p in reference.parameters())
    statistics = sum(b.numel() for name, b in reference.named_buffers() if "running" in name)
    assert (trainable, statistics) == COUNTS[depth, shortcut]


@requires_torch
@pytest.mark.parametrize("shortcut", ["identity", "projection"])
def test_inference_matches_pytorch(shortcut):
    model = ResNet20(shortcut=shortcut, classifier_activation=None)
    reference = torch_cifar_resnet(20, shortcut).eval()
    modules = {"conv1_conv": reference[0], "conv1_bn": reference[1], "predictions": reference[-1]}
    blocks = [m for m in reference if hasattr(m, "conv1")]
    per_stage = len(blocks) // 3
    for index, block in enumerate(blocks):
        prefix = f"conv{index // per_stage + 2}_block{index % per_stage + 1}"
        modules.update({f"{prefix}_1_conv": block.conv1, f"{prefix}_1_bn": block.bn1})
        modules.update({f"{prefix}_2_conv": block.conv2, f"{prefix}_2_bn": block.bn2})
        if block.project is not None:
            modules.update(
                {f"{prefix}_0_conv": block.project[0], f"{prefix}_0_bn": block.project[1]}
            )
    ours = [layer for layer in model.layers if layer.weights]
    assert sorted(layer.name for layer in ours) == sorted(modules)
    theirs = [modules[layer.name] for layer in ours]
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for layer, module in zip(ours, theirs):
            if isinstance(module, torch.nn.BatchNorm2d):
                values = [rng.uniform(0.5, 1.5, module.num_features) for _ in range(4)]
                values[1] -= 1.0  # beta and moving mean around 0
                values[2] -= 1.0
                values = [v.astype(np.float32) for v in values]
                layer.set_weights(values)
                for tensor, value in zip(
                    (module.weight, module.bias, module.running_mean, module.running_var), values
                ):
                    tensor.copy_(torch.from_numpy(value))
            elif isinstance(module, torch.nn.Conv2d):
                module.weight.copy_(torch.from_numpy(layer.kernel.numpy().transpose(3, 2, 0, 1)))
            else:
                module.weight.copy_(torch.from_numpy(layer.kernel.numpy().T.copy()))
                module.bias.copy_(torch.from_numpy(layer.bias.numpy()))
    images = random_array((2, 32, 32, 3), seed=1)
    expected = reference(torch.from_numpy(images).permute(0, 3, 1, 2)).detach().numpy()
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-4)


def test_identity_shortcut_is_subsampling_plus_zero_channels():
    model = CIFARResNet(8, input_shape=(16, 16, 3), classifier_activation=None)
    names = [layer.name for layer in model.layers]
    assert "conv3_block1_0_pad" in names and "conv3_block1_0_conv" not in names
    probe = shinsou.Model(
        model.inputs,
        [model.get_layer(name).output for name in ("conv2_block1_out", "conv3_block1_0_reshape")],
    )
    features, shortcut = probe.predict(random_array((2, 16, 16, 3)), verbose=0)
    assert shortcut.shape == (2, 8, 8, 32)
    np.testing.assert_array_equal(shortcut[..., 8:24], features[:, ::2, ::2])
    assert not shortcut[..., :8].any() and not shortcut[..., 24:].any()


def test_headless_models_and_pooling():
    features = CIFARResNet(14, include_top=False)
    assert features.output_shape == (None, 8, 8, 64)
    assert CIFARResNet(14, include_top=False, pooling="max").output_shape == (None, 64)
    assert CIFARResNet(14, input_shape=(64, 48, 1), classes=100).output_shape == (None, 100)


def test_short_training_run_lowers_the_loss():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 32)
    images = rng.random((32, 16, 16, 3), dtype=np.float32) * 0.5
    images[..., 0] += labels[:, None, None] / 4  # the class shows in the red channel
    model = CIFARResNet(8, input_shape=(16, 16, 3), classes=4)
    model.compile(optimizer=shinsou.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    losses = model.fit(images, labels, batch_size=8, epochs=4, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


def test_keras_file_round_trip(tmp_path):
    model = ResNet20()
    path = tmp_path / "resnet20.keras"
    model.save(path)
    loaded = load_model(path)
    images = random_array((2, 32, 32, 3))
    np.testing.assert_array_equal(
        loaded.predict(images, verbose=0), model.predict(images, verbose=0)
    )
    assert sizes(loaded.trainable_weights) == 269_722


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"depth": 21}, "depth must be 6n \\+ 2 with n >= 1 .* received depth=21"),
        ({"depth": 2}, "received depth=2"),
        ({"depth": 20, "shortcut": "B"}, "shortcut must be one of .*'identity'.* received"),
        ({"depth": 20, "pooling": "sum"}, "pooling must be None, 'avg' or 'max'"),
        ({"depth": 20, "input_shape": (4, 4, 3)}, "at least 8×8 pixels"),
        ({"depth": 20, "input_shape": (None, 32, 3)}, "known sizes"),
        ({"depth": 20, "classes": 0}, "classes must be a positive integer, received 0"),
        ({"depth": 20, "classifier_activation": "x"}, "classifier_activation: unknown"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=f"CIFARResNet: .*{message}"):
        CIFARResNet(**kwargs)

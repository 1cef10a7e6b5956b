"""torchvision's classic image classifiers as shinsou functional models:
:func:`from_torchvision` builds AlexNet, VGG, GoogLeNet, ResNet, DenseNet or MobileNetV2
channels-last, with torchvision's layers, parameter counts and numerics, and loads a
torchvision state dict (``.safetensors``, or ``.pth``/``.pt`` through torch) into it.

The layers are named after torchvision's modules (``features.0``, ``layer1.0.conv1``...),
so each state-dict key names the layer whose weight it fills. Where torchvision computes
something Keras has no layer for, the nearest exact equivalent is used: symmetric zero
padding before "valid" convolutions, zero padding before max pooling of ReLU outputs
(``ceil_mode`` included), uniform-bin ``AdaptiveAvgPool2d`` as pooling or repetition, and a
``Permute`` to (C, H, W) before ``Flatten`` where a Linear layer reads flattened NCHW maps.

Example:
    >>> import numpy as np
    >>> model = from_torchvision("resnet18", num_classes=10, input_shape=(32, 32, 3))
    >>> model(np.zeros((2, 32, 32, 3), dtype="float32")).shape
    (2, 10)
"""

from __future__ import annotations

import numbers

from .. import layers
from ..layers.input_layer import Input
from ..models import Model
from ._torchvision_blocks import (
    adaptive_average_pool,
    batch_norm,
    conv2d,
    dense,
    depthwise_conv2d,
    flatten_channels_first,
    load_state_dict,
    max_pool_after_relu,
    read_state_dict,
    relu,
)

__all__ = ["from_torchvision"]

# -- AlexNet and VGG -------------------------------------------------------------------------


def _alexnet(x, num_classes):
    convolutions = ((0, 64, 11, 4, 2), (3, 192, 5, 1, 2), (6, 384, 3, 1, 1))
    convolutions += ((8, 256, 3, 1, 1), (10, 256, 3, 1, 1))
    for index, filters, kernel, stride, padding in convolutions:
        # The ReLU (features.index+1) is fused into the convolution.
        x = conv2d(x, f"features.{index}", filters, kernel, stride, padding, activation="relu")
        if index in (0, 3, 10):
            x = layers.MaxPooling2D(3, strides=2, name=f"features.{index + 2}")(x)
    x = adaptive_average_pool(x, "avgpool", (6, 6))
    x = flatten_channels_first(x, "flatten")
    x = layers.Dropout(0.5, name="classifier.0")(x)
    x = dense(x, "classifier.1", 4096, "relu")
    x = layers.Dropout(0.5, name="classifier.3")(x)
    x = dense(x, "classifier.4", 4096, "relu")
    return dense(x, "classifier.6", num_classes)


# Numbers are 3x3 convolutions' filters, "M" a 2x2 max pooling (torchvision's cfgs A, B, D, E).
_VGG_CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M")
    + (512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
    + (512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def _vgg(x, num_classes, config, with_batch_norm):
    index = 0  # the position in torchvision's ``features`` Sequential
    for item in config:
        if item == "M":
            x = layers.MaxPooling2D(2, strides=2, name=f"features.{index}")(x)
            index += 1
        elif with_batch_norm:
            x = conv2d(x, f"features.{index}", item, 3, padding=1)
            x = batch_norm(x, f"features.{index + 1}")
            x = relu(x, f"features.{index + 2}")
            index += 3
        else:
            x = conv2d(x, f"features.{index}", item, 3, padding=1, activation="relu")
            index += 2
    x = adaptive_average_pool(x, "avgpool", (7, 7))
    x = flatten_channels_first(x, "flatten")
    x = dense(x, "classifier.0", 4096, "relu")
    x = layers.Dropout(0.5, name="classifier.2")(x)
    x = dense(x, "classifier.3", 4096, "relu")
    x = layers.Dropout(0.5, name="classifier.5")(x)
    return dense(x, "classifier.6", num_classes)


# -- GoogLeNet -------------------------------------------------------------------------------

# torchvision's BasicConv2d: bias-free convolution, BatchNorm with eps=0.001, ReLU.
_GOOGLENET_EPSILON = 1e-3

# in_channels is implied; ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj per Inception.
_INCEPTION_CONFIGS = {
    "inception3a": (64, 96, 128, 16, 32, 32),
    "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64),
    "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64),
    "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}

# transform_input maps inputs normalised with ImageNet's mean and std to the (x - 0.5) / 0.5
# normalisation the ported Inception weights were trained with.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _basic_conv(x, name, filters, kernel_size, stride=1, padding=0):
    x = conv2d(x, f"{name}.conv", filters, kernel_size, stride, padding, use_bias=False)
    x = batch_norm(x, f"{name}.bn", epsilon=_GOOGLENET_EPSILON)
    return relu(x, f"{name}.relu")


def _inception(x, name, config):
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj = config
    branch1 = _basic_conv(x, f"{name}.branch1", ch1x1, 1)
    branch2 = _basic_conv(x, f"{name}.branch2.0", ch3x3red, 1)
    branch2 = _basic_conv(branch2, f"{name}.branch2.1", ch3x3, 3, padding=1)
    branch3 = _basic_conv(x, f"{name}.branch3.0", ch5x5red, 1)
    # torchvision's "5x5" branch is a 3x3 convolution (a known bug its weights depend on).
    branch3 = _basic_conv(branch3, f"{name}.branch3.1", ch5x5, 3, padding=1)
    branch4 = max_pool_after_relu(x, f"{name}.branch4.0", 3, 1, padding=1, ceil_mode=True)
    branch4 = _basic_conv(branch4, f"{name}.branch4.1", pool_proj, 1)
    return layers.Concatenate(name=f"{name}.concat")([branch1, branch2, branch3, branch4])


def _googlenet(x, num_classes, transform_input):
    if transform_input:
        x = layers.Rescaling(
            scale=[s / 0.5 for s in _IMAGENET_STD],
            offset=[(m - 0.5) / 0.5 for m in _IMAGENET_MEAN],
            name="transform_input",
        )(x)
    x = _basic_conv(x, "conv1", 64, 7, stride=2, padding=3)
    x = max_pool_after_relu(x, "maxpool1", 3, 2, ceil_mode=True)
    x = _basic_conv(x, "conv2", 64, 1)
    x = _basic_conv(x, "conv3", 192, 3, padding=1)
    x = max_pool_after_relu(x, "maxpool2", 3, 2, ceil_mode=True)
    for name, config in _INCEPTION_CONFIGS.items():
        x = _inception(x, name, config)
        if name == "inception3b":
            x = max_pool_after_relu(x, "maxpool3", 3, 2, ceil_mode=True)
        elif name == "inception4e":
            x = max_pool_after_relu(x, "maxpool4", 2, 2, ceil_mode=True)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    return dense(x, "fc", num_classes)


# -- ResNet ----------------------------------------------------------------------------------

# Blocks per stage, and whether the block is a Bottleneck (expansion 4) or a BasicBlock.
_RESNET_CONFIGS = {
    "resnet18": ((2, 2, 2, 2), False),
    "resnet34": ((3, 4, 6, 3), False),
    "resnet50": ((3, 4, 6, 3), True),
    "resnet101": ((3, 4, 23, 3), True),
    "resnet152": ((3, 8, 36, 3), True),
}


def _resnet_block(x, name, planes, stride, bottleneck):
    """torchvision's BasicBlock or Bottleneck (ResNet v1.5: the stride is on the 3x3)."""
    out_channels = planes * 4 if bottleneck else planes
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = conv2d(x, f"{name}.downsample.0", out_channels, 1, stride, use_bias=False)
        shortcut = batch_norm(shortcut, f"{name}.downsample.1")
    if bottleneck:
        shapes = ((planes, 1, 1, 0), (planes, 3, stride, 1), (out_channels, 1, 1, 0))
    else:
        shapes = ((planes, 3, stride, 1), (planes, 3, 1, 1))
    for number, (filters, kernel, conv_stride, padding) in enumerate(shapes, start=1):
        x = conv2d(x, f"{name}.conv{number}", filters, kernel, conv_stride, padding, False)
        x = batch_norm(x, f"{name}.bn{number}")
        if number < len(shapes):
            x = relu(x, f"{name}.relu{number}")
    x = layers.Add(name=f"{name}.add")([x, shortcut])
    return relu(x, f"{name}.relu")


def _resnet(x, num_classes, blocks_per_stage, bottleneck):
    x = conv2d(x, "conv1", 64, 7, stride=2, padding=3, use_bias=False)
    x = batch_norm(x, "bn1")
    x = relu(x, "relu")
    x = max_pool_after_relu(x, "maxpool", 3, 2, padding=1)
    for stage, blocks in enumerate(blocks_per_stage):
        planes = 64 * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _resnet_block(x, f"layer{stage + 1}.{block}", planes, stride, bottleneck)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return dense(x, "fc", num_classes)


# -- DenseNet --------------------------------------------------------------------------------

# growth_rate, layers per dense block, num_init_features (bn_size is 4 throughout).
_DENSENET_CONFIGS = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def _norm_relu_conv(x, name, number, filters, kernel_size, padding=0):
    x = batch_norm(x, f"{name}.norm{number}")
    x = relu(x, f"{name}.relu{number}")
    return conv2d(x, f"{name}.conv{number}", filters, kernel_size, padding=padding, use_bias=False)


def _densenet(x, num_classes, growth_rate, block_config, num_init_features):
    x = conv2d(x, "features.conv0", num_init_features, 7, 2, 3, use_bias=False)
    x = batch_norm(x, "features.norm0")
    x = relu(x, "features.relu0")
    x = max_pool_after_relu(x, "features.pool0", 3, 2, padding=1)
    for block, num_layers in enumerate(block_config, start=1):
        for number in range(1, num_layers + 1):
            name = f"features.denseblock{block}.denselayer{number}"
            new = _norm_relu_conv(x, name, 1, 4 * growth_rate, 1)
            new = _norm_relu_conv(new, name, 2, growth_rate, 3, padding=1)
            x = layers.Concatenate(name=f"{name}.concat")([x, new])
        if block < len(block_config):
            name = f"features.transition{block}"
            x = batch_norm(x, f"{name}.norm")
            x = relu(x, f"{name}.relu")
            x = conv2d(x, f"{name}.conv", x.shape[-1] // 2, 1, use_bias=False)
            x = layers.AveragePooling2D(2, strides=2, name=f"{name}.pool")(x)
    x = batch_norm(x, "features.norm5")
    x = relu(x, "relu")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return dense(x, "classifier", num_classes)


# -- MobileNetV2 -----------------------------------------------------------------------------

# expand ratio t, output channels c, repeats n, first stride s (torchvision's setting).
_MOBILENET_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn_relu6(x, name, filters, kernel_size=1, stride=1, depthwise=False):
    """torchvision's Conv2dNormActivation with ReLU6: ``name.0`` conv, ``.1`` BN, ``.2``."""
    padding = (kernel_size - 1) // 2
    if depthwise:
        x = depthwise_conv2d(x, f"{name}.0", kernel_size, stride, padding)
    else:
        x = conv2d(x, f"{name}.0", filters, kernel_size, stride, padding, use_bias=False)
    x = batch_norm(x, f"{name}.1")
    return relu(x, f"{name}.2", max_value=6.0)


def _inverted_residual(x, name, out_channels, stride, expand_ratio):
    in_channels = x.shape[-1]
    hidden = round(in_channels * expand_ratio)
    shortcut = x
    index = 0  # the position in the block's ``conv`` Sequential
    if expand_ratio != 1:
        x = _conv_bn_relu6(x, f"{name}.conv.0", hidden)
        index = 1
    x = _conv_bn_relu6(x, f"{name}.conv.{index}", hidden, 3, stride, depthwise=True)
    x = conv2d(x, f"{name}.conv.{index + 1}", out_channels, 1, use_bias=False)
    x = batch_norm(x, f"{name}.conv.{index + 2}")
    if stride == 1 and in_channels == out_channels:
        x = layers.Add(name=f"{name}.add")([shortcut, x])
    return x


def _mobilenet_v2(x, num_classes):
    x = _conv_bn_relu6(x, "features.0", 32, 3, 2)
    index = 1
    for expand_ratio, channels, repeats, first_stride in _MOBILENET_V2_SETTING:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            x = _inverted_residual(x, f"features.{index}", channels, stride, expand_ratio)
            index += 1
    x = _conv_bn_relu6(x, f"features.{index}", 1280)
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    x = layers.Dropout(0.2, name="classifier.0")(x)
    return dense(x, "classifier.1", num_classes)


# -- the public builder ----------------------------------------------------------------------


def _architectures():
    """``{name: (build(x, num_classes, transform_input), needs a known spatial size)}``."""
    found = {
        "alexnet": (lambda x, n, t: _alexnet(x, n), True),
        "googlenet": (_googlenet, True),
        "mobilenet_v2": (lambda x, n, t: _mobilenet_v2(x, n), False),
    }
    for name, config in _VGG_CONFIGS.items():
        found[name] = (lambda x, n, t, c=config: _vgg(x, n, c, False), True)
        found[f"{name}_bn"] = (lambda x, n, t, c=config: _vgg(x, n, c, True), True)
    for name, (blocks, bottleneck) in _RESNET_CONFIGS.items():
        found[name] = (lambda x, n, t, b=blocks, k=bottleneck: _resnet(x, n, b, k), False)
    for name, config in _DENSENET_CONFIGS.items():
        found[name] = (lambda x, n, t, c=config: _densenet(x, n, *c), False)
    return dict(sorted(found.items()))


_ARCHITECTURES = _architectures()

# torchvision's googlenet() loads its weights with aux_logits=True and then drops the two
# auxiliary classifiers (used only in training); their keys are in its state dicts.
_IGNORED_PREFIXES = {"googlenet": ("aux1.", "aux2.")}


def _check_input_shape(caller, input_shape, needs_known_size):
    if input_shape is None:
        return (224, 224, 3)
    shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
    valid = (
        shape is not None
        and len(shape) == 3
        and shape[2] == 3
        and all(
            size is None or (isinstance(size, numbers.Integral) and size > 0) for size in shape[:2]
        )
    )
    if not valid:
        raise ValueError(
            f"{caller}: input_shape must be (height, width, 3) (channels last, 3 channels); "
            f"received input_shape={input_shape!r}"
        )
    if needs_known_size and None in shape:
        raise ValueError(
            f"{caller}: this architecture needs a known height and width (its pooling depends "
            f"on them); received input_shape={input_shape!r}"
        )
    return tuple(None if size is None else int(size) for size in shape)


def from_torchvision(name, weights=None, num_classes=1000, input_shape=None, transform_input=None):
    """torchvision's ``name`` architecture as a channels-last shinsou ``Model``.

    Args:
        name: one of ``alexnet``, ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19`` (and their
            ``_bn`` variants), ``googlenet``, ``resnet18``, ``resnet34``, ``resnet50``,
            ``resnet101``, ``resnet152``, ``densenet121``, ``densenet161``,
            ``densenet169``, ``densenet201``, ``mobilenet_v2``.
        weights: None (random initialisation) or the path of a torchvision state dict:
            ``.safetensors`` (needs the ``safetensors`` package) or ``.pth``/``.pt`` (needs
            torch; read with ``weights_only=True``). GoogLeNet's auxiliary-classifier keys
            are ignored; old DenseNet key names (``norm.1``) are accepted.
        num_classes: outputs of the last Linear layer (logits; no softmax, as torchvision).
        input_shape: ``(height, width, 3)``, default ``(224, 224, 3)``. ResNet, DenseNet and
            MobileNetV2 take any size from torchvision's minimum up (``None`` for a free
            one). AlexNet, VGG and GoogLeNet need a known size. AlexNet's and VGG's
            ``AdaptiveAvgPool2d`` is reproduced exactly where its bins are uniform, i.e.
            where each side of the feature map divides or is a multiple of 6 (AlexNet) or
            7 (VGG): sides of 63–158, 223–254 or 415–446 for AlexNet, 32–63, 224–255 or
            448–479 for VGG; other sizes raise a ValueError.
        transform_input: GoogLeNet only: map ImageNet-normalised inputs to the ported
            weights' normalisation, as torchvision does. By default as torchvision's
            ``googlenet()``: on when weights are loaded, off for random initialisation.

    The model expects what the torchvision model does, in NHWC: float32 images normalised
    with ImageNet's mean and std. BatchNorm layers keep torchvision's ``eps`` (1e-5; 1e-3 in
    GoogLeNet) and momentum (torch's 0.1 is Keras's ``momentum=0.9``).

    Example:
        >>> model = from_torchvision("mobilenet_v2", input_shape=(64, 64, 3))
        >>> model.output_shape, sum(w.size for w in model.trainable_weights)
        ((None, 1000), 3504872)
    """
    caller = f"from_torchvision({name!r})"
    if name not in _ARCHITECTURES:
        raise ValueError(
            f"from_torchvision: unknown architecture {name!r}; choose one of {list(_ARCHITECTURES)}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"{caller}: num_classes must be a positive int, received {num_classes!r}")
    if num_classes <= 0:
        raise ValueError(f"{caller}: num_classes must be a positive int, received {num_classes!r}")
    if transform_input is not None and name != "googlenet":
        raise ValueError(f"{caller}: transform_input applies to 'googlenet' only; leave it None")
    build, needs_known_size = _ARCHITECTURES[name]
    shape = _check_input_shape(caller, input_shape, needs_known_size)
    state_dict = None if weights is None else read_state_dict(weights, caller)
    if transform_input is None:
        transform_input = weights is not None

    inputs = Input(shape, name="input")
    try:
        outputs = build(inputs, int(num_classes), bool(transform_input))
    except ValueError as error:
        raise ValueError(
            f"{caller}: input_shape={shape} does not fit the architecture: {error}"
        ) from None
    model = Model(inputs, outputs, name=name)
    if state_dict is not None:
        load_state_dict(model, state_dict, caller, _IGNORED_PREFIXES.get(name, ()))
    return model

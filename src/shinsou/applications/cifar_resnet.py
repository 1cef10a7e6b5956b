"""The CIFAR-10 residual networks of He, Zhang, Ren and Sun, "Deep residual learning for image
recognition" (CVPR 2016), section 4.2: ResNet-20, 32, 44, 56, 110 (any depth ``6n + 2``).

A 3×3 convolution with 16 filters, then three stages of ``n`` basic blocks on 32×32,
16×16 and 8×8 maps with 16, 32 and 64 filters, then global average pooling and a dense
classifier: ``6n + 2`` weighted layers. A basic block is ``conv3×3 - BN - ReLU - conv3×3 -
BN``, added to its shortcut, then a ReLU. The first block of stages 2 and 3 halves the
size with stride 2 and doubles the channels; its shortcut then is

- ``shortcut="identity"`` (the paper's option A, used for all its CIFAR results): the input
  subsampled to every other pixel and zero-padded with ``(out - in) / 2`` zero channels on
  each side — no parameters, as in the widely used PyTorch implementation (Yerlan Idelbayev's
  ``pytorch_resnet_cifar10``), whose weights therefore map one to one. Realised with
  standard layers only (a 1×1 ``MaxPooling2D`` of stride 2, then ``Reshape`` →
  ``ZeroPadding2D`` on the channel axis → ``Reshape``), so ``.keras`` files stay portable.
- ``shortcut="projection"`` (option B): a 1×1 convolution of stride 2 and batch
  normalization.

Convolutions have no bias (batch normalization follows each) and He-normal initial
weights, as in the paper. A strided 3×3 convolution pads one pixel on every side
(``ZeroPadding2D`` then ``padding="valid"``), as Torch does, where Keras's ``"same"`` would
pad only after: the tests' PyTorch model with the same weights gives the same outputs.
Batch normalization keeps Keras's defaults (momentum 0.99, epsilon 1e-3; PyTorch's
epsilon is 1e-5, a difference to set when porting weights).

Parameter counts with 10 classes, checked in the tests against an independent PyTorch
implementation:

========  =======  ==================  =================  ================================
model      n       trainable (A)       trainable (B)      BN moving statistics (A; B adds)
========  =======  ==================  =================  ================================
ResNet20   3       269,722             272,474            1,376 (+192)
ResNet32   5       464,154             466,906            2,272 (+192)
ResNet56   9       853,018             855,770            4,064 (+192)
ResNet110  18      1,727,962           1,730,714          8,096 (+192)
========  =======  ==================  =================  ================================

Example:
    >>> from shinsou.applications.cifar_resnet import ResNet20
    >>> model = ResNet20()
    >>> model.output_shape, sum(int(w.size) for w in model.trainable_weights)
    ((None, 10), 269722)
"""

from __future__ import annotations

from .. import activations, layers
from ..layers.input_layer import Input
from ..models import Model

__all__ = ["CIFARResNet", "ResNet20", "ResNet32", "ResNet56", "ResNet110"]

_STAGE_FILTERS = (16, 32, 64)
_SHORTCUTS = ("identity", "projection")


def CIFARResNet(
    depth,
    input_shape=(32, 32, 3),
    classes=10,
    shortcut="identity",
    include_top=True,
    pooling=None,
    classifier_activation="softmax",
    name=None,
):
    """Build the CIFAR ResNet of ``depth = 6n + 2`` layers as a functional ``Model``.

    Layer names follow Keras's ResNet: ``conv1_conv``, ``conv1_bn``, ``conv1_relu``; then
    ``conv{stage}_block{b}_{1,2}_{conv,bn}``, ``..._1_relu``, ``..._add``, ``..._out`` for
    stages 2–4 (``..._1_pad`` before a strided convolution: one pixel on every side, as
    PyTorch's ``padding=1``, where ``padding="same"`` would pad only after); the projection
    shortcut is ``..._0_conv`` / ``..._0_bn``, the identity
    shortcut ``..._0_subsample`` / ``..._0_flatten`` / ``..._0_pad`` / ``..._0_reshape``;
    then ``avg_pool`` and ``predictions``.

    Args:
        depth: number of weighted layers, ``6n + 2`` with ``n >= 1`` (20, 32, 44, 56, 110…).
        input_shape: ``(height, width, channels)``, known sizes of at least 8×8 pixels.
        classes: number of classes of the top layer.
        shortcut: ``"identity"`` (option A, the paper's CIFAR choice) or ``"projection"``
            (option B) for the blocks that change the shape.
        include_top: whether to end with global average pooling and the dense classifier.
        pooling: without the top, ``None`` (4-D feature maps), ``"avg"`` or ``"max"``.
        classifier_activation: activation of the top layer; ``None`` gives logits.
        name: the model's name (default ``"resnet{depth}"``).

    Example:
        >>> import numpy as np
        >>> model = CIFARResNet(8, input_shape=(16, 16, 3), include_top=False, pooling="avg")
        >>> model.predict(np.zeros((2, 16, 16, 3), "float32"), verbose=0).shape
        (2, 64)
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"CIFARResNet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...); "
            f"received depth={depth!r}"
        )
    input_shape = _check_input_shape(input_shape)
    if shortcut not in _SHORTCUTS:
        raise ValueError(
            f"CIFARResNet: shortcut must be one of {_SHORTCUTS}; received shortcut={shortcut!r}"
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "CIFARResNet: pooling must be None, 'avg' or 'max' (used when include_top=False); "
            f"received pooling={pooling!r}"
        )
    if include_top:
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise ValueError(
                f"CIFARResNet: classes must be a positive integer, received {classes!r}"
            )
        try:
            activations.get(classifier_activation)
        except ValueError as error:
            raise ValueError(f"CIFARResNet: classifier_activation: {error}") from None

    blocks_per_stage = (depth - 2) // 6
    inputs = Input(input_shape, name="input")
    x = _conv_bn(inputs, 16, 3, 1, "conv1")
    x = layers.ReLU(name="conv1_relu")(x)
    for stage, filters in enumerate(_STAGE_FILTERS, start=2):
        for block in range(1, blocks_per_stage + 1):
            strides = 2 if stage > 2 and block == 1 else 1
            x = _basic_block(x, filters, strides, shortcut, f"conv{stage}_block{block}")

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    return Model(inputs, x, name=name or f"resnet{depth}")


def _resnet_of_depth(depth):
    def build(
        input_shape=(32, 32, 3),
        classes=10,
        shortcut="identity",
        include_top=True,
        pooling=None,
        classifier_activation="softmax",
        name=None,
    ):
        return CIFARResNet(
            depth,
            input_shape=input_shape,
            classes=classes,
            shortcut=shortcut,
            include_top=include_top,
            pooling=pooling,
            classifier_activation=classifier_activation,
            name=name,
        )

    build.__name__ = build.__qualname__ = f"ResNet{depth}"
    build.__doc__ = f"""ResNet-{depth} for CIFAR: ``CIFARResNet({depth}, ...)`` with the same
    keyword arguments (n = {(depth - 2) // 6} blocks per stage).

    Example:
        >>> model = ResNet{depth}(classes=100, classifier_activation=None)
        >>> model.name, model.output_shape
        ('resnet{depth}', (None, 100))
    """
    return build


ResNet20 = _resnet_of_depth(20)
ResNet32 = _resnet_of_depth(32)
ResNet56 = _resnet_of_depth(56)
ResNet110 = _resnet_of_depth(110)


def _conv_bn(x, filters, kernel_size, strides, prefix):
    padding = "same"
    if strides > 1 and kernel_size > 1:
        # "same" with stride 2 pads only after (TensorFlow's rule); the paper's Torch models
        # and their PyTorch ports pad one pixel on every side. Explicit padding keeps their
        # windows, and so their weights.
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{prefix}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{prefix}_conv",
    )(x)
    return layers.BatchNormalization(name=f"{prefix}_bn")(x)


def _basic_block(x, filters, strides, shortcut_kind, prefix):
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        if shortcut_kind == "projection":
            shortcut = _conv_bn(x, filters, 1, strides, f"{prefix}_0")
        else:
            shortcut = _zero_padded_identity(x, filters, strides, f"{prefix}_0")
    y = _conv_bn(x, filters, 3, strides, f"{prefix}_1")
    y = layers.ReLU(name=f"{prefix}_1_relu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{prefix}_2")
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def _zero_padded_identity(x, filters, strides, prefix):
    """Option A: ``x[:, ::s, ::s]`` with zero channels added evenly on both sides."""
    x = layers.MaxPooling2D(1, strides=strides, name=f"{prefix}_subsample")(x)
    _, height, width, channels = x.shape
    added = filters - channels
    # ZeroPadding2D pads axes 1 and 2; viewing the maps as (pixels, channels, 1) puts the
    # channels on axis 2, so that it pads them.
    x = layers.Reshape((height * width, channels, 1), name=f"{prefix}_flatten")(x)
    x = layers.ZeroPadding2D(((0, 0), (added // 2, added - added // 2)), name=f"{prefix}_pad")(x)
    return layers.Reshape((height, width, filters), name=f"{prefix}_reshape")(x)


def _check_input_shape(input_shape):
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(size, int) and not isinstance(size, bool) for size in shape)
        or min(shape[:2]) < 8
        or shape[2] < 1
    ):
        raise ValueError(
            "CIFARResNet: input_shape must be (height, width, channels) with known sizes of "
            f"at least 8×8 pixels and 1 channel, e.g. (32, 32, 3); received "
            f"input_shape={input_shape!r}"
        )
    return shape

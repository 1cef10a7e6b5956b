"""ResNet50V2, ResNet101V2 and ResNet152V2 (``keras.applications.resnet_v2``): He et al.,
"Identity Mappings in Deep Residual Networks" (ECCV 2016), the pre-activation networks with
Keras's structure and layer names (``conv2_block1_preact_bn`` ... ``post_bn``,
``post_relu``), so Keras's ImageNet weight files load layer for layer.

As in Keras, each stage downsamples in its last block (the 3x3 convolution is strided, the
shortcut a 1x1 max pooling), and inputs are expected as :func:`preprocess_input` leaves
them: scaled to [-1, 1] ("tf" mode).

Example:
    >>> model = ResNet50V2(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.output_shape, model.layers[-1].name
    ((None, 1, 1, 2048), 'post_relu')
"""

from __future__ import annotations

from .. import layers
from . import imagenet_utils
from .resnet import BUILDER_ARGS_DOC, batch_norm, build_resnet

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2"]  # preprocess_input: via the module


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """A v2 (pre-activation) bottleneck block: BN + ReLU first, then 1x1, padded 3x3
    (strided) and 1x1 (``4 * filters``) convolutions, added to the shortcut (a 1x1
    convolution of the activated input when ``conv_shortcut``, else the input, max-pooled
    when strided). No activation after the addition.

    Example:
        >>> import shinsou
        >>> y = residual_block_v2(shinsou.Input((8, 8, 16)), 4, stride=2, name="demo")
        >>> y.shape
        (None, 4, 4, 16)
    """
    preact = batch_norm(x, f"{name}_preact_bn")
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = batch_norm(x, f"{name}_1_bn")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    strided = layers.Conv2D(
        filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv"
    )
    x = strided(x)
    x = batch_norm(x, f"{name}_2_bn")
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v2 blocks named ``<name>_block1`` ...: the first projects the shortcut,
    the last has stride ``stride1``.

    Example:
        >>> import shinsou
        >>> stack_residual_blocks_v2(shinsou.Input((8, 8, 16)), 4, 2, name="conv9").shape
        (None, 4, 4, 16)
    """
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for index in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{index}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _resnet_v2(blocks, weights_name, **kwargs):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, blocks[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, blocks[3], stride1=1, name="conv5")

    return build_resnet(stack_fn, True, True, weights_name=weights_name, **kwargs)


def ResNet50V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
):
    """ResNet50V2 (``keras.applications.ResNet50V2``): 3, 4, 6, 3 pre-activation blocks;
    25,613,800 parameters with the top.

    Example:
        >>> ResNet50V2(weights=None).count_params()
        25613800
    """
    return _resnet_v2(
        (3, 4, 6, 3),
        "resnet50v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet101V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
):
    """ResNet101V2 (``keras.applications.ResNet101V2``): 3, 4, 23, 3 pre-activation blocks;
    44,675,560 parameters with the top.

    Example:
        >>> ResNet101V2(weights=None, include_top=False).count_params()
        42626560
    """
    return _resnet_v2(
        (3, 4, 23, 3),
        "resnet101v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet152V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
):
    """ResNet152V2 (``keras.applications.ResNet152V2``): 3, 8, 36, 3 pre-activation blocks;
    60,380,648 parameters with the top.

    Example:
        >>> ResNet152V2(weights=None, include_top=False).get_layer("post_bn").epsilon
        1.001e-05
    """
    return _resnet_v2(
        (3, 8, 36, 3),
        "resnet152v2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


for _builder in (ResNet50V2, ResNet101V2, ResNet152V2):
    # One Args section for the three builders, placed before each one's own example.
    _builder.__doc__ = _builder.__doc__.replace(
        "\n    Example:", BUILDER_ARGS_DOC + "\n    Example:"
    )


def preprocess_input(x, data_format=None):
    """ResNetV2 preprocessing (``keras.applications.resnet_v2.preprocess_input``): pixels
    scaled from [0, 255] to [-1, 1] ("tf" mode).

    Example:
        >>> import numpy as np
        >>> preprocess_input(np.array([[[0.0, 127.5, 255.0]]])).tolist()
        [[[-1.0, 0.0, 1.0]]]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each prediction (see
    :func:`shinsou.applications.imagenet_utils.decode_predictions`).

    Example:
        >>> import numpy as np
        >>> try:
        ...     decode_predictions(np.zeros((1, 5)))
        ... except ValueError as error:
        ...     print(str(error)[:39])
        decode_predictions: expected a batch of
    """
    return imagenet_utils.decode_predictions(preds, top=top)

"""MobileNetV2 (``keras.applications.mobilenet_v2``), Sandler et al., CVPR 2018.

A stack of inverted residual blocks: a 1×1 convolution expands the channels, a 3×3
depthwise convolution filters each channel, a linear 1×1 convolution projects back down,
and a residual connection joins blocks of equal shape. ``alpha`` scales every layer's
width. Layer names, order and weight shapes are Keras's, so Keras's weight files load
layer for layer.

Example:
    >>> model = MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.name, model.output_shape, model.count_params()
    ('mobilenetv2_1.00_32', (None, 1, 1, 1280), 2257984)
"""

from __future__ import annotations

import numbers
import warnings

from .. import layers
from ..models import Functional
from . import imagenet_utils

__all__ = ["MobileNetV2"]

_BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_PRETRAINED_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_PRETRAINED_SIZES = (96, 128, 160, 192, 224)

# (output filters before alpha, stride, expansion factor) of blocks 0..16.
_BLOCKS = (
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
)


def _make_divisible(value, divisor=8, min_value=None):
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``),
    rounded up once more if that lost over 10%: channel counts stay hardware friendly."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _correct_pad(x, kernel_size):
    """Zero padding ``((top, bottom), (left, right))`` that makes a stride-2 "valid"
    convolution of ``kernel_size`` centred like TensorFlow's "same" one: one row/column
    less before the image when its side is even (or unknown)."""
    half = kernel_size // 2
    adjust = [1 if size is None else 1 - size % 2 for size in x.shape[1:3]]
    return ((half - adjust[0], half), (half - adjust[1], half))


def _bn(x, name):
    return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)(x)


def _inverted_res_block(inputs, filters, stride, expansion, alpha, block_id):
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    if block_id:
        prefix = f"block_{block_id}_"
        x = layers.Conv2D(
            expansion * in_channels,
            kernel_size=1,
            padding="same",
            use_bias=False,
            activation=None,
            name=prefix + "expand",
        )(x)
        x = _bn(x, prefix + "expand_BN")
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    else:
        prefix = "expanded_conv_"  # the first block has no expansion, and Keras's old name

    if stride == 2:
        x = layers.ZeroPadding2D(padding=_correct_pad(x, 3), name=prefix + "pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size=3,
        strides=stride,
        activation=None,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=prefix + "depthwise",
    )(x)
    x = _bn(x, prefix + "depthwise_BN")
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)

    # Linear bottleneck: no activation after the projection.
    x = layers.Conv2D(
        pointwise_filters,
        kernel_size=1,
        padding="same",
        use_bias=False,
        activation=None,
        name=prefix + "project",
    )(x)
    x = _bn(x, prefix + "project_BN")
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=prefix + "add")([inputs, x])
    return x


def _check_alpha(alpha, weights):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not alpha > 0:
        raise ValueError(f"MobileNetV2: alpha must be a positive number; received alpha={alpha!r}")
    if weights == "imagenet" and alpha not in _PRETRAINED_ALPHAS:
        raise ValueError(
            "MobileNetV2: with weights='imagenet', alpha must be one of 0.35, 0.5, 0.75, 1.0, "
            f"1.3 or 1.4 (the published weights); received alpha={alpha!r}"
        )


def _default_size(input_shape, input_tensor):
    """Keras's choice of the default side: the given square side when weights for it were
    published, 224 otherwise."""
    if input_shape is not None:
        sides = tuple(input_shape)[:2]
    elif input_tensor is not None:
        sides = tuple(input_tensor.shape)[1:3]
    else:
        return 224
    if len(sides) == 2 and sides[0] == sides[1] and sides[0] in _PRETRAINED_SIZES:
        return sides[0]
    return 224


def _check_input_tensor_width(input_shape, input_tensor):
    if input_shape is None or input_tensor is None:
        return
    if len(tuple(input_tensor.shape)) != 4 or len(tuple(input_shape)) < 2:
        raise ValueError(
            "MobileNetV2: input_tensor must be a batch of images (rank 4) and input_shape "
            f"(height, width, channels); received input_tensor.shape="
            f"{tuple(input_tensor.shape)}, input_shape={tuple(input_shape)}"
        )
    if input_tensor.shape[2] != input_shape[1]:
        raise ValueError(
            "MobileNetV2: input_tensor.shape[2] must equal input_shape[1]; received "
            f"input_tensor.shape={tuple(input_tensor.shape)}, input_shape={tuple(input_shape)}"
        )


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """MobileNetV2: 3,538,984 parameters at ``alpha=1.0`` with the 1000-class top
    (3,504,872 trainable), 2,257,984 without.

    Args:
        input_shape: ``(height, width, 3)`` with sides of at least 32; ignored when
            ``input_tensor`` is given. With ImageNet weights and the top, a square side of
            96, 128, 160, 192 or 224 (the sizes with published weights).
        alpha: width multiplier: below 1 fewer filters in every layer, above 1 more (the last
            convolution widens only above 1). ImageNet weights exist for 0.35, 0.5, 0.75,
            1.0, 1.3 and 1.4.
        include_top: whether to end with global average pooling and the ``predictions``
            Dense layer.
        weights: ``None`` (random initialization), ``"imagenet"`` (Keras's published
            weights, downloaded once into the cache) or the path of a weights file
            (``.weights.h5``, or a Keras 2 ``.h5``). For another input size the 224×224
            weights are loaded, with a warning, as in Keras.
        input_tensor: optional symbolic tensor (from ``Input``) to use as the image input.
        pooling: with ``include_top=False``: ``None`` (4-D feature map), ``"avg"`` or
            ``"max"`` (global pooling).
        classes: number of classes of the top layer (1000 for ImageNet weights).
        classifier_activation: activation of the top layer; ``None`` returns logits.
        name: the model's name; by default ``mobilenetv2_<alpha>_<rows>``.

    Inputs should be prepared with :func:`preprocess_input` (``"tf"`` mode: pixels to
    [-1, 1]).

    Example:
        >>> model = MobileNetV2(alpha=0.35, weights=None)
        >>> model.name, model.output_shape, model.count_params()
        ('mobilenetv2_0.35_224', (None, 1000), 1691208)
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"MobileNetV2: name must be a string or None; received {name!r}")
    _check_input_tensor_width(input_shape, input_tensor)
    default_size = _default_size(input_shape, input_tensor)
    build_shape = imagenet_utils.validate_application_args(
        "MobileNetV2",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_size=default_size,
        min_size=32,
    )
    _check_alpha(alpha, weights)
    if input_tensor is not None and input_shape is None:
        # Keras names the model and picks the weights' size from input_shape alone: without
        # it, the default size with the top, and no size without.
        rows = cols = default_size if include_top else None
    else:
        rows, cols = build_shape[:2]
    if weights == "imagenet" and (rows != cols or rows not in _PRETRAINED_SIZES):
        rows = 224
        warnings.warn(
            "MobileNetV2: `input_shape` is undefined or non-square, or `rows` is not in "
            f"{list(_PRETRAINED_SIZES)}. Weights for input shape (224, 224) will be loaded "
            "as the default.",
            stacklevel=2,
        )
    img_input, inputs = imagenet_utils.application_input(input_tensor, build_shape)

    x = layers.Conv2D(
        _make_divisible(32 * alpha, 8),
        kernel_size=3,
        strides=(2, 2),
        padding="same",
        use_bias=False,
        name="Conv1",
    )(img_input)
    x = _bn(x, "bn_Conv1")
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, filters, stride, expansion, alpha, block_id)

    # As in the paper, alpha does not narrow the last convolution; it only widens it.
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _bn(x, "Conv_1_bn")
    x = layers.ReLU(6.0, name="out_relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)

    model = Functional(inputs, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    suffix = "" if include_top else "_no_top"
    file_name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{suffix}.h5"
    imagenet_utils.load_application_weights(
        model,
        weights,
        file_name=file_name,
        file_hash=None,  # Keras publishes no hash for these files
        url=_BASE_WEIGHTS_URL + file_name,
        match="order",  # Keras 2 files are read layer by layer in order, as Keras does
    )
    return model


def preprocess_input(x, data_format=None):
    """Scale images with pixel values in [0, 255] to [-1, 1] (Keras's ``"tf"`` mode), as
    the ImageNet weights expect. Returns a new float32 array (a tensor for a tensor).

    Example:
        >>> import numpy as np
        >>> preprocess_input(np.array([[[[0.0, 127.5, 255.0]]]])).tolist()
        [[[[-1.0, 0.0, 1.0]]]]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` best ImageNet classes of each row of ``preds`` (shaped ``(samples,
    1000)``) as ``(class_id, class_name, score)`` tuples; see
    :func:`shinsou.applications.imagenet_utils.decode_predictions`.

    Example:
        >>> import numpy as np
        >>> try:
        ...     decode_predictions(np.zeros((1, 5)))
        ... except ValueError as error:
        ...     print(str(error)[:39])
        decode_predictions: expected a batch of
    """
    return imagenet_utils.decode_predictions(preds, top=top)

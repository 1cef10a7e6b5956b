"""Inception-v3 (``keras.applications.inception_v3``), Szegedy et al., CVPR 2016.

A stem of plain convolutions, then eleven "mixed" modules whose parallel branches
(1×1, factorized 5×5 / 7×7 / 3×3 convolutions, pooling) are concatenated along channels.
Every convolution is followed by a batch normalization without scale (``scale=False``,
epsilon 1e-3) and a ReLU. The layers are built in Keras's order with Keras's names, so
Keras's weight files load layer for layer.

Example:
    >>> model = InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))
    >>> model.name, model.output_shape
    ('inception_v3', (None, 1, 1, 2048))
"""

from __future__ import annotations

from .. import layers
from ..models import Functional
from . import imagenet_utils

__all__ = ["InceptionV3"]

_BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
# (file name, md5 hash) of the published weights, with and without the top, as Keras lists them.
_WEIGHTS_WITH_TOP = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    "9a0d58056eeedaa3f26cb7ebd46da564",
)
_WEIGHTS_NO_TOP = (
    "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "bcbd6486424b2319ff4ef7d526e38f63",
)


def _conv_bn(x, filters, rows, cols, padding="same", strides=1):
    """Conv (no bias) → BatchNormalization(scale=False) → ReLU. The three layers keep
    their automatic names, as in Keras: the legacy weight files match them by order."""
    x = layers.Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization(axis=3, scale=False)(x)
    return layers.Activation("relu")(x)


def _average_pool_branch(x, filters):
    x = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return _conv_bn(x, filters, 1, 1)


def _mixed_35(x, pool_filters, name):
    """35×35 module: 1×1, 1×1→5×5, 1×1→3×3→3×3 and pool→1×1 branches."""
    branch1x1 = _conv_bn(x, 64, 1, 1)
    branch5x5 = _conv_bn(x, 48, 1, 1)
    branch5x5 = _conv_bn(branch5x5, 64, 5, 5)
    branch3x3dbl = _conv_bn(x, 64, 1, 1)
    branch3x3dbl = _conv_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = _conv_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = _average_pool_branch(x, pool_filters)
    return layers.Concatenate(axis=3, name=name)([branch1x1, branch5x5, branch3x3dbl, branch_pool])


def _mixed_17(x, width, name):
    """17×17 module with 7×7 convolutions factorized into 1×7 and 7×1 ones; ``width`` is
    the channel count inside the factorized branches."""
    branch1x1 = _conv_bn(x, 192, 1, 1)
    branch7x7 = _conv_bn(x, width, 1, 1)
    branch7x7 = _conv_bn(branch7x7, width, 1, 7)
    branch7x7 = _conv_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = _conv_bn(x, width, 1, 1)
    branch7x7dbl = _conv_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = _conv_bn(branch7x7dbl, width, 1, 7)
    branch7x7dbl = _conv_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = _conv_bn(branch7x7dbl, 192, 1, 7)
    branch_pool = _average_pool_branch(x, 192)
    return layers.Concatenate(axis=3, name=name)([branch1x1, branch7x7, branch7x7dbl, branch_pool])


def _mixed_8(x, index):
    """8×8 module whose 3×3 branches split into parallel 1×3 and 3×1 convolutions."""
    branch1x1 = _conv_bn(x, 320, 1, 1)
    branch3x3 = _conv_bn(x, 384, 1, 1)
    branch3x3 = layers.Concatenate(axis=3, name=f"mixed9_{index}")(
        [_conv_bn(branch3x3, 384, 1, 3), _conv_bn(branch3x3, 384, 3, 1)]
    )
    branch3x3dbl = _conv_bn(x, 448, 1, 1)
    branch3x3dbl = _conv_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl = layers.Concatenate(axis=3)(
        [_conv_bn(branch3x3dbl, 384, 1, 3), _conv_bn(branch3x3dbl, 384, 3, 1)]
    )
    branch_pool = _average_pool_branch(x, 192)
    return layers.Concatenate(axis=3, name=f"mixed{9 + index}")(
        [branch1x1, branch3x3, branch3x3dbl, branch_pool]
    )


def InceptionV3(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
):
    """Inception-v3: 23,851,784 parameters with the 1000-class top (23,817,352 trainable),
    21,802,784 without; the default input is 299×299×3.

    Args:
        include_top: whether to end with global average pooling (``avg_pool``) and the
            ``predictions`` Dense layer.
        weights: ``None`` (random initialization), ``"imagenet"`` (Keras's published
            weights, downloaded once into the cache) or the path of a weights file
            (``.weights.h5``, or a Keras 2 ``.h5``).
        input_tensor: optional symbolic tensor (from ``Input``) to use as the image input.
        input_shape: ``(height, width, 3)`` with sides of at least 75; with
            ``include_top=True`` and ImageNet weights it must be ``(299, 299, 3)``.
        pooling: with ``include_top=False``: ``None`` (4-D feature map), ``"avg"`` or
            ``"max"`` (global pooling to ``(batch, 2048)``).
        classes: number of classes of the top layer (1000 for ImageNet weights).
        classifier_activation: activation of the top layer; ``None`` returns logits.

    Inputs should be prepared with :func:`preprocess_input` (``"tf"`` mode: pixels to
    [-1, 1]).

    Example:
        >>> model = InceptionV3(weights=None, include_top=False, pooling="avg")
        >>> model.output_shape, model.get_layer("mixed7").output.shape
        ((None, 2048), (None, None, None, 768))
    """
    input_shape = imagenet_utils.validate_application_args(
        "InceptionV3",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_size=299,
        min_size=75,
    )
    img_input, inputs = imagenet_utils.application_input(input_tensor, input_shape)

    x = _conv_bn(img_input, 32, 3, 3, strides=2, padding="valid")
    x = _conv_bn(x, 32, 3, 3, padding="valid")
    x = _conv_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _conv_bn(x, 80, 1, 1, padding="valid")
    x = _conv_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

    x = _mixed_35(x, 32, "mixed0")
    x = _mixed_35(x, 64, "mixed1")
    x = _mixed_35(x, 64, "mixed2")

    # mixed3: 35×35 → 17×17 by strided convolutions beside a max pooling.
    branch3x3 = _conv_bn(x, 384, 3, 3, strides=2, padding="valid")
    branch3x3dbl = _conv_bn(x, 64, 1, 1)
    branch3x3dbl = _conv_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = _conv_bn(branch3x3dbl, 96, 3, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=3, name="mixed3")([branch3x3, branch3x3dbl, branch_pool])

    x = _mixed_17(x, 128, "mixed4")
    x = _mixed_17(x, 160, "mixed5")
    x = _mixed_17(x, 160, "mixed6")
    x = _mixed_17(x, 192, "mixed7")

    # mixed8: 17×17 → 8×8.
    branch3x3 = _conv_bn(x, 192, 1, 1)
    branch3x3 = _conv_bn(branch3x3, 320, 3, 3, strides=2, padding="valid")
    branch7x7x3 = _conv_bn(x, 192, 1, 1)
    branch7x7x3 = _conv_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = _conv_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = _conv_bn(branch7x7x3, 192, 3, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=3, name="mixed8")([branch3x3, branch7x7x3, branch_pool])

    x = _mixed_8(x, 0)
    x = _mixed_8(x, 1)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)

    model = Functional(inputs, x, name="inception_v3")
    file_name, file_hash = _WEIGHTS_WITH_TOP if include_top else _WEIGHTS_NO_TOP
    imagenet_utils.load_application_weights(
        model,
        weights,
        file_name=file_name,
        file_hash=file_hash,
        url=_BASE_WEIGHTS_URL + file_name,
        # Most layers keep automatic names, numbered differently in Keras 2's files: pair
        # layers by order, as Keras does for these files.
        match="order",
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

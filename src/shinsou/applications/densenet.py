"""DenseNet-121, -169 and -201 (``keras.applications.densenet``), Huang et al., CVPR 2017.

Every layer of a dense block sees the concatenation of all earlier feature maps of that
block; transition blocks halve the channels (1×1 convolution) and the resolution (2×2
average pooling) between blocks. Layer names, order and weight shapes are Keras's, so
Keras's weight files load layer for layer.

Example:
    >>> model = DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.name, model.output_shape, model.count_params()
    ('densenet121', (None, 1, 1, 1024), 7037504)
"""

from __future__ import annotations

from .. import layers
from ..models import Functional
from . import imagenet_utils

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201"]

_BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"

# Blocks per dense block, model name, and the published weight files (with, without top):
# (file name, md5 hash) pairs as Keras lists them.
_VARIANTS = {
    "DenseNet121": (
        (6, 12, 24, 16),
        "densenet121",
        ("densenet121_weights_tf_dim_ordering_tf_kernels.h5", "9d60b8095a5708f2dcce2bca79d332c7"),
        (
            "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "30ee3e1110167f948a6b9946edeeb738",
        ),
    ),
    "DenseNet169": (
        (6, 12, 32, 32),
        "densenet169",
        ("densenet169_weights_tf_dim_ordering_tf_kernels.h5", "d699b8f76981ab1b30698df4c175e90b"),
        (
            "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "b8c4d4c20dd625c148057b9ff1c1176b",
        ),
    ),
    "DenseNet201": (
        (6, 12, 48, 32),
        "densenet201",
        ("densenet201_weights_tf_dim_ordering_tf_kernels.h5", "1ceb130c1ea1b78c3bf6114dbdfd8807"),
        (
            "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "c13680b51ded0fb44dff2d8f86ac8bb1",
        ),
    ),
}

_GROWTH_RATE = 32
_BN_EPSILON = 1.001e-5  # Keras's value, which the published weights were trained with


def _bn_relu(x, name):
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name=name + "_bn")(x)
    return layers.Activation("relu", name=name + "_relu")(x)


def _conv_block(x, name):
    """One dense layer: BN-ReLU-1×1 conv (4·growth) then BN-ReLU-3×3 conv (growth), whose
    output is concatenated onto the block's running feature map."""
    branch = _bn_relu(x, name + "_0")
    branch = layers.Conv2D(4 * _GROWTH_RATE, 1, use_bias=False, name=name + "_1_conv")(branch)
    branch = _bn_relu(branch, name + "_1")
    branch = layers.Conv2D(_GROWTH_RATE, 3, padding="same", use_bias=False, name=name + "_2_conv")(
        branch
    )
    return layers.Concatenate(axis=3, name=name + "_concat")([x, branch])


def _dense_block(x, blocks, name):
    for index in range(1, blocks + 1):
        x = _conv_block(x, f"{name}_block{index}")
    return x


def _transition_block(x, name):
    x = _bn_relu(x, name)
    x = layers.Conv2D(x.shape[3] // 2, 1, use_bias=False, name=name + "_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def _densenet(
    variant,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
):
    blocks, model_name, top_file, notop_file = _VARIANTS[variant]
    input_shape = imagenet_utils.validate_application_args(
        variant,
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        default_size=224,
        min_size=32,
    )
    img_input, inputs = imagenet_utils.application_input(input_tensor, input_shape)

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn_relu(x, "conv1")
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = _dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = _transition_block(x, name=f"pool{stage}")
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)

    model = Functional(inputs, x, name=model_name)
    file_name, file_hash = top_file if include_top else notop_file
    imagenet_utils.load_application_weights(
        model,
        weights,
        file_name=file_name,
        file_hash=file_hash,
        url=_BASE_WEIGHTS_URL + file_name,
        # Keras 2's files name the stem "conv1/conv", "conv1/bn": pair layers by order, as
        # Keras does for these files.
        match="order",
    )
    return model


def DenseNet121(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
):
    """DenseNet-121 (dense blocks of 6, 12, 24, 16 layers): 8,062,504 parameters with the
    1000-class top, 7,037,504 without.

    Args:
        include_top: whether to end with global average pooling and the ``predictions``
            Dense layer.
        weights: ``None`` (random initialization), ``"imagenet"`` (Keras's published
            weights, downloaded once into the cache) or the path of a weights file
            (``.weights.h5``, or a Keras 2 ``.h5``).
        input_tensor: optional symbolic tensor (from ``Input``) to use as the image input.
        input_shape: ``(height, width, 3)`` with sides of at least 32; with
            ``include_top=True`` and ImageNet weights it must be ``(224, 224, 3)``.
        pooling: with ``include_top=False``: ``None`` (4-D feature map), ``"avg"`` or
            ``"max"`` (global pooling to ``(batch, 1024)``).
        classes: number of classes of the top layer (1000 for ImageNet weights).
        classifier_activation: activation of the top layer; ``None`` returns logits.

    Inputs should be prepared with :func:`preprocess_input` (``"torch"`` mode).

    Example:
        >>> model = DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10)
        >>> model.output_shape, model.get_layer("conv5_block16_concat").output.shape
        ((None, 10), (None, 1, 1, 1024))
    """
    return _densenet(
        "DenseNet121",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def DenseNet169(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
):
    """DenseNet-169 (dense blocks of 6, 12, 32, 32 layers): 14,307,880 parameters with the
    1000-class top. Arguments as :func:`DenseNet121`; pooled features have 1664 channels.

    Example:
        >>> model = DenseNet169(weights=None, include_top=False, pooling="max")
        >>> model.output_shape
        (None, 1664)
    """
    return _densenet(
        "DenseNet169",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def DenseNet201(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
):
    """DenseNet-201 (dense blocks of 6, 12, 48, 32 layers): 20,242,984 parameters with the
    1000-class top. Arguments as :func:`DenseNet121`; pooled features have 1920 channels.

    Example:
        >>> model = DenseNet201(weights=None, include_top=False, pooling="avg")
        >>> model.output_shape
        (None, 1920)
    """
    return _densenet(
        "DenseNet201",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
    )


def preprocess_input(x, data_format=None):
    """Prepare images with pixel values in [0, 255] as the DenseNet ImageNet weights expect
    (Keras's ``"torch"`` mode): scale to [0, 1], subtract the ImageNet mean and divide by the
    standard deviation of each RGB channel. Returns a new float32 array (a tensor for a
    tensor).

    Example:
        >>> import numpy as np
        >>> pixel = np.array([[[[255.0, 0.0, 128.0]]]])
        >>> preprocess_input(pixel).astype(float).round(3).tolist()
        [[[[2.249, -2.036, 0.426]]]]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


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

"""ResNet50, ResNet101 and ResNet152 (``keras.applications.resnet``): He et al., "Deep
Residual Learning for Image Recognition" (CVPR 2016), the v1 bottleneck networks with
Keras's structure and layer names (``conv1_pad``, ``conv1_conv``, ``conv1_bn``,
``conv1_relu``, ``pool1_pad``, ``pool1_pool``, ``conv2_block1_0_conv`` ...
``conv5_block3_out``, ``avg_pool``, ``predictions``), so Keras's ImageNet weight files load
layer for layer. :func:`build_resnet` is also the body of :mod:`.resnet_v2`.

As in Keras's (Caffe-trained) v1 weights, a block's stride sits on its first 1x1
convolution, and inputs are expected as :func:`preprocess_input` leaves them ("caffe" mode:
BGR, minus the ImageNet mean).

Example:
    >>> model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.output_shape, model.get_layer("conv1_conv").strides
    ((None, 1, 1, 2048), (2, 2))
"""

from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

# Only the builders go into ``shinsou.applications``; preprocess_input and
# decode_predictions are reached through the module (``applications.resnet``), as in Keras.
__all__ = ["ResNet50", "ResNet101", "ResNet152"]

_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {  # md5 of (with top, without top), as Keras publishes them
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
BN_EPSILON = 1.001e-5  # Keras's, and the value its weights were trained with


def batch_norm(x, name):
    """Keras's ResNet batch normalization (epsilon 1.001e-5) named ``name``."""
    return layers.BatchNormalization(axis=3, epsilon=BN_EPSILON, name=name)(x)


def build_resnet(
    stack_fn,
    preact,
    use_bias,
    *,
    weights_name,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
):
    """The ResNet stem, ``stack_fn``'s residual stages, and the top, as Keras builds them.

    ``preact`` selects v2 (pre-activation: no BN after the stem, ``post_bn``/``post_relu``
    at the end); ``use_bias`` is the stem convolution's. ``weights_name`` names the
    ImageNet files (``<weights_name>_weights_tf_dim_ordering_tf_kernels[_notop].h5``).

    Example:
        >>> model = build_resnet(lambda x: x, False, True, weights_name="none",
        ...                      include_top=False, weights=None, input_tensor=None,
        ...                      input_shape=(32, 32, 3), pooling="max", classes=1000,
        ...                      classifier_activation=None, name="stem_only")
        >>> model.output_shape, model.layers[-1].name
        ((None, 64), 'max_pool')
    """
    input_shape = imagenet_utils.validate_application_args(
        name,
        weights=weights,
        include_top=include_top,
        classes=classes,
        input_shape=input_shape,
        input_tensor=input_tensor,
        pooling=pooling,
        classifier_activation=classifier_activation,
        default_size=224,
        min_size=32,
    )
    image, inputs = imagenet_utils.application_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(image)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = batch_norm(x, "conv1_bn")
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = batch_norm(x, "post_bn")
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = Model(inputs, x, name=name)
    if weights == "imagenet" and weights_name not in WEIGHTS_HASHES:
        raise ValueError(f"{name}: there are no ImageNet weights for {weights_name!r}")
    suffix = "" if include_top else "_notop"
    file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    hashes = WEIGHTS_HASHES.get(weights_name, (None, None))
    return imagenet_utils.load_application_weights(
        model,
        weights,
        file_name=file_name,
        file_hash=hashes[0] if include_top else hashes[1],
        url=_BASE_URL + file_name,
    )


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A v1 bottleneck block: 1x1 (strided), 3x3, 1x1 (``4 * filters``) convolutions, each
    batch-normalized, added to the shortcut (a strided 1x1 convolution + BN when
    ``conv_shortcut``, else the input), then ReLU.

    Example:
        >>> import shinsou
        >>> y = residual_block_v1(shinsou.Input((8, 8, 16)), 4, stride=2, name="demo")
        >>> y.shape
        (None, 4, 4, 16)
    """
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = batch_norm(shortcut, f"{name}_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = batch_norm(x, f"{name}_1_bn")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = batch_norm(x, f"{name}_2_bn")
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = batch_norm(x, f"{name}_3_bn")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v1 blocks named ``<name>_block1`` ...; the first projects the shortcut and
    has stride ``stride1``.

    Example:
        >>> import shinsou
        >>> stack_residual_blocks_v1(shinsou.Input((8, 8, 16)), 4, 2, name="conv9").shape
        (None, 4, 4, 16)
    """
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for index in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{index}")
    return x


def _resnet_v1(blocks, weights_name, **kwargs):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, blocks[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, blocks[3], name="conv5")

    return build_resnet(stack_fn, False, True, weights_name=weights_name, **kwargs)


BUILDER_ARGS_DOC = """
    Args:
        include_top: whether to include the classifier (global average pooling ``avg_pool``
            and the dense ``predictions`` layer).
        weights: None (random), ``"imagenet"`` (Keras's published weights, downloaded once
            into the cache) or the path to a weights file (Keras 3 ``.weights.h5`` or a Keras
            2 application ``.h5``).
        input_tensor: an optional symbolic tensor (from ``Input``) to build the model on.
        input_shape: ``(height, width, channels)`` when ``include_top`` is False: 3
            channels, at least 32x32; defaults to ``(None, None, 3)``.
        pooling: without the top, None (a 4D output), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top (1000 for the ImageNet weights).
        classifier_activation: the activation of ``predictions``; None for logits.
        name: the model's name.
"""


def ResNet50(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
):
    """ResNet50 (``keras.applications.ResNet50``): 3, 4, 6, 3 bottleneck blocks; 25,636,712
    parameters with the top (25,583,592 trainable).

    Example:
        >>> model = ResNet50(weights=None)
        >>> model.count_params(), len(model.layers)
        (25636712, 177)
    """
    return _resnet_v1(
        (3, 4, 6, 3),
        "resnet50",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet101(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
):
    """ResNet101 (``keras.applications.ResNet101``): 3, 4, 23, 3 bottleneck blocks;
    44,707,176 parameters with the top.

    Example:
        >>> ResNet101(weights=None, include_top=False).count_params()
        42658176
    """
    return _resnet_v1(
        (3, 4, 23, 3),
        "resnet101",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def ResNet152(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
):
    """ResNet152 (``keras.applications.ResNet152``): 3, 8, 36, 3 bottleneck blocks;
    60,419,944 parameters with the top.

    Example:
        >>> ResNet152(weights=None, include_top=False).get_layer("conv4_block36_out").name
        'conv4_block36_out'
    """
    return _resnet_v1(
        (3, 8, 36, 3),
        "resnet152",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


for _builder in (ResNet50, ResNet101, ResNet152):
    # One Args section for the three builders, placed before each one's own example.
    _builder.__doc__ = _builder.__doc__.replace(
        "\n    Example:", BUILDER_ARGS_DOC + "\n    Example:"
    )


def preprocess_input(x, data_format=None):
    """ResNet (v1) preprocessing (``keras.applications.resnet.preprocess_input``): RGB to
    BGR, then each channel minus its ImageNet mean, without scaling ("caffe" mode).

    Example:
        >>> import numpy as np
        >>> preprocess_input(np.array([[[123.68, 116.779, 103.939]]])).tolist()
        [[[0.0, 0.0, 0.0]]]
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


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

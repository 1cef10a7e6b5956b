"""VGG16 (``keras.applications.vgg16``): Simonyan & Zisserman, "Very Deep Convolutional
Networks for Large-Scale Image Recognition" (ICLR 2015), with Keras's layer names
(``block1_conv1`` ... ``block5_pool``, ``flatten``, ``fc1``, ``fc2``, ``predictions``), so
Keras's ImageNet weight files load layer for layer. :mod:`.vgg19` reuses the builder.

Inputs are expected as :func:`preprocess_input` leaves them: BGR, minus the ImageNet mean.

Example:
    >>> model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    >>> model.output_shape, model.count_params()
    ((None, 1, 1, 512), 14714688)
"""

from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

# Only the builder goes into ``shinsou.applications``: each family has its own
# preprocess_input (caffe here, "tf" for ResNetV2), reached through its module, as in Keras.
__all__ = ["VGG16"]

_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS_FILES = {  # (include_top): (file name, md5 hash)
    True: ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
    False: (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}


def build_vgg(
    convs_per_block,
    weights_files,
    url_folder,
    *,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
):
    """A VGG network with ``convs_per_block`` 3x3 convolutions in each of its five blocks
    (64, 128, 256, 512, 512 filters, each block ending in 2x2 max pooling); the shared body
    of :func:`VGG16` and :func:`~shinsou.applications.vgg19.VGG19`.

    Example:
        >>> model = build_vgg((1, 1, 1, 1, 1), WEIGHTS_FILES, "vgg16", include_top=False,
        ...                   weights=None, input_tensor=None, input_shape=(32, 32, 3),
        ...                   pooling="avg", classes=1000, classifier_activation=None,
        ...                   name="vgg_mini")
        >>> model.output_shape
        (None, 512)
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
    x = image
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), 1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(
                filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{conv}"
            )(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = Model(inputs, x, name=name)
    file_name, file_hash = weights_files[bool(include_top)]
    return imagenet_utils.load_application_weights(
        model,
        weights,
        file_name=file_name,
        file_hash=file_hash,
        url=f"{_BASE_URL}{url_folder}/{file_name}",
    )


def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
):
    """The VGG16 model (``keras.applications.VGG16``): 13 convolutions and 3 dense layers,
    138,357,544 parameters with the top.

    Args:
        include_top: whether to include the three fully-connected layers at the top (then the
            input must be 224x224 for the ImageNet weights).
        weights: None (random), ``"imagenet"`` (Keras's published weights, downloaded once
            into the cache) or the path to a weights file (Keras 3 ``.weights.h5`` or a Keras
            2 application ``.h5``).
        input_tensor: an optional symbolic tensor (from ``Input``) to build the model on.
        input_shape: ``(height, width, channels)`` when ``include_top`` is False: 3
            channels, at least 32x32; defaults to ``(None, None, 3)``.
        pooling: without the top, None (a 4D output), ``"avg"`` or ``"max"`` (global
            pooling to a 2D output).
        classes: the number of classes of the top (1000 for the ImageNet weights).
        classifier_activation: the activation of the ``predictions`` layer; None for logits.
        name: the model's name.

    Example:
        >>> model = VGG16(weights=None, include_top=False, pooling="avg")
        >>> model.output_shape, model.get_layer("block5_conv3").filters
        ((None, 512), 512)
    """
    return build_vgg(
        (2, 2, 3, 3, 3),
        WEIGHTS_FILES,
        "vgg16",
        include_top=include_top,
        weights=weights,
        input_tensor=input_tensor,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name,
    )


def preprocess_input(x, data_format=None):
    """VGG's preprocessing (``keras.applications.vgg16.preprocess_input``): RGB to BGR, then
    each channel minus its ImageNet mean, without scaling ("caffe" mode).

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

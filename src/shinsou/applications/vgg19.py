"""VGG19 (``keras.applications.vgg19``): VGG16's design with four convolutions in each of
the last three blocks, and Keras's layer names (``block1_conv1`` ... ``block5_conv4``,
``fc1``, ``fc2``, ``predictions``), so Keras's ImageNet weight files load layer for layer.

Inputs are expected as :func:`preprocess_input` leaves them: BGR, minus the ImageNet mean.

Example:
    >>> model = VGG19(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    >>> model.output_shape, model.count_params()
    ((None, 512), 20024384)
"""

from __future__ import annotations

from . import imagenet_utils
from .vgg16 import build_vgg

__all__ = ["VGG19"]  # preprocess_input and decode_predictions: via the module, as in Keras

WEIGHTS_FILES = {  # (include_top): (file name, md5 hash)
    True: ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"),
    False: (
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}


def VGG19(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg19",
):
    """The VGG19 model (``keras.applications.VGG19``): 16 convolutions and 3 dense layers,
    143,667,240 parameters with the top.

    Args:
        include_top: whether to include the three fully-connected layers at the top (then the
            input must be 224x224 for the ImageNet weights).
        weights: None (random), ``"imagenet"`` (Keras's published weights, downloaded once
            into the cache) or the path to a weights file (Keras 3 ``.weights.h5`` or a Keras
            2 application ``.h5``).
        input_tensor: an optional symbolic tensor (from ``Input``) to build the model on.
        input_shape: ``(height, width, channels)`` when ``include_top`` is False: 3
            channels, at least 32x32; defaults to ``(None, None, 3)``.
        pooling: without the top, None (a 4D output), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top (1000 for the ImageNet weights).
        classifier_activation: the activation of the ``predictions`` layer; None for logits.
        name: the model's name.

    Example:
        >>> VGG19(weights=None, include_top=False).get_layer("block5_conv4").filters
        512
    """
    return build_vgg(
        (2, 2, 4, 4, 4),
        WEIGHTS_FILES,
        "vgg19",
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
    """VGG's preprocessing (``keras.applications.vgg19.preprocess_input``): RGB to BGR, then
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

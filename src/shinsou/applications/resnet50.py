"""``keras.applications.resnet50``: the older home of :func:`ResNet50`, with its
preprocessing ("caffe" mode) and :func:`decode_predictions`; the same objects as in
:mod:`shinsou.applications.resnet`.

Example:
    >>> from shinsou.applications import resnet, resnet50
    >>> resnet50.ResNet50 is resnet.ResNet50
    True
"""

from .resnet import ResNet50 as ResNet50
from .resnet import decode_predictions as decode_predictions
from .resnet import preprocess_input as preprocess_input

__all__ = ["ResNet50"]  # preprocess_input and decode_predictions: via the module, as in Keras

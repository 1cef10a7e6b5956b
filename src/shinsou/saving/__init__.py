"""Saving and loading (``keras.saving``): ``.keras`` model files, ``.weights.h5`` weights
files and configs, in Keras 3's formats. Writes are atomic; loading never runs code from a
file. h5py is needed (imported only when a file is read or written).

Example:
    >>> import os, tempfile
    >>> import shinsou
    >>> model = shinsou.Sequential([shinsou.Input((4,)), shinsou.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.keras")
    >>> save_model(model, path)
    >>> load_model(path).count_params()
    5
"""

from ..utils.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from .cloning import clone_model
from .keras_file import load_model, save_model
from .object_config import deserialize_keras_object, serialize_keras_object
from .weights_h5 import load_weights, save_weights

__all__ = [
    "CustomObjectScope",
    "clone_model",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]

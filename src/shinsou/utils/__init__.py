"""Utilities (``keras.utils``): gradient checking, seeding, labels to one-hot, datasets of
batches, registration of custom objects for saving.

Example:
    >>> from shinsou import utils
    >>> utils.set_random_seed(0)
    >>> utils.to_categorical([0, 2], num_classes=3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
"""

import importlib
import random as _python_random

from .. import backend
from ..gradcheck import gradient_check
from .object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)


def set_random_seed(seed: int) -> None:
    """Seed Python's, NumPy's and shinsou's random generators so runs repeat exactly.

    Example:
        >>> set_random_seed(42)
    """
    import numpy

    if not isinstance(seed, int):
        raise ValueError(f"set_random_seed: the seed must be an int, got {seed!r}")
    _python_random.seed(seed)
    numpy.random.seed(seed % 2**32)
    backend.set_seed(seed)


# Names that live in higher layers of the package, imported when first used.
_LAZY = {
    "to_categorical": "shinsou.utils.data_utils",
    "get_file": "shinsou.utils.data_utils",
    "PyDataset": "shinsou.utils.data_utils",
    "Sequence": "shinsou.utils.data_utils",
    "serialize_keras_object": "shinsou.saving",
    "deserialize_keras_object": "shinsou.saving",
    "Progbar": "shinsou.callbacks.progbar",
    "pack_x_y_sample_weight": "shinsou.models.data",
    "unpack_x_y_sample_weight": "shinsou.models.data",
    "plot_model": "shinsou.viz",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shinsou.utils' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "gradient_check",
    "register_keras_serializable",
    "set_random_seed",
    *_LAZY,
]

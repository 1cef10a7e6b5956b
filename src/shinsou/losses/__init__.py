"""Losses with Keras's names (``keras.losses``): classes, functions, ``get`` and serialization.

``get`` turns whatever ``compile(loss=...)`` received into a :class:`Loss` object: a name
("mse", "sparse_categorical_crossentropy", "CategoricalCrossentropy", ...), a loss object, a
loss class, a config dict, or any function ``fn(y_true, y_pred)`` of per-sample losses.

Example:
    >>> from shinsou import losses
    >>> loss = losses.get("mse")
    >>> type(loss).__name__, loss([[0.0], [2.0]], [[1.0], [1.0]]).item()
    ('MeanSquaredError', 1.0)
    >>> losses.deserialize(losses.serialize(losses.Huber(delta=2.0))).delta
    2.0
"""

from __future__ import annotations

import inspect

from .functions import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    cosine_similarity,
    dice,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .loss import Loss, LossFunctionWrapper, reduce_weighted_values
from .losses import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Dice,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)

# Each loss function and the class that wraps it.
_CLASS_OF_FUNCTION = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    cosine_similarity: CosineSimilarity,
    huber: Huber,
    log_cosh: LogCosh,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    binary_crossentropy: BinaryCrossentropy,
    binary_focal_crossentropy: BinaryFocalCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    dice: Dice,
}

ALIASES = {
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "logcosh": log_cosh,
    "huber_loss": huber,
}
"""Short and legacy names Keras accepts for the loss functions."""

ALL_OBJECTS = (Loss, LossFunctionWrapper, *_CLASS_OF_FUNCTION.values(), *_CLASS_OF_FUNCTION)
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS} | ALIASES
"""Every loss class and function by name (and alias): what strings and configs may name."""

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "Loss",
    "LossFunctionWrapper",
    "deserialize",
    "get",
    "reduce_weighted_values",
    "serialize",
    *(cls.__name__ for cls in _CLASS_OF_FUNCTION.values()),
    *(fn.__name__ for fn in _CLASS_OF_FUNCTION),
]

_MODULE = "keras.losses"


def serialize_function(fn) -> dict:
    """The Keras config of a loss function (built-in ones by name).

    Example:
        >>> serialize_function(mean_squared_error)["config"]
        'mean_squared_error'
    """
    name = getattr(fn, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(f"cannot serialize the loss function {fn!r}: it has no name")
    builtin = ALL_OBJECTS_DICT.get(name) is fn
    return {
        "module": _MODULE if builtin else fn.__module__,
        "class_name": "function",
        "config": name,
        "registered_name": "function" if builtin else name,
    }


def deserialize_function(config, custom_objects=None):
    """The loss function a :func:`serialize_function` config (or plain name) refers to.

    Only built-in functions and those in ``custom_objects`` can be found: nothing is
    imported or evaluated from the config.

    Example:
        >>> deserialize_function("mse") is mean_squared_error
        True
    """
    name = config.get("config") if isinstance(config, dict) else config
    fn = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(name)
    if fn is None or inspect.isclass(fn):
        raise ValueError(
            f"unknown loss function {name!r}; pass it in custom_objects, or use one of "
            f"{_valid_names()}"
        )
    return fn


def serialize(loss) -> dict:
    """The Keras config dict of a loss object or loss function.

    Example:
        >>> serialize(MeanSquaredError())["class_name"]
        'MeanSquaredError'
    """
    if isinstance(loss, Loss):
        cls = type(loss)
        builtin = ALL_OBJECTS_DICT.get(cls.__name__) is cls
        return {
            "module": _MODULE if builtin else cls.__module__,
            "class_name": cls.__name__,
            "config": loss.get_config(),
            "registered_name": None if builtin else cls.__name__,
        }
    if callable(loss):
        return serialize_function(loss)
    raise TypeError(f"serialize: expected a Loss object or a loss function, got {loss!r}")


def deserialize(config, custom_objects=None):
    """A loss object (or function) from :func:`serialize`'s dict or from a name.

    Class names give an object, function names the function. ``custom_objects`` maps names
    to your own loss classes and functions.

    Example:
        >>> deserialize({"class_name": "Huber", "config": {"delta": 0.5}}).delta
        0.5
    """
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        found = custom_objects.get(config) or ALL_OBJECTS_DICT.get(config)
        if found is None:
            raise ValueError(f"unknown loss {config!r}; valid names: {_valid_names()}")
        return found() if inspect.isclass(found) else found
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            f"deserialize: expected a loss name or a dict with 'class_name' and 'config', "
            f"got {config!r}"
        )
    class_name = config["class_name"]
    if class_name == "function":
        return deserialize_function(config, custom_objects)
    cls = custom_objects.get(class_name) or ALL_OBJECTS_DICT.get(class_name)
    if cls is None and config.get("registered_name"):
        cls = custom_objects.get(config["registered_name"])
    if not (inspect.isclass(cls) and issubclass(cls, Loss)):
        raise ValueError(
            f"unknown loss class {class_name!r}; pass it in custom_objects, or use one of "
            f"{sorted(c.__name__ for c in _CLASS_OF_FUNCTION.values())}"
        )
    inner = dict(config.get("config") or {})
    if "fn" in inner:
        inner["fn"] = deserialize_function(inner["fn"], custom_objects)
        return cls(**inner)
    return cls.from_config(inner)


def get(identifier):
    """A :class:`Loss` object from a name, object, class, config dict or function.

    Names give the class of that loss with its defaults ("mse" and "mean_squared_error"
    both give ``MeanSquaredError()``); a function ``fn(y_true, y_pred)`` is wrapped in a
    :class:`LossFunctionWrapper` with the default reduction. ``None`` gives ``None``.

    Example:
        >>> type(get("sparse_categorical_crossentropy")).__name__
        'SparseCategoricalCrossentropy'
        >>> get(lambda y_true, y_pred: (y_pred - y_true) ** 2).reduction
        'sum_over_batch_size'
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if inspect.isclass(identifier):
        if issubclass(identifier, Loss) and identifier is not LossFunctionWrapper:
            return identifier()
        raise TypeError(f"losses.get: {identifier.__name__} is not a Loss class")
    if isinstance(identifier, str):
        found = ALL_OBJECTS_DICT.get(identifier)
        found = _CLASS_OF_FUNCTION.get(found, found)
        if found is None or found in (Loss, LossFunctionWrapper):
            raise ValueError(f"unknown loss {identifier!r}; valid names: {_valid_names()}")
        return found()
    if isinstance(identifier, dict):
        identifier = deserialize(identifier)
        if isinstance(identifier, Loss):
            return identifier
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(
        f"losses.get: cannot interpret {identifier!r} as a loss; give a name, a Loss object "
        "or a function fn(y_true, y_pred)"
    )


def _valid_names() -> str:
    names = [fn.__name__ for fn in _CLASS_OF_FUNCTION] + list(ALIASES)
    return ", ".join(sorted(set(names), key=str.lower))

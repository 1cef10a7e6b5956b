"""Optimizers with Keras's names, arguments, defaults and update formulas
(``keras.optimizers``), and learning-rate ``schedules``.

Look one up by name (case-insensitive), config dict or instance with :func:`get`; that is what
``model.compile(optimizer="adam")`` does.

Example:
    >>> from shinsou import optimizers
    >>> optimizer = optimizers.get("adam")
    >>> type(optimizer).__name__, optimizer.get_config()["beta_1"]
    ('Adam', 0.9)
    >>> optimizers.get({"class_name": "SGD", "config": {"momentum": 0.9}}).momentum
    0.9
"""

from __future__ import annotations

from . import schedules
from .adagrad import Adadelta, Adagrad
from .adam import Adam, Adamax, AdamW, Nadam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

ALL_OPTIMIZERS = {
    cls.__name__.lower(): cls
    for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)
}


def serialize(optimizer) -> dict:
    """The Keras config dict of an optimizer (``module``, ``class_name``, ``config``).

    Example:
        >>> serialize(SGD())["class_name"]
        'SGD'
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer; received {optimizer!r}")
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """An optimizer from its config dict (the output of :func:`serialize`).

    Built-in class names match case-insensitively; ``custom_objects`` maps names to your
    own ``Optimizer`` subclasses (and learning-rate schedules).

    Example:
        >>> deserialize({"class_name": "rmsprop", "config": {"rho": 0.8}}).rho
        0.8
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "optimizers.deserialize: expected a dict with 'class_name' and 'config'; received "
            f"{config!r}"
        )
    name = config["class_name"]
    custom_objects = custom_objects or {}
    cls = custom_objects.get(name) or ALL_OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ValueError(
            f"unknown optimizer {name!r}; valid names: {', '.join(sorted(ALL_OPTIMIZERS))}"
            + (" (or a key of custom_objects)" if custom_objects else "")
        )
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name (``"adam"``, ``"SGD"``, ...), a config dict or an instance
    (returned unchanged); ``None`` gives ``None``.

    Example:
        >>> get("rmsprop").name
        'rmsprop'
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(
        f"could not interpret optimizer identifier {identifier!r}: pass a name such as 'adam', "
        "a config dict or an Optimizer instance"
    )


__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

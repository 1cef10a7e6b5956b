"""Activation functions by name (``keras.activations``), for layers' ``activation=``.

Example:
    >>> from shinsou import activations
    >>> activations.get("relu")([-1.0, 2.0]).tolist()
    [0.0, 2.0]
    >>> activations.serialize(activations.get("softmax"))
    'softmax'
"""

from __future__ import annotations

from . import ops
from .utils.object_registration import get_registered_object


def linear(x):
    """The identity: ``linear(x) = x`` (as a tensor).

    Example:
        >>> linear([1.0]).tolist()
        [1.0]
    """
    return ops.convert_to_tensor(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's optional slope, cap and threshold.

    Example:
        >>> relu([-1.0, 0.5, 3.0], max_value=1.0).tolist()
        [0.0, 0.5, 1.0]
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    x = ops.convert_to_tensor(x)
    shifted = x - threshold if threshold else x
    out = ops.where(x > threshold, x, negative_slope * shifted if negative_slope else 0.0)
    return ops.minimum(out, max_value) if max_value is not None else out


def softmax(x, axis=-1):
    """Softmax along ``axis``.

    Example:
        >>> softmax([0.0, 0.0]).tolist()
        [0.5, 0.5]
    """
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``.

    Example:
        >>> round(log_softmax([0.0, 0.0]).tolist()[0], 4)
        -0.6931
    """
    return ops.log_softmax(x, axis=axis)


def exponential(x):
    """``exp(x)``.

    Example:
        >>> exponential([0.0]).tolist()
        [1.0]
    """
    return ops.exp(x)


def _plain(name):
    def activation(x):
        return getattr(ops, name)(x)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = (
        f"The ``{name}`` activation (see ``shinsou.ops.{name}``).\n\n"
        f"    Example:\n        >>> {name}([0.0]).shape\n        (1,)\n"
    )
    return activation


sigmoid = _plain("sigmoid")
tanh = _plain("tanh")
elu = _plain("elu")
selu = _plain("selu")
gelu = _plain("gelu")
softplus = _plain("softplus")
softsign = _plain("softsign")
silu = _plain("silu")
swish = silu
hard_sigmoid = _plain("hard_sigmoid")
relu6 = _plain("relu6")
leaky_relu = _plain("leaky_relu")

_BY_NAME = {
    f.__name__: f
    for f in (
        linear,
        relu,
        softmax,
        log_softmax,
        exponential,
        sigmoid,
        tanh,
        elu,
        selu,
        gelu,
        softplus,
        softsign,
        silu,
        hard_sigmoid,
        relu6,
        leaky_relu,
    )
}
_BY_NAME["swish"] = silu


def get(identifier):
    """An activation function from its name, or the callable itself; None means linear.

    Example:
        >>> get(None) is linear
        True
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    if isinstance(identifier, dict):  # {"class_name": "function", "config": "relu", ...}
        name = identifier.get("config")
        if isinstance(name, str) and name in _BY_NAME:
            return _BY_NAME[name]
        identifier = identifier.get("registered_name") or name
    registered = get_registered_object(identifier) if isinstance(identifier, str) else None
    if registered is not None:
        return registered
    raise ValueError(
        f"unknown activation {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}"
    )


def serialize(activation) -> str:
    """The name under which an activation is saved in a layer's config.

    Example:
        >>> serialize(relu)
        'relu'
    """
    for name, function in _BY_NAME.items():
        if function is activation:
            return name
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"cannot serialize activation {activation!r}: it has no name")
    return name

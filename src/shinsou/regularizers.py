"""Weight regularizers (``keras.regularizers``): penalties added to the training loss.

Example:
    >>> from shinsou import regularizers, tensor
    >>> regularizers.L2(0.1)(tensor([1.0, 2.0])).item()
    0.5
"""

from __future__ import annotations

from . import ops
from .utils.object_registration import get_registered_object


class Regularizer:
    """Base class: ``regularizer(weight)`` returns a scalar tensor penalty."""

    def __call__(self, x):
        return ops.zeros(())

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_factor(name, value):
    if value < 0:
        raise ValueError(f"{name}: the factor must be >= 0, got {value}")
    return float(value)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x²)``.

    Example:
        >>> from shinsou import tensor
        >>> L1L2(l1=1.0)(tensor([-2.0])).item()
        2.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor("L1L2", l1)
        self.l2 = _check_factor("L1L2", l2)

    def __call__(self, x):
        penalty = ops.zeros((), dtype=x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * ops.sum(ops.square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)``.

    Example:
        >>> from shinsou import tensor
        >>> L1(0.5)(tensor([-2.0, 2.0])).item()
        2.0
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x²)``.

    Example:
        >>> from shinsou import tensor
        >>> L2(1.0)(tensor([3.0])).item()
        9.0
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2}
ALL_REGULARIZERS = {"L1": L1, "L2": L2, "L1L2": L1L2, "Regularizer": Regularizer}


def get(identifier):
    """A regularizer from a name ("l2"), a config dict, or a callable (returned as is).

    Example:
        >>> type(get("l2")).__name__
        'L2'
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = ALL_REGULARIZERS.get(name) or get_registered_object(
            identifier.get("registered_name") or name
        )
        if cls is None:
            raise ValueError(f"unknown regularizer {identifier.get('class_name')!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or ALL_REGULARIZERS.get(identifier)
        cls = cls or get_registered_object(identifier)
        if cls is None:
            raise ValueError(
                f"unknown regularizer {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}"
            )
        return cls()
    raise TypeError(f"cannot interpret {identifier!r} as a regularizer")

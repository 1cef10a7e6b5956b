"""The ``Metric`` base class: state in non-trainable variables, updated batch by batch.

Metrics never build a graph: the built-in ones turn their inputs (tensors, arrays, lists)
into NumPy arrays and update their variables in place. ``result()`` returns a Python float
(or a NumPy array for metrics with several values, such as precision at several
thresholds).

Example:
    >>> import numpy as np
    >>> class Count(Metric):
    ...     def __init__(self, name="count", dtype=None):
    ...         super().__init__(name=name, dtype=dtype)
    ...         self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")
    ...     def update_state(self, values, sample_weight=None):
    ...         self.seen.assign_add(np.size(values))
    ...     def result(self):
    ...         return float(self.seen.numpy())
    >>> count = Count()
    >>> count.update_state([1, 2, 3])
    >>> count([4])
    4.0
    >>> count.reset_state()
    >>> count.result()
    0.0
"""

from __future__ import annotations

from .. import backend, initializers
from ..backend import xp
from ..tensor import Tensor
from ..utils.naming import to_snake_case
from ..variables import Variable


def to_numpy(x, dtype=None):
    """``x`` (tensor, array, list or number) as a NumPy array, without any graph.

    Example:
        >>> to_numpy([1, 2], "float32").dtype
        dtype('float32')
    """
    if isinstance(x, Tensor):
        x = backend.to_numpy(x.data)
    return xp.asarray(x, dtype=dtype)


def standardize_metric_dtype(dtype, caller) -> str:
    """The name of a floating-point dtype (``floatx()`` for None).

    Example:
        >>> standardize_metric_dtype(None, "Mean")
        'float32'
    """
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get("config", {}).get("name")
    if dtype is None:
        return backend.floatx()
    try:
        resolved = backend.standardize_dtype(getattr(dtype, "name", dtype))
    except TypeError:
        resolved = None
    if resolved is None or not backend.is_floating(resolved):
        raise ValueError(f"{caller}: dtype must be a floating-point type, got {dtype!r}")
    return resolved.name


class Metric:
    """Base class of the metrics (``keras.metrics.Metric``).

    Subclasses create their state with :meth:`add_variable` in ``__init__`` and implement
    ``update_state(...)`` and ``result()``; ``reset_state()`` zeroes every variable.
    ``name`` is a plain attribute: ``compile`` renames metrics given as strings.

    Example:
        >>> from shinsou.metrics import Mean
        >>> m = Mean(name="loss")
        >>> m.update_state([1.0, 3.0])
        >>> m.name, m.result(), [v.name for v in m.variables]
        ('loss', 2.0, ['total', 'count'])
    """

    def __init__(self, dtype=None, name=None):
        caller = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{caller}: name must be a string, got {name!r}")
        # Keras 3 numbers default names (auc, auc_1, ...) across a session; a plain class
        # name keeps log keys stable from one model to the next.
        self.name = name or to_snake_case(caller)
        self._dtype = standardize_metric_dtype(dtype, caller)
        self._variables = []
        self._metrics = []

    def __setattr__(self, name, value):
        # Metrics built from other metrics report (and reset) their variables too.
        if isinstance(value, Metric) and "_metrics" in self.__dict__:
            self._metrics.append(value)
        super().__setattr__(name, value)

    @property
    def dtype(self) -> str:
        """The dtype of the state and the result (``"float32"`` by default)."""
        return self._dtype

    @property
    def variables(self) -> list:
        """The state variables of this metric and of the metrics it holds."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() in __init__ before using it"
            )
        variables = list(self._variables)
        for metric in self._metrics:
            variables.extend(metric.variables)
        return variables

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """Create a non-trainable state variable (``initializer``: a name or callable)."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before add_variable()"
            )
        variable = Variable(
            initializers.get(initializer or "zeros"),
            shape=tuple(shape),
            dtype=dtype or self._dtype,
            trainable=False,
            aggregation=aggregation,
            name=name,
        )
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Alias of :meth:`add_variable` kept for older Keras code."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def update_state(self, *args, **kwargs):
        """Accumulate statistics from one batch; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state()")

    def result(self):
        """The current value of the metric; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def reset_state(self) -> None:
        """Zero every state variable (called at the start of each epoch)."""
        for variable in self.variables:
            variable.data[...] = 0

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        """The constructor arguments, as Keras saves them."""
        return {"name": self.name, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config):
        """Recreate a metric from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

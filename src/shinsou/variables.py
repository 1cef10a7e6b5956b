"""Variable: a tensor that a layer owns and an optimizer updates in place.

Example:
    >>> from shinsou import Variable
    >>> v = Variable([1.0, 2.0], name="bias")
    >>> v.assign([3.0, 4.0])
    >>> v.numpy().tolist(), v.trainable
    ([3.0, 4.0], True)
"""

from __future__ import annotations

from . import backend
from .backend import xp
from .tensor import Tensor


class Variable(Tensor):
    """A named, stateful tensor (``keras.Variable``); trainable ones carry gradients.

    ``initializer`` is either the initial value (array-like) or a callable
    ``initializer(shape, dtype)`` such as an object of :mod:`shinsou.initializers`, in which
    case ``shape`` is required. The storage is updated in place by :meth:`assign`, so views
    of it (an optimizer's flat buffer, say) stay valid.

    Example:
        >>> from shinsou import initializers
        >>> Variable(initializers.Zeros(), shape=(2, 3)).shape
        (2, 3)
    """

    __slots__ = (
        "_declared_trainable",
        "_grad_buffer",
        "_layer",
        "_trainable",
        "constraint",
        "name",
        "path",
        "regularizer",
    )

    def __init__(
        self,
        initializer,
        shape=None,
        dtype=None,
        trainable=True,
        autocast=True,
        aggregation="none",
        synchronization="auto",
        name=None,
    ):
        dtype = backend.standardize_dtype(dtype) if dtype is not None else None
        if callable(initializer):
            if shape is None:
                raise ValueError(
                    f"Variable '{name}': an initializer needs a shape; pass shape=(...)"
                )
            value = initializer(tuple(shape), dtype=dtype or backend.floatx())
        else:
            value = initializer
        super().__init__(value, dtype=dtype)
        if not callable(initializer) or not self.data.flags.owndata:
            # Own the storage, since assign writes into it: a value the caller passed may be
            # theirs (an initializer's fresh array need not be copied: 2× faster VGG builds).
            self.data = xp.array(self.data, copy=True)
        if shape is not None and tuple(shape) != self.data.shape:
            raise ValueError(
                f"Variable '{name}': initial value has shape {self.data.shape}, "
                f"expected {tuple(shape)}"
            )
        self.name = name or "variable"
        self.path = self.name
        self.regularizer = None
        self.constraint = None
        self._layer = None
        self._grad_buffer = None  # where backward writes .grad (an optimizer's flat buffer)
        self._declared_trainable = bool(trainable)  # what its layer asked for, before freezing
        self.trainable = trainable

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        if value and not backend.is_floating(self.data.dtype):
            value = False  # integer state (counters, say) never trains
        self._trainable = value
        self.requires_grad = value

    @property
    def value(self) -> Tensor:
        """The current value as a tensor (the variable itself)."""
        return self

    def numpy(self):
        """A copy of the current value as a NumPy array."""
        return backend.to_numpy(self.data).copy()

    def assign(self, value) -> None:
        """Overwrite the value in place; the shape must stay the same."""
        value = value.data if isinstance(value, Tensor) else value
        value = xp.asarray(value)
        if value.shape != self.data.shape:
            try:
                value = xp.broadcast_to(value, self.data.shape)
            except ValueError:
                raise ValueError(
                    f"Variable '{self.path}' has shape {self.data.shape}; cannot assign a value "
                    f"of shape {value.shape}"
                ) from None
        self.data[...] = value

    def assign_add(self, value) -> None:
        """Add to the value in place."""
        self.data += xp.asarray(value.data if isinstance(value, Tensor) else value, self.dtype)

    def assign_sub(self, value) -> None:
        """Subtract from the value in place."""
        self.data -= xp.asarray(value.data if isinstance(value, Tensor) else value, self.dtype)

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype.name}, "
            f"value={backend.to_numpy(self.data)}>"
        )

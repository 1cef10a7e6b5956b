"""Input and InputLayer: where a functional model's graph starts.

Example:
    >>> import shinsou
    >>> x = shinsou.Input(shape=(28, 28, 1), name="image")
    >>> x.shape, x.name
    ((None, 28, 28, 1), 'image')
"""

from __future__ import annotations

from .. import backend
from .base import Layer
from .symbolic import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind :func:`Input`: it has no weights and one symbolic output."""

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        ragged=False,
        **kwargs,
    ):
        if ragged:
            raise ValueError("InputLayer: ragged inputs are not supported; pad to a fixed shape")
        legacy = kwargs.pop("batch_input_shape", None) or kwargs.pop("input_shape", None)
        if legacy is not None and batch_shape is None and shape is None:
            batch_shape = legacy
        super().__init__(name=name, dtype=dtype, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError("Input: give shape or batch_shape, not both")
        if input_tensor is not None:
            batch_shape = input_tensor.shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: a shape is required, e.g. Input(shape=(784,))")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size, *shape)
        self.batch_shape = tuple(None if s is None else int(s) for s in batch_shape)
        self._input_dtype = backend.standardize_dtype(dtype or backend.floatx()).name
        self.sparse = bool(sparse)
        self.optional = optional
        self.built = True
        output = KerasTensor(self.batch_shape, self._input_dtype, name=self.name)
        Node(self, (), {}, output)
        self._output = output

    @property
    def dtype(self) -> str:
        return self._input_dtype

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": self._input_dtype,
            "sparse": self.sparse,
            "name": self.name,
        }


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
) -> KerasTensor:
    """A symbolic input of ``shape`` (without the batch axis) for a functional model.

    Example:
        >>> Input((3,)).shape
        (None, 3)
    """
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        name=name,
        input_tensor=tensor,
        optional=optional,
    )
    return layer._output

"""Making and converting tensors: convert_to_tensor, zeros, ones, arange, stop_gradient, ...

Example:
    >>> from shinsou import ops
    >>> ops.zeros((2, 3)).dtype.name
    'float32'
"""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor

__all__ = [
    "arange",
    "convert_to_numpy",
    "convert_to_tensor",
    "eye",
    "full",
    "ones",
    "ones_like",
    "shape",
    "stop_gradient",
    "zeros",
    "zeros_like",
]


def _float_or(dtype):
    return backend.standardize_dtype(dtype or backend.floatx())


def convert_to_tensor(x, dtype=None) -> Tensor:
    """A tensor holding ``x`` (returned as is when it already is one of that dtype).

    Example:
        >>> convert_to_tensor([1.0, 2.0]).dtype.name
        'float32'
    """
    if isinstance(x, Tensor):
        if dtype is None or x.dtype == backend.standardize_dtype(dtype):
            return x
        from .math import cast  # keeps the graph, so gradients still flow

        return cast(x, dtype)
    return Tensor(x, dtype=dtype)


def convert_to_numpy(x):
    """The values of ``x`` as a NumPy array.

    Example:
        >>> convert_to_numpy(convert_to_tensor([1.0])).tolist()
        [1.0]
    """
    return backend.to_numpy(x.data if isinstance(x, Tensor) else x)


def shape(x) -> tuple:
    """The shape of ``x`` as a tuple of ints.

    Example:
        >>> shape(zeros((2, 3)))
        (2, 3)
    """
    return tuple(as_tensor(x).shape)


def stop_gradient(x) -> Tensor:
    """The same values with no gradient flowing back through them.

    Example:
        >>> stop_gradient(convert_to_tensor([1.0])).requires_grad
        False
    """
    return Tensor._wrap(as_tensor(x).data)


def zeros(shape, dtype=None) -> Tensor:
    """A tensor of zeros (``floatx`` unless ``dtype`` is given).

    Example:
        >>> zeros(2).tolist()
        [0.0, 0.0]
    """
    return Tensor._wrap(xp.zeros(shape, dtype=_float_or(dtype)))


def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (``floatx`` unless ``dtype`` is given).

    Example:
        >>> ones((1, 2)).tolist()
        [[1.0, 1.0]]
    """
    return Tensor._wrap(xp.ones(shape, dtype=_float_or(dtype)))


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> full(2, 7.0).tolist()
        [7.0, 7.0]
    """
    return Tensor._wrap(xp.full(shape, fill_value, dtype=_float_or(dtype)))


def zeros_like(x, dtype=None) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``x``.

    Example:
        >>> zeros_like(ones(2)).tolist()
        [0.0, 0.0]
    """
    x = as_tensor(x)
    return Tensor._wrap(xp.zeros(x.shape, dtype=dtype or x.dtype))


def ones_like(x, dtype=None) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``x``.

    Example:
        >>> ones_like(zeros(2)).tolist()
        [1.0, 1.0]
    """
    x = as_tensor(x)
    return Tensor._wrap(xp.ones(x.shape, dtype=dtype or x.dtype))


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; integers unless a float is involved.

    Example:
        >>> arange(3).tolist()
        [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = backend.floatx()
    return Tensor._wrap(xp.arange(start, stop, step, dtype=dtype))


def eye(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803 - keras.ops names
    """The identity matrix (ones on diagonal ``k``).

    Example:
        >>> eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return Tensor._wrap(xp.eye(N, M, k=k, dtype=_float_or(dtype)))

"""More elementwise and cumulative ops with keras.ops names: trigonometry (positional
encodings use it), rounding, reciprocal, cumulative sums, tests and sorting.

Rounding, comparisons and sorting carry no gradient (they are flat or not differentiable).

Example:
    >>> from shinsou import ops
    >>> ops.cos(ops.convert_to_tensor([0.0])).tolist()
    [1.0]
"""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import normalize_axis
from .math import cast

__all__ = [
    "all",
    "any",
    "argsort",
    "ceil",
    "cos",
    "cumsum",
    "floor",
    "isfinite",
    "isinf",
    "isnan",
    "linspace",
    "reciprocal",
    "round",
    "sin",
    "sort",
    "tan",
]


def _float(x) -> Tensor:
    x = as_tensor(x)
    if backend.is_floating(x.dtype):
        return x
    return Tensor._wrap(x.data.astype(backend.floatx()))


def sin(x) -> Tensor:
    """Elementwise sine.

    Example:
        >>> sin(tensor([0.0])).tolist()
        [0.0]
    """
    x = _float(x)
    a = x.data
    return record(xp.sin(a), (x,), lambda g: (g * xp.cos(a),), "sin")


def cos(x) -> Tensor:
    """Elementwise cosine.

    Example:
        >>> cos(tensor([0.0])).tolist()
        [1.0]
    """
    x = _float(x)
    a = x.data
    return record(xp.cos(a), (x,), lambda g: (-g * xp.sin(a),), "cos")


def tan(x) -> Tensor:
    """Elementwise tangent.

    Example:
        >>> tan(tensor([0.0])).tolist()
        [0.0]
    """
    x = _float(x)
    out = xp.tan(x.data)
    return record(out, (x,), lambda g: (g * (1 + out * out),), "tan")


def reciprocal(x) -> Tensor:
    """Elementwise ``1 / x``.

    Example:
        >>> reciprocal(tensor([2.0])).tolist()
        [0.5]
    """
    x = _float(x)
    out = xp.reciprocal(x.data)
    return record(out, (x,), lambda g: (-g * out * out,), "reciprocal")


def _flat(name, function):
    def op(x) -> Tensor:
        return Tensor._wrap(function(as_tensor(x).data))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (
        f"Elementwise ``{name}`` (no gradient: it is flat almost everywhere).\n\n"
        f"    Example:\n        >>> {name}(tensor([1.5])).shape\n        (1,)\n"
    )
    return op


floor = _flat("floor", xp.floor)
ceil = _flat("ceil", xp.ceil)
isnan = _flat("isnan", xp.isnan)
isinf = _flat("isinf", xp.isinf)
isfinite = _flat("isfinite", xp.isfinite)


def round(x, decimals=0) -> Tensor:  # noqa: A001 - keras.ops name
    """Round half to even to ``decimals`` places (no gradient).

    Example:
        >>> round(tensor([0.5, 1.5, 2.7])).tolist()
        [0.0, 2.0, 3.0]
    """
    return Tensor._wrap(xp.round(as_tensor(x).data, decimals))


def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along ``axis`` (of the flattened tensor when None).

    Example:
        >>> cumsum(tensor([1.0, 2.0, 3.0])).tolist()
        [1.0, 3.0, 6.0]
    """
    x = as_tensor(x) if dtype is None else cast(x, dtype)
    if axis is None:
        flat = x.data.reshape(-1)
        out = xp.cumsum(flat)

        def backward(g):
            return (xp.flip(xp.cumsum(xp.flip(g))).reshape(x.shape),)

        return record(out, (x,), backward, "cumsum")
    axis = normalize_axis(axis, x.ndim, "cumsum")
    out = xp.cumsum(x.data, axis=axis)

    def backward(g):  # each input adds to every later position: a reversed running sum
        return (xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis),)

    return record(out, (x,), backward, "cumsum")


def any(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - keras.ops name
    """Whether any value along ``axis`` is true (non-zero).

    Example:
        >>> any(tensor([0.0, 2.0])).item()
        True
    """
    return Tensor._wrap(xp.asarray(xp.any(as_tensor(x).data, axis=axis, keepdims=keepdims)))


def all(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - keras.ops name
    """Whether every value along ``axis`` is true (non-zero).

    Example:
        >>> all(tensor([0.0, 2.0])).item()
        False
    """
    return Tensor._wrap(xp.asarray(xp.all(as_tensor(x).data, axis=axis, keepdims=keepdims)))


def sort(x, axis=-1) -> Tensor:
    """Values sorted along ``axis`` (no gradient).

    Example:
        >>> sort(tensor([3.0, 1.0, 2.0])).tolist()
        [1.0, 2.0, 3.0]
    """
    return Tensor._wrap(xp.sort(as_tensor(x).data, axis=axis))


def argsort(x, axis=-1) -> Tensor:
    """Indices that sort ``x`` along ``axis``.

    Example:
        >>> argsort(tensor([3.0, 1.0, 2.0])).tolist()
        [1, 2, 0]
    """
    return Tensor._wrap(xp.argsort(as_tensor(x).data, axis=axis))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (``floatx`` by default).

    Example:
        >>> linspace(0.0, 1.0, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    if retstep:
        raise ValueError("linspace: retstep=True is not supported")
    values = xp.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    return Tensor._wrap(values.astype(backend.standardize_dtype(dtype or backend.floatx())))

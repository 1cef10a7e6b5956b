"""Reductions: sum, mean, max, min, var, std, logsumexp, argmax, argmin.

``axis`` is ``None`` (all axes), an int or a tuple; negative axes count from the end.

Example:
    >>> from shinsou import ops, tensor
    >>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> ops.mean(x, axis=0).tolist()
    [2.0, 3.0]
"""

from __future__ import annotations

import math

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import expand_reduced, normalize_axes

__all__ = [
    "argmax",
    "argmin",
    "logsumexp",
    "max",
    "mean",
    "min",
    "std",
    "sum",
    "var",
]


def _count(shape, axes) -> int:
    """How many values a reduction over ``axes`` averages (at least 1)."""
    return math.prod(shape[a] for a in axes) or 1


def _as_float_tensor(x) -> Tensor:
    """Averages of integers are floats of ``floatx``, never NumPy's float64."""
    x = as_tensor(x)
    return x if x.dtype.kind in "fc" else Tensor._wrap(x.data.astype(backend.floatx()))


def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001 - keras.ops name
    """Sum over ``axis``.

    Example:
        >>> sum(tensor([[1.0, 2.0], [3.0, 4.0]]), axis=-1).tolist()
        [3.0, 7.0]
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "sum")
    out = xp.sum(x.data, axis=axes, keepdims=keepdims)

    def backward(g):
        return (xp.broadcast_to(expand_reduced(g, x.shape, axes, keepdims), x.shape),)

    return record(xp.asarray(out), (x,), backward, "sum")


def mean(x, axis=None, keepdims=False) -> Tensor:
    """Arithmetic mean over ``axis``.

    Example:
        >>> mean(tensor([1.0, 2.0, 6.0])).item()
        3.0
    """
    x = _as_float_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    scale = 1.0 / _count(x.shape, axes)

    def backward(g):
        return (xp.broadcast_to(expand_reduced(g * scale, x.shape, axes, keepdims), x.shape),)

    return record(xp.asarray(out), (x,), backward, "mean")


def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001 - keras.ops name
    """Largest value over ``axis``; tied maxima share the gradient equally.

    Example:
        >>> max(tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1).tolist()
        [5.0, 7.0]
    """
    return _extreme("max", xp.max, x, axis, keepdims, initial)


def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001 - keras.ops name
    """Smallest value over ``axis``; tied minima share the gradient equally.

    Example:
        >>> min(tensor([3.0, 1.0])).item()
        1.0
    """
    return _extreme("min", xp.min, x, axis, keepdims, initial)


def _extreme(op_name, function, x, axis, keepdims, initial):
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, op_name)
    if x.size == 0 and initial is None:
        raise ValueError(f"{op_name}: cannot reduce an empty tensor of shape {x.shape}")
    kwargs = {} if initial is None else {"initial": initial}
    kept = function(x.data, axis=axes, keepdims=True, **kwargs)
    out = kept if keepdims else kept.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    def backward(g):
        winners = x.data == kept
        share = winners / xp.sum(winners, axis=axes, keepdims=True).astype(g.dtype)
        return (expand_reduced(g, x.shape, axes, keepdims) * share.astype(g.dtype),)

    return record(out, (x,), backward, op_name)


def var(x, axis=None, keepdims=False) -> Tensor:
    """Population variance (divides by N) over ``axis``.

    Example:
        >>> var(tensor([1.0, 3.0])).item()
        1.0
    """
    x = _as_float_tensor(x)
    axes = normalize_axes(axis, x.ndim, "var")
    centered = x.data - xp.mean(x.data, axis=axes, keepdims=True)
    out = xp.mean(xp.square(centered), axis=axes, keepdims=keepdims)
    scale = 2.0 / _count(x.shape, axes)

    def backward(g):
        return (expand_reduced(g, x.shape, axes, keepdims) * (scale * centered),)

    return record(xp.asarray(out), (x,), backward, "var")


def std(x, axis=None, keepdims=False) -> Tensor:
    """Population standard deviation over ``axis``.

    Example:
        >>> std(tensor([1.0, 3.0])).item()
        1.0
    """
    x = _as_float_tensor(x)
    axes = normalize_axes(axis, x.ndim, "std")
    centered = x.data - xp.mean(x.data, axis=axes, keepdims=True)
    kept = xp.sqrt(xp.mean(xp.square(centered), axis=axes, keepdims=True))
    out = kept if keepdims else kept.reshape([s for i, s in enumerate(x.shape) if i not in axes])
    count = _count(x.shape, axes)

    def backward(g):
        with xp.errstate(divide="ignore", invalid="ignore"):
            slope = xp.where(kept > 0, centered / (count * kept), 0).astype(g.dtype, copy=False)
        return (expand_reduced(g, x.shape, axes, keepdims) * slope,)

    return record(out, (x,), backward, "std")


def logsumexp(x, axis=None, keepdims=False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow.

    Example:
        >>> round(logsumexp(tensor([1000.0, 1000.0])).item(), 3)
        1000.693
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    peak = xp.max(x.data, axis=axes, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, 0)
    shifted = xp.exp(x.data - peak)
    kept = xp.log(xp.sum(shifted, axis=axes, keepdims=True)) + peak
    out = kept if keepdims else kept.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    def backward(g):
        return (expand_reduced(g, x.shape, axes, keepdims) * xp.exp(x.data - kept),)

    return record(out, (x,), backward, "logsumexp")


def argmax(x, axis=None, keepdims=False) -> Tensor:
    """Index of the largest value along ``axis`` (of the flattened tensor when None).

    Example:
        >>> argmax(tensor([[1.0, 5.0], [7.0, 2.0]]), axis=-1).tolist()
        [1, 0]
    """
    return Tensor._wrap(xp.asarray(xp.argmax(as_tensor(x).data, axis=axis, keepdims=keepdims)))


def argmin(x, axis=None, keepdims=False) -> Tensor:
    """Index of the smallest value along ``axis`` (of the flattened tensor when None).

    Example:
        >>> argmin(tensor([3.0, 1.0])).item()
        1
    """
    return Tensor._wrap(xp.asarray(xp.argmin(as_tensor(x).data, axis=axis, keepdims=keepdims)))

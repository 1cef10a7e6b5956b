"""Small tools the op modules share: operand coercion, axis handling, gradient reduction."""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor

PYTHON_SCALARS = (int, float, bool)


def values(x):
    """The backend array behind a tensor (or the value itself)."""
    return x.data if isinstance(x, Tensor) else x


def constant_like(value, other) -> Tensor:
    """Wrap a non-tensor operand; a Python scalar takes ``other``'s dtype as NumPy would."""
    if type(value) in PYTHON_SCALARS and isinstance(other, Tensor):
        dtype = xp.result_type(other.dtype, value)
        if dtype == xp.float64 and other.dtype != xp.float64:
            dtype = backend.floatx()  # int tensor * 0.5 -> floatx, never float64
        return Tensor._wrap(xp.asarray(value, dtype=dtype))
    return as_tensor(value)


def operands(x1, x2) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors, Python scalars kept weakly typed."""
    if not isinstance(x1, Tensor):
        x1 = constant_like(x1, x2)
    if not isinstance(x2, Tensor):
        x2 = constant_like(x2, x1)
    return x1, x2


def broadcast_or_raise(op_name, function, *arrays):
    """Apply a broadcasting NumPy function, turning its error into one that names the op."""
    try:
        return function(*arrays)
    except ValueError:
        shapes = " and ".join(str(getattr(a, "shape", ())) for a in arrays)
        raise ValueError(
            f"{op_name}: shapes {shapes} do not broadcast; each axis must match or be 1 "
            "(aligned from the right)"
        ) from None


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(axis=axes).reshape(shape) if axes else grad.reshape(shape)


def normalize_axes(axis, ndim: int, op_name: str) -> tuple[int, ...]:
    """Axis argument (None, int or sequence, negatives allowed) as sorted positive axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op_name}: axis {a} is out of range for a tensor of rank {ndim}")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op_name}: repeated axis in {axis}")
    return tuple(sorted(result))


def normalize_axis(axis: int, ndim: int, op_name: str) -> int:
    """One axis (negatives allowed) as a positive index."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op_name}: axis {axis} is out of range for a tensor of rank {ndim}")
    return axis % ndim


def expand_reduced(grad, shape, axes, keepdims):
    """Reshape a reduction's gradient so it broadcasts against the input ``shape``."""
    if keepdims or not axes:
        return grad
    kept = [1 if i in axes else size for i, size in enumerate(shape)]
    return grad.reshape(kept)


def require_float(x: Tensor, op_name: str) -> None:
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{op_name}: expected a floating-point tensor, got dtype {x.dtype}")

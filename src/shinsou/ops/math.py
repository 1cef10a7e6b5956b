"""Elementwise arithmetic, matmul and comparisons, each with its backward beside it.

Binary ops broadcast like NumPy and sum each gradient back to its input's shape.

Example:
    >>> from shinsou import ops, tensor
    >>> x = tensor([1.0, 4.0], requires_grad=True)
    >>> y = ops.sum(ops.sqrt(x) * 2.0)
    >>> y.backward()
    >>> x.grad.tolist()
    [1.0, 0.5]
"""

from __future__ import annotations

from .. import backend, native
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import broadcast_or_raise, operands, unbroadcast, values
from .activations import relu

__all__ = [
    "abs",
    "absolute",
    "add",
    "add_relu",
    "cast",
    "clip",
    "divide",
    "equal",
    "exp",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "log",
    "log1p",
    "logical_and",
    "logical_not",
    "logical_or",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "power",
    "sign",
    "sqrt",
    "square",
    "subtract",
    "true_divide",
    "where",
]

# -- binary arithmetic ----------------------------------------------------------------------


def add(x1, x2) -> Tensor:
    """Elementwise ``x1 + x2`` with broadcasting.

    Example:
        >>> add(tensor([1.0, 2.0]), 1.0).tolist()
        [2.0, 3.0]
    """
    x1, x2 = operands(x1, x2)
    if native.supports_add(x1.data, x2.data):  # a residual sum: one threaded pass
        out = native.add(x1.data, x2.data)
    else:
        out = broadcast_or_raise("add", xp.add, x1.data, x2.data)
    needs = _gradient_shapes(x1, x2)  # not the tensors: their arrays may be freed

    def backward(g):
        return tuple(None if shape is None else unbroadcast(g, shape) for shape in needs)

    return record(out, (x1, x2), backward, "add")


def add_relu(x1, x2) -> Tensor:
    """``max(x1 + x2, 0)``: a residual block's sum and the ReLU after it. One pass each way
    where the compiled kernels take the arrays (float32, one shape, C-contiguous), else
    :func:`add` then ``relu``; the same numbers either way.

    Example:
        >>> add_relu(tensor([1.0, -2.0]), tensor([1.0, 1.0])).tolist()
        [2.0, 0.0]
    """
    x1, x2 = operands(x1, x2)
    if not native.supports_add(x1.data, x2.data):
        return relu(add(x1, x2))
    out = native.add(x1.data, x2.data, relu=True)
    needs = _gradient_shapes(x1, x2)

    def backward(g):
        grad = native.relu_grad(xp.ascontiguousarray(g, out.dtype), out)  # out > 0: a + b > 0
        return tuple(None if shape is None else grad for shape in needs)

    return record(out, (x1, x2), backward, "add_relu")


def _gradient_shapes(*tensors):
    """Each tensor's shape where it needs a gradient, else None: what the backward of a sum
    or difference needs, so that it need not keep the tensors (and their arrays) alive."""
    return tuple(t.shape if t.requires_grad else None for t in tensors)


def subtract(x1, x2) -> Tensor:
    """Elementwise ``x1 - x2`` with broadcasting.

    Example:
        >>> subtract(tensor([3.0]), tensor([1.0])).tolist()
        [2.0]
    """
    x1, x2 = operands(x1, x2)
    out = broadcast_or_raise("subtract", xp.subtract, x1.data, x2.data)
    first, second = _gradient_shapes(x1, x2)

    def backward(g):
        return (
            None if first is None else unbroadcast(g, first),
            None if second is None else unbroadcast(-g, second),
        )

    return record(out, (x1, x2), backward, "subtract")


def multiply(x1, x2) -> Tensor:
    """Elementwise ``x1 * x2`` with broadcasting.

    Example:
        >>> multiply(tensor([2.0, 3.0]), 2.0).tolist()
        [4.0, 6.0]
    """
    x1, x2 = operands(x1, x2)
    a, b = x1.data, x2.data
    out = broadcast_or_raise("multiply", xp.multiply, a, b)

    def backward(g):
        return (
            unbroadcast(g * b, x1.shape) if x1.requires_grad else None,
            unbroadcast(g * a, x2.shape) if x2.requires_grad else None,
        )

    return record(out, (x1, x2), backward, "multiply")


def divide(x1, x2) -> Tensor:
    """Elementwise true division ``x1 / x2`` with broadcasting.

    Example:
        >>> divide(tensor([1.0, 3.0]), 2.0).tolist()
        [0.5, 1.5]
    """
    x1, x2 = operands(x1, x2)
    a, b = x1.data, x2.data
    out = broadcast_or_raise("divide", xp.true_divide, a, b)
    if out.dtype == xp.float64 and a.dtype != xp.float64 and b.dtype != xp.float64:
        out = out.astype(backend.floatx())  # int / int must not produce float64

    def backward(g):
        ga = g / b
        return (
            unbroadcast(ga, x1.shape) if x1.requires_grad else None,
            unbroadcast(-ga * out, x2.shape) if x2.requires_grad else None,
        )

    return record(out, (x1, x2), backward, "divide")


true_divide = divide


def power(x1, x2) -> Tensor:
    """Elementwise ``x1 ** x2`` with broadcasting.

    Example:
        >>> power(tensor([2.0, 3.0]), 2).tolist()
        [4.0, 9.0]
    """
    x1, x2 = operands(x1, x2)
    a, b = x1.data, x2.data
    out = broadcast_or_raise("power", xp.power, a, b)

    def backward(g):
        ga = gb = None
        if x1.requires_grad:
            ga = g * b * xp.power(a, b - 1)
            ga = unbroadcast(xp.where(b == 0, 0, ga), x1.shape)
        if x2.requires_grad:
            with xp.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * xp.log(a)
            # d/db a**b at a == 0 is taken as 0 (the limit for b > 0), as PyTorch does.
            gb = unbroadcast(xp.where((a == 0) & (b >= 0), 0, gb), x2.shape)
        return ga, gb

    return record(out, (x1, x2), backward, "power")


def maximum(x1, x2) -> Tensor:
    """Elementwise maximum; where both are equal each receives half the gradient.

    Example:
        >>> maximum(tensor([1.0, 5.0]), 3.0).tolist()
        [3.0, 5.0]
    """
    return _select_extreme("maximum", xp.maximum, xp.greater, x1, x2)


def minimum(x1, x2) -> Tensor:
    """Elementwise minimum; where both are equal each receives half the gradient.

    Example:
        >>> minimum(tensor([1.0, 5.0]), 3.0).tolist()
        [1.0, 3.0]
    """
    return _select_extreme("minimum", xp.minimum, xp.less, x1, x2)


def _select_extreme(op_name, pick, wins, x1, x2):
    x1, x2 = operands(x1, x2)
    a, b = x1.data, x2.data
    out = broadcast_or_raise(op_name, pick, a, b)

    def backward(g):
        share = xp.where(wins(a, b), 1.0, xp.where(a == b, 0.5, 0.0)).astype(g.dtype, copy=False)
        return (
            unbroadcast(g * share, x1.shape) if x1.requires_grad else None,
            unbroadcast(g * (1 - share), x2.shape) if x2.requires_grad else None,
        )

    return record(out, (x1, x2), backward, op_name)


def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy's rules: batched over leading axes, 1-D operands promoted.

    Example:
        >>> matmul(tensor([[1.0, 2.0]]), tensor([[3.0], [4.0]])).tolist()
        [[11.0]]
    """
    x1, x2 = as_tensor(x1), as_tensor(x2)
    a, b = x1.data, x2.data
    _check_matmul_shapes(a.shape, b.shape)
    if b.ndim == 2 and a.ndim > 2:
        # (..., k) @ (k, m): one large GEMM over the flattened leading axes.
        out = (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + (b.shape[1],))
    else:
        out = broadcast_or_raise("matmul", xp.matmul, a, b)

    def backward(g):
        return _matmul_backward(x1, x2, g)

    return record(out, (x1, x2), backward, "matmul")


def _check_matmul_shapes(shape1, shape2):
    if not shape1 or not shape2:
        raise ValueError(
            f"matmul: operands must have at least one axis; got shapes {shape1} and {shape2}. "
            "Use multiply for scalars."
        )
    inner2 = shape2[-2] if len(shape2) > 1 else shape2[0]
    if shape1[-1] != inner2:
        where = "second-to-last" if len(shape2) > 1 else "only"
        raise ValueError(
            f"matmul: cannot multiply shapes {shape1} and {shape2}: the last axis of x1 "
            f"({shape1[-1]}) must equal the {where} axis of x2 ({inner2})"
        )


def _matmul_backward(x1, x2, g):
    a, b = x1.data, x2.data
    a2 = a if a.ndim > 1 else a[None, :]
    b2 = b if b.ndim > 1 else b[:, None]
    if a.ndim == 1 or b.ndim == 1:  # restore the axes NumPy dropped for 1-D operands
        batch = xp.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    ga = gb = None
    if b2.ndim == 2 and a2.ndim > 2:
        rows_a = a2.reshape(-1, a2.shape[-1])
        rows_g = g.reshape(-1, g.shape[-1])
        if x1.requires_grad:
            ga = (rows_g @ b2.T).reshape(a.shape)
        if x2.requires_grad:
            gb = (rows_a.T @ rows_g).reshape(b.shape)
        return ga, gb
    if x1.requires_grad:
        ga = unbroadcast(g @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    if x2.requires_grad:
        gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
    return ga, gb


# -- unary maths ----------------------------------------------------------------------------


def negative(x) -> Tensor:
    """Elementwise ``-x``.

    Example:
        >>> negative(tensor([1.0, -2.0])).tolist()
        [-1.0, 2.0]
    """
    x = as_tensor(x)
    return record(xp.negative(x.data), (x,), lambda g: (-g,), "negative")


def exp(x) -> Tensor:
    """Elementwise exponential.

    Example:
        >>> exp(tensor([0.0])).tolist()
        [1.0]
    """
    x = as_tensor(x)
    out = xp.exp(x.data)
    return record(out, (x,), lambda g: (g * out,), "exp")


def log(x) -> Tensor:
    """Elementwise natural logarithm.

    Example:
        >>> log(tensor([1.0])).tolist()
        [0.0]
    """
    x = as_tensor(x)
    a = x.data
    return record(xp.log(a), (x,), lambda g: (g / a,), "log")


def log1p(x) -> Tensor:
    """Elementwise ``log(1 + x)``, accurate for small ``x``.

    Example:
        >>> log1p(tensor([0.0])).tolist()
        [0.0]
    """
    x = as_tensor(x)
    a = x.data
    return record(xp.log1p(a), (x,), lambda g: (g / (1 + a),), "log1p")


def sqrt(x) -> Tensor:
    """Elementwise square root.

    Example:
        >>> sqrt(tensor([4.0])).tolist()
        [2.0]
    """
    x = as_tensor(x)
    out = xp.sqrt(x.data)
    return record(out, (x,), lambda g: (g * 0.5 / out,), "sqrt")


def square(x) -> Tensor:
    """Elementwise ``x * x``.

    Example:
        >>> square(tensor([3.0])).tolist()
        [9.0]
    """
    x = as_tensor(x)
    a = x.data
    return record(xp.square(a), (x,), lambda g: (g * 2 * a,), "square")


def abs(x) -> Tensor:  # noqa: A001 - keras.ops name
    """Elementwise absolute value (gradient 0 at 0).

    Example:
        >>> abs(tensor([-2.0, 3.0])).tolist()
        [2.0, 3.0]
    """
    x = as_tensor(x)
    a = x.data
    return record(xp.abs(a), (x,), lambda g: (g * xp.sign(a),), "abs")


absolute = abs


def sign(x) -> Tensor:
    """Elementwise sign (-1, 0 or 1); no gradient flows through it.

    Example:
        >>> sign(tensor([-2.0, 0.0])).tolist()
        [-1.0, 0.0]
    """
    return Tensor._wrap(xp.sign(values(as_tensor(x))))


def clip(x, x_min, x_max) -> Tensor:
    """Limit values to ``[x_min, x_max]``; the gradient passes where ``x`` is inside.

    Example:
        >>> clip(tensor([-1.0, 0.5, 2.0]), 0.0, 1.0).tolist()
        [0.0, 0.5, 1.0]
    """
    x = as_tensor(x)
    a = x.data
    low, high = values(x_min), values(x_max)
    out = broadcast_or_raise("clip", xp.clip, a, low, high).astype(a.dtype, copy=False)

    def backward(g):
        inside = (a >= low) & (a <= high)
        return (unbroadcast(g * inside, x.shape),)

    return record(out, (x,), backward, "clip")


def where(condition, x1=None, x2=None):
    """Pick from ``x1`` where ``condition`` holds, else from ``x2``; gradients follow the pick.

    With only ``condition``, return the indices where it holds (as ``numpy.nonzero``).

    Example:
        >>> where(tensor([True, False]), tensor([1.0, 2.0]), 0.0).tolist()
        [1.0, 0.0]
    """
    mask = xp.asarray(values(condition), dtype=bool)
    if x1 is None and x2 is None:
        return tuple(Tensor._wrap(index) for index in xp.nonzero(mask))
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    x1, x2 = operands(x1, x2)
    out = broadcast_or_raise("where", xp.where, mask, x1.data, x2.data)

    def backward(g):
        zero = xp.zeros((), dtype=g.dtype)
        return (
            unbroadcast(xp.where(mask, g, zero), x1.shape) if x1.requires_grad else None,
            unbroadcast(xp.where(mask, zero, g), x2.shape) if x2.requires_grad else None,
        )

    return record(out, (x1, x2), backward, "where")


def cast(x, dtype) -> Tensor:
    """Convert to ``dtype``; the gradient flows back between floating types only.

    Example:
        >>> cast(tensor([1.7]), "int32").tolist()
        [1]
    """
    x = as_tensor(x)
    dtype = backend.standardize_dtype(dtype)
    if x.dtype == dtype:
        return x
    out = x.data.astype(dtype)
    if not (backend.is_floating(dtype) and backend.is_floating(x.dtype)):
        return Tensor._wrap(out)
    source = x.dtype
    return record(out, (x,), lambda g: (g.astype(source),), "cast")


# -- comparisons (no gradient) --------------------------------------------------------------


def _comparison(op_name, function):
    def compare(x1, x2) -> Tensor:
        x1, x2 = operands(x1, x2)
        return Tensor._wrap(broadcast_or_raise(op_name, function, x1.data, x2.data))

    compare.__name__ = op_name
    compare.__doc__ = (
        f"Elementwise ``{op_name}`` comparison as a boolean tensor (no gradient).\n\n"
        f"    Example:\n        >>> {op_name}(tensor([1.0, 2.0]), 1.0).dtype.name\n        'bool'\n"
    )
    return compare


equal = _comparison("equal", xp.equal)
not_equal = _comparison("not_equal", xp.not_equal)
less = _comparison("less", xp.less)
less_equal = _comparison("less_equal", xp.less_equal)
greater = _comparison("greater", xp.greater)
greater_equal = _comparison("greater_equal", xp.greater_equal)
logical_and = _comparison("logical_and", xp.logical_and)
logical_or = _comparison("logical_or", xp.logical_or)


def logical_not(x) -> Tensor:
    """Elementwise boolean not.

    Example:
        >>> logical_not(tensor([True])).tolist()
        [False]
    """
    return Tensor._wrap(xp.logical_not(values(as_tensor(x))))

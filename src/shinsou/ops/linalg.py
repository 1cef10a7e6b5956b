"""Products and norms beyond ``matmul``: ``einsum``, ``dot``, ``norm`` (keras.ops names).

Example:
    >>> from shinsou import ops
    >>> a = ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> ops.einsum("ij,j->i", a, ops.convert_to_tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
"""

from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import normalize_axes
from .math import matmul

__all__ = ["dot", "einsum", "norm"]


def _parse_einsum(subscripts, count):
    if "." in subscripts:
        raise ValueError("einsum: ellipsis ('...') subscripts are not supported; name the axes")
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
    else:  # implicit output: the letters used once, in alphabetical order
        inputs = subscripts
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = inputs.split(",")
    if len(terms) != count:
        raise ValueError(
            f"einsum: the subscripts name {len(terms)} operands but {count} were given"
        )
    for term in terms:
        if len(set(term)) != len(term):
            raise ValueError(
                f"einsum: repeated index within one operand ('{term}', a diagonal) is not "
                "supported; take the diagonal explicitly"
            )
    return terms, output


def einsum(subscripts, *operands) -> Tensor:
    """Einstein summation, e.g. ``"bij,bjk->bik"``; gradients flow to every operand.

    Example:
        >>> x = tensor([[1.0, 2.0]], requires_grad=True)
        >>> einsum("ij,ij->", x, x).backward()
        >>> x.grad.tolist()
        [[2.0, 4.0]]
    """
    tensors = [as_tensor(operand) for operand in operands]
    terms, output = _parse_einsum(subscripts, len(tensors))
    arrays = [t.data for t in tensors]
    for term, array in zip(terms, arrays):
        if len(term) != array.ndim:
            raise ValueError(
                f"einsum: subscript '{term}' has {len(term)} axes but its operand has shape "
                f"{array.shape}"
            )
    try:
        out = xp.einsum(f"{','.join(terms)}->{output}", *arrays, optimize=len(arrays) > 2)
    except ValueError as error:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"einsum: {error} (subscripts '{subscripts}', shapes {shapes})") from None

    def backward(g):
        grads = []
        for index, (term, tensor_input) in enumerate(zip(terms, tensors)):
            if not tensor_input.requires_grad:
                grads.append(None)
                continue
            others = [t for i, t in enumerate(terms) if i != index]
            other_arrays = [a for i, a in enumerate(arrays) if i != index]
            known = set(output).union(*others)
            # Axes summed within this operand alone get the gradient broadcast back over them.
            kept = "".join(c for c in term if c in known)
            spec = ",".join([output, *others]) + "->" + kept
            grad = xp.einsum(spec, g, *other_arrays, optimize=len(other_arrays) > 1)
            if kept != term:
                shape = [tensor_input.shape[i] if c in known else 1 for i, c in enumerate(term)]
                grad = xp.broadcast_to(grad.reshape(shape), tensor_input.shape)
            grads.append(grad.astype(tensor_input.dtype, copy=False))
        return tuple(grads)

    return record(xp.asarray(out), tuple(tensors), backward, "einsum")


def dot(x1, x2) -> Tensor:
    """NumPy's ``dot``: inner product of vectors, matrix product of 2-D arrays, and the last
    axis of ``x1`` against the second-to-last of ``x2`` otherwise.

    Example:
        >>> dot(tensor([1.0, 2.0]), tensor([3.0, 4.0])).item()
        11.0
    """
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return x1 * x2
    if x2.ndim <= 2:
        return matmul(x1, x2)
    letters = "abcdefghijklmnopqrstuvwxyz"
    left = letters[: x1.ndim]
    right = letters[x1.ndim : x1.ndim + x2.ndim - 2] + left[-1] + letters[x1.ndim + x2.ndim - 2]
    result = left[:-1] + right.replace(left[-1], "")
    return einsum(f"{left},{right}->{result}", x1, x2)


def norm(x, ord=None, axis=None, keepdims=False) -> Tensor:  # noqa: A002 - keras.ops name
    """Vector 2-norm (``ord=None`` or 2), 1-norm or max-norm along ``axis`` (all axes when
    None: the Frobenius norm of a matrix).

    Example:
        >>> norm(tensor([3.0, 4.0])).item()
        5.0
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "norm")
    a = x.data
    if ord in (None, 2, "fro", "euclidean"):
        kept = xp.sqrt(xp.sum(xp.square(a), axis=axes, keepdims=True))

        def slope():
            with xp.errstate(divide="ignore", invalid="ignore"):
                return xp.where(kept > 0, a / kept, 0)

    elif ord == 1:
        kept = xp.sum(xp.abs(a), axis=axes, keepdims=True)

        def slope():
            return xp.sign(a)

    elif ord in (float("inf"), "inf"):
        kept = xp.max(xp.abs(a), axis=axes, keepdims=True)

        def slope():
            winners = xp.abs(a) == kept
            return xp.sign(a) * winners / xp.sum(winners, axis=axes, keepdims=True)

    else:
        raise ValueError(f"norm: ord={ord!r} is not supported; use None (2), 1 or inf")
    out = kept if keepdims else kept.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    def backward(g):
        expanded = g if keepdims else g.reshape(kept.shape)
        return ((expanded * slope()).astype(x.dtype, copy=False),)

    return record(xp.asarray(out), (x,), backward, "norm")

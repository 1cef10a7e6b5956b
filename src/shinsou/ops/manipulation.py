"""Ops that move values around without changing them: reshape, transpose, join, split,
pad, index, gather — each with the backward that routes gradients back to where they came.

Example:
    >>> from shinsou import ops, tensor
    >>> x = tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> ops.sum(ops.transpose(x)[1:]).backward()
    >>> x.grad.tolist()
    [[0.0, 1.0, 1.0]]
"""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, record_many, tensor  # noqa: F401 - examples
from ._helpers import normalize_axes, normalize_axis, unbroadcast, values

__all__ = [
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "flip",
    "getitem",
    "one_hot",
    "pad",
    "repeat",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
]


def reshape(x, newshape) -> Tensor:
    """Same values in a new shape; one entry may be -1.

    Example:
        >>> reshape(tensor([1.0, 2.0, 3.0, 4.0]), (2, -1)).shape
        (2, 2)
    """
    x = as_tensor(x)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    try:
        out = x.data.reshape(newshape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} values) into "
            f"shape {newshape}"
        ) from None
    return record(out, (x,), lambda g: (g.reshape(x.shape),), "reshape")


def transpose(x, axes=None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None).

    Example:
        >>> transpose(tensor([[1.0, 2.0]])).shape
        (2, 1)
    """
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(normalize_axis(a, x.ndim, "transpose") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of a rank-{x.ndim} tensor")
    inverse = tuple(sorted(range(x.ndim), key=axes.__getitem__))
    out = xp.transpose(x.data, axes)
    return record(out, (x,), lambda g: (xp.transpose(g, inverse),), "transpose")


def expand_dims(x, axis) -> Tensor:
    """Insert axes of length 1 at ``axis`` (an int or a tuple).

    Example:
        >>> expand_dims(tensor([1.0, 2.0]), -1).shape
        (2, 1)
    """
    x = as_tensor(x)
    out = xp.expand_dims(x.data, axis)
    return record(out, (x,), lambda g: (g.reshape(x.shape),), "expand_dims")


def squeeze(x, axis=None) -> Tensor:
    """Remove axes of length 1 (all of them when ``axis`` is None).

    Example:
        >>> squeeze(tensor([[1.0], [2.0]]), axis=-1).shape
        (2,)
    """
    x = as_tensor(x)
    if axis is not None:
        for a in normalize_axes(axis, x.ndim, "squeeze"):
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1"
                )
    out = xp.squeeze(x.data, axis=axis)
    return record(out, (x,), lambda g: (g.reshape(x.shape),), "squeeze")


def broadcast_to(x, shape) -> Tensor:
    """Repeat ``x`` along axes of length 1 (and new leading axes) to reach ``shape``.

    Example:
        >>> broadcast_to(tensor([1.0, 2.0]), (3, 2)).shape
        (3, 2)
    """
    x = as_tensor(x)
    shape = tuple(shape)
    try:
        out = xp.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return record(out, (x,), lambda g: (unbroadcast(g, x.shape),), "broadcast_to")


def concatenate(xs, axis=0) -> Tensor:
    """Join tensors along an existing axis.

    Example:
        >>> concatenate([tensor([[1.0]]), tensor([[2.0], [3.0]])], axis=0).shape
        (3, 1)
    """
    xs = [as_tensor(x) for x in xs]
    if not xs:
        raise ValueError("concatenate: needs at least one tensor")
    axis = normalize_axis(axis, xs[0].ndim, "concatenate")
    for x in xs[1:]:
        if x.ndim != xs[0].ndim or any(
            a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != axis
        ):
            raise ValueError(
                f"concatenate: shapes {xs[0].shape} and {x.shape} differ outside axis {axis}; "
                "all other axes must match"
            )
    out = xp.concatenate([x.data for x in xs], axis=axis)
    bounds = list(_cumulative([x.shape[axis] for x in xs]))

    def backward(g):
        return tuple(
            g[(slice(None),) * axis + (slice(start, stop),)] if x.requires_grad else None
            for x, (start, stop) in zip(xs, bounds)
        )

    return record(out, tuple(xs), backward, "concatenate")


def _cumulative(sizes):
    start = 0
    for size in sizes:
        yield start, start + size
        start += size


def stack(x, axis=0) -> Tensor:
    """Join same-shaped tensors along a new axis.

    Example:
        >>> stack([tensor([1.0, 2.0]), tensor([3.0, 4.0])], axis=1).shape
        (2, 2)
    """
    xs = [as_tensor(item) for item in x]
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    for item in xs[1:]:
        if item.shape != xs[0].shape:
            raise ValueError(
                f"stack: all tensors must have the same shape; got {xs[0].shape} and {item.shape}"
            )
    axis = normalize_axis(axis, xs[0].ndim + 1, "stack")
    out = xp.stack([item.data for item in xs], axis=axis)

    def backward(g):
        return tuple(
            xp.take(g, i, axis=axis) if item.requires_grad else None for i, item in enumerate(xs)
        )

    return record(out, tuple(xs), backward, "stack")


def split(x, indices_or_sections, axis=0) -> list[Tensor]:
    """Split into equal sections (an int) or at the given indices (a list).

    Example:
        >>> [t.shape for t in split(tensor([1.0, 2.0, 3.0, 4.0]), 2)]
        [(2,), (2,)]
    """
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(indices_or_sections, int) and length % indices_or_sections:
        raise ValueError(
            f"split: axis {axis} of shape {x.shape} has length {length}, which "
            f"{indices_or_sections} equal sections do not divide"
        )
    pieces = xp.split(x.data, indices_or_sections, axis=axis)

    def backward(grads):
        full = [
            g if g is not None else xp.zeros(piece.shape, dtype=x.dtype)
            for g, piece in zip(grads, pieces)
        ]
        return (xp.concatenate(full, axis=axis),)

    return list(record_many(pieces, (x,), backward, "split"))


def pad(x, pad_width, mode="constant", constant_values=None) -> Tensor:
    """Pad with ``pad_width`` = ((before, after), ...) per axis, as ``numpy.pad``.

    ``mode`` is one of "constant", "edge", "reflect", "symmetric", "wrap".

    Example:
        >>> pad(tensor([[1.0]]), ((1, 1), (0, 2))).shape
        (3, 3)
    """
    x = as_tensor(x)
    modes = ("constant", "edge", "reflect", "symmetric", "wrap")
    if mode not in modes:
        raise ValueError(f"pad: unknown mode {mode!r}; choose one of {modes}")
    widths = xp.broadcast_to(xp.asarray(pad_width, dtype=int), (x.ndim, 2)) if x.ndim else ()
    widths = tuple((int(before), int(after)) for before, after in widths)
    if any(before < 0 or after < 0 for before, after in widths):
        raise ValueError(f"pad: pad widths must be non-negative; got {pad_width}")
    if mode == "constant":
        out = xp.pad(x.data, widths, mode="constant", constant_values=constant_values or 0)
        inside = tuple(slice(before, before + size) for (before, _), size in zip(widths, x.shape))
        return record(out, (x,), lambda g: (g[inside],), "pad")
    if constant_values is not None:
        raise ValueError(f"pad: constant_values applies to mode 'constant' only, not {mode!r}")
    out = xp.pad(x.data, widths, mode=mode)
    # Where each padded value came from: pad the flat positions the same way.
    source = xp.pad(xp.arange(x.size).reshape(x.shape), widths, mode=mode).ravel()

    def backward(g):
        flat = xp.zeros(x.size, dtype=g.dtype)
        xp.add.at(flat, source, g.ravel())
        return (flat.reshape(x.shape),)

    return record(out, (x,), backward, "pad")


def tile(x, repeats) -> Tensor:
    """Repeat the whole tensor ``repeats`` times along each axis (as ``numpy.tile``).

    Example:
        >>> tile(tensor([1.0, 2.0]), 2).tolist()
        [1.0, 2.0, 1.0, 2.0]
    """
    x = as_tensor(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    out = xp.tile(x.data, reps)
    ndim = max(len(reps), x.ndim)
    source_shape = (1,) * (ndim - x.ndim) + x.shape
    reps = (1,) * (ndim - len(reps)) + reps

    def backward(g):
        # Split every axis into (repeat, original) and sum over the repeats.
        split_shape = [n for pair in zip(reps, source_shape) for n in pair]
        summed = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * ndim, 2)))
        return (summed.reshape(x.shape),)

    return record(out, (x,), backward, "tile")


def repeat(x, repeats, axis=None) -> Tensor:
    """Repeat each element ``repeats`` times (an int) along ``axis`` (flattened when None).

    Example:
        >>> repeat(tensor([1.0, 2.0]), 2).tolist()
        [1.0, 1.0, 2.0, 2.0]
    """
    x = as_tensor(x)
    if not isinstance(repeats, int):
        length = x.size if axis is None else x.shape[axis]
        return take(x, xp.repeat(xp.arange(length), repeats), axis=axis)
    flat_axis = 0 if axis is None else normalize_axis(axis, x.ndim, "repeat")
    base_shape = (x.size,) if axis is None else x.shape
    out = xp.repeat(x.data, repeats, axis=axis)

    def backward(g):
        split_shape = (
            base_shape[:flat_axis] + (base_shape[flat_axis], repeats) + base_shape[flat_axis + 1 :]
        )
        return (g.reshape(split_shape).sum(axis=flat_axis + 1).reshape(x.shape),)

    return record(out, (x,), backward, "repeat")


def flip(x, axis=None) -> Tensor:
    """Reverse the order of values along ``axis`` (all axes when None).

    Example:
        >>> flip(tensor([1.0, 2.0])).tolist()
        [2.0, 1.0]
    """
    x = as_tensor(x)
    out = xp.flip(x.data, axis=axis)
    return record(out, (x,), lambda g: (xp.flip(g, axis=axis),), "flip")


# -- indexing and gathering -----------------------------------------------------------------


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice)) for part in parts)


def _index_values(index):
    if isinstance(index, tuple):
        return tuple(values(part) for part in index)
    return values(index)


def getitem(x, index) -> Tensor:
    """``x[index]`` with NumPy semantics; gradients go back to the picked positions.

    Example:
        >>> getitem(tensor([1.0, 2.0, 3.0]), slice(1, None)).tolist()
        [2.0, 3.0]
    """
    x = as_tensor(x)
    index = _index_values(index)
    try:
        out = x.data[index]
    except IndexError as error:
        raise IndexError(f"getitem: {error} (tensor shape {x.shape})") from None
    basic = _is_basic_index(index)

    def backward(g):
        full = xp.zeros(x.shape, dtype=g.dtype)
        if basic:
            full[index] = g  # basic indexing never picks a position twice
        else:
            xp.add.at(full, index, g)
        return (full,)

    return record(xp.asarray(out), (x,), backward, "getitem")


def _check_indices(op_name, indices):
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: indices must be integers, got dtype {indices.dtype}")


def take(x, indices, axis=None) -> Tensor:
    """Gather entries at integer ``indices`` along ``axis`` (of the flattened x when None).

    Example:
        >>> take(tensor([[1.0, 2.0], [3.0, 4.0]]), tensor([1, 1]), axis=0).tolist()
        [[3.0, 4.0], [3.0, 4.0]]
    """
    x = as_tensor(x)
    indices = xp.asarray(values(indices))
    _check_indices("take", indices)
    axis_n = None if axis is None else normalize_axis(axis, x.ndim, "take")
    length = x.size if axis is None else x.shape[axis_n]
    if indices.size and (indices.max() >= length or indices.min() < -length):
        raise IndexError(f"take: an index is out of range for axis length {length}")
    out = xp.take(x.data, indices, axis=axis_n)

    def backward(g):
        if axis_n is None:
            flat = xp.zeros(x.size, dtype=g.dtype)
            xp.add.at(flat, indices.ravel(), g.ravel())
            return (flat.reshape(x.shape),)
        full = xp.zeros(x.shape, dtype=g.dtype)
        moved = xp.moveaxis(full, axis_n, 0)
        g_moved = g.reshape(x.shape[:axis_n] + (indices.size,) + x.shape[axis_n + 1 :])
        xp.add.at(moved, indices.ravel(), xp.moveaxis(g_moved, axis_n, 0))
        return (full,)

    return record(out, (x,), backward, "take")


def take_along_axis(x, indices, axis=None) -> Tensor:
    """Gather with an index array of the same rank, as ``numpy.take_along_axis``.

    Example:
        >>> take_along_axis(tensor([[1.0, 2.0], [3.0, 4.0]]), tensor([[1], [0]]), axis=1).tolist()
        [[2.0], [3.0]]
    """
    x = as_tensor(x)
    indices = xp.asarray(values(indices))
    _check_indices("take_along_axis", indices)
    if axis is None:
        source_shape, axis_n = (x.size,), 0
        data = x.data.ravel()
    else:
        axis_n = normalize_axis(axis, x.ndim, "take_along_axis")
        source_shape, data = x.shape, x.data
        if indices.ndim != x.ndim:
            raise ValueError(
                f"take_along_axis: indices of shape {indices.shape} must have the same rank as "
                f"x of shape {x.shape}"
            )
    out = xp.take_along_axis(data, indices, axis=axis_n)

    def backward(g):
        full = xp.zeros(source_shape, dtype=g.dtype)
        broadcast = xp.broadcast_shapes(
            indices.shape, tuple(1 if i == axis_n else s for i, s in enumerate(source_shape))
        )
        grid = list(xp.indices(broadcast, sparse=True))
        grid[axis_n] = xp.broadcast_to(indices, broadcast)
        xp.add.at(full, tuple(grid), xp.broadcast_to(g, broadcast))
        return (full.reshape(x.shape),)

    return record(out, (x,), backward, "take_along_axis")


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False) -> Tensor:
    """Integer labels to one-hot vectors; labels outside ``[0, num_classes)`` give zeros.

    Example:
        >>> one_hot(tensor([0, 2]), 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported; use sparse=False")
    labels = xp.asarray(values(x))
    _check_indices("one_hot", labels)
    dtype = backend.standardize_dtype(dtype or backend.floatx())
    out = (labels[..., None] == xp.arange(num_classes)).astype(dtype)
    if axis != -1:
        out = xp.moveaxis(out, -1, normalize_axis(axis, labels.ndim + 1, "one_hot"))
    return Tensor._wrap(out)

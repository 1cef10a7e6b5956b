"""Max and average pooling over 1, 2 or 3 spatial axes, channels-last like Keras.

No loop over pixels: when the windows tile the input (stride == pool size, no padding) the
input is reshaped so that each window is two small axes and one reduction does the work;
otherwise the loop runs over the few positions inside a window ("taps"), each a strided
view of the whole (padded) input.

"same" padding is TensorFlow's: ``ceil(size / stride)`` outputs, the odd pixel after. Max
pooling pads with -inf; average pooling divides by the number of real (unpadded) values in
each window, as TensorFlow and Keras do (PyTorch's ``count_include_pad=False``).

Example:
    >>> from shinsou import ops
    >>> x = ops.arange(16.0).reshape((1, 4, 4, 1))
    >>> ops.max_pool(x, 2)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
"""

from __future__ import annotations

import math

from .. import backend, native
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import require_float
from ._windows import (
    as_2d,
    check_data_format,
    pad_spatial,
    padding_mode,
    spatial_rank,
    spatial_tuple,
    taps,
    to_channels_first,
    to_channels_last,
    unpad_gradient,
    window_geometry,
)

__all__ = ["average_pool", "max_pool"]


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Largest value in each ``pool_size`` window, moved by ``strides`` (default: the pool).

    The gradient of each window goes to one position holding its maximum: on ties, the
    first in row-major order inside the window (as PyTorch does).

    Example:
        >>> x = tensor([[[1.0], [3.0], [2.0], [5.0], [4.0]]])
        >>> max_pool(x, 2, padding="same")[0, :, 0].tolist()
        [3.0, 5.0, 4.0]
    """
    op_name = "max_pool"
    x, geometry, channels_first = _pool_input(
        op_name, inputs, pool_size, strides, padding, data_format
    )
    if _runs_native(x, geometry):
        y = _native_max_pool(x, geometry, op_name)
        return to_channels_first(y) if channels_first else y
    lowest = -xp.inf if backend.is_floating(x.dtype) else xp.iinfo(x.dtype).min
    padded = pad_spatial(x.data, geometry.pads, value=lowest)
    # Elementwise maxima of the taps' strided views, remembering which tap won each window
    # (a reduction over the window axes of a reshaped view measured 3× slower, and masked
    # copies 8× slower than this arithmetic on small uint8 arrays). A strictly greater value
    # takes over, so on ties the first tap in row-major window order keeps the gradient, as
    # in PyTorch.
    sources = _taps(geometry)
    out = padded[sources[0]].copy()
    index_type = xp.uint8 if len(sources) <= 255 else xp.int32
    winner = xp.zeros(out.shape, dtype=index_type)
    better = xp.empty(out.shape, dtype=bool)
    step = xp.empty(out.shape, dtype=index_type)
    for tap, source in enumerate(sources[1:], start=1):
        xp.greater(padded[source], out, out=better)
        xp.maximum(out, padded[source], out=out)
        xp.subtract(tap, winner, out=step)  # winner = tap where better, kept elsewhere
        xp.multiply(step, better, out=step)
        winner += step

    def backward(g):
        overlapping = any(s < k for s, k in zip(geometry.strides, geometry.kernel_shape))
        # Windows that tile the input exactly write every position: no zero fill needed.
        tiles = tuple(geometry.strides) == tuple(geometry.kernel_shape)
        whole = tuple(o * k for o, k in zip(geometry.out_spatial, geometry.kernel_shape))
        covered = tiles and padded.shape[1:-1] == whole
        grad = (xp.empty if covered else xp.zeros)(padded.shape, g.dtype)
        chosen = xp.empty(out.shape, dtype=bool)
        share = None if not overlapping else xp.empty(out.shape, dtype=g.dtype)
        for tap, source in enumerate(sources):
            xp.equal(winner, tap, out=chosen)
            if overlapping:
                grad[source] += xp.multiply(g, chosen, out=share)
            else:  # each input pixel lies in at most one window
                xp.multiply(g, chosen, out=grad[source])
        return (unpad_gradient(grad, geometry.pads, geometry.in_spatial),)

    y = record(out, (x,), backward, op_name)
    return to_channels_first(y) if channels_first else y


def _runs_native(x, geometry) -> bool:
    """Whether the compiled max pooling (:mod:`shinsou.native`) takes this input: float32,
    one or two spatial axes, at most 255 positions per window."""
    return (
        len(geometry.kernel_shape) <= 2
        and math.prod(geometry.kernel_shape) <= 255
        and native.supports_rows(x.data)
    )


def _native_max_pool(x, geometry, op_name):
    """:func:`max_pool` by the compiled kernels, one pass over the input each way (4-6×
    faster than the taps' elementwise passes). 1-D pooling runs as 2-D of height 1."""
    rank = len(geometry.kernel_shape)
    data = x.data[:, None] if rank == 1 else x.data
    arguments = (
        as_2d(geometry.kernel_shape, rank),
        as_2d(geometry.strides, rank),
        as_2d((lo for lo, _ in geometry.pads), rank, first=0),
    )
    out, winner = native.max_pool(data, *arguments, as_2d(geometry.out_spatial, rank))

    def backward(g):
        grad = native.max_pool_grad(g.reshape(out.shape), winner, data.shape, *arguments)
        return (grad.reshape(x.shape),)

    return record(
        out.reshape(x.shape[0], *geometry.out_spatial, x.shape[-1]), (x,), backward, op_name
    )


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Mean of each ``pool_size`` window, moved by ``strides`` (default: the pool).

    With ``padding="same"`` border windows average only the values inside the input.

    Example:
        >>> x = tensor([[[1.0], [3.0], [2.0], [5.0], [4.0]]])
        >>> average_pool(x, 2, padding="same")[0, :, 0].tolist()
        [2.0, 3.5, 4.0]
    """
    op_name = "average_pool"
    x, geometry, channels_first = _pool_input(
        op_name, inputs, pool_size, strides, padding, data_format
    )
    require_float(x, op_name)
    padded = pad_spatial(x.data, geometry.pads)
    scale = _inverse_counts(geometry, x.dtype)
    if geometry.tiles_input:
        out = _tiles(padded, geometry).sum(axis=_tile_axes(geometry))
    else:
        sources = _taps(geometry)
        out = padded[sources[0]].copy()
        for source in sources[1:]:
            out += padded[source]
    out *= scale

    def backward(g):
        share = g * scale
        if geometry.tiles_input and padded.shape[1:-1] == tuple(
            o * s for o, s in zip(geometry.out_spatial, geometry.strides)
        ):
            # Each input pixel lies in exactly one window: broadcast the share back over it.
            grad = xp.broadcast_to(
                xp.expand_dims(share, _tile_axes(geometry)), _tiles(padded, geometry).shape
            )
            return (grad.reshape(padded.shape),)
        grad = xp.zeros(padded.shape, g.dtype)
        for source in _taps(geometry):
            grad[source] += share
        return (unpad_gradient(grad, geometry.pads, geometry.in_spatial),)

    y = record(out, (x,), backward, op_name)
    return to_channels_first(y) if channels_first else y


# -- shared pieces --------------------------------------------------------------------------


def _pool_input(op_name, inputs, pool_size, strides, padding, data_format):
    x = as_tensor(inputs)
    channels_first = check_data_format(data_format, op_name)
    rank = spatial_rank(x.shape, op_name)
    x = to_channels_last(x) if channels_first else x
    pool_shape = spatial_tuple(pool_size, rank, "pool_size", op_name)
    strides = pool_shape if strides is None else spatial_tuple(strides, rank, "strides", op_name)
    mode = padding_mode(padding, op_name)
    geometry = window_geometry(
        op_name, x.shape, pool_shape, strides, (1,) * rank, mode, f"pool_size {pool_shape}"
    )
    return x, geometry, channels_first


def _taps(geometry):
    return taps(geometry.kernel_shape, geometry.dilations, geometry.strides, geometry.out_spatial)


def _tiles(padded, geometry):
    """View ``(N, o1, k1, o2, k2, ..., C)`` of the input cropped to whole windows."""
    crop = tuple(slice(0, o * k) for o, k in zip(geometry.out_spatial, geometry.kernel_shape))
    split = [padded.shape[0]]
    for o, k in zip(geometry.out_spatial, geometry.kernel_shape):
        split += [o, k]
    return padded[(slice(None), *crop)].reshape(*split, padded.shape[-1])


def _tile_axes(geometry):
    return tuple(2 + 2 * axis for axis in range(len(geometry.kernel_shape)))


def _inverse_counts(geometry, dtype):
    """1 / (number of real values in each window), broadcastable against the output."""
    size = 1
    for k in geometry.kernel_shape:
        size *= k
    if all(p == (0, 0) for p in geometry.pads):
        return xp.asarray(1 / size, dtype=dtype)
    counts = xp.ones((), dtype=dtype)
    for axis, (k, s, (lo, _), n, o) in enumerate(
        zip(
            geometry.kernel_shape,
            geometry.strides,
            geometry.pads,
            geometry.in_spatial,
            geometry.out_spatial,
        )
    ):
        starts = xp.arange(o) * s - lo
        count = (xp.minimum(starts + k, n) - xp.maximum(starts, 0)).astype(dtype)
        shape = [1] * len(geometry.kernel_shape) + [1]
        shape[axis] = o
        counts = counts * count.reshape(shape)
    return 1 / counts

"""Sliding-window bookkeeping shared by convolution and pooling (channels-last).

Everything here works on backend arrays shaped ``(batch, *spatial, channels)`` with one, two
or three spatial axes: argument checking, TensorFlow-style "same" padding, padding and
cropping, the per-tap strided slices a window visits, the copy that gathers every window
into one row (im2col) and its adjoint (col2im). The big copies run on all cores, one batch
slice per thread (:func:`parallel_over_batch`).

Example:
    >>> same_padding(5, kernel_extent=3, stride=2)
    (1, 1)
    >>> output_length(5, kernel_extent=3, stride=2, pads=(1, 1))
    3
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import NamedTuple

from ..backend import xp
from ..native import split_batch
from .manipulation import transpose

PADDINGS = ("valid", "same")


# -- arguments ------------------------------------------------------------------------------


def spatial_tuple(value, rank: int, name: str, op_name: str) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` positive ints, as a tuple of ``rank`` ints.

    Example:
        >>> spatial_tuple(2, 2, "strides", "conv")
        (2, 2)
    """
    values_ = (value,) * rank if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values_) != rank or not all(_is_positive_int(v) for v in values_):
        raise ValueError(
            f"{op_name}: {name} must be a positive int or a tuple of {rank} positive ints "
            f"for {rank}-D inputs; got {value!r}"
        )
    return values_


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def padding_mode(padding, op_name: str) -> str:
    """``"valid"`` or ``"same"`` (any case), lower-cased.

    Example:
        >>> padding_mode("SAME", "conv")
        'same'
    """
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in PADDINGS:
        raise ValueError(f"{op_name}: padding must be one of {PADDINGS}; got {padding!r}")
    return mode


def check_data_format(data_format, op_name: str) -> bool:
    """Whether the data is channels-first (it is moved to channels-last around the op).

    Example:
        >>> check_data_format(None, "conv")
        False
    """
    if data_format in (None, "channels_last"):
        return False
    if data_format == "channels_first":
        return True
    raise ValueError(
        f"{op_name}: data_format must be 'channels_last', 'channels_first' or None; "
        f"got {data_format!r}"
    )


def to_channels_last(x):
    """``(N, C, *spatial)`` tensor to ``(N, *spatial, C)`` (a graph op: gradients flow)."""
    return transpose(x, (0, *range(2, x.ndim), 1))


def to_channels_first(y):
    """``(N, *spatial, C)`` tensor back to ``(N, C, *spatial)``."""
    return transpose(y, (0, y.ndim - 1, *range(1, y.ndim - 1)))


def spatial_rank(shape, op_name: str, ranks=(1, 2, 3)) -> int:
    """Number of spatial axes of a ``(batch, *spatial, channels)`` input."""
    rank = len(shape) - 2
    if rank not in ranks:
        choices = [str(r + 2) for r in ranks]
        expected = " or ".join(
            [", ".join(choices[:-1]), choices[-1]] if len(choices) > 1 else choices
        )
        raise ValueError(
            f"{op_name}: inputs must have rank {expected} (batch, *spatial, channels); "
            f"got shape {tuple(shape)}"
        )
    return rank


# -- geometry -------------------------------------------------------------------------------


def dilated_extent(kernel_size: int, dilation: int) -> int:
    """How many input positions a dilated kernel spans.

    Example:
        >>> dilated_extent(3, 2)
        5
    """
    return (kernel_size - 1) * dilation + 1


def same_padding(length: int, kernel_extent: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding: ``ceil(length / stride)`` outputs, the odd pixel at the end.

    Example:
        >>> same_padding(4, kernel_extent=3, stride=2)
        (0, 1)
    """
    total = max((-(-length // stride) - 1) * stride + kernel_extent - length, 0)
    return total // 2, total - total // 2


def output_length(length: int, kernel_extent: int, stride: int, pads=(0, 0)) -> int:
    """Number of windows along one axis after padding ``pads = (before, after)``.

    Example:
        >>> output_length(7, kernel_extent=3, stride=2)
        3
    """
    return (length + pads[0] + pads[1] - kernel_extent) // stride + 1


def window_pads(op_name, shape, kernel_extents, strides, mode, kernel_description=""):
    """Per-axis ``(before, after)`` padding for a windowed op, checking the windows fit.

    ``kernel_description`` (say, "kernel (3, 3, 1, 8)") only shapes the error message.
    """
    spatial = shape[1:-1]
    if mode == "same":
        return tuple(map(same_padding, spatial, kernel_extents, strides))
    if any(extent > length for extent, length in zip(kernel_extents, spatial)):
        raise ValueError(
            f"{op_name}: with padding='valid' the spatial shape {tuple(spatial)} of inputs "
            f"{tuple(shape)} must be at least the window's extent {tuple(kernel_extents)} "
            f"({kernel_description}); use padding='same' or a smaller window"
        )
    return ((0, 0),) * len(spatial)


class WindowGeometry(NamedTuple):
    """Where each window of a convolution or pooling sits: everything but the values."""

    kernel_shape: tuple  # spatial window size, e.g. (3, 3)
    strides: tuple
    dilations: tuple
    pads: tuple  # ((before, after), ...) per spatial axis; negative entries crop
    in_spatial: tuple
    out_spatial: tuple

    @property
    def padded_spatial(self):
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.in_spatial, self.pads))

    @property
    def is_pointwise(self):
        """1×1 window, stride 1, no padding: each output pixel reads one input pixel."""
        return (
            all(k == 1 for k in self.kernel_shape)
            and all(s == 1 for s in self.strides)
            and all(p == (0, 0) for p in self.pads)
        )

    @property
    def tiles_input(self):
        """Windows side by side (stride == size), no padding: the input reshapes into them."""
        return self.strides == self.kernel_shape and all(p == (0, 0) for p in self.pads)


def window_geometry(op_name, shape, kernel_shape, strides, dilations, mode, kernel_description):
    """The windows of a convolution or pooling over an input of ``shape``.

    Example:
        >>> geometry = window_geometry("max_pool", (1, 5, 5, 1), (2, 2), (2, 2), (1, 1), "same", "")
        >>> geometry.out_spatial, geometry.pads
        ((3, 3), ((0, 1), (0, 1)))
    """
    extents = tuple(map(dilated_extent, kernel_shape, dilations))
    pads = window_pads(op_name, shape, extents, strides, mode, kernel_description)
    out_spatial = tuple(map(output_length, shape[1:-1], extents, strides, pads))
    return WindowGeometry(
        tuple(kernel_shape), tuple(strides), tuple(dilations), pads, tuple(shape[1:-1]), out_spatial
    )


def as_2d(values, rank: int, first=1) -> tuple:
    """Per-axis ``values`` of a 1-D or 2-D window as 2-D ones: a 1-D window becomes a 2-D
    one of height 1 (``first`` on the new axis), as the compiled kernels take them.

    Example:
        >>> as_2d((3,), 1), as_2d((1, 2), 1, first=0), as_2d((3, 3), 2)
        ((1, 3), (0, 1, 2), (3, 3))
    """
    return (first, *values) if rank == 1 else tuple(values)


# -- arrays ---------------------------------------------------------------------------------


def pad_spatial(array, pads, value=0, buffer=None):
    """Pad (positive entries) or crop (negative) the spatial axes of ``array``.

    Returns ``array`` itself when nothing changes. ``buffer(shape, dtype)``, when given,
    supplies the padded array (say :func:`scratch`, to reuse memory).

    Example:
        >>> pad_spatial(xp.ones((1, 2, 1)), ((1, 0),)).reshape(-1).tolist()
        [0.0, 1.0, 1.0]
    """
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return array
    cropped = array[(slice(None),) + crop_slices(pads, array.shape[1:-1])]
    if all(lo <= 0 and hi <= 0 for lo, hi in pads):
        return cropped
    shape = [array.shape[0]]
    shape += [
        length + max(lo, 0) + max(hi, 0) for (lo, hi), length in zip(pads, cropped.shape[1:-1])
    ]
    shape.append(array.shape[-1])
    padded = (xp.empty if buffer is None else buffer)(tuple(shape), array.dtype)
    inside = interior(pads, cropped.shape)
    padded[inside] = cropped
    # Fill only the border slabs: filling the whole array first would write it twice.
    for axis, window in enumerate(inside[1:-1], start=1):
        before = (slice(None),) * axis + (slice(0, window.start),)
        after = (slice(None),) * axis + (slice(window.stop, None),)
        padded[before] = value
        padded[after] = value
    return padded


def crop_slices(pads, spatial):
    """Slices that drop the positions a negative pad removes."""
    return tuple(
        slice(max(-lo, 0), length - max(-hi, 0)) for (lo, hi), length in zip(pads, spatial)
    )


def interior(pads, shape):
    """Index of the original values inside an array padded by the positive part of ``pads``."""
    return (
        (slice(None),)
        + tuple(slice(max(lo, 0), max(lo, 0) + n) for (lo, _), n in zip(pads, shape[1:-1]))
        + (slice(None),)
    )


def unpad_gradient(padded_grad, pads, spatial):
    """Gradient of :func:`pad_spatial`: the interior, zero where the input was cropped.

    Example:
        >>> unpad_gradient(xp.arange(3.0).reshape(1, 3, 1), ((1, 0),), (2,)).reshape(-1).tolist()
        [1.0, 2.0]
    """
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return padded_grad
    kept = [n - max(-lo, 0) - max(-hi, 0) for (lo, hi), n in zip(pads, spatial)]
    inner = padded_grad[interior(pads, (0, *kept, 0))]
    if all(lo >= 0 and hi >= 0 for lo, hi in pads):
        return xp.ascontiguousarray(inner)
    grad = xp.zeros((padded_grad.shape[0], *spatial, padded_grad.shape[-1]), padded_grad.dtype)
    grad[(slice(None),) + crop_slices(pads, spatial)] = inner
    return grad


def taps(kernel_shape, dilations, strides, out_spatial):
    """For each kernel position: the slices of a padded input that this tap reads.

    Tap ``(i, j)`` of a 2-D window reads ``padded[:, i*d : i*d + s*oh : s, j*d : ..., :]``;
    iterating over the taps visits every (window, position) pair without a per-pixel loop.

    Example:
        >>> [s[1] for s in taps((2,), (1,), (2,), (3,))]
        [slice(0, 5, 2), slice(1, 6, 2)]
    """
    per_axis = [
        [slice(i * d, i * d + s * (n - 1) + 1, s) for i in range(k)]
        for k, d, s, n in zip(kernel_shape, dilations, strides, out_spatial)
    ]
    return [(slice(None), *position, slice(None)) for position in itertools.product(*per_axis)]


def window_view(padded, kernel_shape, dilations, strides, out_spatial):
    """Every window of ``padded`` as a view ``(N, *out_spatial, *kernel_shape, C)`` (no copy).

    Example:
        >>> view = window_view(xp.arange(5.0).reshape(1, 5, 1), (2,), (1,), (2,), (2,))
        >>> view.shape, view[0, :, :, 0].tolist()
        ((1, 2, 2, 1), [[0.0, 1.0], [2.0, 3.0]])
    """
    rank = len(kernel_shape)
    extents = tuple(map(dilated_extent, kernel_shape, dilations))
    view = xp.lib.stride_tricks.sliding_window_view(padded, extents, axis=tuple(range(1, rank + 1)))
    view = view[
        (slice(None),)
        + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out_spatial, strides))
        + (slice(None),)
        + tuple(slice(None, None, d) for d in dilations)
    ]
    return view.transpose(0, *range(1, rank + 1), *range(rank + 2, 2 * rank + 2), rank + 1)


def gather_windows(padded, kernel_shape, dilations, strides, out_spatial, temporary=False):
    """im2col: every window as one row, ``(batch * prod(out_spatial), prod(kernel) * C)``.

    Row ``(n, o...)`` holds the window's values tap by tap, channels fastest — the order of
    a ``(*kernel, C, F)`` kernel reshaped to ``(-1, F)``. ``temporary`` rows live in this
    thread's :func:`scratch` buffer: valid only until the next call that asks for scratch.

    Example:
        >>> gather_windows(xp.arange(4.0).reshape(1, 4, 1), (2,), (1,), (2,), (2,)).tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    batch, channels = padded.shape[0], padded.shape[-1]
    shape = (batch, *out_spatial, *kernel_shape, channels)
    columns = scratch(shape, padded.dtype) if temporary else xp.empty(shape, padded.dtype)
    view = window_view(padded, kernel_shape, dilations, strides, out_spatial)
    # NumPy copies along the destination's last axes. One copy of the whole view moves runs
    # of kernel_width * C values (3×3×64: 1.7× faster than a copy per tap; 3×3×3: 3×); for a
    # single channel those runs are 3 values long, and a copy per tap, running along the
    # output width instead, is 1.6× faster.
    per_tap = channels * kernel_shape[-1] < _MIN_RUN

    def copy(start, stop):
        if not per_tap:
            columns[start:stop] = view[start:stop]
            return
        for tap in itertools.product(*map(range, kernel_shape)):
            index = (slice(start, stop), Ellipsis, *tap, slice(None))
            columns[index] = view[index]

    parallel_over_batch(copy, batch, columns[:1].nbytes)
    return columns.reshape(batch * _product(out_spatial), _product(kernel_shape) * channels)


def scatter_windows(columns, padded_shape, kernel_shape, dilations, strides, out_spatial, out=None):
    """col2im, the adjoint of :func:`gather_windows`: add every row back where it was read.

    The sums go into ``out`` (zeros of ``padded_shape``, given by the caller) when given.

    Example:
        >>> rows = xp.ones((2, 2))
        >>> scatter_windows(rows, (1, 3, 1), (2,), (1,), (1,), (2,)).reshape(-1).tolist()
        [1.0, 2.0, 1.0]
    """
    batch, channels = padded_shape[0], padded_shape[-1]
    windows = columns.reshape(batch, *out_spatial, *kernel_shape, channels)
    grad = xp.zeros(padded_shape, columns.dtype) if out is None else out
    targets = taps(kernel_shape, dilations, strides, out_spatial)

    def add(start, stop):
        for tap, target in zip(itertools.product(*map(range, kernel_shape)), targets):
            grad[(slice(start, stop), *target[1:])] += windows[
                (slice(start, stop), Ellipsis, *tap, slice(None))
            ]

    parallel_over_batch(add, batch, windows[:1].nbytes)
    return grad


def _product(values_):
    result = 1
    for v in values_:
        result *= v
    return result


_scratch = threading.local()


def scratch(shape, dtype):
    """A work array for a temporary result, reused by later calls in this thread.

    A fresh array of 100 MB costs about 10 ms of page faults on first touch (measured: a
    151 MB im2col copy takes 28 ms into a new array, 18 ms into a reused one). The buffer
    grows to the largest request and stays; the array returned is only valid until the
    next call to ``scratch`` in the same thread.

    Example:
        >>> scratch((2, 3), "float32").shape
        (2, 3)
    """
    dtype = xp.dtype(dtype)
    nbytes = _product(shape) * dtype.itemsize
    buffer = getattr(_scratch, "buffer", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = _scratch.buffer = xp.empty(nbytes, dtype=xp.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)


# Shortest contiguous run worth a copy of its own (see gather_windows).
_MIN_RUN = 8
# Batch slices small enough that one slice's temporaries stay in a core's L2 cache.
_SLICE_BYTES = 1 << 20


def parallel_over_batch(work, batch: int, bytes_per_item: int = 0) -> None:
    """Run ``work(start, stop)`` over slices of the batch, on all the CPU's cores.

    NumPy's elementwise loops run on one core but release the GIL, so copies and
    arithmetic on separate parts of the batch overlap on the others (measured: 1.8× on two
    cores). Each core walks its part in slices of about 1 MiB of ``bytes_per_item``, so that
    a slice's temporaries stay in cache. ``work`` must write only to its own slice.
    """
    chunk = max(1, _SLICE_BYTES // max(bytes_per_item, 1))

    def walk(start, stop):
        for first in range(start, stop, chunk):
            work(first, min(first + chunk, stop))

    split_batch(walk, batch, parts=min(os.cpu_count() or 1, -(-batch // chunk)))

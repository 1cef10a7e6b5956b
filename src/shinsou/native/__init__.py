"""shinsou's compiled kernels, loaded with :mod:`ctypes`, and the threads that run them.

``kernels.c`` holds a direct 2-D convolution (forward, kernel gradient, col2im) over
channels-last arrays and one-pass kernels for what NumPy does in several: bias + ReLU,
ReLU, batch-norm statistics and affine maps, max pooling, layer normalization, softmax,
the LSTM step, dropout and Adam. ``setup.py`` builds it at install time into
``_kernels*.so`` next to this file. When it is missing (no C compiler at install) or
stale, :func:`available` is False and the ops use their NumPy code, which computes the
same results up to float rounding (dropout draws other masks); so does setting the
environment variable ``SHINSOU_NATIVE=0`` or running under :func:`disabled`.

Each kernel works on a range of batch items or rows; :func:`split_batch` runs the ranges on
all the CPU's cores at once (ctypes releases the GIL while C runs). Large outputs come from
:func:`empty`, which recycles freed buffers.

Example:
    >>> import numpy as np
    >>> from shinsou import native
    >>> x = np.ones((1, 3, 3, 1), np.float32)
    >>> w = np.ones((3, 3, 1, 16), np.float32)
    >>> out = native.conv2d_forward(x, w, strides=(1, 1), dilations=(1, 1))
    >>> out.shape, float(out[0, 0, 0, 0])
    ((1, 1, 1, 16), 9.0)

(The examples need the compiled kernels; the test suite skips them where they are not
built.)
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.machinery
import itertools
import math
import os
import pathlib
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy

VECTOR = 16
"""Filters per vector: kernels need a filter count that is a multiple of this."""


class _Geometry(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_long)
        for name in ("H", "W", "C", "OH", "OW", "F", "KH", "KW", "sh", "sw", "dh", "dw", "ph", "pw")
    ]


class _PoolGeometry(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_long)
        for name in ("H", "W", "C", "OH", "OW", "KH", "KW", "sh", "sw", "ph", "pw")
    ]


def _declare(library):
    """Argument types of every kernel (ctypes checks calls against them)."""
    p, n = ctypes.c_void_p, ctypes.c_long
    conv, pool = ctypes.POINTER(_Geometry), ctypes.POINTER(_PoolGeometry)
    signatures = {
        "conv2d_forward": (ctypes.c_int, [p, p, p, n, n, conv]),
        "conv2d_kernel_grad": (ctypes.c_int, [p, p, p, n, n, conv]),
        "bias_act_forward": (None, [p, p, n, n, n, ctypes.c_int]),
        "bias_act_backward": (None, [p, p, p, p, n, n, n, ctypes.c_int]),
        "channel_sums": (None, [p, p, p, p, p, n, n, n]),
        "channel_affine": (None, [p, p, p, p, p, p, ctypes.c_int, p, n, n, n]),
        "col2im": (None, [p, p, n, n, conv]),
        "adam_update": (None, [p, p, p, p, *[ctypes.c_float] * 4, n, n]),
        "softmax_forward": (None, [p, p, n, n, n]),
        "softmax_backward": (None, [p, p, p, n, n, n]),
        "layer_norm_forward": (None, [p, p, p, p, p, p, ctypes.c_float, n, n, n]),
        "layer_norm_backward": (None, [p, p, p, p, p, p, p, n, n, n]),
        "dropout_apply": (None, [p, p, ctypes.c_ulonglong, ctypes.c_uint, ctypes.c_float, n, n]),
        "lstm_step_forward": (None, [p, n, p, p, p, p, n, n, n, n]),
        "lstm_step_backward": (None, [p, n, p, p, p, n, p, p, n, n, n]),
        "relu_forward": (None, [p, p, n, n]),
        "relu_backward": (None, [p, p, p, n, n]),
        "max_pool_forward": (None, [p, p, p, n, n, pool]),
        "max_pool_backward": (None, [p, p, p, n, n, pool]),
    }
    for name, (result, arguments) in signatures.items():
        function = getattr(library, name)
        function.restype, function.argtypes = result, arguments


def _load():
    if os.environ.get("SHINSOU_NATIVE", "1") == "0":
        return None
    here = pathlib.Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_kernels{suffix}"
        if path.exists():
            try:
                library = ctypes.CDLL(str(path))
                _declare(library)
            except (OSError, AttributeError) as error:
                # A build from older sources (missing kernels) or a broken file: run on
                # NumPy rather than fail at import.
                warnings.warn(
                    f"shinsou: the compiled kernels in {path.name} cannot be used ({error}); "
                    "running on NumPy. Rebuild them with `pip install -e .` (or reinstall).",
                    RuntimeWarning,
                    stacklevel=2,
                )
                return None
            return library
    return None


_library = _load()
_enabled = True


def available() -> bool:
    """Whether the compiled kernels are loaded and switched on.

    Example:
        >>> isinstance(available(), bool)
        True
    """
    return _library is not None and _enabled


@contextlib.contextmanager
def disabled():
    """Run the block on the NumPy code paths only (to compare them, or to debug).

    Example:
        >>> with disabled():
        ...     available()
        False
    """
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def supports_conv(dtype, filters: int) -> bool:
    """Whether the convolution kernels run for this dtype and filter count: float32, and a
    multiple of :data:`VECTOR` filters.

    Example:
        >>> supports_conv(numpy.float32, 8)
        False
    """
    return available() and dtype == numpy.float32 and filters % VECTOR == 0


def _geometry(x_shape, w_shape, out_spatial, strides, dilations, pads_before):
    return _Geometry(
        *x_shape[1:4], *out_spatial, w_shape[3], *w_shape[:2], *strides, *dilations, *pads_before
    )


def conv2d_forward(x, w, strides, dilations, pads_before=(0, 0), out_spatial=None):
    """Convolution of ``x (N, H, W, C)`` with ``w (KH, KW, C, F)``: ``(N, OH, OW, F)``.

    The input is read as if padded by ``pads_before`` zeros at the top and left and by as
    many as ``out_spatial`` needs at the bottom and right (default: none there). The caller
    checks :func:`supports_conv` first.

    Example:
        >>> x = numpy.arange(8, dtype="float32").reshape(1, 1, 8, 1)
        >>> w = numpy.ones((1, 2, 1, 16), "float32")
        >>> conv2d_forward(x, w, (1, 2), (1, 1), (0, 1))[0, 0, :, 0].tolist()
        [0.0, 3.0, 7.0, 11.0]
    """
    x, w = numpy.ascontiguousarray(x), numpy.ascontiguousarray(w)
    if out_spatial is None:
        out_spatial = tuple(
            (n + p - (k - 1) * d - 1) // s + 1
            for n, p, k, s, d in zip(x.shape[1:3], pads_before, w.shape[:2], strides, dilations)
        )
    out = empty((x.shape[0], *out_spatial, w.shape[-1]))
    geometry = _geometry(x.shape, w.shape, out_spatial, strides, dilations, pads_before)

    def run(start, stop):
        _run(_library.conv2d_forward, x, w, out, start, stop, geometry)

    split_batch(run, x.shape[0])
    return out


def conv2d_kernel_grad(x, grad, w_shape, strides, dilations, pads_before=(0, 0)):
    """Gradient of :func:`conv2d_forward` with respect to its kernel, given the output's.

    Example:
        >>> x = numpy.ones((2, 3, 3, 1), "float32")
        >>> g = numpy.ones((2, 1, 1, 16), "float32")
        >>> float(conv2d_kernel_grad(x, g, (3, 3, 1, 16), (1, 1), (1, 1))[0, 0, 0, 0])
        2.0
    """
    x, grad = numpy.ascontiguousarray(x), numpy.ascontiguousarray(grad)
    geometry = _geometry(x.shape, w_shape, grad.shape[1:3], strides, dilations, pads_before)

    def run(start, stop, total):
        _run(_library.conv2d_kernel_grad, x, grad, total, start, stop, geometry)

    return split_sums(run, x.shape[0], w_shape, numpy.float32)


def col2im(columns, dx, kernel_shape, strides, dilations, pads_before, out_spatial):
    """Add each window's row of ``columns`` (``(N*OH*OW, KH*KW*C)``, taps then channels)
    back into ``dx (N, H, W, C)`` where the window read it (in place); positions in the
    padding are dropped. The scatter of a strided convolution's input gradient.

    Example:
        >>> dx = numpy.zeros((1, 1, 3, 1), "float32")
        >>> columns = numpy.ones((2, 2), "float32")
        >>> col2im(columns, dx, (1, 2), (1, 1), (1, 1), (0, 0), (1, 2)).ravel().tolist()
        [1.0, 2.0, 1.0]
    """
    columns = numpy.ascontiguousarray(columns)
    kernel = (*kernel_shape, dx.shape[-1], 0)
    geometry = _geometry(dx.shape, kernel, out_spatial, strides, dilations, pads_before)
    split_batch(lambda a, b: _run(_library.col2im, columns, dx, a, b, geometry), dx.shape[0])
    return dx


# -- LSTM steps ---------------------------------------------------------------------------
# One step's arrays are small (batch x units): one thread, no split.


def _has_rows(array) -> bool:
    """Whether a 2-D array's rows are each contiguous (they may lie apart)."""
    return array.strides[-1] == array.itemsize and array.strides[0] % array.itemsize == 0


def lstm_step_forward(gates, t, recurrent, c_prev, c_next, h_next):
    """The gate arithmetic of LSTM step ``t`` after the recurrent GEMM (see kernels.c).

    ``gates`` is ``(5, T, B, U)`` (slots i, f, o, c~ holding ``x W + b`` with the sigmoid
    gates' weights halved, then tanh(c)), ``recurrent`` ``(B, 4U)``; writes the activated
    gates, ``c_next`` and ``h_next`` (rows may be apart).

    Example:
        >>> gates = numpy.zeros((5, 1, 1, 16), "float32")
        >>> c, h = numpy.ones((1, 16), "float32"), numpy.empty((1, 16), "float32")
        >>> new_c = numpy.empty((1, 16), "float32")
        >>> zeros = numpy.zeros((1, 64), "float32")
        >>> lstm_step_forward(gates, 0, zeros, c, new_c, h)
        >>> float(new_c[0, 0])  # the forget gate sigmoid(0) keeps half of c
        0.5
    """
    _, steps, batch, units = gates.shape
    step = gates.ctypes.data + t * batch * units * gates.itemsize
    if not _has_rows(h_next):
        raise ValueError("lstm_step_forward: h_next's rows must each be contiguous")
    h_stride = h_next.strides[0] // h_next.itemsize
    _run(
        _library.lstm_step_forward, step, steps * batch * units, recurrent, c_prev, c_next,
        h_next, h_stride, 0, batch, units,
    )  # fmt: skip


def lstm_step_backward(gates, t, c_prev, dh, d_out, dc, d_gates):
    """The gate arithmetic of LSTM step ``t``'s backward pass (see kernels.c): adds
    ``d_out`` (or nothing when None) to ``dh``, writes ``d_gates`` ``(B, 4U)`` and updates
    ``dc`` in place.

    Example:
        >>> gates = numpy.full((5, 1, 1, 16), 0.5, "float32")
        >>> dh, dc = numpy.zeros((1, 16), "float32"), numpy.ones((1, 16), "float32")
        >>> d_gates = numpy.empty((1, 64), "float32")
        >>> c = numpy.zeros((1, 16), "float32")
        >>> lstm_step_backward(gates, 0, c, dh, None, dc, d_gates)
        >>> float(dc[0, 0])  # through the forget gate
        0.5
    """
    _, steps, batch, units = gates.shape
    step = gates.ctypes.data + t * batch * units * gates.itemsize
    if d_out is not None and not _has_rows(d_out):
        d_out = numpy.ascontiguousarray(d_out)  # kept alive here for the call
    out_stride = 0 if d_out is None else d_out.strides[0] // d_out.itemsize
    _run(
        _library.lstm_step_backward, step, steps * batch * units, c_prev, dh, d_out,
        out_stride, dc, d_gates, 0, batch, units,
    )  # fmt: skip


# -- per-channel passes over (rows, C) arrays --------------------------------------------


def supports_rows(*arrays) -> bool:
    """Whether the per-channel kernels take these arrays: float32 and C-contiguous.

    Example:
        >>> supports_rows(numpy.ones((2, 3), "float64"))
        False
    """
    return available() and all(a.dtype == numpy.float32 and a.flags.c_contiguous for a in arrays)


def bias_act(y, bias, relu: bool):
    """``y += bias`` then ``max(y, 0)`` when ``relu``, in place on ``y (..., C)``.

    Example:
        >>> y = numpy.array([[1.0, -3.0]], "float32")
        >>> bias_act(y, numpy.ones(2, "float32"), True).tolist()
        [[2.0, 0.0]]
    """
    rows = y.reshape(-1, y.shape[-1])
    bias = numpy.ascontiguousarray(bias, numpy.float32)
    split_rows(
        lambda a, b: _run(_library.bias_act_forward, rows, bias, a, b, rows.shape[1], relu), rows
    )
    return y


def bias_act_grad(g, y, relu: bool, bias_grad: bool):
    """Gradient of :func:`bias_act` given the output ``y``: ``(grad of the input, grad of
    the bias or None)``.

    Example:
        >>> y = numpy.array([[2.0, 0.0]], "float32")
        >>> g = numpy.ones((1, 2), "float32")
        >>> grad, bias_grad = bias_act_grad(g, y, True, True)
        >>> grad.tolist(), bias_grad.tolist()
        ([[1.0, 0.0]], [1.0, 0.0])
    """
    rows, outputs = g.reshape(-1, g.shape[-1]), y.reshape(-1, y.shape[-1])
    grad = empty(rows.shape)
    channels = rows.shape[1]

    def run(start, stop, total=None):
        _run(_library.bias_act_backward, rows, outputs, grad, total, start, stop, channels, relu)

    if not bias_grad:
        split_rows(run, rows)
        return grad.reshape(g.shape), None
    total = split_sums(run, rows.shape[0], (channels,), numpy.float64, _row_parts(rows))
    return grad.reshape(g.shape), total.astype(g.dtype)


def channel_sums(a, b, mask=None):
    """Per-channel ``(sum of a, sum of a * b)`` over the rows of ``(rows, C)`` arrays, in
    float64; ``a`` taken as 0 where ``mask`` (optional, same shape) is at most 0.

    Example:
        >>> a = numpy.array([[1.0, 2.0], [3.0, 4.0]], "float32")
        >>> [total.tolist() for total in channel_sums(a, a)]
        [[4.0, 6.0], [10.0, 20.0]]
    """
    channels = a.shape[1]

    def run(start, stop, totals):
        _run(_library.channel_sums, a, b, mask, *totals, start, stop, channels)

    sum_a, sum_ab = split_sums(run, a.shape[0], (2, channels), numpy.float64, _row_parts(a))
    return sum_a, sum_ab


def channel_affine(a, scale_a, shift, b=None, scale_b=None, mask=None, relu=False):
    """``a * scale_a + b * scale_b + shift`` per channel of ``(rows, C)`` arrays, as a new
    array; ``b`` is optional and taken as 0 where ``mask`` (optional) is at most 0, and
    ``relu`` applies ``max(·, 0)`` in the same pass.

    Example:
        >>> a = numpy.array([[1.0, 2.0]], "float32")
        >>> ones = numpy.ones(2, "float32")
        >>> channel_affine(a, 2 * ones, ones).tolist()
        [[3.0, 5.0]]
    """
    out = empty(a.shape)
    vectors = [numpy.ascontiguousarray(v, numpy.float32) for v in (scale_a, shift)]
    scale_b = None if b is None else numpy.ascontiguousarray(scale_b, numpy.float32)
    channels = a.shape[1]

    def run(start, stop):
        _run(
            _library.channel_affine, a, vectors[0], b, scale_b, vectors[1], mask, relu, out,
            start, stop, channels,
        )  # fmt: skip

    split_rows(run, a)
    return out


def relu(x):
    """``max(x, 0)`` of a float32 array, as a new array.

    Example:
        >>> relu(numpy.array([-1.0, 2.0], "float32")).tolist()
        [0.0, 2.0]
    """
    out = empty(x.shape)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    split_rows(lambda a, b: _run(_library.relu_forward, flat_x, flat_out, a, b), flat_x)
    return out


def relu_grad(g, x):
    """Gradient of :func:`relu` at ``x``: ``g`` where ``x > 0``, else 0 (a new array).

    Example:
        >>> x = numpy.array([-1.0, 2.0], "float32")
        >>> relu_grad(numpy.ones(2, "float32"), x).tolist()
        [0.0, 1.0]
    """
    grad = empty(x.shape)
    flats = (g.reshape(-1), x.reshape(-1), grad.reshape(-1))
    split_rows(lambda a, b: _run(_library.relu_backward, *flats, a, b), flats[0])
    return grad


def dropout_apply(x, seed: int, threshold: int, scale: float):
    """``x * scale`` where the counter-based mask of ``seed`` keeps an element, else 0 (a
    new array). Element ``i`` is kept when the top 32 bits of SplitMix64(seed + i) reach
    ``threshold``: the same mask for the same seed and shape, so the backward pass calls
    this again on the gradient instead of keeping the mask.

    Example:
        >>> x = numpy.ones(8, "float32")
        >>> set(dropout_apply(x, 7, 2**31, 2.0).tolist()) <= {0.0, 2.0}
        True
    """
    out = empty(x.shape)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)

    def run(start, stop):
        _run(_library.dropout_apply, flat_x, flat_out, seed, threshold, scale, start, stop)

    split_rows(run, flat_x)
    return out


def layer_norm(rows, gamma, beta, epsilon: float):
    """Layer normalization of each row of a ``(R, F)`` array: ``(y, xhat, inv_std)``, the
    last two for :func:`layer_norm_grad`. ``gamma``/``beta`` are ``(F,)`` or None.

    Example:
        >>> layer_norm(numpy.array([[1.0, 3.0]], "float32"), None, None, 0.0)[0].tolist()
        [[-1.0, 1.0]]
    """
    y, xhat = empty(rows.shape), empty(rows.shape)
    inv_std = numpy.empty(rows.shape[0], numpy.float32)
    gamma, beta = (
        None if v is None else numpy.ascontiguousarray(v, numpy.float32) for v in (gamma, beta)
    )
    features = rows.shape[1]

    def run(start, stop):
        _run(
            _library.layer_norm_forward,
            rows,
            gamma,
            beta,
            y,
            xhat,
            inv_std,
            epsilon,
            start,
            stop,
            features,
        )

    split_rows(run, rows)
    return y, xhat, inv_std


def layer_norm_grad(g, xhat, inv_std, gamma, want_x: bool, want_gamma: bool, want_beta: bool):
    """Gradients of :func:`layer_norm` given ``g`` (R, F): ``(x, gamma, beta)``, None where
    not wanted.

    Example:
        >>> y, xhat, inv = layer_norm(numpy.array([[1.0, 3.0]], "float32"), None, None, 0.0)
        >>> g = numpy.ones((1, 2), "float32")
        >>> grad_x, _, grad_beta = layer_norm_grad(g, xhat, inv, None, True, False, True)
        >>> grad_x.tolist(), grad_beta.tolist()
        ([[0.0, 0.0]], [1.0, 1.0])
    """
    features = g.shape[1]
    grad_x = empty(g.shape) if want_x else None
    gamma = None if gamma is None else numpy.ascontiguousarray(gamma, numpy.float32)
    wants = (want_gamma, want_beta)

    def run(start, stop, totals):
        sums = (total if want else None for total, want in zip(totals, wants))
        _run(
            _library.layer_norm_backward,
            g,
            xhat,
            inv_std,
            gamma,
            grad_x,
            *sums,
            start,
            stop,
            features,
        )

    totals = split_sums(run, g.shape[0], (2, features), numpy.float64, _row_parts(g))
    grad_gamma, grad_beta = (t.astype(numpy.float32) if w else None for t, w in zip(totals, wants))
    return grad_x, grad_gamma, grad_beta


def softmax(rows):
    """Softmax of each row of a ``(R, F)`` float32 array (a new array).

    Example:
        >>> softmax(numpy.array([[0.0, 0.0], [1e4, -1e4]], "float32")).tolist()
        [[0.5, 0.5], [1.0, 0.0]]
    """
    out = empty(rows.shape)
    features = rows.shape[1]
    split_rows(lambda a, b: _run(_library.softmax_forward, rows, out, a, b, features), rows)
    return out


def softmax_grad(g, y):
    """Gradient of :func:`softmax` given its output ``y``: ``y * (g - sum(g * y))`` per row.

    Example:
        >>> y = numpy.array([[0.5, 0.5]], "float32")
        >>> softmax_grad(numpy.array([[1.0, 0.0]], "float32"), y).tolist()
        [[0.25, -0.25]]
    """
    grad = empty(g.shape)
    features = g.shape[1]
    split_rows(lambda a, b: _run(_library.softmax_backward, g, y, grad, a, b, features), g)
    return grad


def adam_update(param, grad, momentum, velocity, beta_1, beta_2, epsilon, alpha) -> None:
    """One Adam step in place on flat float32 arrays, in one pass (Keras's formula; see
    ``shinsou.optimizers.Adam``).

    Example:
        >>> w, g = numpy.ones(4, "float32"), numpy.full(4, 3.0, "float32")
        >>> m, v = numpy.zeros(4, "float32"), numpy.zeros(4, "float32")
        >>> alpha = 0.1 * math.sqrt(1 - 0.999) / (1 - 0.9)  # learning rate 0.1, step 1
        >>> adam_update(w, g, m, v, 0.9, 0.999, 0.0, alpha)
        >>> [round(float(x), 4) for x in w]  # the first step moves by the learning rate
        [0.9, 0.9, 0.9, 0.9]
    """
    # 1 - beta in double, then rounded, as NumPy rounds the Python float it is given.
    arguments = (1.0 - beta_1, 1.0 - beta_2, epsilon, alpha)

    def run(start, stop):
        _run(_library.adam_update, param, grad, momentum, velocity, *arguments, start, stop)

    split_rows(run, param)


# Below this many bytes a pass over memory stays on the calling thread: handing half of
# it to a worker costs ~50 us, what one thread needs for about 1 MB.
SPLIT_BYTES = 1 << 21


def split_rows(work, rows) -> None:
    """:func:`split_batch` over the rows of a 2-D array; arrays under :data:`SPLIT_BYTES`
    stay on one thread."""
    split_batch(work, rows.shape[0], parts=_row_parts(rows))


def _row_parts(rows):
    return 1 if rows.nbytes < SPLIT_BYTES else None


def split_sums(work, count: int, shape, dtype, parts: int | None = None):
    """Run ``work(start, stop, total)`` like :func:`split_batch`, each range adding into its
    own zeroed ``total`` of ``shape``; returns the sum of the totals (in range order, so
    the result does not depend on which thread finished first). The totals are allocated
    here, before the threads start: allocating inside them cost a ResNet-20 step 16 ms.

    Example:
        >>> def count_items(start, stop, total):
        ...     total += stop - start
        >>> split_sums(count_items, 10, (1,), "int64", parts=3).tolist()
        [10]
    """
    parts = max(min(parts, count) if parts else _cores(count), 1)
    totals = numpy.zeros((parts, *shape), dtype)
    starts = {count * part // parts: part for part in range(parts)}
    split_batch(lambda a, b: work(a, b, totals[starts[a]]), count, parts)
    return totals.sum(axis=0) if parts > 1 else totals[0]


# -- max pooling ------------------------------------------------------------------------


def max_pool(x, pool_shape, strides, pads_before, out_spatial):
    """Largest value in each window of ``x (N, H, W, C)`` (padding by bounds): ``(out,
    winner)``, where ``winner`` (uint8) is each maximum's tap ``i * KW + j``.

    Example:
        >>> x = numpy.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> max_pool(x, (2, 2), (2, 2), (0, 0), (2, 2))[0][0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """
    x = numpy.ascontiguousarray(x)
    batch, channels = x.shape[0], x.shape[-1]
    out = empty((batch, *out_spatial, channels))
    winner = empty(out.shape, numpy.uint8)
    geometry = _PoolGeometry(*x.shape[1:], *out_spatial, *pool_shape, *strides, *pads_before)
    split_batch(lambda a, b: _run(_library.max_pool_forward, x, out, winner, a, b, geometry), batch)
    return out, winner


def max_pool_grad(g, winner, x_shape, pool_shape, strides, pads_before):
    """Gradient of :func:`max_pool`: each window's gradient at its winning position.

    Example:
        >>> winner = numpy.array([[[[3]]]], numpy.uint8)
        >>> g = numpy.ones((1, 1, 1, 1), "float32")
        >>> geometry = ((1, 2, 2, 1), (2, 2), (2, 2), (0, 0))
        >>> max_pool_grad(g, winner, *geometry)[0, :, :, 0].tolist()
        [[0.0, 0.0], [0.0, 1.0]]
    """
    g = numpy.ascontiguousarray(g)
    grad = empty(x_shape)
    geometry = _PoolGeometry(*x_shape[1:], *g.shape[1:3], *pool_shape, *strides, *pads_before)

    split_batch(
        lambda a, b: _run(_library.max_pool_backward, g, winner, grad, a, b, geometry), x_shape[0]
    )
    return grad


# -- recycled output arrays --------------------------------------------------------------

# Arrays of at least this many bytes are recycled by :func:`empty`, up to RECYCLE_LIMIT
# bytes of buffers in all: recycled buffers serve only their own size, so a bigger pool
# raises the peak memory of a large step (ResNet-20 at batch 256: +150 MB with no limit).
_RECYCLE_BYTES = 1 << 20
RECYCLE_LIMIT = 96 << 20
_recycled: dict[int, list] = {}
_recycled_bytes = 0


def empty(shape, dtype=numpy.float32):
    """A new uninitialised array, in memory recycled from arrays of the same size that
    nobody references any more.

    The kernels write every output once, so a fresh array costs more in page faults (the
    OS handing out and zeroing pages) than the kernel's own work: 12 MB cost 2-3 ms on this
    machine, while the pass that fills it takes 1. Like PyTorch's GPU caching allocator,
    this keeps large buffers (up to :data:`RECYCLE_LIMIT` bytes in all) once used and hands
    one out again when the last array viewing it is gone (its reference count tells).
    Recycling made the convnet benchmark's step 1.2x faster.

    Example:
        >>> a = empty((512, 1024))
        >>> address = a.ctypes.data
        >>> del a
        >>> empty((1024, 512)).ctypes.data == address
        True
    """
    global _recycled_bytes
    dtype = numpy.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < _RECYCLE_BYTES:
        return numpy.empty(shape, dtype)
    buffers = _recycled.setdefault(nbytes, [])
    # Unused buffers: only the list and getrefcount's own argument refer to them.
    idle = [i for i in range(len(buffers)) if sys.getrefcount(buffers[i]) == 2]
    if idle:
        buffer = buffers[idle[0]]
        # The other idle buffers of this size go back to malloc, which can reuse the
        # memory for other sizes.
        for i in reversed(idle[1:]):
            _recycled_bytes -= buffers[i].nbytes
            del buffers[i]
        return buffer.view(dtype).reshape(shape)
    if _recycled_bytes + nbytes > RECYCLE_LIMIT:
        return numpy.empty(shape, dtype)  # beyond the budget: plain memory
    _recycled_bytes += nbytes
    buffer = numpy.empty(nbytes, numpy.uint8)
    buffers.append(buffer)
    return buffer.view(dtype).reshape(shape)


def release_recycled() -> None:
    """Return the recycled buffers that no array uses to the operating system.

    Example:
        >>> release_recycled()
    """
    global _recycled_bytes
    for buffers in _recycled.values():
        for i in reversed(range(len(buffers))):
            if sys.getrefcount(buffers[i]) == 2:
                _recycled_bytes -= buffers[i].nbytes
                del buffers[i]


def _run(kernel, *arguments):
    """Call a compiled kernel: arrays go in as their data pointers."""
    pointers = (a.ctypes.data if isinstance(a, numpy.ndarray) else a for a in arguments)
    status = kernel(*pointers)
    if status is not None and status != 0:
        raise ValueError(f"shinsou.native: {kernel.__name__} refused its arguments ({status})")


_pool = None


def worker_pool() -> ThreadPoolExecutor:
    """The process's worker threads (one fewer than the cores; the caller is the last)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max(_CPU_COUNT - 1, 1), thread_name_prefix="shinsou")
    return _pool


def split_batch(work, batch: int, parts: int | None = None) -> None:
    """Run ``work(start, stop)`` on ``parts`` (default: the number of cores) contiguous
    ranges of ``range(batch)`` at once; the calling thread takes the first range.

    Example:
        >>> seen = []
        >>> split_batch(lambda a, b: seen.append((a, b)), 5, parts=2)
        >>> sorted(seen)
        [(0, 2), (2, 5)]
    """
    parts = min(parts, batch) if parts else _cores(batch)
    if parts <= 1:
        if batch:
            work(0, batch)
        return
    bounds = [batch * part // parts for part in range(parts + 1)]
    futures = [worker_pool().submit(work, a, b) for a, b in itertools.pairwise(bounds[1:])]
    work(bounds[0], bounds[1])
    for future in futures:
        future.result()


_CPU_COUNT = os.cpu_count() or 1


def _cores(batch: int) -> int:
    """How many threads :func:`split_batch` uses by default for ``batch`` items."""
    return min(_CPU_COUNT, batch)


def _forget_pool():
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)

"""shinsou's compiled kernels, loaded with :mod:`ctypes`, and the threads that run them.

``kernels.c`` holds a direct 2-D convolution (forward, kernel gradient, col2im) over
channels-last arrays and one-pass kernels for what NumPy does in several: bias + ReLU,
ReLU, batch-norm statistics and affine maps, max pooling, layer normalization, softmax,
the LSTM step, dropout and Adam. ``setup.py`` builds it at install time into
``_kernels*.so`` next to this file. When it is missing (no C compiler at install) or
stale, :func:`available` is False and the ops use their NumPy code, which computes the
same results up to float rounding (dropout draws other masks); so does setting the
environment variable ``SHINSOU_NATIVE=0`` or running under :func:`disabled`.

Each kernel cuts its work into parts, contiguous ranges of batch items or rows, and runs
them at once on all the CPU's cores, on threads of its own (ctypes releases the GIL while C
runs); passes over less than :data:`SPLIT_BYTES` stay on the calling thread. Large outputs
come from :func:`empty`, which recycles freed buffers.

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
    i, f = ctypes.c_int, ctypes.c_float
    # Each (count, parts) pair: the items to work on and how many ranges to cut them into.
    signatures = {
        "conv2d_forward": [p, p, p, n, n, conv],
        "conv2d_kernel_grad": [p, p, p, n, n, conv],
        "bias_act_forward": [p, p, n, n, n, i],
        "bias_act_backward": [p, p, p, p, n, n, n, i],
        "channel_sums": [p, p, p, p, n, n, n],
        "channel_affine": [p, p, p, p, p, p, i, p, n, n, n],
        "col2im": [p, p, n, n, conv],
        "adam_update": [p, p, p, p, f, f, f, f, n, n],
        "softmax_forward": [p, p, n, n, n],
        "softmax_backward": [p, p, p, n, n, n],
        "layer_norm_forward": [p, p, p, p, p, p, f, n, n, n],
        "layer_norm_backward": [p, p, p, p, p, p, p, n, n, n],
        "dropout_apply": [p, p, ctypes.c_ulonglong, ctypes.c_uint, f, n, n],
        "lstm_step_forward": [p, n, p, p, p, p, p, p, n, n, n, n],
        "lstm_step_backward": [p, n, p, p, p, n, p, p, p, p, n, n, n],
        "embedding_grad": [p, n, p, p, n, n, n],
        "relu_forward": [p, p, n, n],
        "relu_backward": [p, p, p, n, n],
        "add_forward": [p, p, p, i, n, n],
        "max_pool_forward": [p, p, p, n, n, pool],
        "max_pool_backward": [p, p, p, n, n, pool],
    }
    for name, arguments in signatures.items():
        function = getattr(library, name)
        function.restype, function.argtypes = ctypes.c_int, arguments


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
    _run(_library.conv2d_forward, x, w, out, *_batch(x.shape[0]), geometry)
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
    count, parts = _batch(x.shape[0])
    totals = numpy.zeros((parts, *w_shape), numpy.float32)
    _run(_library.conv2d_kernel_grad, x, grad, totals, count, parts, geometry)
    return _added(totals)


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
    _run(_library.col2im, columns, dx, *_batch(dx.shape[0]), geometry)
    return dx


# -- LSTM steps ---------------------------------------------------------------------------
# Given the recurrent kernel, a step also does its GEMM (h R forward, d_gates R^T backward)
# as a 1x1 convolution, row by row of the batch, on all cores: one hand-off per step and no
# BLAS thread spinning on the core the other part needs (LSTM benchmark: 48 -> 40 ms per
# training step). Without it (U not a multiple of 16) the caller does the GEMM and the
# step runs on one thread: right after NumPy's GEMM its BLAS thread still holds the other
# core.


def supports_step_gemm(units: int) -> bool:
    """Whether the LSTM step kernels can do the recurrent GEMM: units a multiple of 16.

    Example:
        >>> supports_step_gemm(100)
        False
    """
    return available() and units % VECTOR == 0


def _has_rows(array) -> bool:
    """Whether a 2-D array's rows are each contiguous (they may lie apart)."""
    return array.strides[-1] == array.itemsize and array.strides[0] % array.itemsize == 0


class LSTMSteps:
    """The compiled steps of one LSTM sequence (see kernels.c), with its buffers' addresses
    worked out once: a step's call then costs a few microseconds of Python, not the ~25 of
    wrapping each array anew (a quarter of a step at batch 64, 128 units).

    ``gates`` is ``(5, T, B, U)`` (slots i, f, o, c~ holding ``x W + b`` with the sigmoid
    gates' weights halved, then tanh(c)); ``hs`` and ``cs`` ``(T + 1, B, U)`` hold the
    states entering each step (rows of ``hs`` may lie apart; ``cs`` C-contiguous);
    ``recurrent`` ``(B, 4U)`` receives ``h R``. With ``weights`` (``R``, ``(U, 4U)``) and
    ``weights_t`` (``Rᵀ``), C-contiguous, each step does its recurrent GEMM itself, on all
    cores; without them the caller does it (into ``recurrent`` before :meth:`forward`, into
    :attr:`dh_next` after :meth:`backward`) and each step runs on one thread.

    Example:
        >>> T, B, U = 1, 1, 16
        >>> gates = numpy.zeros((5, T, B, U), "float32")
        >>> hs, cs = numpy.zeros((T + 1, B, U), "float32"), numpy.ones((T + 1, B, U), "float32")
        >>> weights = numpy.zeros((U, 4 * U), "float32")
        >>> steps = LSTMSteps(gates, hs, cs, numpy.empty((B, 4 * U), "float32"), weights,
        ...                   numpy.ascontiguousarray(weights.T))
        >>> steps.forward(0)
        >>> float(cs[1, 0, 0])  # the forget gate sigmoid(0) keeps half of c
        0.5
    """

    def __init__(self, gates, hs, cs, recurrent, weights=None, weights_t=None):
        _, steps, batch, units = gates.shape
        if not (_has_rows(hs[0]) and cs[0].flags.c_contiguous and recurrent.flags.c_contiguous):
            raise ValueError("LSTMSteps: hs needs contiguous rows, cs and recurrent C order")
        kernels = [k for k in (weights, weights_t) if k is not None]
        if not all(k.flags.c_contiguous for k in kernels):
            raise ValueError("LSTMSteps: the recurrent kernels must be C-contiguous")
        self._keep = (gates, hs, cs, recurrent, weights, weights_t)  # alive while in use
        self._shape = (batch, _cores(batch) if weights is not None else 1, units)
        self._slot = steps * batch * units
        self._gates, self._gate_step = gates.ctypes.data, batch * units * gates.itemsize
        self._hs, self._h_step = hs.ctypes.data, hs.strides[0]
        self._h_stride = hs.strides[1] // hs.itemsize
        self._cs, self._c_step = cs.ctypes.data, cs.strides[0]
        self._recurrent = recurrent.ctypes.data
        self._weights = None if weights is None else weights.ctypes.data
        self._weights_t = None if weights_t is None else weights_t.ctypes.data

    def forward(self, t: int) -> None:
        """Step ``t``: writes its activated gates, ``cs[t + 1]`` and ``hs[t + 1]``."""
        batch, parts, units = self._shape
        h = self._hs + t * self._h_step
        c = self._cs + t * self._c_step
        status = _library.lstm_step_forward(
            self._gates + t * self._gate_step, self._slot, h, self._weights, self._recurrent, c,
            c + self._c_step, h + self._h_step, self._h_stride, batch, parts, units,
        )  # fmt: skip
        _check(status, "lstm_step_forward")

    def start_backward(self, dh, dh_next, dc, d_gates, d_outputs=None) -> None:
        """The backward pass's buffers: ``dh``, ``dh_next`` and ``dc`` ``(B, U)``
        (C-contiguous; ``dh`` and ``dc`` hold the gradients flowing into the last step),
        ``d_gates`` ``(T, B, 4U)`` (C-contiguous) and the outputs' gradient ``d_outputs``
        ``(T, B, U)`` (time-major, rows may lie apart) or None."""
        arrays = (dh, dh_next, dc, d_gates)
        if not all(a.flags.c_contiguous for a in arrays):
            raise ValueError("LSTMSteps: the backward buffers must be C-contiguous")
        if d_outputs is not None and d_outputs.strides[-1] != d_outputs.itemsize:
            d_outputs = numpy.ascontiguousarray(d_outputs)
        self._backward_keep = (*arrays, d_outputs)
        self.dh, self.dh_next = dh, dh_next
        self._dh, self._dh_next = dh.ctypes.data, dh_next.ctypes.data
        self._dc, self._d_gates = dc.ctypes.data, d_gates.ctypes.data
        self._d_gates_step = d_gates.strides[0]
        if d_outputs is None:
            self._d_out, self._d_out_step, self._d_out_stride = None, 0, 0
        else:
            self._d_out, self._d_out_step = d_outputs.ctypes.data, d_outputs.strides[0]
            self._d_out_stride = d_outputs.strides[1] // d_outputs.itemsize

    def backward(self, t: int) -> None:
        """Step ``t`` backwards: adds the output's gradient to :attr:`dh`, writes
        ``d_gates[t]`` and updates ``dc``; with the weights, also ``dh_next = d_gates[t]
        Rᵀ``. The caller then calls :meth:`swap`."""
        batch, parts, units = self._shape
        d_out = None if self._d_out is None else self._d_out + t * self._d_out_step
        status = _library.lstm_step_backward(
            self._gates + t * self._gate_step, self._slot, self._cs + t * self._c_step, self._dh,
            d_out, self._d_out_stride, self._dc, self._d_gates + t * self._d_gates_step,
            self._weights_t, self._dh_next, batch, parts, units,
        )  # fmt: skip
        _check(status, "lstm_step_backward")

    def swap(self) -> None:
        """The next (earlier) step's ``dh`` is this step's ``dh_next``."""
        self.dh, self.dh_next = self.dh_next, self.dh
        self._dh, self._dh_next = self._dh_next, self._dh


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
    _run(_library.bias_act_forward, rows, bias, *_split(rows), rows.shape[1], relu)
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
    count, parts = _split(rows)
    totals = numpy.zeros((parts, rows.shape[1]), numpy.float64) if bias_grad else None
    _run(_library.bias_act_backward, rows, outputs, grad, totals, count, parts, rows.shape[1], relu)
    return grad.reshape(g.shape), None if totals is None else _added(totals).astype(g.dtype)


def channel_sums(a, b, mask=None):
    """Per-channel ``(sum of a, sum of a * b)`` over the rows of ``(rows, C)`` arrays, in
    float64; ``a`` taken as 0 where ``mask`` (optional, same shape) is at most 0.

    Example:
        >>> a = numpy.array([[1.0, 2.0], [3.0, 4.0]], "float32")
        >>> [total.tolist() for total in channel_sums(a, a)]
        [[4.0, 6.0], [10.0, 20.0]]
    """
    count, parts = _split(a)
    totals = numpy.zeros((parts, 2, a.shape[1]), numpy.float64)
    _run(_library.channel_sums, a, b, mask, totals, count, parts, a.shape[1])
    sum_a, sum_ab = _added(totals)
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
    _run(
        _library.channel_affine, a, vectors[0], b, scale_b, vectors[1], mask, relu, out,
        *_split(a), a.shape[1],
    )  # fmt: skip
    return out


def relu(x):
    """``max(x, 0)`` of a float32 array, as a new array.

    Example:
        >>> relu(numpy.array([-1.0, 2.0], "float32")).tolist()
        [0.0, 2.0]
    """
    out = empty(x.shape)
    _run(_library.relu_forward, x, out, *_elements(x))
    return out


def relu_grad(g, x):
    """Gradient of :func:`relu` at ``x``: ``g`` where ``x > 0``, else 0 (a new array).

    Example:
        >>> x = numpy.array([-1.0, 2.0], "float32")
        >>> relu_grad(numpy.ones(2, "float32"), x).tolist()
        [0.0, 1.0]
    """
    grad = empty(x.shape)
    _run(_library.relu_backward, g, x, grad, *_elements(x))
    return grad


# Below this many elements NumPy's own add is as fast (no threads, no recycling to gain).
_ADD_ELEMENTS = 1 << 16


def supports_add(a, b) -> bool:
    """Whether :func:`add` takes these arrays and gains over NumPy: float32, C-contiguous,
    one shape, at least 64 Ki elements.

    Example:
        >>> supports_add(numpy.ones(3, "float32"), numpy.ones(3, "float32"))
        False
    """
    return (
        available()
        and a.shape == b.shape
        and a.size >= _ADD_ELEMENTS
        and a.dtype == b.dtype == numpy.float32
        and a.flags.c_contiguous
        and b.flags.c_contiguous
    )


def add(a, b, relu: bool = False):
    """``a + b`` of two C-contiguous float32 arrays of one shape, then ``max(·, 0)`` when
    ``relu`` (NaN kept), as a new array: a residual sum, and the ReLU that often follows it.

    Example:
        >>> a, b = numpy.array([1.0, -3.0], "float32"), numpy.ones(2, "float32")
        >>> add(a, b).tolist(), add(a, b, relu=True).tolist()
        ([2.0, -2.0], [2.0, 0.0])
    """
    out = empty(a.shape)
    _run(_library.add_forward, a, b, out, relu, *_elements(a))
    return out


def embedding_grad(ids, g, vocabulary: int):
    """Gradient of the lookup ``table[ids]`` given ``g`` (``ids.shape + (dim,)``, float32):
    ``(vocabulary, dim)`` zeros with each row of ``g`` added into row ``ids[i]``. Ids must
    lie in ``[0, vocabulary)``.

    Example:
        >>> g = numpy.ones((3, 2), "float32")
        >>> embedding_grad(numpy.array([2, 0, 2]), g, 4).tolist()
        [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0], [0.0, 0.0]]
    """
    ids = numpy.ascontiguousarray(ids, numpy.int64).reshape(-1)
    rows = numpy.ascontiguousarray(g, numpy.float32).reshape(ids.size, -1)
    grad = empty((vocabulary, rows.shape[1]))
    _run(_library.embedding_grad, ids, ids.size, rows, grad, *_split(grad), rows.shape[1])
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
    _run(_library.dropout_apply, x, out, seed, threshold, scale, *_elements(x))
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
    _run(
        _library.layer_norm_forward, rows, gamma, beta, y, xhat, inv_std, epsilon,
        *_split(rows), rows.shape[1],
    )  # fmt: skip
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
    grad_x = empty(g.shape) if want_x else None
    gamma = None if gamma is None else numpy.ascontiguousarray(gamma, numpy.float32)
    wants = (want_gamma, want_beta)
    count, parts = _split(g)
    totals = numpy.zeros((parts, 2, g.shape[1]), numpy.float64)
    # Part 0's gamma and beta totals; the kernel finds the other parts' 2F further on each.
    sums = (totals[0, k].ctypes.data if want else None for k, want in enumerate(wants))
    _run(
        _library.layer_norm_backward, g, xhat, inv_std, gamma, grad_x, *sums, count, parts,
        g.shape[1],
    )  # fmt: skip
    grads = (t.astype(numpy.float32) if w else None for t, w in zip(_added(totals), wants))
    return grad_x, *grads


def softmax(rows):
    """Softmax of each row of a ``(R, F)`` float32 array (a new array).

    Example:
        >>> softmax(numpy.array([[0.0, 0.0], [1e4, -1e4]], "float32")).tolist()
        [[0.5, 0.5], [1.0, 0.0]]
    """
    out = empty(rows.shape)
    _run(_library.softmax_forward, rows, out, *_split(rows), rows.shape[1])
    return out


def softmax_grad(g, y):
    """Gradient of :func:`softmax` given its output ``y``: ``y * (g - sum(g * y))`` per row.

    Example:
        >>> y = numpy.array([[0.5, 0.5]], "float32")
        >>> softmax_grad(numpy.array([[1.0, 0.0]], "float32"), y).tolist()
        [[0.25, -0.25]]
    """
    grad = empty(g.shape)
    _run(_library.softmax_backward, g, y, grad, *_split(g), g.shape[1])
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
    _run(_library.adam_update, param, grad, momentum, velocity, *arguments, *_elements(param))


# Below this many bytes a pass over memory stays on the calling thread: such a pass takes
# tens of microseconds on one core, and splitting passes down to 256 KB changed no training
# step measurably (MLP, Transformer).
SPLIT_BYTES = 1 << 21


def _split(array):
    """``(count, parts)`` for a kernel's pass over the rows of a 2-D ``array``: all cores,
    or one below :data:`SPLIT_BYTES`."""
    count = array.shape[0]
    return count, 1 if array.nbytes < SPLIT_BYTES else _cores(count)


def _elements(array):
    """``(count, parts)`` for an elementwise kernel's pass over ``array``."""
    return _split(array.reshape(-1))


def _batch(count: int):
    """``(count, parts)`` for a kernel's pass over a batch: one part per core."""
    return count, max(_cores(count), 1)


def _added(totals):
    """The sum of per-part totals ``(parts, ...)``, added in part order."""
    return totals.sum(axis=0) if len(totals) > 1 else totals[0]


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
    _run(_library.max_pool_forward, x, out, winner, *_batch(batch), geometry)
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
    _run(_library.max_pool_backward, g, winner, grad, *_batch(x_shape[0]), geometry)
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
    _check(kernel(*pointers), kernel.__name__)


def _check(status: int, name: str) -> None:
    if status:
        raise ValueError(f"shinsou.native: {name} refused its arguments ({status})")


_pool = None


def worker_pool() -> ThreadPoolExecutor:
    """Python threads for work written in Python (NumPy passes, which release the GIL; see
    :func:`split_batch`): one fewer than the cores, the caller is the last. The compiled
    kernels run on threads of their own (see kernels.c)."""
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
    """How many parts a pass over ``batch`` items gets by default: one per core."""
    return min(_CPU_COUNT, batch)


def _forget_pool():
    global _pool
    _pool = None  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)

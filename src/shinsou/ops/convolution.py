"""Convolutions, channels-last like Keras: ``conv``, ``conv_transpose``, ``depthwise_conv``,
``separable_conv`` over 1, 2 or 3 spatial axes, each one fused graph node.

How the work is done. In float32 with a multiple of 16 filters (1-D and 2-D), the compiled
direct convolution of :mod:`shinsou.native` does all three parts: it reads the input in
place, padding by bounds checks, and keeps a tile of outputs in vector registers (about
155 GFLOP/s on ResNet-20's 16-64 channels, against ~40 for the path below). Otherwise
(other dtypes, filter counts, 3-D), NumPy does it with large GEMMs and no loop over pixels:

* **forward** — im2col: every window is copied into one row of a ``(N·out, k·C)`` matrix
  (:func:`~shinsou.ops._windows.gather_windows`), then one GEMM with the kernel reshaped to
  ``(k·C, F)``. A 1×1 convolution with stride 1 skips the copy: it *is* a GEMM.
* **input gradient** — the transposed convolution: one GEMM gives every window's gradient
  and col2im adds them back (:func:`~shinsou.ops._windows.scatter_windows`; compiled for
  float32). With stride 1 and at most twice as many output as input channels (or where the
  compiled convolution takes it) it is cheaper as an ordinary convolution of the output
  gradient with the flipped kernel, through the forward path. Skipped when the input needs
  no gradient (the first layer).
* **kernel gradient** — one GEMM of the windows (gathered again: keeping them from the
  forward pass costs k² times the input in memory) with the output gradient.
* ``conv_transpose`` runs the same three functions with the roles of forward and input
  gradient swapped.

Measured and not kept in NumPy (two cores, 64×32×32×64 → 64, 3×3), each no faster than
im2col here: the "shifted GEMM" (nine accumulating GEMMs over row-offset views of the padded
input, which trades the im2col copy for eight output-sized additions), a partial im2col
along the width with three shifted GEMMs, and Winograd F(2×2, 3×3), whose 2.25× fewer FLOPs
are eaten by some 34 NumPy passes over the activations for its tile transforms.

Example:
    >>> image = tensor(xp.ones((1, 4, 4, 1)), requires_grad=True)
    >>> kernel = tensor(xp.ones((2, 2, 1, 1)))
    >>> conv(image, kernel).sum().backward()
    >>> image.grad[0, :, :, 0].tolist()
    [[1.0, 2.0, 2.0, 1.0], [2.0, 4.0, 4.0, 2.0], [2.0, 4.0, 4.0, 2.0], [1.0, 2.0, 2.0, 1.0]]
"""

from __future__ import annotations

from .. import backend, native
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._windows import (
    WindowGeometry,
    as_2d,
    check_data_format,
    dilated_extent,
    gather_windows,
    pad_spatial,
    padding_mode,
    scatter_windows,
    scratch,
    spatial_rank,
    spatial_tuple,
    taps,
    to_channels_first,
    to_channels_last,
    unpad_gradient,
    window_geometry,
)
from .core import ones  # noqa: F401 - for the examples
from .math import cast

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv"]


# -- public ops -----------------------------------------------------------------------------


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1) -> Tensor:
    """N-D convolution (cross-correlation, as in Keras) of channels-last ``inputs``.

    ``inputs`` is ``(batch, *spatial, in_channels)`` with 1, 2 or 3 spatial axes and
    ``kernel`` is ``(*kernel_size, in_channels, out_channels)``. ``padding="same"`` pads as
    TensorFlow does (the odd pixel goes after), giving ``ceil(size / stride)`` outputs.

    Example:
        >>> x = ones((1, 5, 5, 2))
        >>> w = ones((3, 3, 2, 4))
        >>> y = conv(x, w, strides=2, padding="same")
        >>> y.shape, y[0, 1, 1, 0].item()
        ((1, 3, 3, 4), 18.0)
    """
    op_name = "conv"
    x, w = _float_pair(op_name, inputs, kernel)
    channels_first = check_data_format(data_format, op_name)
    rank = spatial_rank(x.shape, op_name)
    x = to_channels_last(x) if channels_first else x
    _check_kernel(op_name, x.shape, w.shape, rank, "(*kernel_size, in_channels, out_channels)")
    mode = padding_mode(padding, op_name)
    geometry = conv_geometry(op_name, x.shape, w.shape, strides, mode, dilation_rate)
    xa, wa = x.data, w.data
    out = conv_forward(xa, wa, geometry)

    def backward(g):
        gx = conv_input_grad(g, wa, geometry) if x.requires_grad else None
        gw = conv_kernel_grad(g, xa, geometry) if w.requires_grad else None
        return gx, gw

    y = record(out, (x, w), backward, op_name)
    return to_channels_first(y) if channels_first else y


def conv_transpose(
    inputs,
    kernel,
    strides,
    padding="valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """Transposed convolution: the gradient of :func:`conv` with respect to its input.

    ``kernel`` is ``(*kernel_size, out_channels, in_channels)`` as in Keras. The output
    length per axis follows Keras: ``in * stride + max(k - stride, 0)`` for "valid",
    ``in * stride`` for "same", and ``(in - 1) * stride + k - 2 * pad + output_padding``
    (``pad = k // 2`` for "same", 0 for "valid") when ``output_padding`` is given, with
    ``k`` the dilated kernel size.

    Example:
        >>> x = ones((1, 3, 3, 2))
        >>> w = ones((3, 3, 4, 2))
        >>> conv_transpose(x, w, strides=2, padding="same").shape
        (1, 6, 6, 4)
    """
    op_name = "conv_transpose"
    x, w = _float_pair(op_name, inputs, kernel)
    channels_first = check_data_format(data_format, op_name)
    rank = spatial_rank(x.shape, op_name)
    x = to_channels_last(x) if channels_first else x
    _check_kernel(
        op_name, x.shape, w.shape, rank, "(*kernel_size, out_channels, in_channels)", axis=-1
    )
    geometry = _transpose_geometry(
        op_name, x.shape, w.shape, strides, padding, output_padding, dilation_rate
    )
    xa, wa = x.data, w.data
    out = conv_input_grad(xa, wa, geometry)

    def backward(g):
        gx = conv_forward(g, wa, geometry) if x.requires_grad else None
        gw = conv_kernel_grad(xa, g, geometry) if w.requires_grad else None
        return gx, gw

    y = record(out, (x, w), backward, op_name)
    return to_channels_first(y) if channels_first else y


def depthwise_conv(
    inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
) -> Tensor:
    """Convolve each input channel with its own ``depth_multiplier`` filters.

    ``kernel`` is ``(*kernel_size, in_channels, depth_multiplier)``; output channel
    ``c * depth_multiplier + m`` is channel ``c`` convolved with ``kernel[..., c, m]``.

    Example:
        >>> x = ones((1, 4, 4, 3))
        >>> w = ones((3, 3, 3, 2))
        >>> depthwise_conv(x, w, padding="same").shape
        (1, 4, 4, 6)
    """
    op_name = "depthwise_conv"
    x, w = _float_pair(op_name, inputs, kernel)
    channels_first = check_data_format(data_format, op_name)
    rank = spatial_rank(x.shape, op_name)
    x = to_channels_last(x) if channels_first else x
    _check_kernel(op_name, x.shape, w.shape, rank, "(*kernel_size, in_channels, multiplier)")
    mode = padding_mode(padding, op_name)
    geometry = conv_geometry(op_name, x.shape, w.shape, strides, mode, dilation_rate)
    xa, wa = x.data, w.data
    padded = pad_spatial(xa, geometry.pads)
    out = _depthwise_forward(padded, wa, geometry)

    def backward(g):
        g = g.reshape(*g.shape[:-1], *wa.shape[-2:])
        gx = gw = None
        if x.requires_grad:
            gx = unpad_gradient(
                _depthwise_input_grad(g, wa, padded.shape, geometry), geometry.pads, xa.shape[1:-1]
            )
        if w.requires_grad:
            gw = _depthwise_kernel_grad(g, padded, wa.shape, geometry)
        return gx, gw

    y = record(out, (x, w), backward, op_name)
    return to_channels_first(y) if channels_first else y


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
) -> Tensor:
    """:func:`depthwise_conv` followed by a 1×1 :func:`conv` (``pointwise_kernel``).

    Example:
        >>> x = ones((1, 4, 4, 3))
        >>> separable_conv(x, ones((3, 3, 3, 2)), ones((1, 1, 6, 5))).shape
        (1, 2, 2, 5)
    """
    depthwise = depthwise_conv(
        inputs, depthwise_kernel, strides, padding, data_format, dilation_rate
    )
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format)


# -- checking arguments ---------------------------------------------------------------------


def _float_pair(op_name, inputs, kernel):
    """Both operands as tensors of one floating dtype (integer images take the kernel's)."""
    x, w = as_tensor(inputs), as_tensor(kernel)
    floats = [t.dtype for t in (x, w) if backend.is_floating(t.dtype)]
    dtype = xp.result_type(*floats) if floats else backend.standardize_dtype(backend.floatx())
    if x.dtype != dtype:
        x = cast(x, dtype)
    if w.dtype != dtype:
        w = cast(w, dtype)
    return x, w


def _check_kernel(op_name, x_shape, w_shape, rank, layout, axis=-2):
    if len(w_shape) != rank + 2:
        raise ValueError(
            f"{op_name}: kernel must have rank {rank + 2} {layout} for inputs of shape "
            f"{tuple(x_shape)}; got kernel shape {tuple(w_shape)}"
        )
    if w_shape[axis] != x_shape[-1]:
        raise ValueError(
            f"{op_name}: inputs have {x_shape[-1]} channels (shape {tuple(x_shape)}) but the "
            f"kernel {layout} expects {w_shape[axis]} (kernel shape {tuple(w_shape)})"
        )


def conv_geometry(op_name, x_shape, w_shape, strides, mode, dilation_rate) -> WindowGeometry:
    """The windows of a convolution of ``x_shape`` with a ``w_shape`` kernel."""
    rank = len(x_shape) - 2
    strides = spatial_tuple(strides, rank, "strides", op_name)
    dilations = spatial_tuple(dilation_rate, rank, "dilation_rate", op_name)
    description = f"kernel shape {tuple(w_shape)}"
    return window_geometry(op_name, x_shape, w_shape[:rank], strides, dilations, mode, description)


def _transpose_geometry(op_name, x_shape, w_shape, strides, padding, output_padding, dilation):
    """The convolution whose input gradient ``conv_transpose`` computes.

    Keras (through JAX) pads the stride-dilated input by ``(left, right)`` and correlates it
    with the flipped kernel; that is the input gradient of a convolution padded by
    ``(extent - 1 - left, extent - 1 - right)`` — negative values crop.
    """
    rank = len(x_shape) - 2
    mode = padding_mode(padding, op_name)
    kernel_shape = tuple(w_shape[:rank])
    strides = spatial_tuple(strides, rank, "strides", op_name)
    dilations = spatial_tuple(dilation, rank, "dilation_rate", op_name)
    extra = (None,) * rank
    if output_padding is not None:
        extra = (output_padding,) * rank if isinstance(output_padding, int) else output_padding
        extra = tuple(extra)
        if len(extra) != rank or not all(
            isinstance(e, int) and 0 <= e < max(s, d) for e, s, d in zip(extra, strides, dilations)
        ):
            raise ValueError(
                f"{op_name}: output_padding must be None or {rank} non-negative ints, each "
                f"smaller than the stride {strides} (or the dilation); got {output_padding!r}"
            )
    pads, out_spatial = [], []
    for length, k, s, d, e in zip(x_shape[1:-1], kernel_shape, strides, dilations, extra):
        extent = dilated_extent(k, d)
        if mode == "valid":
            left = extent - 1
            right = extent - 1 + (max(extent, s) - extent if e is None else e)
        else:
            total = s + extent - 2 if e is None else extent + extent % 2 - 2 + e
            left = min(total // 2 + total % 2, extent - 1)
            right = total - left
        pads.append((extent - 1 - left, extent - 1 - right))
        out_spatial.append((length - 1) * s + 2 - extent + left + right)
    return WindowGeometry(
        kernel_shape, strides, dilations, tuple(pads), tuple(out_spatial), tuple(x_shape[1:-1])
    )


# -- the convolution engine (backend arrays in, backend arrays out) ---------------------------


def conv_forward(x, w, geometry: WindowGeometry):
    """``conv`` of ``x (N, *in, C)`` with ``w (*k, C, F)``.

    The im2col rows are made a slice of the batch at a time in a reused scratch buffer and
    not kept: the kernel gradient gathers them again. Keeping them cost k² times each conv
    input in memory (2.4 GB for a ResNet-20 step at batch 256, against PyTorch's 0.65 GB)
    and measured no faster, since fresh gigabytes cost page faults.
    """
    batch, filters = x.shape[0], w.shape[-1]
    kernel = w.reshape(-1, filters)
    if x.dtype == w.dtype and _runs_direct(x.dtype, filters, geometry):
        return _direct_forward(x, w, geometry).reshape(batch, *geometry.out_spatial, filters)
    if geometry.is_pointwise:
        out = x.reshape(-1, x.shape[-1]) @ kernel
        return out.reshape(batch, *geometry.out_spatial, filters)
    out = xp.empty((batch, *geometry.out_spatial, filters), dtype=xp.result_type(x, w))
    rows = out.reshape(batch, _product(geometry.out_spatial), filters)
    for start, stop, columns in _column_chunks(x, geometry):
        xp.matmul(columns, kernel, out=rows[start:stop].reshape(-1, filters))
    return out


def conv_input_grad(g, w, geometry: WindowGeometry):
    """Gradient of ``conv`` with respect to its input, given the output gradient ``g``."""
    batch, channels, filters = g.shape[0], w.shape[-2], w.shape[-1]
    rows = g.reshape(-1, filters)
    if geometry.is_pointwise:
        return (rows @ w.reshape(channels, filters).T).reshape(
            batch, *geometry.in_spatial, channels
        )
    stride_one = all(s == 1 for s in geometry.strides)
    if stride_one and (filters <= 2 * channels or _runs_direct(g.dtype, channels, geometry)):
        # Stride 1: a correlation of the output gradient, padded by extent - 1 - pad on each
        # side, with the spatially flipped kernel whose channel axes are swapped. Its im2col
        # copies k·F values per pixel where col2im below adds k·C, but copies run faster
        # than col2im's short strided additions and its GEMM has the longer inner dimension
        # (measured: 2.5× faster for 64 -> 32 channels, 1.1-1.2× for 32 -> 64; col2im is
        # 1.4× faster for 8 -> 32).
        rank = len(geometry.kernel_shape)
        flipped = w[(slice(None, None, -1),) * rank].swapaxes(-1, -2)
        extents = map(dilated_extent, geometry.kernel_shape, geometry.dilations)
        back = geometry._replace(
            pads=tuple((e - 1 - lo, e - 1 - hi) for e, (lo, hi) in zip(extents, geometry.pads)),
            in_spatial=geometry.out_spatial,
            out_spatial=geometry.in_spatial,
        )
        return conv_forward(g, flipped, back)
    if _scatters_natively(g, w, geometry):
        return _native_col2im_input_grad(g, w, geometry)
    # col2im a slice of the batch at a time, like the forward pass's im2col.
    padded = xp.zeros((batch, *geometry.padded_spatial, channels), g.dtype)
    pixels, width = _product(geometry.out_spatial), w.size // filters
    per_item = rows.reshape(batch, pixels, filters)
    step = max(1, _CHUNK_BYTES // max(1, pixels * width * g.dtype.itemsize))
    for start in range(0, batch, step):
        stop = min(start + step, batch)
        windows = scratch(((stop - start) * pixels, width), g.dtype)
        xp.matmul(per_item[start:stop].reshape(-1, filters), w.reshape(-1, filters).T, out=windows)
        scatter_windows(
            windows,
            (stop - start, *geometry.padded_spatial, channels),
            geometry.kernel_shape,
            geometry.dilations,
            geometry.strides,
            geometry.out_spatial,
            out=padded[start:stop],
        )
    return unpad_gradient(padded, geometry.pads, geometry.in_spatial)


def conv_kernel_grad(g, x, geometry: WindowGeometry):
    """Gradient of ``conv`` with respect to its kernel: windows^T @ output gradient."""
    filters = g.shape[-1]
    if x.dtype == g.dtype and _runs_direct(x.dtype, filters, geometry):
        grad = _direct_kernel_grad(g, x, geometry)
        return grad.reshape(*geometry.kernel_shape, x.shape[-1], filters)
    if geometry.is_pointwise:
        grad = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, filters)
        return grad.reshape(*geometry.kernel_shape, x.shape[-1], filters)
    rows = g.reshape(g.shape[0], _product(geometry.out_spatial), filters)
    grad = None
    for start, stop, columns in _column_chunks(x, geometry):
        part = columns.T @ rows[start:stop].reshape(-1, filters)
        grad = part if grad is None else _accumulate(grad, part)
    if grad is None:  # an empty batch
        grad = xp.zeros((_product(geometry.kernel_shape) * x.shape[-1], filters), g.dtype)
    return grad.reshape(*geometry.kernel_shape, x.shape[-1], filters)


def _runs_direct(dtype, filters, geometry: WindowGeometry) -> bool:
    """Whether the compiled direct convolution (:mod:`shinsou.native`) takes this one.

    It takes 1-D and 2-D float32 convolutions with a multiple of 16 filters, except 1×1
    stride-1 ones, which are plain GEMMs already; there it is 1.5-3× faster than im2col +
    GEMM on 16-64 channels.
    """
    return (
        len(geometry.kernel_shape) <= 2
        and not geometry.is_pointwise
        and native.supports_conv(dtype, filters)
    )


def _as_2d(x, geometry: WindowGeometry):
    """``(x, kernel_shape, strides, dilations, pads_before, out_spatial)`` for the compiled
    kernels, which pad by bounds checks: 1-D convolutions as 2-D ones of height 1, negative
    pads (crops, from ``conv_transpose``) applied first."""
    pads = geometry.pads
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        x = pad_spatial(x, pads)
        pads = ((0, 0),) * len(pads)
    rank = len(geometry.kernel_shape)
    return (
        x[:, None] if rank == 1 else x,
        as_2d(geometry.kernel_shape, rank),
        as_2d(geometry.strides, rank),
        as_2d(geometry.dilations, rank),
        as_2d((lo for lo, _ in pads), rank, first=0),
        as_2d(geometry.out_spatial, rank),
    )


def _direct_forward(x, w, geometry: WindowGeometry):
    x, _, strides, dilations, before, out_spatial = _as_2d(x, geometry)
    kernel = w.reshape(-1, *w.shape[-3:])
    return native.conv2d_forward(x, kernel, strides, dilations, before, out_spatial)


def _direct_kernel_grad(g, x, geometry: WindowGeometry):
    x, kernel_shape, strides, dilations, before, out_spatial = _as_2d(x, geometry)
    grad = g.reshape(g.shape[0], *out_spatial, g.shape[-1])
    return native.conv2d_kernel_grad(
        x, grad, (*kernel_shape, x.shape[-1], g.shape[-1]), strides, dilations, before
    )


def _scatters_natively(g, w, geometry: WindowGeometry) -> bool:
    """Whether the compiled col2im takes this input gradient: float32, 1-D or 2-D, no
    cropping pads (those come from ``conv_transpose``)."""
    return (
        native.available()
        and g.dtype == w.dtype == xp.float32
        and len(geometry.kernel_shape) <= 2
        and all(lo >= 0 and hi >= 0 for lo, hi in geometry.pads)
    )


def _native_col2im_input_grad(g, w, geometry: WindowGeometry):
    """Input gradient of a strided convolution: GEMMs give every window's gradient, a slice
    of the batch at a time, and the compiled col2im adds them into place (padding by
    bounds, so no padded copy). 5x faster than NumPy's strided additions."""
    batch, channels, filters = g.shape[0], w.shape[-2], w.shape[-1]
    grad = xp.zeros((batch, *geometry.in_spatial, channels), g.dtype)
    grid, *arguments = _as_2d(grad, geometry)  # a view of grad (no negative pads here)
    pixels, width = _product(geometry.out_spatial), w.size // filters
    rows = g.reshape(batch, pixels, filters)
    kernel_t = w.reshape(-1, filters).T
    step = max(1, _CHUNK_BYTES // max(1, pixels * width * g.dtype.itemsize))
    for start in range(0, batch, step):
        stop = min(start + step, batch)
        windows = scratch(((stop - start) * pixels, width), g.dtype)
        xp.matmul(rows[start:stop].reshape(-1, filters), kernel_t, out=windows)
        native.col2im(windows, grid[start:stop], *arguments)
    return grad


def _accumulate(total, part):
    total += part
    return total


# im2col rows of at most this many bytes at once: small enough to keep a ResNet's step
# memory near PyTorch's, large enough (thousands of rows) for full-speed GEMMs.
_CHUNK_BYTES = 16 << 20


def _column_chunks(x, geometry: WindowGeometry):
    """Yield ``(start, stop, rows)``: the im2col rows of batch items ``start:stop``, made in
    the scratch buffer (valid until the next chunk)."""
    padded = pad_spatial(x, geometry.pads)
    batch = x.shape[0]
    row_bytes = _product(geometry.out_spatial) * _product(geometry.kernel_shape) * x.shape[-1]
    step = max(1, _CHUNK_BYTES // max(1, row_bytes * x.dtype.itemsize))
    for start in range(0, batch, step):
        stop = min(start + step, batch)
        columns = gather_windows(
            padded[start:stop],
            geometry.kernel_shape,
            geometry.dilations,
            geometry.strides,
            geometry.out_spatial,
            temporary=True,
        )
        yield start, stop, columns


def _product(values) -> int:
    result = 1
    for value in values:
        result *= value
    return result


# -- depthwise: one small product per kernel tap, vectorised over batch, pixels, channels ----


def _depthwise_forward(padded, w, geometry):
    batch, channels, multiplier = padded.shape[0], w.shape[-2], w.shape[-1]
    out = xp.zeros((batch, *geometry.out_spatial, channels, multiplier), padded.dtype)
    product = xp.empty_like(out)
    sources = taps(
        geometry.kernel_shape, geometry.dilations, geometry.strides, geometry.out_spatial
    )
    for tap_weights, source in zip(w.reshape(-1, channels, multiplier), sources):
        xp.multiply(padded[source][..., None], tap_weights, out=product)
        out += product
    return out.reshape(batch, *geometry.out_spatial, channels * multiplier)


def _depthwise_input_grad(g, w, padded_shape, geometry):
    grad = xp.zeros(padded_shape, g.dtype)
    channels, multiplier = w.shape[-2:]
    targets = taps(
        geometry.kernel_shape, geometry.dilations, geometry.strides, geometry.out_spatial
    )
    for tap_weights, target in zip(w.reshape(-1, channels, multiplier), targets):
        if multiplier == 1:
            grad[target] += g[..., 0] * tap_weights[:, 0]
        else:
            grad[target] += (g * tap_weights).sum(axis=-1)
    return grad


def _depthwise_kernel_grad(g, padded, w_shape, geometry):
    channels, multiplier = w_shape[-2:]
    sources = taps(
        geometry.kernel_shape, geometry.dilations, geometry.strides, geometry.out_spatial
    )
    rows = g.reshape(-1, channels, multiplier)
    grads = [(padded[source].reshape(-1, channels, 1) * rows).sum(axis=0) for source in sources]
    return xp.stack(grads).reshape(w_shape)

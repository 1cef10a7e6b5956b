"""Scaled dot-product attention as one fused node, with grouped-query attention.

Layouts follow ``keras.ops.dot_product_attention``: ``query`` is ``(B, T, N, H)``, ``key`` and
``value`` are ``(B, S, K, H)``, and query head ``n`` uses key/value head ``n // G`` with
``G = N / K``. Internally the ``G`` query heads that share a key head are stacked into one
``(G*T)``-row block, so every product is one GEMM per (batch, key head) and, in the
backward, the sum over the group happens inside the GEMM. The scores are held source-major,
``(B, K, S, G*T)``, because NumPy reduces over a leading axis far faster than over short
last-axis rows; the softmax normalisation is applied to the output, not the weights.

Example:
    >>> import numpy as np
    >>> from shinsou import ops
    >>> q = k = v = np.ones((1, 2, 1, 4), dtype="float32")
    >>> ops.dot_product_attention(q, k, v).shape
    (1, 2, 1, 4)
"""

from __future__ import annotations

import math

from ..backend import xp
from ..tensor import as_tensor, record
from ._helpers import require_float, unbroadcast, values

__all__ = ["dot_product_attention"]

# Keras fills masked logits with -0.7 * (largest float32) rather than -inf, so that a row
# with every position masked gets uniform weights instead of nan; so do we.
_LARGE_NEGATIVE = -0.7 * 3.38953e38
_LARGE_NEGATIVE_FLOAT16 = -0.7 * 65500.0


def _check_shapes(query, key, value):
    op = "dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim != 4:
            raise ValueError(
                f"{op}: {name} must have rank 4, (batch, length, heads, head_dim); "
                f"got shape {t.shape}"
            )
    (batch, _, heads, depth), (kb, kl, kh, kd) = query.shape, key.shape
    if value.shape[:3] != key.shape[:3]:
        raise ValueError(
            f"{op}: key {key.shape} and value {value.shape} must agree on batch, length and "
            "heads (only the last axis may differ)"
        )
    if kb != batch or kd != depth:
        raise ValueError(
            f"{op}: query {query.shape} and key {key.shape} must agree on the batch size (axis "
            "0) and the head size (axis 3)"
        )
    if kl == 0:
        raise ValueError(f"{op}: key and value need at least one position; got key {key.shape}")
    if kh == 0 or heads % kh:
        raise ValueError(
            f"{op}: the {heads} query heads must be a multiple of the {kh} key/value heads "
            f"(grouped-query attention); got query {query.shape} and key {key.shape}"
        )
    return batch, query.shape[1], heads, depth, kl, kh


def _broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to ``target`` without enlarging it."""
    if len(shape) > len(target):
        return False
    return all(size in (1, wanted) for size, wanted in zip(shape[::-1], target[::-1]))


def _allowed_positions(mask, is_causal, logits_shape):
    """The boolean "may attend" array, broadcastable to ``(B, N, T, S)``, or None."""
    op = "dot_product_attention"
    allowed = None
    if mask is not None:
        array = values(as_tensor(mask))
        if array.dtype.kind == "f":
            raise TypeError(
                f"{op}: mask must be boolean (True = attend); got dtype {array.dtype}. "
                "Pass additive float masks as bias="
            )
        allowed = array.astype(bool, copy=False)
        if not _broadcasts_to(allowed.shape, logits_shape):
            raise ValueError(
                f"{op}: mask of shape {allowed.shape} does not broadcast to the attention "
                f"logits' shape (batch, heads, target, source) = {logits_shape}"
            )
        allowed = allowed.reshape((1,) * (4 - allowed.ndim) + allowed.shape)
    if is_causal:
        target, source = logits_shape[2:]
        # Position i attends to j <= i, aligned at the top left as Keras's tril does.
        causal = xp.tril(xp.ones((target, source), dtype=bool))
        allowed = causal if allowed is None else allowed & causal
    return allowed


def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    flash_attention=None,
):
    """``softmax(scale * Q Kᵀ + bias, masked) V`` per head; shapes ``(B, T, N, H)``.

    ``key``/``value`` are ``(B, S, K, H)`` with ``N`` a multiple of ``K``: query head ``n``
    uses key/value head ``n // (N // K)`` (grouped-query attention). ``scale`` defaults to
    ``1 / sqrt(H)``. ``bias`` is added to the logits and must broadcast to ``(B, N, T, S)``;
    ``mask`` is boolean (True = attend), also broadcast to ``(B, N, T, S)``; ``is_causal``
    lets position ``i`` attend only to ``j <= i``. Masked logits become a large negative
    number, as in Keras, so a fully masked row averages the values uniformly rather than
    giving nan (PyTorch gives nan). ``value`` may have a head size of its own. Gradients
    flow to query, key, value and bias. ``flash_attention`` may be None or False.

    Example:
        >>> import numpy as np
        >>> q = np.zeros((1, 1, 1, 2), dtype="float32")
        >>> kv = np.array([[[[1.0, 0.0]], [[3.0, 0.0]]]], dtype="float32")  # (1, 2, 1, 2)
        >>> dot_product_attention(q, kv, kv).tolist()  # equal logits: the mean of the values
        [[[[2.0, 0.0]]]]
    """
    op = "dot_product_attention"
    if flash_attention:
        raise ValueError(
            f"{op}: flash_attention=True is not available on this CPU backend; "
            "pass flash_attention=None or False (the result is the same)"
        )
    query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
    for t in (query, key, value):
        require_float(t, op)
    batch, target, heads, depth, source, kv_heads = _check_shapes(query, key, value)
    group = heads // kv_heads
    scale = 1.0 / math.sqrt(depth) if scale is None else float(scale)
    logits_shape = (batch, heads, target, source)
    if bias is not None:
        bias = as_tensor(bias)
        require_float(bias, op)
        if not _broadcasts_to(bias.shape, logits_shape):
            raise ValueError(
                f"{op}: bias of shape {bias.shape} does not broadcast to the attention logits' "
                f"shape (batch, heads, target, source) = {logits_shape}"
            )
    allowed = _allowed_positions(mask, is_causal, logits_shape)

    value_depth = value.shape[3]
    rows = group * target  # query rows served by one key head

    # Scores are kept source-major, (B, K, S, G*T): the softmax then reduces over axis -2,
    # which NumPy vectorises across rows (a max over short last-axis rows is ~3x slower),
    # and every GEMM below reads its operands without a transposed right-hand side.
    q_scaled_t = xp.empty((batch, kv_heads, depth, group, target), dtype=query.dtype)
    q_by_group = query.data.reshape(batch, target, kv_heads, group, depth)
    xp.multiply(q_by_group.transpose(0, 2, 4, 3, 1), scale, out=q_scaled_t)
    q_scaled_t = q_scaled_t.reshape(batch, kv_heads, depth, rows)
    k_heads = key.data.transpose(0, 2, 1, 3)  # (B, K, S, H) views, which BLAS reads as is
    v_heads = value.data.transpose(0, 2, 1, 3)
    weights_t = k_heads @ q_scaled_t  # (B, K, S, G*T): scale * logits, transposed
    logical = _logical_view(weights_t, group, target)  # the same memory as (B, K, G, T, S)
    if bias is not None:
        logical += _grouped(bias.data, kv_heads, group)
    empty_rows = None
    if allowed is not None:
        fill = _LARGE_NEGATIVE_FLOAT16 if weights_t.dtype == xp.float16 else _LARGE_NEGATIVE
        xp.copyto(logical, weights_t.dtype.type(fill), where=_grouped(~allowed, kv_heads, group))
        empty_rows = ~allowed.any(axis=-1, keepdims=True)
        empty_rows = _grouped(empty_rows, kv_heads, group) if empty_rows.any() else None

    # Softmax over the source axis, in place. The division by the row sums is deferred to
    # the (smaller) output: out = (E V) / z with E the exponentials and z their sums.
    weights_t -= weights_t.max(axis=-2, keepdims=True)
    xp.exp(weights_t, out=weights_t)
    inv_sums = 1 / (xp.ones(source, dtype=weights_t.dtype) @ weights_t)  # (B, K, G*T)
    inv_sums_by_group = inv_sums.reshape(batch, kv_heads, group, target, 1)
    # GEMMs write straight into token-major buffers through transposed views (BLAS takes
    # the strides), which is cheaper than computing head-major and copying.
    out = xp.empty((batch, target, kv_heads, group, value_depth), dtype=weights_t.dtype)
    weights = _split_rows(weights_t.transpose(0, 1, 3, 2), group)  # (B, K, G, T, S) view
    xp.matmul(weights, v_heads[:, :, None], out=_head_major(out))
    _head_major(out)[...] *= inv_sums_by_group
    out = out.reshape(batch, target, heads, value_depth)
    inputs = (query, key, value) if bias is None else (query, key, value, bias)

    def backward(grad_out):
        # With P = E / z: dV = Pᵀ dO = Eᵀ (dO / z), and the softmax backward
        # dS = P * (dP - rowsum(dP * P)) becomes E * (dP~ - rowsum(dP~ * E) / z) where
        # dP~ = (dO / z) Vᵀ. So dO / z, laid out by head, feeds everything.
        grad_heads = _head_major(grad_out.reshape(batch, target, kv_heads, group, value_depth))
        grad_scaled = xp.empty((batch, kv_heads, group, target, value_depth), grad_out.dtype)
        xp.multiply(grad_heads, inv_sums_by_group, out=grad_scaled)
        grad_scaled = grad_scaled.reshape(batch, kv_heads, rows, value_depth)
        grad_value = None
        if value.requires_grad:
            grad_value = xp.empty(value.shape, dtype=grad_scaled.dtype)
            # Eᵀ (dO / z): the sum over the group's query heads happens inside the GEMM.
            xp.matmul(weights_t, grad_scaled, out=grad_value.transpose(0, 2, 1, 3))
        needs_scores = query.requires_grad or key.requires_grad
        if not (needs_scores or (bias is not None and bias.requires_grad)):
            return (None, None, grad_value) + ((None,) if bias is not None else ())
        grad_scaled_t = xp.empty((batch, kv_heads, value_depth, rows), grad_scaled.dtype)
        xp.copyto(grad_scaled_t, grad_scaled.transpose(0, 1, 3, 2))
        grad_scores_t = v_heads @ grad_scaled_t  # dP~, (B, K, S, G*T)
        row_dot = xp.einsum("bksr,bksr->bkr", grad_scores_t, weights_t) * inv_sums
        grad_scores_t -= row_dot[:, :, None, :]
        grad_scores_t *= weights_t  # now dS (scale already folded into the query)
        if empty_rows is not None:
            # Fully masked rows saw only the constant fill value: nothing flows back.
            xp.copyto(_logical_view(grad_scores_t, group, target), 0, where=empty_rows)
        grad_query = grad_key = grad_bias = None
        if bias is not None and bias.requires_grad:
            grad_logits = _logical_view(grad_scores_t, group, target)
            grad_bias = unbroadcast(grad_logits.reshape(logits_shape), bias.shape)
        if query.requires_grad:
            grad_query = xp.empty((batch, target, kv_heads, group, depth), grad_scores_t.dtype)
            grad_scores = _split_rows(grad_scores_t.transpose(0, 1, 3, 2), group)
            xp.matmul(grad_scores, k_heads[:, :, None], out=_head_major(grad_query))
            grad_query *= scale
            grad_query = grad_query.reshape(query.shape)
        if key.requires_grad:
            q_scaled = xp.empty((batch, kv_heads, rows, depth), dtype=q_scaled_t.dtype)
            xp.copyto(q_scaled, q_scaled_t.transpose(0, 1, 3, 2))
            grad_key = xp.empty(key.shape, dtype=grad_scores_t.dtype)
            xp.matmul(grad_scores_t, q_scaled, out=grad_key.transpose(0, 2, 1, 3))
        grads = (grad_query, grad_key, grad_value)
        return grads + ((grad_bias,) if bias is not None else ())

    return record(out, inputs, backward, op)


def _logical_view(source_major, group, target):
    """``(B, K, S, G*T)`` memory seen as ``(B, K, G, T, S)``: logits in Keras's order."""
    batch, kv_heads, source, _ = source_major.shape
    split = source_major.reshape(batch, kv_heads, source, group, target)
    return split.transpose(0, 1, 3, 4, 2)


def _grouped(array, kv_heads, group):
    """A ``(b, n, t, s)``-broadcastable array reshaped to broadcast as ``(B, K, G, T, S)``."""
    array = array.reshape((1,) * (4 - array.ndim) + array.shape)
    b, n, t, s = array.shape
    return array.reshape((b, kv_heads, group, t, s) if n != 1 else (b, 1, 1, t, s))


def _split_rows(per_row, group):
    """``(B, K, G*T, X)`` seen as ``(B, K, G, T, X)``."""
    batch, kv_heads, rows, width = per_row.shape
    return per_row.reshape(batch, kv_heads, group, rows // group, width)


def _head_major(token_major):
    """``(B, T, K, G, X)`` seen as ``(B, K, G, T, X)`` (a view)."""
    return token_major.transpose(0, 2, 3, 1, 4)

"""dot_product_attention: PyTorch parity, gradient checks, GQA, masks, dtypes, errors."""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

F = torch.nn.functional if torch is not None else None


def _heads_first(t):
    return t.transpose(1, 2)  # (B, T, N, H) <-> (B, N, T, H)


def _torch_attention(mask=None, is_causal=False, scale=None):
    """torch's SDPA on (B, N, T, H) tensors; an extra float argument is the additive bias."""

    def run(q, k, v, bias=None):
        attn_mask = None
        if mask is not None:
            attn_mask = torch.from_numpy(np.asarray(mask))
            if is_causal:
                target, source = q.shape[1], k.shape[1]
                attn_mask = attn_mask & torch.ones(target, source, dtype=torch.bool).tril()
        if bias is not None:
            float_mask = bias if attn_mask is None else bias.masked_fill(~attn_mask, -np.inf)
            attn_mask = float_mask
        out = F.scaled_dot_product_attention(
            _heads_first(q),
            _heads_first(k),
            _heads_first(v),
            attn_mask=attn_mask,
            is_causal=is_causal and mask is None,
            scale=scale,
            enable_gqa=True,
        )
        return _heads_first(out)

    return run


def _qkv(batch, target, source, heads, kv_heads, depth, value_depth=None, seed=0):
    return (
        random_array((batch, target, heads, depth), seed=seed),
        random_array((batch, source, kv_heads, depth), seed=seed + 1),
        random_array((batch, source, kv_heads, value_depth or depth), seed=seed + 2),
    )


@pytest.mark.parametrize(
    "sizes",
    [
        (2, 5, 5, 2, 2, 4),  # plain multi-head
        (2, 4, 4, 4, 2, 3),  # grouped-query: 2 query heads per key head
        (1, 3, 7, 6, 1, 4),  # multi-query, target shorter than source
        (2, 6, 3, 2, 2, 4),  # target longer than source
        (3, 1, 1, 2, 1, 5),  # one token
        (2, 1, 6, 2, 2, 4),  # one query over six keys (decoding)
    ],
)
def test_attention_parity(sizes):
    check_parity(ops.dot_product_attention, _torch_attention(), *_qkv(*sizes))


@pytest.mark.parametrize("sizes", [(2, 4, 4, 4, 2, 3), (1, 3, 5, 2, 2, 4), (2, 5, 3, 3, 1, 2)])
def test_attention_causal_parity(sizes):
    check_parity(
        lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True),
        _torch_attention(is_causal=True),
        *_qkv(*sizes),
    )


@pytest.mark.parametrize("mask_shape", [(2, 1, 1, 6), (2, 4, 3, 6), (3, 6)])
def test_attention_boolean_mask_parity(mask_shape):
    rng = np.random.default_rng(3)
    mask = rng.random(mask_shape) > 0.4
    mask[..., 0] = True  # torch gives nan for rows with nothing to attend to
    check_parity(
        lambda q, k, v: ops.dot_product_attention(q, k, v, mask=mask),
        _torch_attention(mask=mask),
        *_qkv(2, 3, 6, 4, 2, 4),
    )


def test_attention_mask_and_causal_combine():
    mask = np.random.default_rng(4).random((2, 1, 1, 5)) > 0.3
    mask[..., 0] = True
    check_parity(
        lambda q, k, v: ops.dot_product_attention(q, k, v, mask=mask, is_causal=True),
        _torch_attention(mask=mask, is_causal=True),
        *_qkv(2, 5, 5, 2, 1, 4),
    )


@pytest.mark.parametrize("bias_shape", [(2, 4, 3, 6), (1, 4, 1, 6), (3, 6)])
def test_attention_bias_parity_including_bias_gradient(bias_shape):
    bias = random_array(bias_shape, seed=5)
    check_parity(
        lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b),
        _torch_attention(),
        *_qkv(2, 3, 6, 4, 2, 4),
        bias,
    )


def test_attention_bias_with_mask_and_custom_scale():
    mask = np.random.default_rng(6).random((2, 1, 4, 4)) > 0.3
    mask[..., 0] = True
    check_parity(
        lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b, mask=mask, scale=0.3),
        _torch_attention(mask=mask, scale=0.3),
        *_qkv(2, 4, 4, 2, 2, 3),
        random_array((2, 2, 4, 4), seed=7),
    )


def test_attention_value_head_size_may_differ():
    check_parity(ops.dot_product_attention, _torch_attention(), *_qkv(2, 3, 4, 2, 2, 4, 7))


@pytest.mark.parametrize(
    ("sizes", "options"),
    [
        ((2, 3, 4, 2, 2, 3), {}),
        ((1, 3, 3, 4, 2, 2), {"is_causal": True}),
        ((2, 2, 3, 2, 1, 3), {"mask": np.array([[True, False, True]])}),
        ((1, 4, 2, 2, 2, 2), {"scale": 0.7, "is_causal": True}),
    ],
)
def test_attention_gradient(sizes, options):
    q, k, v = _qkv(*sizes, seed=8)
    check_gradient(lambda a, b, c: ops.dot_product_attention(a, b, c, **options), q, k, v)


def test_attention_gradient_with_bias():
    q, k, v = _qkv(2, 3, 4, 2, 1, 2, seed=9)
    bias = random_array((1, 2, 3, 4), seed=10)
    check_gradient(lambda a, b, c, d: ops.dot_product_attention(a, b, c, bias=d), q, k, v, bias)


def test_fully_masked_row_averages_values_like_keras_not_nan():
    q, k, v = _qkv(1, 2, 3, 1, 1, 2, seed=11)
    mask = np.array([[True, False, True], [False, False, False]])  # row 1 attends to nothing
    out = ops.dot_product_attention(q, k, v, mask=mask).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, 1, 0], v[0, :, 0].mean(axis=0), rtol=1e-6)
    # Nothing flows back through the constant fill: numerical and analytic gradients agree.
    bias = random_array((1, 1, 2, 3), seed=12)
    check_gradient(
        lambda a, b, c, d: ops.dot_product_attention(a, b, c, bias=d, mask=mask), q, k, v, bias
    )


def test_attention_gradients_only_where_needed_and_float32():
    q, k, v = _qkv(2, 3, 3, 2, 2, 4)
    query = shinsou.tensor(q, requires_grad=True)
    out = ops.dot_product_attention(query, k, v)
    out.sum().backward()
    assert out.dtype == np.float32 and query.grad.dtype == np.float32
    assert query.grad.shape == q.shape


def test_attention_rejects_bad_input():
    q, k, v = _qkv(2, 3, 4, 4, 2, 3)
    attention = ops.dot_product_attention
    with pytest.raises(ValueError, match=r"query must have rank 4.*got shape \(3, 4, 3\)"):
        attention(q[0], k, v)
    with pytest.raises(ValueError, match=r"3 query heads must be a multiple of the 2 key"):
        attention(q[:, :, :3], k, v)
    with pytest.raises(ValueError, match=r"key \(2, 4, 2, 3\) and value \(2, 5, 2, 3\)"):
        attention(q, k, np.zeros((2, 5, 2, 3), dtype="float32"))
    with pytest.raises(ValueError, match=r"agree on the batch size .* and the head size"):
        attention(q, k[..., :2], v)
    with pytest.raises(
        ValueError, match=r"bias of shape \(5,\) does not broadcast.*\(2, 4, 3, 4\)"
    ):
        attention(q, k, v, bias=np.zeros(5, dtype="float32"))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\) does not broadcast"):
        attention(q, k, v, mask=np.ones((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="mask must be boolean.*Pass additive float masks as bias"):
        attention(q, k, v, mask=np.ones((3, 4), dtype="float32"))
    with pytest.raises(ValueError, match="key and value need at least one position"):
        attention(q, k[:, :0], v[:, :0])
    with pytest.raises(ValueError, match="flash_attention=True is not available"):
        attention(q, k, v, flash_attention=True)
    attention(q, k, v, flash_attention=False)

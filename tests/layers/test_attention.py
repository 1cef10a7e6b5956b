"""Attention layers: MultiHeadAttention against PyTorch's nn.MultiheadAttention with copied
weights and against a NumPy reference of Keras's computation (masks, causal masks, scores,
other output shapes, rank-4 inputs), the fused and explicit paths against each other,
dropout, Keras's weights and counts, masks end to end, the projection's gradient, symbolic
shapes, configs, bad input, a small transformer that trains; Attention and
AdditiveAttention against NumPy references."""

import numpy as np
import pytest

import shinsou
from shinsou import layers, optimizers
from shinsou.layers.attention import project
from support import check_gradient, random_array, requires_torch, torch


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference_mha(layer, query, value, key=None, allowed=None):
    """Keras's MultiHeadAttention in float64 NumPy; ``allowed`` is (B, T, S) or None."""
    key = value if key is None else key
    w = [np.asarray(v, dtype=np.float64) for v in layer.get_weights()]
    q = np.einsum("btd,dnh->btnh", query, w[0]) + w[1]
    k = np.einsum("bsd,dnh->bsnh", key, w[2]) + w[3]
    v = np.einsum("bsd,dnh->bsnh", value, w[4]) + w[5]
    logits = np.einsum("bsnh,btnh->bnts", k, q / np.sqrt(layer.key_dim))
    if allowed is not None:
        logits = np.where(allowed[:, None], logits, -1e9)
    weights = softmax(logits)
    heads = np.einsum("bnts,bsnh->btnh", weights, v)
    return np.einsum("btnh,nhd->btd", heads, w[6]) + w[7], weights


def built_mha(num_heads=2, key_dim=3, dims=(6, 5, 4), **kwargs):
    layer = layers.MultiHeadAttention(num_heads, key_dim, **kwargs)
    query_dim, value_dim, key_dim_in = dims
    layer.build((None, None, query_dim), (None, None, value_dim), (None, None, key_dim_in))
    for weight in layer.weights:  # non-zero biases, so that their layout is tested
        weight.assign(random_array(weight.shape, seed=len(weight.path), low=-0.6, high=0.6))
    return layer


def test_matches_numpy_reference_with_separate_key_and_masks():
    layer = built_mha()
    query, value, key = (random_array((2, 4, 6), 1), random_array((2, 5, 5), 2),
                         random_array((2, 5, 4), 3))  # fmt: skip
    query_mask = np.array([[True, True, True, False], [True] * 4])
    value_mask = np.array([[True] * 5, [True, True, False, False, True]])
    key_mask = np.array([[True, False, True, True, True], [True] * 5])
    q = shinsou.tensor(query)
    q._keras_mask = shinsou.tensor(query_mask)
    v = shinsou.tensor(value)
    v._keras_mask = shinsou.tensor(value_mask)
    out, scores = layer(q, v, key, key_mask=key_mask, return_attention_scores=True)
    allowed = query_mask[:, :, None] & value_mask[:, None] & key_mask[:, None]
    expected, expected_scores = reference_mha(layer, query, value, key, allowed)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-4, atol=1e-6)
    assert out._keras_mask.tolist() == query_mask.tolist() and out.dtype == np.float32
    fused = layer(q, v, key, key_mask=key_mask)  # no scores asked: the fused op
    np.testing.assert_allclose(fused.numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("return_scores", [False, True])
def test_causal_and_explicit_attention_masks(return_scores):
    layer = built_mha(dims=(6, 6, 6))
    x = random_array((2, 5, 6), 4)
    attention_mask = random_array((2, 5, 5), 5) > -0.5
    out = layer(x, x, attention_mask=attention_mask, use_causal_mask=True,
                return_attention_scores=return_scores)  # fmt: skip
    out = out[0] if return_scores else out
    allowed = attention_mask & np.tril(np.ones((5, 5), bool))
    np.testing.assert_allclose(
        out.numpy(), reference_mha(layer, x, x, allowed=allowed)[0], rtol=1e-4, atol=1e-5
    )
    causal = np.tril(np.ones((5, 5), bool))  # one (T, S) mask for every sample
    np.testing.assert_allclose(
        layer(x, x, attention_mask=causal).numpy(),
        layer(x, x, use_causal_mask=True).numpy(),
        rtol=1e-6,
    )


def test_output_shape_argument_and_rank_4_inputs():
    layer = layers.MultiHeadAttention(2, 3, value_dim=4, output_shape=(2, 5))
    query, value = random_array((2, 3, 4, 6), 6), random_array((2, 2, 2, 7), 7)
    out, scores = layer(query, value, return_attention_scores=True)
    assert out.shape == (2, 3, 4, 2, 5) and scores.shape == (2, 2, 3, 4, 2, 2)
    assert layer.output_dense.kernel.shape == (2, 4, 2, 5)
    flat = layer(query.reshape(2, 12, 6), value.reshape(2, 4, 7))
    np.testing.assert_allclose(out.numpy().reshape(2, 12, 2, 5), flat.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_matches_torch_multihead_attention_values_and_gradients():
    num_heads, key_dim, embed = 4, 3, 12
    layer = built_mha(num_heads, key_dim, dims=(embed, embed, embed))
    w = layer.get_weights()
    module = torch.nn.MultiheadAttention(embed, num_heads, batch_first=True)
    with torch.no_grad():
        module.in_proj_weight.copy_(
            torch.from_numpy(np.concatenate([w[i].reshape(embed, -1).T for i in (0, 2, 4)]))
        )
        module.in_proj_bias.copy_(
            torch.from_numpy(np.concatenate([w[i].ravel() for i in (1, 3, 5)]))
        )
        module.out_proj.weight.copy_(torch.from_numpy(w[6].reshape(-1, embed).T.copy()))
        module.out_proj.bias.copy_(torch.from_numpy(w[7]))
    arrays = [random_array((2, 5, embed), s) for s in (10, 11, 12)]
    value_mask = np.array([[True] * 7, [True] * 4 + [False] * 3])
    ours = [shinsou.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_out = layer(ours[0], ours[1], ours[2], value_mask=value_mask[:, :5])
    theirs_out, _ = module(theirs[0], theirs[2], theirs[1],
                           key_padding_mask=torch.from_numpy(~value_mask[:, :5]))  # fmt: skip
    np.testing.assert_allclose(ours_out.numpy(), theirs_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    upstream = random_array(ours_out.shape, 13)
    (ours_out * upstream).sum().backward()
    (theirs_out * torch.from_numpy(upstream)).sum().backward()
    for name, a, b in zip(("query", "value", "key"), ours, theirs):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(
        layer.query_dense.kernel.grad.reshape(embed, -1).T,
        module.in_proj_weight.grad.numpy()[:embed],
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        layer.output_dense.bias.grad, module.out_proj.bias.grad.numpy(), rtol=1e-4, atol=1e-5
    )


def test_fused_and_explicit_paths_agree_on_gradients():
    layer = built_mha(dims=(6, 5, 5))
    mask = np.array([[True, True, False], [True, True, True]])
    grads = []
    for scores in (False, True):
        for weight in layer.weights:
            weight.grad = None
        q = shinsou.tensor(random_array((2, 4, 6), 1), requires_grad=True)
        v = shinsou.tensor(random_array((2, 3, 5), 2), requires_grad=True)
        out = layer(q, v, value_mask=mask, return_attention_scores=scores)
        out = out[0] if scores else out
        (out * random_array(out.shape, 3)).sum().backward()
        grads.append([q.grad, v.grad, *(w.grad for w in layer.weights)])
    for fused, explicit in zip(*grads):
        np.testing.assert_allclose(fused, explicit, rtol=1e-4, atol=1e-6)


def test_attention_dropout_only_in_training():
    layer = layers.MultiHeadAttention(2, 4, dropout=0.5, seed=3)
    x = random_array((2, 6, 8), 1)
    inference = layer(x, x).numpy()
    np.testing.assert_array_equal(layer(x, x, training=False).numpy(), inference)
    q = shinsou.tensor(x, requires_grad=True)
    trained, scores = layer(q, q, training=True, return_attention_scores=True)
    assert not np.allclose(trained.numpy(), inference)
    np.testing.assert_allclose(scores.numpy().sum(axis=-1), 1.0, rtol=1e-5)  # before dropout
    trained.sum().backward()
    assert np.isfinite(q.grad).all()


def test_keras_weights_counts_names_and_file_paths(tmp_path):
    layer = layers.MultiHeadAttention(num_heads=4, key_dim=32, name="multi_head_attention")
    x = np.zeros((2, 3, 128), "float32")
    layer(x, x)
    assert layer.count_params() == 66048
    assert [(w.path, w.shape) for w in layer.weights] == [
        ("multi_head_attention/query/kernel", (128, 4, 32)),
        ("multi_head_attention/query/bias", (4, 32)),
        ("multi_head_attention/key/kernel", (128, 4, 32)),
        ("multi_head_attention/key/bias", (4, 32)),
        ("multi_head_attention/value/kernel", (128, 4, 32)),
        ("multi_head_attention/value/bias", (4, 32)),
        ("multi_head_attention/attention_output/kernel", (4, 32, 128)),
        ("multi_head_attention/attention_output/bias", (128,)),
    ]
    assert layers.MultiHeadAttention(2, 8, use_bias=False)(x, x).shape == (2, 3, 128)
    inputs = shinsou.Input((3, 16))
    model = shinsou.Model(inputs, layers.MultiHeadAttention(2, 4)(inputs, inputs))
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    from shinsou.saving.weights_h5 import weight_paths

    assert weight_paths(path) == [
        f"layers/multi_head_attention/{sub}_dense/vars/{i}"
        for sub in ("key", "output", "query", "value")
        for i in (0, 1)
    ]


def test_mask_from_embedding_reaches_attention_and_output():
    ids = np.array([[3, 5, 2, 0, 0], [4, 1, 0, 0, 0]])
    inputs = shinsou.Input((None,), dtype="int64")
    embedded = layers.Embedding(8, 6, mask_zero=True)(inputs)
    attention = layers.MultiHeadAttention(2, 3)
    model = shinsou.Model(inputs, attention(embedded, embedded))
    out = model(ids)
    assert out._keras_mask.tolist() == (ids != 0).tolist()
    embeddings = model.layers[1](ids).numpy()
    allowed = (ids != 0)[:, :, None] & (ids != 0)[:, None]
    np.testing.assert_allclose(
        out.numpy(), reference_mha(attention, embeddings, embeddings, allowed=allowed)[0],
        rtol=1e-4, atol=1e-5,
    )  # fmt: skip
    # Padding does not change what the real tokens see.
    alone = model(ids[:1, :3]).numpy()
    np.testing.assert_allclose(out.numpy()[:1, :3], alone, rtol=1e-4, atol=1e-6)


def test_projection_gradient_matches_finite_differences():
    check_gradient(
        lambda x, k, b: project(x, k, b, 2),
        random_array((2, 3, 4, 2), 1),
        random_array((4, 2, 5), 2),
        random_array((5,), 3),
    )


def test_symbolic_shapes_and_config_round_trip():
    query, value = shinsou.Input((None, 16)), shinsou.Input((7, 12))
    layer = layers.MultiHeadAttention(4, 8, value_dim=6, dropout=0.1, output_shape=10, seed=1)
    out, scores = layer(query, value, return_attention_scores=True)
    assert out.shape == (None, None, 10) and scores.shape == (None, 4, None, 7)
    config = layer.get_config()
    assert set(config) == {
        "name", "trainable", "dtype", "num_heads", "key_dim", "value_dim", "dropout",
        "use_bias", "output_shape", "attention_axes", "kernel_initializer",
        "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "kernel_constraint", "bias_constraint", "seed",
    }  # fmt: skip
    assert config["output_shape"] == (10,) and config["value_dim"] == 6
    assert layers.MultiHeadAttention.from_config(config).get_config() == config
    assert layer.get_build_config() == {
        "shapes_dict": {"query_shape": (None, None, 16), "value_shape": (None, 7, 12)}
    }


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match=r"key_dim must be a positive integer.*key_dim=0"):
        layers.MultiHeadAttention(2, 0)
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer"):
        layers.MultiHeadAttention(-1, 4)
    with pytest.raises(ValueError, match=r"dropout must be a float in the range \[0, 1\)"):
        layers.MultiHeadAttention(2, 4, dropout=1.0)
    with pytest.raises(ValueError, match=r"output_shape"):
        layers.MultiHeadAttention(2, 4, output_shape="wide")
    layer = layers.MultiHeadAttention(2, 4, name="mha")
    with pytest.raises(ValueError, match=r"'mha': value and key must agree.*\(2, 5, 3\)"):
        layer(np.ones((2, 4, 3), "float32"), np.ones((2, 5, 3), "float32"),
              np.ones((2, 6, 3), "float32"))  # fmt: skip
    with pytest.raises(ValueError, match=r"query must have shape.*\(2, 3\)"):
        layers.MultiHeadAttention(2, 4)(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=2)(
            np.ones((1, 2, 3, 4), "float32"), np.ones((1, 2, 3, 4), "float32")
        )


def test_transformer_encoder_trains():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 16, size=(64, 8))
    labels = (ids == 3).any(axis=1).astype("int64")
    inputs = shinsou.Input((8,), dtype="int64")
    x = layers.Embedding(16, 16)(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = layers.LayerNormalization()(x + attended)
    x = layers.LayerNormalization()(x + layers.Dense(16)(layers.Dense(32, activation="relu")(x)))
    outputs = layers.Dense(2)(layers.GlobalAveragePooling1D()(x))
    model = shinsou.Model(inputs, outputs)
    model.compile(
        optimizer=optimizers.Adam(0.01),
        loss=shinsou.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(ids, labels, epochs=6, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0] * 0.8


def reference_attention(query, value, key, scores_of, value_mask=None, causal=False):
    scores = scores_of(query, key)
    allowed = np.ones(scores.shape, bool)
    if value_mask is not None:
        allowed &= value_mask[:, None, :]
    if causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], bool))
    weights = softmax(scores - 1e9 * ~allowed)
    return weights @ value, weights


@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_luong_attention_matches_reference(score_mode):
    layer = layers.Attention(use_scale=True, score_mode=score_mode)
    query, value, key = (random_array((2, 3, 4), 1), random_array((2, 5, 6), 2),
                         random_array((2, 5, 4), 3))  # fmt: skip
    value_mask = np.array([[True] * 5, [True, True, True, False, False]])
    query_mask = np.array([[True, False, True], [True] * 3])
    out, weights = layer([query, value, key], mask=[query_mask, value_mask],
                         return_attention_scores=True, use_causal_mask=True)  # fmt: skip
    if score_mode == "dot":
        layer.scale.assign(np.float32(1.0))
        scores_of = lambda q, k: q @ k.transpose(0, 2, 1)  # noqa: E731
    else:
        scores_of = lambda q, k: np.tanh(q[:, :, None] + k[:, None]).sum(-1)  # noqa: E731
    expected, expected_weights = reference_attention(query, value, key, scores_of, value_mask, True)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected * query_mask[:, :, None], rtol=1e-5, atol=1e-6)
    assert [w.name for w in layer.weights] == (
        ["scale"] if score_mode == "dot" else ["scale", "concat_score_weight"]
    )


def test_additive_attention_matches_reference_and_keeps_query_mask():
    layer = layers.AdditiveAttention()
    query, value = random_array((2, 3, 4), 4), random_array((2, 5, 4), 5)
    q = shinsou.tensor(query)
    q._keras_mask = shinsou.tensor(np.array([[True, True, False], [True] * 3]))
    out = layer([q, shinsou.tensor(value)])
    scale = layer.scale.numpy()
    expected, _ = reference_attention(
        query, value, value, lambda a, b: (scale * np.tanh(a[:, :, None] + b[:, None])).sum(-1)
    )
    expected[0, 2] = 0.0
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert out._keras_mask.tolist() == [[True, True, False], [True] * 3]
    assert layer.scale.shape == (4,)


def test_luong_and_additive_configs_shapes_and_bad_input():
    layer = layers.Attention(use_scale=True, dropout=0.2)
    assert layers.Attention.from_config(layer.get_config()).get_config() == layer.get_config()
    assert set(layer.get_config()) == {"name", "trainable", "dtype", "use_scale", "score_mode",
                                       "dropout"}  # fmt: skip
    additive = layers.AdditiveAttention(use_scale=False)
    assert "score_mode" not in additive.get_config()
    query, value = shinsou.Input((None, 4)), shinsou.Input((6, 3))
    out, weights = layers.Attention()([query, value, shinsou.Input((6, 4))],
                                      return_attention_scores=True)  # fmt: skip
    assert out.shape == (None, None, 3) and weights.shape == (None, None, 6)
    with pytest.raises(ValueError, match=r"score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode="mlp")
    with pytest.raises(ValueError, match=r"must be called on a list \[query, value\]"):
        layers.Attention()(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"dropout must be a float"):
        layers.AdditiveAttention(dropout=2)
    x = random_array((2, 3, 4), 1)
    trained = layers.Attention(dropout=0.5, seed=0)([x, x], training=True)
    assert not np.allclose(trained.numpy(), layers.Attention()([x, x]).numpy())

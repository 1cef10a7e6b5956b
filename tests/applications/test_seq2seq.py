import numpy as np
import pytest

import shinsou
from shinsou.applications.seq2seq import (
    PositionalEmbedding,
    Transformer,
    TransformerDecoder,
    TransformerEncoder,
    positional_encoding,
)
from shinsou.saving import load_model
from support import check_parity, requires_torch, torch

D_MODEL, HEADS, DFF = 16, 2, 32


def tiny_transformer(**kwargs):
    options = {
        "num_layers": 1,
        "d_model": D_MODEL,
        "num_heads": HEADS,
        "dff": DFF,
        "input_vocab_size": 10,
        "target_vocab_size": 12,
        "max_length": 8,
        "dropout": 0.0,
    }
    return Transformer(**{**options, **kwargs})


def logits(model, source, target):
    return model([np.array(source), np.array(target)]).numpy()


# -- positional encoding and embedding ------------------------------------------------------
def test_positional_encoding_follows_the_paper():
    table = positional_encoding(50, 8)
    assert table.shape == (50, 8) and table.dtype == np.float32
    position, pair = 37, 3  # columns 6 (sin) and 7 (cos)
    angle = position / 10000 ** (2 * pair / 8)
    np.testing.assert_allclose(table[position, 6:8], [np.sin(angle), np.cos(angle)], atol=1e-5)
    assert positional_encoding(4, 5).shape == (4, 5)  # odd depth: the last column is a sine


def test_positional_embedding_scales_adds_and_masks():
    layer = PositionalEmbedding(vocab_size=20, d_model=8, max_length=6)
    ids = np.array([[3, 4, 0], [5, 0, 0]])
    out = layer(ids)
    table = layer.token_embedding.embeddings.numpy()
    expected = table[ids] * np.sqrt(8) + positional_encoding(6, 8)[:3]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert out.dtype == np.float32
    assert out._keras_mask.tolist() == [[True, True, False], [True, False, False]]
    assert [w.path for w in layer.weights] == [f"{layer.name}/token_embedding/embeddings"]
    assert PositionalEmbedding(20, 8, 6, mask_zero=False)(ids)._keras_mask is None


def test_positional_embedding_rejects_long_inputs_and_bad_arguments():
    layer = PositionalEmbedding(vocab_size=20, d_model=8, max_length=4, name="pos")
    with pytest.raises(ValueError, match=r"'pos'.*max_length=4.*\(1, 5\)"):
        layer(np.ones((1, 5), dtype="int32"))
    with pytest.raises(ValueError, match="d_model must be a positive integer"):
        PositionalEmbedding(20, 0, 4)
    with pytest.raises(ValueError, match="positional_encoding: depth"):
        positional_encoding(4, -1)


# -- masks ------------------------------------------------------------------------------------
def test_encoder_ignores_padding_thanks_to_the_mask():
    embed = PositionalEmbedding(10, D_MODEL, 8)
    encoder = TransformerEncoder(D_MODEL, HEADS, DFF, dropout=0.0)
    short = encoder(embed(np.array([[4, 5, 6]]))).numpy()
    padded = encoder(embed(np.array([[4, 5, 6, 0, 0]]))).numpy()
    np.testing.assert_allclose(padded[:, :3], short, atol=1e-5)
    # Without the mask the padding embeddings are attended to and change every output.
    unmasked = embed(np.array([[4, 5, 6, 0, 0]]))
    unmasked._keras_mask = None
    assert np.abs(encoder(unmasked).numpy()[:, :3] - short).max() > 1e-3


def test_source_padding_does_not_change_the_logits():
    model = tiny_transformer()
    target = [[1, 7, 8, 9], [1, 3, 0, 0]]
    short = logits(model, [[4, 5, 6], [7, 0, 0]], target)
    padded = logits(model, [[4, 5, 6, 0, 0], [7, 0, 0, 0, 0]], target)
    np.testing.assert_allclose(padded, short, atol=1e-5)
    assert np.abs(logits(model, [[4, 5, 6, 3, 3], [7, 0, 0, 0, 0]], target) - short).max() > 1e-3


def test_decoder_is_causal():
    model = tiny_transformer()
    source = [[4, 5, 6, 0]]
    first = logits(model, source, [[1, 7, 8, 9, 10]])
    second = logits(model, source, [[1, 7, 3, 3, 4]])  # tokens from position 2 on change
    np.testing.assert_allclose(first[:, :2], second[:, :2], atol=1e-6)
    assert np.abs(first[:, 2:] - second[:, 2:]).min(axis=-1).max() > 1e-4


def test_logits_carry_the_decoder_padding_mask():
    model = tiny_transformer()
    out = model([np.array([[4, 5]]), np.array([[1, 7, 0]])])
    assert out.shape == (1, 3, 12)
    assert out._keras_mask.tolist() == [[True, True, False]]


# -- numbers against PyTorch -----------------------------------------------------------------
def _torch_attention_weights(torch_attention, keras_attention):
    """Copy Keras MultiHeadAttention weights into torch.nn.MultiheadAttention."""
    d = D_MODEL
    q, k, v, o = (
        keras_attention.query_dense,
        keras_attention.key_dense,
        keras_attention.value_dense,
        keras_attention.output_dense,
    )
    with torch.no_grad():
        torch_attention.in_proj_weight.copy_(
            torch.from_numpy(
                np.concatenate([layer.kernel.numpy().reshape(d, d).T for layer in (q, k, v)])
            )
        )
        torch_attention.in_proj_bias.copy_(
            torch.from_numpy(np.concatenate([layer.bias.numpy().reshape(d) for layer in (q, k, v)]))
        )
        torch_attention.out_proj.weight.copy_(torch.from_numpy(o.kernel.numpy().reshape(d, d).T))
        torch_attention.out_proj.bias.copy_(torch.from_numpy(o.bias.numpy()))


def _torch_block_weights(torch_layer, keras_layer, attention_pairs):
    for torch_attention, keras_attention in attention_pairs:
        _torch_attention_weights(torch_attention, keras_attention)
    norms = [torch_layer.norm1, torch_layer.norm2] + (
        [torch_layer.norm3] if hasattr(torch_layer, "norm3") else []
    )
    keras_norms = [keras_layer.self_attention_norm]
    if hasattr(keras_layer, "cross_attention_norm"):
        keras_norms.append(keras_layer.cross_attention_norm)
    keras_norms.append(keras_layer.feedforward_norm)
    with torch.no_grad():
        for norm, keras_norm in zip([n for n in norms if n is not None], keras_norms):
            norm.weight.copy_(torch.from_numpy(keras_norm.gamma.numpy()))
            norm.bias.copy_(torch.from_numpy(keras_norm.beta.numpy()))
        for linear, dense in (
            (torch_layer.linear1, keras_layer.intermediate_dense),
            (torch_layer.linear2, keras_layer.output_dense),
        ):
            linear.weight.copy_(torch.from_numpy(dense.kernel.numpy().T))
            linear.bias.copy_(torch.from_numpy(dense.bias.numpy()))


@requires_torch
@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_layer_matches_torch(normalize_first):
    mask = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=bool)
    keep = mask[:, :, None].astype("float32")
    ours = TransformerEncoder(D_MODEL, HEADS, DFF, dropout=0.0, normalize_first=normalize_first)
    ours.build((2, 5, D_MODEL))
    theirs = torch.nn.TransformerEncoderLayer(
        D_MODEL, HEADS, DFF, dropout=0.0, batch_first=True, norm_first=normalize_first,
        layer_norm_eps=1e-5,
    )  # fmt: skip
    _torch_block_weights(theirs, ours, [(theirs.self_attn, ours.self_attention)])
    theirs.train()  # the reference (non-fused) path; dropout is 0

    # Padded positions are multiplied out: Keras masks padded queries too (their rows get
    # uniform attention), PyTorch masks only keys; the real positions must agree.
    def ours_fn(x):
        return ours(x, mask=shinsou.tensor(mask)) * keep

    def theirs_fn(x):
        return theirs(x, src_key_padding_mask=torch.from_numpy(~mask)) * torch.from_numpy(keep)

    x = np.random.default_rng(0).normal(size=(2, 5, D_MODEL)).astype("float32")
    check_parity(ours_fn, theirs_fn, x, rtol=1e-4, atol=1e-5)


@requires_torch
def test_decoder_layer_matches_torch():
    rng = np.random.default_rng(1)
    target_mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=bool)
    source_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
    keep = target_mask[:, :, None].astype("float32")
    ours = TransformerDecoder(D_MODEL, HEADS, DFF, dropout=0.0)
    ours.build((2, 4, D_MODEL), (2, 5, D_MODEL))
    theirs = torch.nn.TransformerDecoderLayer(
        D_MODEL, HEADS, DFF, dropout=0.0, batch_first=True, layer_norm_eps=1e-5
    )
    _torch_block_weights(
        theirs,
        ours,
        [(theirs.self_attn, ours.self_attention), (theirs.multihead_attn, ours.cross_attention)],
    )
    causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)  # True = blocked

    def ours_fn(y, memory):
        return (
            ours(
                y,
                memory,
                encoder_padding_mask=shinsou.tensor(source_mask),
                mask=shinsou.tensor(target_mask),
            )
            * keep
        )

    def theirs_fn(y, memory):
        out = theirs(
            y,
            memory,
            tgt_mask=causal,
            tgt_key_padding_mask=torch.from_numpy(~target_mask),
            memory_key_padding_mask=torch.from_numpy(~source_mask),
        )
        return out * torch.from_numpy(keep)

    y = rng.normal(size=(2, 4, D_MODEL)).astype("float32")
    memory = rng.normal(size=(2, 5, D_MODEL)).astype("float32")
    check_parity(ours_fn, theirs_fn, y, memory, rtol=1e-4, atol=1e-5)


# -- structure, configs, files -----------------------------------------------------------------
def test_parameter_counts():
    d, f = D_MODEL, DFF
    attention = 4 * (d * d + d)
    feedforward = d * f + f + f * d + d
    model = tiny_transformer()
    assert model.get_layer("encoder_layer_0").count_params() == attention + 2 * 2 * d + feedforward
    decoder_count = 2 * attention + 3 * 2 * d + feedforward
    assert model.get_layer("decoder_layer_0").count_params() == decoder_count
    embeddings = 10 * d + 12 * d
    expected = embeddings + attention + 4 * d + feedforward + decoder_count + d * 12 + 12
    assert model.count_params() == expected


@pytest.mark.parametrize(
    ("layer", "call_args"),
    [
        (PositionalEmbedding(30, 8, 5, mask_zero=False, name="p"), [np.array([[1, 2]])]),
        (
            TransformerEncoder(8, 2, 12, dropout=0.2, normalize_first=True, activation="gelu"),
            [np.ones((2, 3, 8), "float32")],
        ),
        (
            TransformerDecoder(8, 4, 12, layer_norm_epsilon=1e-6),
            [np.ones((2, 3, 8), "float32"), np.ones((2, 4, 8), "float32")],
        ),
    ],
)
def test_config_round_trip(layer, call_args):
    expected = layer(*call_args).numpy()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(*call_args)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(*call_args).numpy(), expected, rtol=1e-6)


def test_keras_file_round_trip(tmp_path):
    model = tiny_transformer(dropout=0.1)
    path = tmp_path / "transformer.keras"
    model.save(path)
    loaded = load_model(path)
    source, target = [[4, 5, 6, 0]], [[1, 7, 8]]
    np.testing.assert_array_equal(logits(loaded, source, target), logits(model, source, target))
    assert type(loaded.get_layer("decoder_layer_0")) is TransformerDecoder
    assert loaded.get_layer("encoder_layer_0").get_config()["dropout"] == 0.1


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match=r"divisible by num_heads.*d_model=10, num_heads=4"):
        TransformerEncoder(10, 4, 16)
    with pytest.raises(ValueError, match=r"TransformerDecoder: dropout must be a float"):
        TransformerDecoder(8, 2, 16, dropout=1.5)
    with pytest.raises(ValueError, match="Transformer: num_layers must be a positive integer"):
        tiny_transformer(num_layers=0)
    with pytest.raises(ValueError, match=r"Transformer: d_model must be divisible"):
        tiny_transformer(num_heads=3)
    encoder = TransformerEncoder(8, 2, 16, name="enc")
    with pytest.raises(ValueError, match=r"'enc'.*d_model=8.*\(2, 3, 6\)"):
        encoder(np.ones((2, 3, 6), "float32"))
    with pytest.raises(ValueError, match="needs encoder_sequence"):
        TransformerDecoder(8, 2, 16)(np.ones((2, 3, 8), "float32"))

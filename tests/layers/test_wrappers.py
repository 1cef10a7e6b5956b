"""Wrappers: Bidirectional against PyTorch's bidirectional LSTM (values and gradients), merge
modes, states, masks, weights, configs and bad input; TimeDistributed against the inner
layer on folded inputs, shapes, masks, training flags, configs and bad input."""

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import random_array, requires_torch, torch


def bidirectional_lstm(units=4, features=5, **kwargs):
    layer = layers.Bidirectional(layers.LSTM(units, **kwargs))
    layer.build((None, None, features))
    for weight in layer.weights:
        if weight.name == "bias":
            weight.assign(random_array(weight.shape, seed=weight.path.count("b"), low=-0.5))
    return layer


@requires_torch
def test_bidirectional_lstm_matches_torch_values_and_gradients():
    layer = bidirectional_lstm(return_sequences=True, return_state=True)
    module = torch.nn.LSTM(5, 4, batch_first=True, bidirectional=True)
    forward, backward = layer.forward_layer.cell, layer.backward_layer.cell
    with torch.no_grad():
        for suffix, cell in (("l0", forward), ("l0_reverse", backward)):
            getattr(module, f"weight_ih_{suffix}").copy_(torch.from_numpy(cell.kernel.numpy().T))
            getattr(module, f"weight_hh_{suffix}").copy_(
                torch.from_numpy(cell.recurrent_kernel.numpy().T)
            )
            getattr(module, f"bias_ih_{suffix}").copy_(torch.from_numpy(cell.bias.numpy()))
            getattr(module, f"bias_hh_{suffix}").zero_()
    x = random_array((3, 6, 5), seed=1)
    ours_x = shinsou.tensor(x, requires_grad=True)
    output, h_forward, c_forward, h_backward, c_backward = layer(ours_x)
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs, (h, c) = module(theirs_x)
    pairs = [(output, theirs), (h_forward, h[0]), (c_forward, c[0]), (h_backward, h[1]),
             (c_backward, c[1])]  # fmt: skip
    for ours, reference in pairs:
        np.testing.assert_allclose(ours.numpy(), reference.detach().numpy(), rtol=1e-4, atol=2e-5)
    upstream = random_array(output.shape, seed=2)
    (output * upstream).sum().backward()
    (theirs * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(
        backward.kernel.grad, module.weight_ih_l0_reverse.grad.numpy().T, rtol=1e-4, atol=2e-5
    )


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_merge_modes_combine_forward_and_time_ordered_backward(merge_mode):
    layer = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode=merge_mode)
    x = random_array((2, 4, 5), seed=3)
    out = layer(x)
    forward = layers.GRU(3, return_sequences=True)
    forward.build((None, None, 5))
    forward.set_weights(layer.forward_layer.get_weights())
    backward = layers.GRU(3, return_sequences=True)
    backward.build((None, None, 5))
    backward.set_weights(layer.backward_layer.get_weights())
    y = forward(x).numpy()
    y_reversed = backward(x[:, ::-1]).numpy()[:, ::-1]  # back in time order
    expected = {
        "concat": lambda: np.concatenate([y, y_reversed], axis=-1),
        "sum": lambda: y + y_reversed,
        "mul": lambda: y * y_reversed,
        "ave": lambda: (y + y_reversed) / 2,
        None: lambda: (y, y_reversed),
    }[merge_mode]()
    if merge_mode is None:
        for ours, theirs in zip(out, expected):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_weights_order_names_counts_and_file_paths(tmp_path):
    layer = bidirectional_lstm(units=8)
    assert layer.count_params() == 2 * layers.LSTM(8).cell.gates * (5 * 8 + 8 * 8 + 8)
    name = layer.name
    assert [w.path for w in layer.weights] == [
        f"{name}/forward_lstm{suffix}/lstm_cell/{weight}"
        for suffix in [layer.forward_layer.name.removeprefix("forward_lstm")]
        for weight in ("kernel", "recurrent_kernel", "bias")
    ] + [
        f"{name}/{layer.backward_layer.name}/lstm_cell/{weight}"
        for weight in ("kernel", "recurrent_kernel", "bias")
    ]
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    weights = [np.full(w.shape, i, "float32") for i, w in enumerate(layer.weights)]
    again = layers.Bidirectional(layers.LSTM(8), weights=weights)
    again.build((None, None, 5))
    assert [float(w[0].ravel()[0]) for w in again.get_weights()] == [0, 1, 2, 3, 4, 5]
    model = shinsou.Sequential([shinsou.Input((4, 5)), layers.Bidirectional(layers.LSTM(2))])
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    from shinsou.saving.weights_h5 import weight_paths

    assert weight_paths(path) == [
        f"layers/bidirectional/{side}_layer/cell/vars/{i}"
        for side in ("backward", "forward")
        for i in range(3)
    ]


def test_masked_sequences_and_output_masks():
    layer = layers.Bidirectional(layers.LSTM(3, return_sequences=True))
    x = random_array((2, 5, 4), seed=4)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    out = layer(x, mask=mask)
    assert out._keras_mask.tolist() == mask.tolist()
    np.testing.assert_array_equal(out.numpy()[1, 3:], 0.0)  # masked steps read as zeros
    alone = layer(x[1:, :3]).numpy()
    np.testing.assert_allclose(out.numpy()[1:, :3], alone, rtol=1e-5, atol=1e-6)
    last = layers.Bidirectional(layers.GRU(2))
    assert last(x, mask=mask)._keras_mask is None


def test_initial_states_are_split_between_directions_and_symbolic_shapes():
    layer = layers.Bidirectional(layers.GRU(3, return_state=True), merge_mode="sum")
    x = random_array((2, 4, 5), seed=5)
    states = [random_array((2, 3), seed=6), random_array((2, 3), seed=7)]
    out, forward_state, backward_state = layer(x, initial_state=states)
    direct = layer.forward_layer(x, initial_state=[states[0]])
    np.testing.assert_allclose(forward_state.numpy(), direct[1].numpy(), rtol=1e-6)
    assert out.shape == backward_state.shape == (2, 3)
    inputs = shinsou.Input((None, 5))
    outputs = layers.Bidirectional(layers.LSTM(4, return_sequences=True, return_state=True))(inputs)
    assert [t.shape for t in outputs] == [(None, None, 8)] + [(None, 4)] * 4
    assert layers.Bidirectional(layers.LSTM(4), merge_mode=None)(inputs)[1].shape == (None, 4)


def test_bidirectional_config_round_trip_and_bad_input():
    layer = layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="ave")
    config = layer.get_config()
    assert set(config) == {"name", "trainable", "dtype", "merge_mode", "layer", "backward_layer"}
    assert config["layer"]["class_name"] == "LSTM"
    assert config["backward_layer"]["config"]["go_backwards"] is True
    clone = layers.Bidirectional.from_config(config)
    assert clone.get_config() == config
    with pytest.raises(ValueError, match=r"merge_mode must be one of.*'max'"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match=r"layer must be a keras Layer"):
        layers.Bidirectional("lstm")
    with pytest.raises(ValueError, match=r"different go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match=r"same return_sequences"):
        layers.Bidirectional(
            layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True, return_sequences=True)
        )
    with pytest.raises(AttributeError, match=r"not stateful"):
        layer.reset_states()


def test_time_distributed_folds_time_into_the_batch():
    dense = layers.Dense(3)
    layer = layers.TimeDistributed(dense)
    x = shinsou.tensor(random_array((2, 4, 5), seed=8), requires_grad=True)
    out = layer(x)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ dense.kernel.numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, np.broadcast_to(dense.kernel.numpy().sum(1), x.shape))
    assert [w.path for w in layer.weights] == [f"{layer.name}/{dense.name}/kernel",
                                               f"{layer.name}/{dense.name}/bias"]  # fmt: skip
    video = shinsou.Input((None, 8, 8, 3))
    assert layers.TimeDistributed(layers.Conv2D(4, 3))(video).shape == (None, None, 6, 6, 4)
    assert layers.TimeDistributed(layers.Flatten())(video).shape == (None, None, 192)


def test_time_distributed_passes_training_and_mask():
    x = np.ones((2, 3, 100), "float32")
    dropout = layers.TimeDistributed(layers.Dropout(0.5, seed=0))
    np.testing.assert_array_equal(dropout(x).numpy(), x)
    assert (dropout(x, training=True).numpy() == 0).any()
    mask = np.array([[True, False, True], [True, True, False]])
    out = layers.TimeDistributed(layers.Dense(2))(x, mask=mask)
    assert out._keras_mask.tolist() == mask.tolist()


def test_time_distributed_config_round_trip_and_bad_input():
    layer = layers.TimeDistributed(layers.Dense(4, activation="relu"))
    config = layer.get_config()
    assert set(config) == {"name", "trainable", "dtype", "layer"}
    assert layers.TimeDistributed.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"rank >= 3.*\(2, 5\)"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"layer must be a keras Layer"):
        layers.TimeDistributed(lambda x: x)
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3, ...\)"):
        layers.TimeDistributed(layers.Dense(2))(np.ones((2, 3, 4), "float32"), mask=np.ones((2, 4)))


def test_keras_file_round_trip_of_recurrent_attention_and_wrapped_layers(tmp_path):
    inputs = shinsou.Input((6,), dtype="int64")
    x = layers.Embedding(20, 8, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)
    x = layers.TimeDistributed(layers.Dense(5))(x)
    x = layers.MultiHeadAttention(2, 3)(x, x)
    pooled = layers.GlobalAveragePooling1D()(layers.AdditiveAttention()([x, x]))
    merged = [layers.GRU(3)(x), layers.RNN(layers.SimpleRNNCell(2))(x), pooled]
    model = shinsou.Model(inputs, layers.Concatenate()(merged))
    ids = np.random.default_rng(0).integers(0, 20, (3, 6))
    model.save(tmp_path / "m.keras")
    loaded = shinsou.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))

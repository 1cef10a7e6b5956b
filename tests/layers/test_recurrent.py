"""Recurrent layers: LSTM, GRU and SimpleRNN against PyTorch with copied weights (values and
gradients), the per-step loop against the fused path (masks, go_backwards, both GRU forms),
masks end to end, dropout, stateful layers, Keras's parameter counts, weight names, configs,
symbolic shapes, bad input, and a small training run."""

import numpy as np
import pytest

import shinsou
from shinsou import layers, optimizers
from support import check_gradient, random_array, requires_torch, torch


def sequences(batch=3, steps=6, features=5, seed=0):
    return random_array((batch, steps, features), seed=seed)


def built(layer, features=5):
    layer.build((None, None, features))
    cell = layer.cell
    if cell.bias is not None:  # non-zero biases, so that their layout is tested too
        cell.bias.assign(random_array(cell.bias.shape, seed=9, low=-0.5, high=0.5))
    return layer


def torch_rnn(layer):
    """A PyTorch RNN with ``layer``'s weights (Keras's gate order mapped to PyTorch's)."""
    cell = layer.cell
    units, features = cell.units, cell.kernel.shape[0]
    kernel, recurrent = cell.kernel.numpy(), cell.recurrent_kernel.numpy()
    bias = cell.bias.numpy()
    input_bias, recurrent_bias = bias, np.zeros_like(bias)
    if isinstance(layer, layers.LSTM):
        module = torch.nn.LSTM(features, units, batch_first=True)
    elif isinstance(layer, layers.GRU):
        module = torch.nn.GRU(features, units, batch_first=True)
        # Keras z, r, h -> PyTorch r, z, n; PyTorch computes GRU as reset_after=True.
        order = np.concatenate([np.arange(k * units, (k + 1) * units) for k in (1, 0, 2)])
        kernel, recurrent = kernel[:, order], recurrent[:, order]
        input_bias, recurrent_bias = bias[0][order], bias[1][order]
    else:
        module = torch.nn.RNN(features, units, batch_first=True)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(input_bias.copy()))
        module.bias_hh_l0.copy_(torch.from_numpy(recurrent_bias.copy()))
    return module


def assert_close(ours, theirs, what, tolerance=2e-5):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: {ours.shape} != {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=tolerance, err_msg=what)


@requires_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_matches_torch_values_and_gradients(kind):
    layer = built(getattr(layers, kind)(4, return_sequences=True, return_state=True))
    module = torch_rnn(layer)
    x = sequences()
    ours_x = shinsou.tensor(x, requires_grad=True)
    ours = layer(ours_x)
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs_out, theirs_state = module(theirs_x)
    theirs_states = theirs_state if kind == "LSTM" else (theirs_state,)
    theirs = [theirs_out] + [state[0] for state in theirs_states]
    assert len(ours) == len(theirs)
    weights = [random_array(t.shape, seed=i + 20) for i, t in enumerate(theirs)]
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert o.dtype == np.float32
        assert_close(o.numpy(), t, f"output {i}")
    sum((o * w).sum() for o, w in zip(ours, weights)).backward()
    sum((t * torch.from_numpy(w)).sum() for t, w in zip(theirs, weights)).backward()
    assert_close(ours_x.grad, theirs_x.grad, "input gradient")
    cell = layer.cell
    if kind == "GRU":
        units = cell.units
        order = np.concatenate([np.arange(k * units, (k + 1) * units) for k in (1, 0, 2)])
        inverse = np.argsort(order)
        assert_close(cell.kernel.grad, module.weight_ih_l0.grad.numpy().T[:, inverse], "kernel")
        assert_close(
            cell.bias.grad[1], module.bias_hh_l0.grad.numpy()[inverse], "recurrent bias grad"
        )
    else:
        assert_close(cell.kernel.grad, module.weight_ih_l0.grad.numpy().T, "kernel grad")
        assert_close(
            cell.recurrent_kernel.grad, module.weight_hh_l0.grad.numpy().T, "recurrent grad"
        )
        assert_close(cell.bias.grad, module.bias_ih_l0.grad.numpy(), "bias grad")


@requires_torch
def test_lstm_initial_state_and_go_backwards_match_torch():
    layer = built(layers.LSTM(4, go_backwards=True, return_sequences=True, return_state=True))
    module = torch_rnn(layer)
    x = sequences()
    h0, c0 = random_array((3, 4), seed=3), random_array((3, 4), seed=4)
    outputs, h, c = layer(x, initial_state=[h0, c0])
    flipped = torch.from_numpy(x[:, ::-1].copy())
    theirs, (th, tc) = module(flipped, (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    # go_backwards returns the outputs in processing order, as Keras does.
    assert_close(outputs.numpy(), theirs, "outputs")
    assert_close(h.numpy(), th[0], "h")
    assert_close(c.numpy(), tc[0], "c")


class _StepLSTMCell(layers.LSTMCell):
    """Overriding call() sends the layer down the generic per-step loop."""

    def call(self, inputs, states, training=False):
        return super().call(inputs, states, training=training)


class _StepGRUCell(layers.GRUCell):
    def call(self, inputs, states, training=False):
        return super().call(inputs, states, training=training)


class _StepSimpleRNNCell(layers.SimpleRNNCell):
    def call(self, inputs, states, training=False):
        return super().call(inputs, states, training=training)


LOOP_CASES = [
    (layers.LSTM, _StepLSTMCell, {}),
    (layers.GRU, _StepGRUCell, {"reset_after": True}),
    (layers.GRU, _StepGRUCell, {"reset_after": False}),
    (layers.SimpleRNN, _StepSimpleRNNCell, {"activation": "relu"}),
]


@pytest.mark.parametrize(("fused_class", "step_cell", "options"), LOOP_CASES)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_per_step_loop_matches_fused_path_with_masks(fused_class, step_cell, options, go_backwards):
    common = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards}
    fused = built(fused_class(4, **options, **common))
    loop = layers.RNN(step_cell(4, **options), **common)
    loop.build((None, None, 5))
    loop.set_weights(fused.get_weights())
    x = sequences()
    mask = np.ones((3, 6), dtype=bool)
    mask[0, 4:] = False  # right padding
    mask[1, :2] = False  # left padding
    mask[2, 3] = False  # a hole
    results = []
    for layer in (fused, loop):
        for weight in layer.weights:
            weight.grad = None
        inputs = shinsou.tensor(x, requires_grad=True)
        outs = layer(inputs, mask=mask)
        sum((o * random_array(o.shape, seed=i)).sum() for i, o in enumerate(outs)).backward()
        results.append(([o.numpy() for o in outs], inputs.grad, [w.grad for w in layer.weights]))
    (fused_outs, fused_dx, fused_dw), (loop_outs, loop_dx, loop_dw) = results
    for i, (a, b) in enumerate(zip(fused_outs, loop_outs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"output {i}")
    np.testing.assert_allclose(fused_dx, loop_dx, rtol=1e-4, atol=1e-6)
    for a, b in zip(fused_dw, loop_dw):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_per_step_loop_gradient_matches_finite_differences():
    layer = layers.RNN(_StepGRUCell(3, reset_after=False), return_sequences=True)
    layer.build((None, None, 2))
    mask = np.array([[True, True, False], [False, True, True]])
    check_gradient(lambda x: layer(x, mask=mask), random_array((2, 3, 2), seed=5))


def test_masked_padding_gives_the_unpadded_result_end_to_end():
    ids = np.array([[4, 7, 2, 0, 0], [3, 0, 0, 0, 0], [5, 1, 6, 2, 9]])
    inputs = shinsou.Input((None,), dtype="int64")
    embedded = layers.Embedding(10, 3, mask_zero=True)(inputs)
    sequence = layers.LSTM(4, return_sequences=True)(embedded)
    model = shinsou.Model(inputs, [layers.LSTM(2)(sequence), sequence])
    final, sequence_out = model(ids)
    assert sequence_out._keras_mask.tolist() == (ids != 0).tolist()
    for row, length in enumerate((3, 1, 5)):
        alone, _ = model(ids[row : row + 1, :length])
        np.testing.assert_allclose(
            final.numpy()[row : row + 1], alone.numpy(), rtol=1e-5, atol=1e-6
        )


def test_output_mask_only_with_return_sequences():
    x = sequences()
    mask = np.array([[True] * 6, [True] * 3 + [False] * 3, [True] * 6])
    assert layers.GRU(2, return_sequences=True)(x, mask=mask)._keras_mask.tolist() == mask.tolist()
    assert layers.GRU(2)(x, mask=mask)._keras_mask is None
    out, state = layers.GRU(2, return_sequences=True, return_state=True)(x, mask=mask)
    assert out._keras_mask is not None and state._keras_mask is None


def test_keras_parameter_counts_weight_names_and_forget_bias():
    # A cheap recurrent initializer: counts and names do not depend on it.
    cheap = {"recurrent_initializer": "glorot_uniform"}
    lstm = layers.LSTM(128, name="lstm", **cheap)
    lstm.build((None, 80, 64))
    assert lstm.count_params() == 98816
    assert [w.path for w in lstm.weights] == [
        "lstm/lstm_cell/kernel",
        "lstm/lstm_cell/recurrent_kernel",
        "lstm/lstm_cell/bias",
    ]
    bias = lstm.cell.bias.numpy()
    assert (bias[128:256] == 1).all() and (bias[:128] == 0).all() and (bias[256:] == 0).all()
    gru = layers.GRU(128, **cheap)
    gru.build((None, 80, 64))
    assert gru.count_params() == 74496 and gru.cell.bias.shape == (2, 384)
    old_gru = layers.GRU(128, reset_after=False, **cheap)
    old_gru.build((None, 80, 64))
    assert old_gru.count_params() == 74112 and old_gru.cell.bias.shape == (384,)
    simple = layers.SimpleRNN(32)
    simple.build((None, 10, 8))
    assert simple.count_params() == 1312
    assert [w.name for w in simple.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert layers.LSTM(3, unit_forget_bias=False)(sequences()).shape == (3, 3)


def test_layer_exposes_the_cell_arguments():
    layer = layers.LSTM(7, activation="relu", dropout=0.25, unit_forget_bias=False)
    assert layer.units == 7 and layer.dropout == 0.25 and not layer.unit_forget_bias
    assert layer.activation is shinsou.activations.relu and layer.cell.name == "lstm_cell"
    assert layers.GRU(2).reset_after and not layers.GRU(2, reset_after=False).reset_after


def test_non_fused_activation_takes_the_loop_and_still_trains():
    layer = layers.SimpleRNN(3, activation="softsign")
    x = shinsou.tensor(sequences(), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.shape == (3, 3) and x.grad.shape == x.shape
    reference = np.zeros((3, 3), np.float32)
    kernel, recurrent, bias = (w.numpy() for w in layer.weights)
    for t in range(6):
        pre = x.numpy()[:, t] @ kernel + reference @ recurrent + bias
        reference = pre / (1 + np.abs(pre))
    np.testing.assert_allclose(out.numpy(), reference, rtol=1e-5, atol=1e-6)


def test_dropout_only_in_training_and_the_same_mask_at_every_step():
    x = np.ones((2, 4, 6), dtype="float32")
    layer = layers.SimpleRNN(3, dropout=0.5, seed=1, return_sequences=True)
    inference = layer(x).numpy()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), inference)
    trained = layer(x, training=True).numpy()
    assert not np.allclose(trained, inference)
    # With a zero recurrent kernel each step sees only its (dropped) input: the same mask at
    # every step gives the same output at every step.
    layer.cell.recurrent_kernel.assign(np.zeros((3, 3)))
    trained = layer(x, training=True).numpy()
    np.testing.assert_allclose(trained, np.repeat(trained[:, :1], 4, axis=1), rtol=1e-6)


def test_recurrent_dropout_runs_the_step_path_in_training():
    layer = layers.LSTM(4, recurrent_dropout=0.5, dropout=0.2, seed=3, return_sequences=True)
    x = shinsou.tensor(sequences(), requires_grad=True)
    inference = layer(x).numpy()
    out = layer(x, training=True)
    out.sum().backward()
    assert not np.allclose(out.numpy(), inference) and np.isfinite(x.grad).all()
    assert layer.cell._dropout_mask is None  # masks are per sequence, reset after it


def test_stateful_layer_carries_states_between_batches():
    x = sequences(batch=2, steps=6)
    whole = layers.GRU(3, return_sequences=True)
    outputs = whole(x).numpy()
    stateful = layers.GRU(3, return_sequences=True, stateful=True)
    stateful.build((2, None, 5))
    stateful.set_weights(whole.get_weights())
    first, second = stateful(x[:, :3]).numpy(), stateful(x[:, 3:]).numpy()
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), outputs, rtol=1e-5)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :3]).numpy(), first, rtol=1e-6)
    with pytest.raises(ValueError, match=r"stateful=True needs a fixed batch size"):
        layers.LSTM(2, stateful=True).build((None, 4, 3))


def test_generic_rnn_with_a_custom_cell():
    class MinimalRNNCell(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, self.units), name="recurrent_kernel"
            )

        def call(self, inputs, states):
            output = shinsou.ops.matmul(inputs, self.kernel) + shinsou.ops.matmul(
                states[0], self.recurrent_kernel
            )
            return output, [output]

    layer = layers.RNN(MinimalRNNCell(4), return_state=True)
    output, state = layer(sequences())
    np.testing.assert_array_equal(output.numpy(), state.numpy())
    kernel, recurrent = (w.numpy() for w in layer.weights)
    expected = np.zeros((3, 4), np.float32)
    for t in range(6):
        expected = sequences()[:, t] @ kernel + expected @ recurrent
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_symbolic_shapes_with_an_unknown_time_axis():
    inputs = shinsou.Input((None, 8))
    assert layers.LSTM(4)(inputs).shape == (None, 4)
    outputs, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(inputs)
    assert (outputs.shape, h.shape, c.shape) == ((None, None, 4), (None, 4), (None, 4))
    out, state = layers.GRU(3, return_state=True)(inputs)
    assert (out.shape, state.shape) == ((None, 3), (None, 3))
    model = shinsou.Model(inputs, layers.SimpleRNN(2, return_sequences=True)(inputs))
    assert model(np.zeros((2, 7, 8), "float32")).shape == (2, 7, 2)


def test_initial_state_from_a_functional_encoder():
    encoder_inputs = shinsou.Input((None, 5))
    _, h, c = layers.LSTM(4, return_state=True)(encoder_inputs)
    decoder_inputs = shinsou.Input((None, 3))
    decoded = layers.LSTM(4, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    model = shinsou.Model([encoder_inputs, decoder_inputs], decoded)
    assert model([sequences(), sequences(features=3)]).shape == (3, 6, 4)


KERAS_LSTM_KEYS = {
    "name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards",
    "stateful", "unroll", "zero_output_for_mask", "units", "activation",
    "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
    "bias_regularizer", "activity_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "dropout", "recurrent_dropout", "seed",
}  # fmt: skip


def test_configs_have_keras_keys_and_round_trip():
    lstm = layers.LSTM(5, activation="relu", dropout=0.1, return_sequences=True, seed=2)
    config = lstm.get_config()
    assert set(config) == KERAS_LSTM_KEYS
    clone = layers.LSTM.from_config(config)
    assert clone.get_config() == config
    gru = layers.GRU(3, reset_after=False, go_backwards=True)
    assert set(gru.get_config()) == KERAS_LSTM_KEYS - {"unit_forget_bias"} | {"reset_after"}
    assert layers.GRU.from_config(gru.get_config()).get_config() == gru.get_config()
    simple = layers.SimpleRNN(3, kernel_regularizer="l2")
    assert set(simple.get_config()) == KERAS_LSTM_KEYS - {
        "recurrent_activation", "unit_forget_bias", "seed"
    }  # fmt: skip
    assert layers.SimpleRNN.from_config(simple.get_config()).get_config() == simple.get_config()
    cell = layers.LSTMCell(3, recurrent_dropout=0.2)
    assert layers.LSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    generic = layers.RNN(layers.GRUCell(2), return_state=True)
    config = generic.get_config()
    assert config["cell"]["class_name"] == "GRUCell"
    assert layers.RNN.from_config(config).get_config() == config


def test_weights_file_paths_match_keras(tmp_path):
    model = shinsou.Sequential([shinsou.Input((6, 5)), layers.LSTM(3), layers.Dense(1)])
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    from shinsou.saving.weights_h5 import weight_paths

    assert weight_paths(path) == [
        "layers/dense/vars/0",
        "layers/dense/vars/1",
        "layers/lstm/cell/vars/0",
        "layers/lstm/cell/vars/1",
        "layers/lstm/cell/vars/2",
    ]
    before = model.get_weights()
    model.layers[0].cell.kernel.assign(np.zeros((5, 12)))
    model.load_weights(path)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_bad_input_names_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"LSTM 'lstm_bad' expects inputs of shape.*\(4, 5\)"):
        layers.LSTM(3, name="lstm_bad")(np.ones((4, 5), "float32"))
    with pytest.raises(ValueError, match=r"Layer 'sym' \(GRU\).*\(None, 5\).*rank 3"):
        layers.GRU(3, name="sym")(shinsou.Input((5,)))
    with pytest.raises(ValueError, match=r"units must be a positive integer"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match=r"dropout must be a float in the range \[0, 1\)"):
        layers.GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match=r"recurrent_dropout"):
        layers.SimpleRNNCell(3, recurrent_dropout=-0.1)
    with pytest.raises(ValueError, match=r"initial_state must hold 2 tensor\(s\)"):
        layers.LSTM(3)(sequences(), initial_state=[np.zeros((3, 3), "float32")])
    with pytest.raises(ValueError, match=r"initial state must have shape \(batch, state_size\)"):
        layers.GRU(3)(sequences(), initial_state=[np.zeros((3, 4), "float32")])
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\)"):
        layers.GRU(3)(sequences(), mask=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match=r"cell must have a call"):
        layers.RNN(object())
    with pytest.raises(ValueError, match=r"use_cudnn"):
        layers.LSTM(2, use_cudnn="yes")
    with pytest.raises(ValueError, match=r"unknown activation"):
        layers.GRU(2, recurrent_activation="nope")


def test_lstm_classifier_trains():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(64, 12))
    labels = (ids[:, :6].sum(axis=1) > ids[:, 6:].sum(axis=1)).astype("int64")
    ids[::3, 8:] = 0  # some padding
    model = shinsou.Sequential(
        [
            shinsou.Input((12,), dtype="int64"),
            layers.Embedding(20, 8, mask_zero=True),
            layers.LSTM(16),
            layers.Dense(2),
        ]
    )
    model.compile(
        optimizer=optimizers.Adam(0.01),
        loss=shinsou.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(ids, labels, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0] * 0.9

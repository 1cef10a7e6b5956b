"""Fused recurrences (lstm, gru, simple_rnn): PyTorch parity, gradient checks, Keras semantics.

PyTorch's modules get the Keras weights through differentiable re-layouts, so the parity
tests also check the gradients in Keras's layout. What PyTorch has no module for
(``reset_after=False``, masks, ``go_backwards``, other activations) is checked against
``reference``, a plain step-by-step NumPy loop written from Keras's cell equations.
"""

from collections import namedtuple

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

# -- a plain reference: Keras's cells, stepped one at a time in float64 --------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


REFERENCE_ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "linear": lambda x: x,
}


def lstm_cell(x, states, kernel, recurrent, bias, act="tanh", rec_act="sigmoid"):
    act, rec_act = REFERENCE_ACTIVATIONS[act], REFERENCE_ACTIVATIONS[rec_act]
    h, c = states
    z = x @ kernel + h @ recurrent + (0 if bias is None else bias)
    i, f, g, o = np.split(z, 4, axis=-1)
    c = rec_act(f) * c + rec_act(i) * act(g)
    h = rec_act(o) * act(c)
    return h, [h, c]


def gru_cell(x, states, kernel, recurrent, bias, reset_after=True, act="tanh", rec_act="sigmoid"):
    act, rec_act = REFERENCE_ACTIVATIONS[act], REFERENCE_ACTIVATIONS[rec_act]
    (h,) = states
    u = h.shape[-1]
    if bias is None:
        bias = np.zeros((2, 3 * u) if reset_after else 3 * u)
    if reset_after:
        xz, hz = x @ kernel + bias[0], h @ recurrent + bias[1]
        z = rec_act(xz[:, :u] + hz[:, :u])
        r = rec_act(xz[:, u : 2 * u] + hz[:, u : 2 * u])
        hh = act(xz[:, 2 * u :] + r * hz[:, 2 * u :])
    else:
        xz = x @ kernel + bias
        z = rec_act(xz[:, :u] + h @ recurrent[:, :u])
        r = rec_act(xz[:, u : 2 * u] + h @ recurrent[:, u : 2 * u])
        hh = act(xz[:, 2 * u :] + (r * h) @ recurrent[:, 2 * u :])
    h = z * h + (1 - z) * hh
    return h, [h]


def simple_cell(x, states, kernel, recurrent, bias, act="tanh"):
    h = REFERENCE_ACTIVATIONS[act](
        x @ kernel + states[0] @ recurrent + (0 if bias is None else bias)
    )
    return h, [h]


def reference(cell, x, states, mask=None, go_backwards=False, zero_output_for_mask=False):
    """Keras's TensorFlow-backend loop: masked steps keep the states and repeat the output."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs, previous = [], np.zeros_like(states[0])
    for t in steps:
        output, new_states = cell(x[:, t], states)
        if mask is not None:
            keep = mask[:, t, None]
            output = np.where(keep, output, 0 if zero_output_for_mask else previous)
            new_states = [np.where(keep, new, old) for new, old in zip(new_states, states)]
        outputs.append(output)
        previous, states = output, new_states
    return np.stack(outputs, axis=1), states


def f64(*arrays):
    return [None if a is None else np.asarray(a, dtype=np.float64) for a in arrays]


# -- PyTorch modules fed with Keras weights ------------------------------------------------


def torch_lstm(x, kernel, recurrent, bias=None, h0=None, c0=None):
    u = recurrent.shape[0]
    module = torch.nn.LSTM(kernel.shape[0], u, batch_first=True)
    params = {
        "weight_ih_l0": kernel.T,  # same gate order i, f, g, o
        "weight_hh_l0": recurrent.T,
        "bias_ih_l0": bias if bias is not None else torch.zeros(4 * u),
        "bias_hh_l0": torch.zeros(4 * u),
    }
    zeros = torch.zeros(1, x.shape[0], u)
    state = (zeros if h0 is None else h0[None], zeros if c0 is None else c0[None])
    outputs, (h, c) = torch.func.functional_call(module, params, (x, state))
    return outputs, h[0], c[0]


def _gru_to_torch(w, u):
    """Keras columns z, r, h to PyTorch rows r, z, n."""
    return torch.cat([w[..., u : 2 * u], w[..., :u], w[..., 2 * u :]], dim=-1)


def torch_gru(x, kernel, recurrent, bias=None, h0=None):
    u = recurrent.shape[0]
    module = torch.nn.GRU(kernel.shape[0], u, batch_first=True)
    bias = torch.zeros(2, 3 * u) if bias is None else bias
    params = {
        "weight_ih_l0": _gru_to_torch(kernel, u).T,
        "weight_hh_l0": _gru_to_torch(recurrent, u).T,
        "bias_ih_l0": _gru_to_torch(bias[0], u),
        "bias_hh_l0": _gru_to_torch(bias[1], u),
    }
    h0 = torch.zeros(1, x.shape[0], u) if h0 is None else h0[None]
    outputs, h = torch.func.functional_call(module, params, (x, h0))
    return outputs, h[0]


def torch_simple_rnn(x, kernel, recurrent, bias=None, h0=None, activation="tanh"):
    u = recurrent.shape[0]
    module = torch.nn.RNN(kernel.shape[0], u, batch_first=True, nonlinearity=activation)
    params = {
        "weight_ih_l0": kernel.T,
        "weight_hh_l0": recurrent.T,
        "bias_ih_l0": bias if bias is not None else torch.zeros(u),
        "bias_hh_l0": torch.zeros(u),
    }
    h0 = torch.zeros(1, x.shape[0], u) if h0 is None else h0[None]
    outputs, h = torch.func.functional_call(module, params, (x, h0))
    return outputs, h[0]


def operands(batch, steps, features, units, gates, bias_shape=None, states=0, seed=0):
    """Inputs, kernel, recurrent kernel, bias and initial states as float32 arrays."""
    arrays = [
        random_array((batch, steps, features), seed=seed),
        random_array((features, gates * units), seed=seed + 1),
        random_array((units, gates * units), seed=seed + 2),
        random_array(bias_shape or (gates * units,), seed=seed + 3),
    ]
    return arrays + [random_array((batch, units), seed=seed + 4 + k) for k in range(states)]


# -- LSTM -------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_lstm_parity(with_bias, with_state):
    x, kernel, recurrent, bias, h0, c0 = operands(4, 6, 5, 3, 4, states=2)
    arrays = (
        [x, kernel, recurrent] + ([bias] if with_bias else []) + ([h0, c0] if with_state else [])
    )

    def ours(x, kernel, recurrent, *rest):
        bias = rest[0] if with_bias else None
        state = tuple(rest[-2:]) if with_state else None
        return ops.lstm(x, kernel, recurrent, bias, initial_state=state)

    def theirs(x, kernel, recurrent, *rest):
        bias = rest[0] if with_bias else None
        state = rest[-2:] if with_state else (None, None)
        return torch_lstm(x, kernel, recurrent, bias, *state)

    check_parity(ours, theirs, *arrays)


def test_lstm_gradient_check():
    arrays = operands(2, 3, 3, 2, 4, states=2)
    check_gradient(lambda x, k, r, b, h, c: ops.lstm(x, k, r, b, initial_state=(h, c)), *arrays)


def test_lstm_long_sequence_matches_torch():
    # 1000 steps, one node: no recursion in forward or backward.
    check_parity(lambda *a: ops.lstm(*a), torch_lstm, *operands(2, 1000, 3, 4, 4)[:4])


def test_lstm_single_step():
    check_parity(lambda *a: ops.lstm(*a), torch_lstm, *operands(3, 1, 2, 5, 4)[:4])


def test_lstm_gradient_from_one_output_only():
    # The backward receives None for the outputs that took no part in the loss.
    arrays = operands(3, 4, 2, 3, 4)[:4]
    check_parity(lambda *a: ops.lstm(*a)[2], lambda *a: torch_lstm(*a)[2], *arrays)
    check_parity(lambda *a: ops.lstm(*a)[0], lambda *a: torch_lstm(*a)[0], *arrays)


# -- GRU --------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_gru_parity(with_bias, with_state):
    x, kernel, recurrent, bias, h0 = operands(4, 6, 5, 3, 3, bias_shape=(2, 9), states=1)
    arrays = [x, kernel, recurrent] + ([bias] if with_bias else []) + ([h0] if with_state else [])

    def ours(x, kernel, recurrent, *rest):
        bias = rest[0] if with_bias else None
        return ops.gru(x, kernel, recurrent, bias, initial_state=rest[-1] if with_state else None)

    def theirs(x, kernel, recurrent, *rest):
        bias = rest[0] if with_bias else None
        return torch_gru(x, kernel, recurrent, bias, rest[-1] if with_state else None)

    check_parity(ours, theirs, *arrays)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gradient_check(reset_after):
    bias_shape = (2, 6) if reset_after else (6,)
    arrays = operands(2, 3, 3, 2, 3, bias_shape=bias_shape, states=1)
    check_gradient(
        lambda x, k, r, b, h: ops.gru(x, k, r, b, initial_state=h, reset_after=reset_after),
        *arrays,
    )


@pytest.mark.parametrize("with_bias", [True, False])
def test_gru_reset_before_matches_reference(with_bias):
    x, kernel, recurrent, bias, h0 = operands(3, 5, 4, 3, 3, bias_shape=(9,), states=1)
    bias = bias if with_bias else None
    outputs, h = ops.gru(x, kernel, recurrent, bias, initial_state=h0, reset_after=False)
    k, r, b = f64(kernel, recurrent, bias)
    expected, (expected_h,) = reference(
        lambda xt, s: gru_cell(xt, s, k, r, b, reset_after=False), *f64(x), f64(h0)
    )
    assert outputs.dtype == np.float32 and h.dtype == np.float32
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), expected_h, rtol=1e-5, atol=1e-6)


def test_gru_long_sequence_and_single_step_match_torch():
    check_parity(lambda *a: ops.gru(*a), torch_gru, *operands(2, 1000, 3, 4, 3, (2, 12))[:4])
    check_parity(lambda *a: ops.gru(*a), torch_gru, *operands(3, 1, 2, 5, 3, (2, 15))[:4])


# -- SimpleRNN --------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("with_state", [True, False])
def test_simple_rnn_parity(activation, with_state):
    x, kernel, recurrent, bias, h0 = operands(4, 6, 5, 3, 1, states=1)
    arrays = [x, kernel, recurrent, bias] + ([h0] if with_state else [])
    check_parity(
        lambda x, k, r, b, *h: ops.simple_rnn(
            x, k, r, b, initial_state=h[0] if h else None, activation=activation
        ),
        lambda x, k, r, b, *h: torch_simple_rnn(
            x, k, r, b, h[0] if h else None, activation=activation
        ),
        *arrays,
    )


def test_simple_rnn_gradient_check_long_and_short():
    arrays = operands(2, 3, 3, 2, 1, states=1)
    check_gradient(lambda x, k, r, b, h: ops.simple_rnn(x, k, r, b, initial_state=h), *arrays)
    check_parity(lambda *a: ops.simple_rnn(*a), torch_simple_rnn, *operands(2, 1000, 3, 4, 1)[:4])
    check_parity(lambda *a: ops.simple_rnn(*a), torch_simple_rnn, *operands(3, 1, 2, 5, 1)[:4])


# -- masks, go_backwards, activations: against the reference ---------------------------------

MASK = np.array(
    [
        [True, True, False, True, False],  # holes in the middle and at the end
        [False, False, True, True, True],  # leading masked steps
        [False, False, False, False, False],  # nothing to read
    ]
)

Case = namedtuple("Case", "gates bias_shape num_states cell op")
CASES = {
    "lstm": Case(4, None, 2, lstm_cell, ops.lstm),
    "gru": Case(3, (2, 9), 1, gru_cell, ops.gru),
    "gru_reset_before": Case(3, (9,), 1, gru_cell, ops.gru),
    "simple_rnn": Case(1, None, 1, simple_cell, ops.simple_rnn),
}


def _run_case(name, arrays, **options):
    x, kernel, recurrent, bias, *states = arrays
    extra = {"reset_after": False} if name == "gru_reset_before" else {}
    state = tuple(states) if CASES[name].num_states == 2 else states[0]
    return CASES[name].op(x, kernel, recurrent, bias, initial_state=state, **extra, **options)


def _reference_case(name, arrays, mask=None, activations=None, **options):
    x, kernel, recurrent, bias, *states = f64(*arrays)
    extra = {"reset_after": False} if name == "gru_reset_before" else {}
    extra.update(activations or {})
    cell = CASES[name].cell
    step = lambda xt, s: cell(xt, s, kernel, recurrent, bias, **extra)  # noqa: E731
    return reference(step, x, states, mask, **options)


def _case_arrays(name, seed=0, batch=3, steps=5):
    case = CASES[name]
    return operands(batch, steps, 4, 3, case.gates, case.bias_shape, case.num_states, seed)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "options",
    [
        {"mask": MASK},
        {"mask": MASK, "go_backwards": True},
        {"mask": MASK, "zero_output_for_mask": True},
        {"go_backwards": True},
    ],
    ids=["mask", "mask_backwards", "zero_output", "backwards"],
)
def test_masks_and_go_backwards_match_reference(name, options):
    arrays = _case_arrays(name)
    outputs, *states = _run_case(name, arrays, **options)
    expected, expected_states = _reference_case(name, arrays, **options)
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(states, expected_states):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)
    assert outputs.dtype == np.float32


def test_mask_semantics_spelled_out():
    # Row 1 starts masked: zeros (not the initial state) until its first real step; row 2
    # is all masked: zero outputs and the initial states come back untouched.
    arrays = _case_arrays("lstm")
    outputs, h, c = _run_case("lstm", arrays, mask=shinsou.tensor(MASK))  # a tensor mask works too
    outputs = outputs.numpy()
    assert not outputs[1, :2].any() and outputs[1, 2].any()
    assert not outputs[2].any()
    np.testing.assert_array_equal(h.numpy()[2], arrays[4][2])
    np.testing.assert_array_equal(c.numpy()[2], arrays[5][2])
    np.testing.assert_array_equal(outputs[0, 2], outputs[0, 1])  # repeats the last output
    np.testing.assert_array_equal(h.numpy()[0], outputs[0, 3])


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "options",
    [{"mask": MASK[:2]}, {"mask": MASK[:2], "go_backwards": True, "zero_output_for_mask": True}],
    ids=["mask", "mask_backwards_zero_output"],
)
def test_masked_gradient_check(name, options):
    arrays = _case_arrays(name, batch=2)
    check_gradient(lambda *a: _run_case(name, a, **options), *arrays)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
@pytest.mark.parametrize(
    ("activation", "recurrent_activation"),
    [("relu", "hard_sigmoid"), ("linear", "tanh"), ("sigmoid", "linear")],
)
def test_other_activations_match_reference_and_gradient(name, activation, recurrent_activation):
    arrays = _case_arrays(name, batch=2, steps=3)
    options = {"activation": activation, "recurrent_activation": recurrent_activation}
    outputs, *_ = _run_case(name, arrays, **options)
    expected, _ = _reference_case(
        name, arrays, activations={"act": activation, "rec_act": recurrent_activation}
    )
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-5, atol=1e-6)
    check_gradient(lambda *a: _run_case(name, a, **options), *arrays)


@pytest.mark.parametrize("activation", ["hard_sigmoid", "linear", "sigmoid"])
def test_simple_rnn_other_activations(activation):
    arrays = _case_arrays("simple_rnn", batch=2, steps=3)
    outputs, _ = _run_case("simple_rnn", arrays, activation=activation)
    expected, _ = _reference_case("simple_rnn", arrays, activations={"act": activation})
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-5, atol=1e-6)
    check_gradient(lambda *a: _run_case("simple_rnn", a, activation=activation), *arrays)


def test_hard_sigmoid_is_keras3_relu6():
    x = np.array([[[-4.0], [-3.0], [0.0], [1.5], [3.0], [4.0]]], dtype="float32")
    outputs, _ = ops.simple_rnn(x, np.ones((1, 1)), np.zeros((1, 1)), activation="hard_sigmoid")
    np.testing.assert_allclose(outputs.numpy().ravel(), [0, 0, 0.5, 0.75, 1, 1], atol=1e-7)


# -- dtypes, graph behaviour, edge cases ------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_float64_stays_float64_and_float32_stays_float32(name):
    arrays = _case_arrays(name)
    for dtype in ("float32", "float64"):
        tensors = [shinsou.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
        results = _run_case(name, tensors, mask=MASK)
        sum(r.sum() for r in results).backward()
        assert all(r.dtype == dtype for r in results)
        assert all(t.grad.dtype == dtype for t in tensors)


def test_only_weights_require_grad_and_no_grad_records_nothing():
    x, kernel, recurrent, bias = operands(2, 3, 4, 3, 4)[:4]
    kernel_t = shinsou.tensor(kernel, requires_grad=True)
    _, h, _ = ops.lstm(x, kernel_t, recurrent, bias)
    h.sum().backward()
    assert kernel_t.grad is not None and kernel_t.grad.shape == kernel.shape
    with shinsou.no_grad():
        outputs, h, _ = ops.lstm(x, kernel_t, recurrent, bias)
    assert not outputs.requires_grad and not h.requires_grad


@pytest.mark.parametrize("name", CASES)
def test_backward_twice_and_leaves_seed_gradient_alone(name):
    tensors = [shinsou.tensor(a, requires_grad=True) for a in _case_arrays(name)]
    outputs = _run_case(name, tensors, mask=MASK)[0]
    seed = random_array(outputs.shape, seed=9)
    seed_copy = seed.copy()
    outputs.backward(seed, retain_graph=True)
    first = [t.grad.copy() for t in tensors]
    outputs.backward(seed)
    np.testing.assert_array_equal(seed, seed_copy)
    for t, g in zip(tensors, first):
        np.testing.assert_allclose(t.grad, 2 * g, rtol=1e-6)


def test_inputs_are_not_modified():
    arrays = _case_arrays("lstm")
    copies = [a.copy() for a in arrays]
    _run_case("lstm", arrays, mask=MASK, go_backwards=True)
    for a, b in zip(arrays, copies):
        np.testing.assert_array_equal(a, b)


def test_recycled_buffers_do_not_leak_between_calls():
    # Work buffers return to a pool after backward (or at once without a graph): results must
    # not depend on what ran before, even with two graphs alive at the same time.
    first, second = _case_arrays("lstm", seed=1), _case_arrays("lstm", seed=2)

    def gradients(arrays):
        tensors = [shinsou.tensor(a, requires_grad=True) for a in arrays]
        outputs, h, c = _run_case("lstm", tensors, mask=MASK)
        (outputs.sum() + (h * c).sum()).backward()
        return [outputs.numpy()] + [t.grad for t in tensors]

    expected_first, expected_second = gradients(first), gradients(second)
    with shinsou.no_grad():
        _run_case("lstm", second)
    tensors = [
        [shinsou.tensor(a, requires_grad=True) for a in arrays] for arrays in (first, second)
    ]
    alive = [_run_case("lstm", ts, mask=MASK) for ts in tensors]  # both graphs exist at once
    for (outputs, h, c), ts, expected in zip(
        alive[::-1], tensors[::-1], [expected_second, expected_first]
    ):
        (outputs.sum() + (h * c).sum()).backward()
        for got, want in zip([outputs.numpy()] + [t.grad for t in ts], expected):
            np.testing.assert_array_equal(got, want)


def test_buffer_pool_reuses_by_shape_and_stays_bounded():
    from shinsou.ops._recurrence import _BufferPool

    pool = _BufferPool(max_bytes=1000)
    first = np.empty((100,), np.float32)
    pool.give_back(first)
    assert pool.empty((100,), np.dtype("float32")) is first
    assert pool.empty((100,), np.dtype("float32")) is not first  # handed out only once
    pool.give_back(np.empty((200,), np.float32), np.empty((200,), np.float32))
    assert pool._bytes <= 1000
    pool.give_back(np.empty((1000,), np.float32))  # larger than the pool: not kept
    assert pool._bytes <= 1000


# -- bad input --------------------------------------------------------------------------------


def test_wrong_kernel_shapes():
    x = np.zeros((2, 3, 64), dtype="float32")
    recurrent = np.zeros((128, 512), dtype="float32")
    message = r"lstm: kernel must have shape \(F, 4\*U\) = \(64, 512\); got \(64, 500\)"
    with pytest.raises(ValueError, match=message):
        ops.lstm(x, np.zeros((64, 500)), recurrent)
    message = r"gru: recurrent_kernel must have shape \(U, 3\*U\) = \(128, 384\); got \(128, 512\)"
    with pytest.raises(ValueError, match=message):
        ops.gru(x, np.zeros((64, 384)), recurrent)
    with pytest.raises(ValueError, match=r"simple_rnn: recurrent_kernel must have shape"):
        ops.simple_rnn(x, np.zeros((64, 4)), np.zeros(4))


def test_wrong_bias_shapes():
    x, kernel, recurrent = np.zeros((2, 3, 4)), np.zeros((4, 6)), np.zeros((2, 6))
    message = r"gru: bias must have shape \(2, 3\*U\) = \(2, 6\); got \(6,\)"
    with pytest.raises(ValueError, match=message):
        ops.gru(x, kernel, recurrent, np.zeros(6))
    with pytest.raises(ValueError, match=r"gru: bias must have shape \(3\*U,\) = \(6,\)"):
        ops.gru(x, kernel, recurrent, np.zeros((2, 6)), reset_after=False)
    with pytest.raises(ValueError, match=r"lstm: bias must have shape \(4\*U,\) = \(8,\)"):
        ops.lstm(x, np.zeros((4, 8)), np.zeros((2, 8)), np.zeros(6))


def test_wrong_input_rank_and_empty_sequence():
    with pytest.raises(ValueError, match=r"lstm: inputs must have rank 3 .* got shape \(3, 4\)"):
        ops.lstm(np.zeros((3, 4)), np.zeros((4, 8)), np.zeros((2, 8)))
    with pytest.raises(ValueError, match="gru: inputs must have at least one timestep"):
        ops.gru(np.zeros((3, 0, 4)), np.zeros((4, 6)), np.zeros((2, 6)))
    with pytest.raises(TypeError, match="simple_rnn .*floating-point"):
        ops.simple_rnn(np.zeros((1, 2, 3), dtype=int), np.zeros((3, 2)), np.zeros((2, 2)))


def test_mismatched_initial_states_and_mask():
    x, kernel, recurrent = np.zeros((2, 3, 4)), np.zeros((4, 8)), np.zeros((2, 8))
    message = r"lstm: initial state c0 must have shape \(B, U\) = \(2, 2\); got \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        ops.lstm(x, kernel, recurrent, initial_state=(np.zeros((2, 2)), np.zeros((2, 3))))
    message = r"lstm: initial_state must hold 2 tensor\(s\) \(h0, c0\); got 1"
    with pytest.raises(ValueError, match=message):
        ops.lstm(x, kernel, recurrent, initial_state=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"simple_rnn: initial state h0 must have shape \(B, U\)"):
        ops.simple_rnn(x, np.zeros((4, 2)), np.zeros((2, 2)), initial_state=np.zeros((3, 2)))
    message = r"gru: mask must have shape \(B, T\) = \(2, 3\); got \(3, 2\)"
    with pytest.raises(ValueError, match=message):
        ops.gru(x, np.zeros((4, 6)), np.zeros((2, 6)), mask=np.ones((3, 2), bool))


def test_unknown_activation_lists_valid_names():
    x, kernel, recurrent = np.zeros((2, 3, 4)), np.zeros((4, 8)), np.zeros((2, 8))
    valid = "'hard_sigmoid', 'linear', 'relu', 'sigmoid', 'tanh'"
    message = f"lstm: unknown activation 'swish'; valid names are {valid}"
    with pytest.raises(ValueError, match=message):
        ops.lstm(x, kernel, recurrent, activation="swish")
    with pytest.raises(ValueError, match="gru: unknown recurrent_activation 'softmax'"):
        ops.gru(x, np.zeros((4, 6)), np.zeros((2, 6)), recurrent_activation="softmax")
    outputs, _ = ops.simple_rnn(x, np.zeros((4, 2)), np.zeros((2, 2)), activation=None)
    assert outputs.shape == (2, 3, 2)  # None means linear, as in Keras


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_torch_reference_itself_agrees_with_reference():
    # Guards the test helpers: the NumPy reference and the re-laid-out torch modules agree.
    arrays = _case_arrays("gru")
    expected, _ = _reference_case("gru", arrays)
    theirs, _ = torch_gru(*[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(theirs.detach().numpy(), expected, rtol=1e-5, atol=1e-6)

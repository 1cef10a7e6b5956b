"""The Optimizer base: the flat layout, apply's contract, clipping, weight decay, learning-rate
handling, EMA, accumulation, custom update rules, state and config."""

import warnings

import numpy as np
import pytest

import shinsou
from shinsou import Variable, layers, optimizers
from support import torch


def make_variables(*shapes, dtype="float32"):
    rng = np.random.default_rng(3)
    return [
        Variable(rng.uniform(-1, 1, shape).astype(dtype), name=f"v{i}")
        for i, shape in enumerate(shapes)
    ]


def ones_like(variables, scale=1.0):
    return [np.full(v.shape, scale, dtype=v.dtype) for v in variables]


# -- the flat layout ---------------------------------------------------------------------------
def test_variables_become_views_of_one_flat_buffer():
    variables = make_variables((4, 3), (3,), ())
    optimizer = optimizers.Adam()
    optimizer.apply(ones_like(variables), variables)
    buffer = optimizer._layout.groups[0].params
    assert buffer.shape == (16,) and buffer.dtype == np.float32
    assert all(np.shares_memory(v.data, buffer) for v in variables)
    for slot in optimizer.variables[2:]:
        assert slot.dtype == np.float32


def test_assign_and_set_weights_write_through_to_the_optimizer():
    model = shinsou.Sequential([shinsou.Input((3,)), layers.Dense(2)])
    optimizer = optimizers.SGD(learning_rate=1.0)
    kernel, bias = model.trainable_weights
    optimizer.apply(ones_like([kernel, bias]), [kernel, bias])
    model.set_weights([np.zeros((3, 2), "float32"), np.zeros(2, "float32")])
    optimizer.apply(ones_like([kernel, bias]), [kernel, bias])
    np.testing.assert_array_equal(kernel.numpy(), -1.0)
    bias.assign(np.full(2, 5.0, "float32"))
    optimizer.apply(ones_like([kernel, bias]), [kernel, bias])
    np.testing.assert_array_equal(bias.numpy(), 4.0)


def test_rebound_data_is_taken_back_into_the_flat_buffer():
    (w,) = make_variables((2,))
    optimizer = optimizers.SGD(learning_rate=1.0)
    optimizer.apply(ones_like([w]), [w])
    w.data = np.array([10.0, 20.0], dtype="float32")  # someone replaced the array
    optimizer.apply(ones_like([w]), [w])
    np.testing.assert_array_equal(w.numpy(), [9.0, 19.0])
    assert np.shares_memory(w.data, optimizer._layout.groups[0].params)


def test_variables_of_another_dtype_get_their_own_buffer():
    single = make_variables((3,))[0]
    double = Variable(np.ones(2, dtype="float64"), dtype="float64", name="double")
    optimizer = optimizers.Adam(learning_rate=0.1)
    optimizer.apply([np.ones(3, "float32"), np.ones(2, "float64")], [single, double])
    assert double.dtype == np.float64 and len(optimizer._layout.groups) == 2
    assert [v.dtype for v in optimizer.variables[2::2]] == [np.float32, np.float64]
    np.testing.assert_allclose(double.numpy(), 0.9, rtol=1e-5)  # Adam's first step: ~lr


# -- apply's contract --------------------------------------------------------------------------
def test_apply_counts_iterations_and_clears_gradients():
    variables = make_variables((2, 2), (2,))
    for v in variables:
        v.grad = np.ones(v.shape, "float32")
    optimizer = optimizers.SGD()
    optimizer.apply([v.grad for v in variables], variables)
    assert all(v.grad is None for v in variables)
    assert int(optimizer.iterations) == 1
    result = optimizer.apply_gradients(zip(ones_like(variables), variables))
    assert result is optimizer.iterations and int(result) == 2


def test_custom_training_loop_with_backward():
    w = Variable(np.array([3.0], dtype="float32"), name="w")
    optimizer = optimizers.SGD(learning_rate=0.25)
    for _ in range(2):
        loss = (w * w).sum()
        loss.backward()
        optimizer.apply([w.grad], [w])  # w -= 0.25 * 2w: halves w each step
    np.testing.assert_allclose(w.numpy(), [0.75])
    optimizer.apply([shinsou.tensor([1.0])], [w])  # tensors are gradients too
    np.testing.assert_allclose(w.numpy(), [0.5])


def test_none_gradient_leaves_variable_and_its_state_untouched():
    a, b, c = make_variables((2,), (3,), (2,))
    before = b.numpy()
    optimizer = optimizers.Adam(learning_rate=0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['v1'\]"):
        optimizer.apply([np.ones(2, "float32"), None, np.ones(2, "float32")], [a, b, c])
    np.testing.assert_array_equal(b.numpy(), before)
    np.testing.assert_array_equal(optimizer._layout.groups[0].slots["momentum"][2:5], 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizer.apply([np.ones(3, "float32")], [b])  # a subset of the built variables
    assert not np.array_equal(b.numpy(), before)


def test_apply_rejects_bad_input():
    a, b = make_variables((2,), (3,))
    optimizer = optimizers.SGD()
    with pytest.raises(ValueError, match="SGD.apply: pass trainable_variables on the first call"):
        optimizer.apply([np.ones(2, "float32")])
    with pytest.raises(ValueError, match="received 1 gradients for 2 variables"):
        optimizer.apply([np.ones(2, "float32")], [a, b])
    with pytest.raises(ValueError, match=r"gradient for 'v1' has shape \(2,\); the variable has"):
        optimizer.apply([np.ones(2, "float32"), np.ones(2, "float32")], [a, b])
    with pytest.raises(ValueError, match="no gradients provided for any variable"):
        optimizer.apply([None, None], [a, b])
    (stranger,) = make_variables((2,))
    with pytest.raises(ValueError, match="unknown variable 'v0'.*Create a new optimizer"):
        optimizer.apply([np.ones(2, "float32")], [stranger])
    with pytest.raises(TypeError, match="only floating-point variables can be optimized"):
        optimizers.SGD().build([Variable(np.zeros(2, dtype="int64"), name="count")])
    with pytest.raises(ValueError, match="is listed twice"):
        optimizers.SGD().build([a, a])


def test_constraint_runs_after_the_update():
    (w,) = make_variables((3,))
    w.constraint = lambda value: shinsou.ops.clip(value, -0.1, 0.1)
    optimizers.SGD(learning_rate=1.0).apply([np.full(3, -5.0, "float32")], [w])
    np.testing.assert_allclose(w.numpy(), 0.1)


def test_model_fit_drives_the_optimizer():
    model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(8), layers.Dense(1)])
    optimizer = optimizers.Adam(learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).random((32, 4)).astype("float32")
    history = model.fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=3, verbose=0)
    assert int(optimizer.iterations) == 12
    assert history.history["loss"][-1] < history.history["loss"][0]


# -- gradient clipping -------------------------------------------------------------------------
def test_clipnorm_clips_each_gradient_by_its_own_norm():
    a, b = make_variables((4,), (4,))
    start = [a.numpy(), b.numpy()]
    grads = [np.full(4, 3.0, "float32"), np.full(4, 0.1, "float32")]  # norms 6 and 0.2
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply(grads, [a, b])
    np.testing.assert_allclose(start[0] - a.numpy(), 0.5, rtol=1e-6)  # scaled to norm 1
    np.testing.assert_allclose(start[1] - b.numpy(), 0.1, rtol=1e-6)  # left alone


def test_global_clipnorm_matches_torch():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    a, b = make_variables((5,), (2, 3))
    grads = [np.linspace(-2, 2, 5, dtype="float32"), np.full((2, 3), 1.5, "float32")]
    start = [a.numpy(), b.numpy()]
    optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0).apply(grads, [a, b])
    theirs = [torch.tensor(g) for g in grads]
    torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.zeros(1))], 1.0)  # API warm-up
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in theirs]
    for p, g in zip(params, theirs):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    for s, v, p in zip(start, (a, b), params):
        np.testing.assert_allclose(s - v.numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clipvalue_clips_elements():
    (w,) = make_variables((3,))
    start = w.numpy()
    grad = np.array([-3.0, 0.2, 7.0], "float32")
    optimizers.SGD(learning_rate=1.0, clipvalue=0.5).apply([grad], [w])
    np.testing.assert_allclose(start - w.numpy(), [-0.5, 0.2, 0.5], rtol=1e-6)


def test_gradients_of_the_caller_are_not_modified():
    (w,) = make_variables((3,))
    grad = np.full(3, 10.0, "float32")
    optimizers.Adam(clipvalue=1.0, loss_scale_factor=2.0).apply([grad], [w])
    np.testing.assert_array_equal(grad, 10.0)


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="at most one of clipnorm, clipvalue and global_clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="clipnorm must be >= 0.0; received clipnorm=-1"):
        optimizers.Adam(clipnorm=-1)


# -- weight decay ------------------------------------------------------------------------------
def test_weight_decay_is_decoupled_and_respects_exclusions():
    kernel = Variable(np.full(3, 2.0, "float32"), name="kernel")
    bias = Variable(np.full(2, 2.0, "float32"), name="bias")
    optimizer = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply([np.ones(3, "float32"), np.ones(2, "float32")], [kernel, bias])
    np.testing.assert_allclose(kernel.numpy(), 2.0 * (1 - 0.1 * 0.5) - 0.1)
    np.testing.assert_allclose(bias.numpy(), 2.0 - 0.1)


def test_exclusions_by_variable_with_a_custom_update_step():
    a, b = make_variables((2,), (2,))
    start = [a.numpy(), b.numpy()]
    optimizer = PlainDescent(learning_rate=0.1, weight_decay=1.0)
    optimizer.exclude_from_weight_decay(var_list=[b])
    optimizer.apply(ones_like([a, b], 0.0), [a, b])
    np.testing.assert_allclose(a.numpy(), start[0] * 0.9, rtol=1e-6)
    np.testing.assert_array_equal(b.numpy(), start[1])


# -- learning rate -----------------------------------------------------------------------------
def test_learning_rate_is_readable_and_assignable():
    (w,) = make_variables((2,))
    optimizer = optimizers.SGD(learning_rate=0.1)
    assert isinstance(optimizer.learning_rate, Variable)
    optimizer.learning_rate = 0.5
    assert float(optimizer.learning_rate) == 0.5
    start = w.numpy()
    optimizer.apply(ones_like([w]), [w])
    np.testing.assert_allclose(start - w.numpy(), 0.5, rtol=1e-6)
    optimizer.learning_rate.assign(0.25)
    assert optimizer.get_config()["learning_rate"] == 0.25
    with pytest.raises(ValueError, match="learning_rate must be >= 0.0"):
        optimizer.learning_rate = -1.0


def test_schedule_is_evaluated_at_the_iteration_count():
    (w,) = make_variables((1,))
    schedule = optimizers.schedules.PiecewiseConstantDecay([1], [1.0, 0.1])
    optimizer = optimizers.SGD(learning_rate=schedule)
    steps = []
    for _ in range(3):
        start = w.numpy()
        optimizer.apply(ones_like([w]), [w])
        steps.append(float((start - w.numpy())[0]))
    np.testing.assert_allclose(steps, [1.0, 1.0, 0.1], rtol=1e-6)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert [v.name for v in optimizer.variables] == ["iteration"]
    with pytest.raises(TypeError, match="cannot be set to a number"):
        optimizer.learning_rate = 0.5


def test_callable_learning_rate_and_switching_to_a_schedule():
    (w,) = make_variables((1,))
    optimizer = optimizers.SGD(learning_rate=lambda: 0.5)
    start = w.numpy()
    optimizer.apply(ones_like([w]), [w])
    np.testing.assert_allclose(start - w.numpy(), 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="plain callable learning_rate cannot be serialized"):
        optimizer.get_config()
    other = optimizers.Adam(learning_rate=0.1)
    other.learning_rate = optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert [v.name for v in other.variables] == ["iteration"]


# -- loss scaling, accumulation, EMA -----------------------------------------------------------
def test_loss_scale_factor_divides_gradients():
    (w,) = make_variables((2,))
    optimizer = optimizers.SGD(learning_rate=1.0, loss_scale_factor=4.0)
    assert float(optimizer.scale_loss(shinsou.tensor(2.0))) == 8.0
    start = w.numpy()
    optimizer.apply(ones_like([w], 4.0), [w])
    np.testing.assert_allclose(start - w.numpy(), 1.0)


def test_gradient_accumulation_updates_every_n_calls_with_the_mean():
    (w,) = make_variables((2,))
    optimizer = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    start = w.numpy()
    optimizer.apply(ones_like([w], 1.0), [w])
    np.testing.assert_array_equal(w.numpy(), start)
    assert int(optimizer.iterations) == 0
    optimizer.apply(ones_like([w], 3.0), [w])
    np.testing.assert_allclose(start - w.numpy(), 2.0)
    assert int(optimizer.iterations) == 1
    with pytest.raises(ValueError, match="gradient_accumulation_steps must be an integer >= 2"):
        optimizers.SGD(gradient_accumulation_steps=1)


def test_ema_tracks_the_weights_and_finalize_copies_it():
    (w,) = make_variables((2,))
    optimizer = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    start = w.numpy()
    optimizer.apply(ones_like([w]), [w])  # first step: average = weights
    optimizer.apply(ones_like([w]), [w])  # average = 0.5 * (start - 1) + 0.5 * (start - 2)
    optimizer.finalize_variable_values([w])
    np.testing.assert_allclose(w.numpy(), start - 1.5, rtol=1e-6)
    assert optimizer.variables[2].name == "v0_average"


def test_ema_overwrite_frequency():
    (w,) = make_variables((1,))
    optimizer = optimizers.SGD(
        learning_rate=1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2
    )
    start = w.numpy()
    optimizer.apply(ones_like([w]), [w])
    np.testing.assert_allclose(w.numpy(), start - 1.0)
    optimizer.apply(ones_like([w]), [w])  # overwritten by the average
    np.testing.assert_allclose(w.numpy(), start - 1.5, rtol=1e-6)


# -- custom optimizers, Keras style ------------------------------------------------------------
class PlainDescent(optimizers.Optimizer):
    """A Keras-style custom optimizer: its own build and a per-variable update_step."""

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.steps_taken = [self.add_variable_from_reference(v, "count") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        self.assign_add(self.steps_taken[index], shinsou.ops.ones_like(gradient))
        self.assign_sub(variable, gradient * learning_rate)


def test_custom_update_step_runs_per_variable():
    a, b = make_variables((2,), (3,))
    start = [a.numpy(), b.numpy()]
    optimizer = PlainDescent(learning_rate=0.5)
    for _ in range(2):
        optimizer.apply(ones_like([a, b]), [a, b])
    np.testing.assert_allclose(start[0] - a.numpy(), 1.0)
    np.testing.assert_allclose(optimizer.steps_taken[1].numpy(), 2.0)
    assert optimizer.steps_taken[0].path == "plain_descent/v0_count"


def test_base_update_step_must_be_implemented():
    (w,) = make_variables((1,))
    with pytest.raises(NotImplementedError, match="must implement update_step"):
        optimizers.Optimizer(learning_rate=0.1).apply(ones_like([w]), [w])


# -- state and config --------------------------------------------------------------------------
def test_state_round_trip_resumes_identically():
    initial = make_variables((3,), (2, 2))
    values = [v.numpy() for v in initial]
    grads = [ones_like(initial, scale) for scale in (0.5, -1.0, 2.0)]

    def train(steps, optimizer, variables):
        for step_grads in steps:
            optimizer.apply([g.copy() for g in step_grads], variables)

    straight = [Variable(v.copy(), name=f"s{i}") for i, v in enumerate(values)]
    train(grads, optimizers.Nadam(learning_rate=0.1), straight)
    first = [Variable(v.copy(), name=f"f{i}") for i, v in enumerate(values)]
    optimizer = optimizers.Nadam(learning_rate=0.1)
    train(grads[:2], optimizer, first)
    store = {}
    optimizer.save_own_variables(store)
    resumed = optimizers.Nadam(learning_rate=0.1)
    resumed.build(first)
    resumed.load_own_variables(store)
    train(grads[2:], resumed, first)
    for a, b in zip(straight, first):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    fresh = optimizers.Nadam()
    fresh.build(make_variables((3,), (2, 2)))
    fresh.set_weights([v.numpy() for v in resumed.variables])
    assert int(fresh.iterations) == 3
    with pytest.raises(ValueError, match="expected 7 arrays, received 1"):
        fresh.set_weights([np.zeros(1)])
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        optimizers.Nadam().load_own_variables(store)


@pytest.mark.parametrize(
    "name", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"]
)
def test_config_round_trip(name):
    schedule = optimizers.schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5)
    optimizer = optimizers.get(name)
    clone = type(optimizer).from_config(optimizer.get_config())
    assert clone.get_config() == optimizer.get_config()
    scheduled = type(optimizer)(learning_rate=schedule, clipnorm=2.0, name="custom")
    clone = type(optimizer).from_config(scheduled.get_config())
    assert clone.get_config() == scheduled.get_config()
    assert isinstance(clone._learning_rate, optimizers.schedules.CosineDecay)


def test_constructor_arguments_checked():
    with pytest.raises(ValueError, match=r"Adam: argument\(s\) not recognized: \{'lr': 0.1\}"):
        optimizers.Adam(lr=0.1)
    with pytest.warns(UserWarning, match="'decay' is no longer supported"):
        optimizers.Adam(decay=0.1)
    with pytest.raises(ValueError, match=r"ema_momentum must be in \[0.0, 1.0\]"):
        optimizers.Adam(use_ema=True, ema_momentum=2.0)
    with pytest.raises(ValueError, match="ema_overwrite_frequency must be an integer >= 1"):
        optimizers.Adam(use_ema=True, ema_overwrite_frequency=0)
    with pytest.raises(ValueError, match="loss_scale_factor must be > 0"):
        optimizers.Adam(loss_scale_factor=0)
    with pytest.raises(
        ValueError, match="learning_rate must be finite; received learning_rate=nan"
    ):
        optimizers.Adam(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="learning_rate must be a scalar"):
        optimizers.Adam(learning_rate=np.ones(2))
    legacy = optimizers.Adam.from_config({"learning_rate": 0.1, "jit_compile": True})
    assert float(legacy.learning_rate) == pytest.approx(0.1)

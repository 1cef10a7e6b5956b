"""The Loss base class: reductions, sample weights and masks as Keras 3 defines them, the
function wrapper, custom subclasses, bad input."""

import numpy as np
import pytest

import shinsou
from shinsou import losses, ops
from shinsou.losses.loss import Loss, LossFunctionWrapper, reduce_weighted_values
from support import check_parity, random_array, torch


def per_sample_squares(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def test_keras_documented_values_for_each_reduction():
    y_true = np.array([[0, 1, 0], [0, 0, 1]])
    y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert round(losses.CategoricalCrossentropy()(y_true, y_pred).item(), 3) == 1.177
    weighted = losses.CategoricalCrossentropy()(y_true, y_pred, sample_weight=np.array([0.3, 0.7]))
    assert round(weighted.item(), 3) == 0.814
    assert round(losses.CategoricalCrossentropy(reduction="sum")(y_true, y_pred).item(), 3) == 2.354
    none = losses.CategoricalCrossentropy(reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(none.numpy(), [0.0513, 2.303], atol=1e-3)


@pytest.mark.parametrize(
    "weights_shape", [None, (), (6,), (6, 1), (6, 5)], ids=lambda s: f"weights{s}"
)
@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none"]
)
def test_reductions_and_sample_weights_follow_keras(reduction, weights_shape):
    # Per-timestep losses (6, 5) from (6, 5, 3) predictions: the case where weights per
    # sample must spread along time.
    y_true, y_pred = random_array((6, 5, 3), seed=1), random_array((6, 5, 3), seed=2)
    values = ((y_pred - y_true) ** 2).mean(axis=-1).astype("float64")
    weights = None
    if weights_shape is not None:
        weights = np.random.default_rng(3).uniform(0, 2, size=weights_shape).astype("float32")
    loss = losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=weights)
    w = 1.0 if weights is None else weights.reshape(weights.shape + (1,) * (2 - weights.ndim))
    weighted = values * w
    expected = {
        "sum_over_batch_size": weighted.sum() / weighted.size,
        "mean": weighted.sum() / weighted.size,
        "sum": weighted.sum(),
        "mean_with_sample_weight": weighted.sum() / np.broadcast_to(w, values.shape).sum(),
        "none": weighted,
    }[reduction]
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)


def test_weights_of_shape_n_1_expand_per_sample_losses_as_keras_does():
    loss = losses.MeanSquaredError(reduction=None)
    value = loss([[0.0], [1.0]], [[1.0], [3.0]], sample_weight=np.array([[2.0], [0.5]]))
    assert value.shape == (2, 1)
    np.testing.assert_allclose(value.numpy(), [[2.0], [2.0]])


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_weighted_mse_value_and_gradient_match_torch(reduction):
    y_true, y_pred = random_array((8, 3), seed=4), random_array((8, 3), seed=5)
    weights = np.random.default_rng(6).uniform(0, 1, size=8).astype("float32")
    loss = losses.MeanSquaredError(reduction=reduction)
    divisor = {"sum_over_batch_size": 8, "sum": 1, "mean_with_sample_weight": weights.sum()}

    def theirs(p):
        per_sample = ((p - torch.tensor(y_true)) ** 2).mean(-1)
        return (per_sample * torch.tensor(weights)).sum() / float(divisor[reduction])

    check_parity(lambda p: loss(y_true, p, sample_weight=weights), theirs, y_pred)


def test_mask_on_y_pred_leaves_masked_steps_out_of_the_mean():
    y_true, y_pred = random_array((3, 4, 2), seed=7), random_array((3, 4, 2), seed=8)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    predictions = shinsou.tensor(y_pred, requires_grad=True)
    predictions._keras_mask = mask
    values = ((y_pred - y_true) ** 2).mean(axis=-1)
    loss = losses.MeanSquaredError()(y_true, predictions)
    np.testing.assert_allclose(loss.item(), values[mask].mean(), rtol=1e-5)
    loss.backward()
    assert not predictions.grad[~mask].any()  # masked steps get no gradient
    weights = np.array([1.0, 2.0, 0.5], dtype="float32")
    summed = losses.MeanSquaredError(reduction="sum")(y_true, predictions, sample_weight=weights)
    np.testing.assert_allclose(summed.item(), (values * mask * weights[:, None]).sum(), rtol=1e-5)


def test_ignore_class_mask_averages_over_kept_samples_only():
    y_pred = random_array((4, 3), seed=9, low=-2, high=2)
    kept = losses.SparseCategoricalCrossentropy(from_logits=True)([0, 2], y_pred[[0, 2]])
    ignored = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    np.testing.assert_allclose(ignored([0, -1, 2, -1], y_pred).item(), kept.item(), rtol=1e-6)
    assert ignored([-1, -1, -1, -1], y_pred).item() == 0.0


def test_empty_batches_and_zero_weights_give_zero_not_nan():
    empty = np.zeros((0, 3), dtype="float32")
    assert losses.MeanSquaredError()(empty, empty).shape == (0,)
    zero_weights = losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        [[1.0]], [[2.0]], sample_weight=[0.0]
    )
    assert zero_weights.item() == 0.0


def test_reduce_weighted_values_rejects_weights_that_do_not_fit():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) does not fit .* \(2, 4\)"):
        reduce_weighted_values(np.ones((2, 4)), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="'mse_loss'.*sample_weight"):
        losses.MeanSquaredError(name="mse_loss")([[0.0]] * 2, [[1.0]] * 2, sample_weight=[1, 2, 3])
    with pytest.raises(TypeError, match="sample_weight must be numbers"):
        losses.MeanSquaredError()([[0.0]], [[1.0]], sample_weight="heavy")


def test_targets_of_any_numeric_dtype_are_cast_to_the_loss_dtype():
    y_pred = shinsou.tensor([[0.5, 1.0]], requires_grad=True)
    for y_true in ([[0, 1]], np.array([[False, True]]), np.array([[0.0, 1.0]], "float64")):
        value = losses.MeanSquaredError()(y_true, y_pred)
        assert value.dtype == np.float32
        np.testing.assert_allclose(value.item(), 0.125)
    with pytest.raises(TypeError, match="expected numbers"):
        losses.MeanSquaredError()(np.array([["a", "b"]]), y_pred)


# -- subclasses and the function wrapper ----------------------------------------------------


class SquaredError(Loss):
    def call(self, y_true, y_pred):
        return per_sample_squares(y_true, y_pred)


def test_custom_subclass_gets_keras_defaults():
    loss = SquaredError()
    assert loss.name == "squared_error" and loss.reduction == "sum_over_batch_size"
    assert loss.dtype == "float32"
    assert loss([[0.0], [0.0]], [[1.0], [3.0]]).item() == 5.0
    clone = SquaredError.from_config(SquaredError(name="se", reduction="sum").get_config())
    assert (clone.name, clone.reduction) == ("se", "sum")


def test_base_class_call_must_be_implemented():
    with pytest.raises(NotImplementedError, match="Loss must implement call"):
        Loss()([1.0], [1.0])


def test_wrapper_matches_ranks_and_passes_keyword_arguments():
    def scaled(y_true, y_pred, scale):
        return per_sample_squares(y_true, y_pred) * scale

    loss = LossFunctionWrapper(scaled, name="scaled", scale=2.0)
    # (N,) targets against (N, 1) predictions: ranks matched, no (N, N) broadcast.
    assert loss(np.array([0.0, 0.0]), np.array([[1.0], [3.0]])).item() == 10.0
    assert loss.get_config()["scale"] == 2.0


def test_wrapper_config_names_builtin_functions_and_refuses_unknown_ones():
    wrapper = LossFunctionWrapper(losses.huber, name="h", delta=2.0)
    config = wrapper.get_config()
    assert config["fn"]["config"] == "huber" and config["delta"] == 2.0
    clone = LossFunctionWrapper.from_config(config)
    assert clone.fn is losses.huber and clone._fn_kwargs == {"delta": 2.0}
    custom = LossFunctionWrapper(per_sample_squares).get_config()
    with pytest.raises(ValueError, match="unknown loss function 'per_sample_squares'"):
        LossFunctionWrapper.from_config(custom)
    revived = losses.deserialize(
        losses.serialize(LossFunctionWrapper(per_sample_squares)),
        custom_objects={"per_sample_squares": per_sample_squares},
    )
    assert revived.fn is per_sample_squares


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: SquaredError(reduction="avg"), ValueError, r"SquaredError: invalid reduction"),
        (lambda: SquaredError(name=3), TypeError, "name must be a string"),
        (lambda: LossFunctionWrapper("mse"), TypeError, "fn must be callable"),
    ],
)
def test_bad_arguments_name_the_class(make, error, message):
    with pytest.raises(error, match=message):
        make()

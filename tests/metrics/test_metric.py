"""Metric base, Mean, Sum and MeanMetricWrapper: weighted accumulation over batches as Keras
defines it, masks, reset, names, config, custom metrics, bad input."""

import numpy as np
import pytest

import shinsou
from shinsou import metrics
from shinsou.metrics.metric import Metric
from support import random_array


def test_mean_accumulates_weighted_values_over_batches():
    m = metrics.Mean()
    batches = [(np.array([1.0, 3.0, 5.0]), np.array([1.0, 0.5, 2.0])), (np.array([7.0]), None)]
    for values, weights in batches:
        m.update_state(values, sample_weight=weights)
    expected = (1 + 1.5 + 10 + 7) / (1 + 0.5 + 2 + 1)
    assert isinstance(m.result(), float)
    np.testing.assert_allclose(m.result(), expected, rtol=1e-6)
    m.reset_state()
    assert m.result() == 0.0 and m.count.numpy() == 0


def test_mean_reduces_trailing_axes_per_sample_first():
    values = random_array((4, 3), seed=1)
    weights = np.array([1.0, 0.0, 2.0, 1.0], dtype="float32")
    m = metrics.Mean()
    m.update_state(values, sample_weight=weights)
    per_sample = values.mean(axis=1)
    np.testing.assert_allclose(m.result(), (per_sample * weights).sum() / weights.sum(), rtol=1e-6)
    m.reset_state()
    m.update_state(values)  # no weights: every sample counts once
    np.testing.assert_allclose(m.result(), per_sample.mean(), rtol=1e-6)
    assert m.count.numpy() == 4


def test_trainer_style_scalar_updates_weigh_by_batch_size():
    m = metrics.Mean(name="loss")
    m.update_state(shinsou.tensor(2.0), sample_weight=30)
    m.update_state(5.0, sample_weight=10)
    np.testing.assert_allclose(m.result(), (60 + 50) / 40)


def test_sum_adds_weighted_values():
    m = metrics.Sum()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    m.update_state(np.array([[1.0, 2.0]]))  # per-sample sums first
    assert m.result() == 7.0 and m.name == "sum"


def test_mean_metric_wrapper_averages_a_function_and_honours_masks():
    def absolute_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred)).mean(axis=-1)

    m = metrics.MeanMetricWrapper(absolute_error, name="abs_error")
    y_pred = shinsou.tensor([[1.0], [2.0], [10.0]], requires_grad=True)
    y_pred._keras_mask = np.array([True, True, False])
    m.update_state([[0.0], [0.0], [0.0]], y_pred, sample_weight=[1.0, 3.0, 1.0])
    np.testing.assert_allclose(m.result(), (1 + 6) / 4)


def test_wrapper_of_a_loss_function_records_no_graph():
    recorded = []

    def squared_error(y_true, y_pred):
        value = shinsou.losses.mean_squared_error(y_true, y_pred)
        recorded.append(value.requires_grad)
        return value

    y_pred = shinsou.tensor([[1.0, 2.0]], requires_grad=True)
    metrics.MeanMetricWrapper(squared_error).update_state([[0.0, 0.0]], y_pred * 1.0)
    assert recorded == [False]
    m = metrics.MeanMetricWrapper(shinsou.losses.mean_squared_error, name="mse")
    m.update_state([[0.0, 0.0]], y_pred)
    assert m.result() == 2.5
    config = m.get_config()
    assert config["fn"]["config"] == "mean_squared_error"
    assert metrics.MeanMetricWrapper.from_config(config)._fn is shinsou.losses.mean_squared_error


def test_metric_name_is_a_plain_writable_attribute():
    m = metrics.Mean()
    m.name = "val_loss"
    assert m.name == "val_loss" and m.get_config()["name"] == "val_loss"
    assert repr(m) == "<Mean name=val_loss>"


def test_call_updates_and_returns_the_result():
    m = metrics.Mean()
    assert m([1.0, 3.0]) == 2.0 and m([5.0]) == 3.0


class BinaryTruePositives(Metric):
    """The custom metric of Keras's Metric docs, written against shinsou."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.logical_and(np.asarray(y_true, bool), np.asarray(y_pred, bool))
        values = values.astype(self.dtype)
        if sample_weight is not None:
            values = values * np.broadcast_to(np.asarray(sample_weight, self.dtype), values.shape)
        self.true_positives.assign_add(values.sum())

    def result(self):
        return self.true_positives


def test_custom_metric_with_add_variable_works_and_resets():
    m = BinaryTruePositives()
    m.update_state([1, 1, 0], [1, 0, 1])
    m.update_state([1, 1], [1, 1], sample_weight=[0.5, 2.0])
    assert float(m.result().numpy()) == 3.5
    assert [v.name for v in m.variables] == ["tp"] and not m.variables[0].trainable
    m.reset_state()
    assert float(m.result().numpy()) == 0.0
    assert BinaryTruePositives.from_config(m.get_config()).name == "binary_true_positives"


def test_metrics_holding_metrics_report_their_variables():
    class Both(Metric):
        def __init__(self):
            super().__init__(name="both")
            self.first, self.second = metrics.Mean(), metrics.Sum()

    assert [v.name for v in Both().variables] == ["total", "count", "total"]


def test_forgetting_super_init_is_reported():
    class Broken(Metric):
        def __init__(self):
            self.total = self.add_variable((), "zeros")

    with pytest.raises(RuntimeError, match=r"Broken: call super\(\).__init__\(\)"):
        Broken()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: metrics.Mean(name=5), TypeError, "Mean: name must be a string"),
        (lambda: metrics.Mean(dtype="int32"), ValueError, "Mean: dtype must be a floating"),
        (lambda: metrics.MeanMetricWrapper("mse"), TypeError, "fn must be callable"),
    ],
)
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_sample_weights_that_do_not_fit_are_reported():
    with pytest.raises(ValueError, match=r"Mean 'mean': sample_weight of shape \(3,\)"):
        metrics.Mean().update_state([1.0, 2.0], sample_weight=[1.0, 1.0, 1.0])


def test_base_class_methods_must_be_implemented():
    with pytest.raises(NotImplementedError, match="must implement update_state"):
        Metric().update_state([1])
    with pytest.raises(NotImplementedError, match="must implement result"):
        Metric().result()

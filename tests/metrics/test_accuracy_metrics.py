"""Accuracy metrics against NumPy references: exact, binary (threshold), categorical,
sparse categorical and top-k, accumulated over batches with sample weights."""

import numpy as np
import pytest

import shinsou
from shinsou import metrics
from support import random_array


def scores(shape, seed):
    return random_array(shape, seed=seed, low=0, high=1)


def labels(count, classes, seed):
    return np.random.default_rng(seed).integers(0, classes, size=count)


def weighted_mean(matches, weights):
    return float((matches * weights).sum() / weights.sum())


def run_batches(metric, batches):
    for batch in batches:
        metric.update_state(*batch)
    return metric.result()


def test_sparse_categorical_accuracy_over_batches_with_weights():
    y_pred = [scores((8, 5), seed=1), scores((6, 5), seed=2)]
    y_true = [labels(8, 5, seed=3), labels(6, 5, seed=4).reshape(6, 1).astype("float32")]
    weights = [np.linspace(0.1, 1, 8), np.ones(6)]
    result = run_batches(
        metrics.SparseCategoricalAccuracy(), [(t, p, w) for t, p, w in zip(y_true, y_pred, weights)]
    )
    matches = np.concatenate([t.reshape(-1) == p.argmax(-1) for t, p in zip(y_true, y_pred)])
    np.testing.assert_allclose(result, weighted_mean(matches, np.concatenate(weights)), rtol=1e-6)


def test_categorical_accuracy_takes_argmax_of_both():
    y_true = np.eye(4, dtype="float32")[labels(10, 4, seed=5)]
    y_pred = scores((10, 4), seed=6)
    m = metrics.CategoricalAccuracy()
    m.update_state(y_true, shinsou.tensor(y_pred, requires_grad=True))
    expected = (y_true.argmax(-1) == y_pred.argmax(-1)).mean()
    np.testing.assert_allclose(m.result(), expected, rtol=1e-6)


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_binary_accuracy_thresholds_predictions(threshold):
    y_true = (scores((12, 1), seed=7) > 0.5).astype("float32")
    y_pred = scores((12, 1), seed=8)
    weights = np.arange(12, dtype="float32")
    m = metrics.BinaryAccuracy(threshold=threshold)
    m.update_state(y_true, y_pred, sample_weight=weights)
    matches = (y_true == (y_pred > threshold)).reshape(-1)
    np.testing.assert_allclose(m.result(), weighted_mean(matches, weights), rtol=1e-6)


def test_binary_accuracy_counts_samples_not_batches_for_rank_1_inputs():
    m = metrics.BinaryAccuracy()
    m.update_state([1, 1, 1, 1], [0.9, 0.9, 0.9, 0.1])  # 3 of 4
    m.update_state([1, 1], [0.9, 0.9])  # 2 of 2
    assert m.result() == pytest.approx(5 / 6)


def test_accuracy_compares_exactly_and_averages_multi_output_rows():
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([[1, 2], [3, 4]], [[1, 0], [3, 4]])  # per-row means 0.5 and 1
    assert m.result() == 0.75


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracies_match_a_sorting_reference(k):
    y_pred = scores((20, 6), seed=9)
    classes = labels(20, 6, seed=10)
    rank = (y_pred > y_pred[np.arange(20), classes][:, None]).sum(-1)  # 0 = the best
    expected = (rank < k).mean()
    sparse = metrics.SparseTopKCategoricalAccuracy(k=k)
    sparse.update_state(classes, y_pred)
    dense = metrics.TopKCategoricalAccuracy(k=k)
    dense.update_state(np.eye(6)[classes], y_pred)
    np.testing.assert_allclose([sparse.result(), dense.result()], [expected] * 2, rtol=1e-6)


def test_top_k_counts_ties_in_and_handles_k_beyond_the_classes():
    y_pred = np.array([[0.5, 0.5, 0.1], [0.2, 0.3, 0.4]])
    assert metrics.sparse_top_k_categorical_accuracy([1, 0], y_pred, k=1).tolist() == [1.0, 0.0]
    assert metrics.sparse_top_k_categorical_accuracy([1, 0], y_pred, k=10).tolist() == [1.0, 1.0]


def test_functions_return_float32_tensors_one_value_per_sample():
    y_pred = scores((5, 3), seed=11)
    for value in (
        metrics.sparse_categorical_accuracy(labels(5, 3, 12), y_pred),
        metrics.categorical_accuracy(np.eye(3)[labels(5, 3, 13)], y_pred),
        metrics.binary_accuracy(np.ones((5, 3)), y_pred),
        metrics.top_k_categorical_accuracy(np.eye(3)[labels(5, 3, 14)], y_pred, k=2),
    ):
        assert isinstance(value, shinsou.Tensor)
        assert value.shape == (5,) and value.dtype == np.float32


def test_names_configs_and_round_trips():
    cases = {
        metrics.Accuracy(): ("accuracy", {"name", "dtype"}),
        metrics.BinaryAccuracy(threshold=0.7): ("binary_accuracy", {"name", "dtype", "threshold"}),
        metrics.CategoricalAccuracy(): ("categorical_accuracy", {"name", "dtype"}),
        metrics.SparseCategoricalAccuracy(): ("sparse_categorical_accuracy", {"name", "dtype"}),
        metrics.TopKCategoricalAccuracy(k=3): (
            "top_k_categorical_accuracy",
            {"name", "dtype", "k"},
        ),
        metrics.SparseTopKCategoricalAccuracy(): (
            "sparse_top_k_categorical_accuracy",
            {"name", "dtype", "k"},
        ),
    }
    for metric, (name, keys) in cases.items():
        config = metric.get_config()
        assert metric.name == name and set(config) == keys
        assert type(metric).from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.SparseCategoricalAccuracy().update_state([0, 1, 2], np.ones((2, 3))),
            r"sparse_categorical_accuracy: y_true shape \(3,\) does not fit y_pred shape \(2, 3\)",
        ),
        (
            lambda: metrics.CategoricalAccuracy().update_state([0, 1], np.ones((2, 3))),
            "for integer labels use sparse_categorical_accuracy",
        ),
        (
            lambda: metrics.BinaryAccuracy().update_state(np.ones((2, 3)), np.ones((3, 2))),
            r"binary_accuracy: y_true shape \(2, 3\) and y_pred shape \(3, 2\)",
        ),
        (lambda: metrics.BinaryAccuracy(threshold=1.5), r"threshold must lie in \(0, 1\)"),
        (lambda: metrics.TopKCategoricalAccuracy(k=0), "k must be a positive int"),
    ],
)
def test_bad_input_is_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()

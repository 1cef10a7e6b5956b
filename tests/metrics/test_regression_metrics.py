"""Regression and probabilistic metrics against NumPy references, accumulated over batches
with sample weights; names and configs as Keras."""

import numpy as np
import pytest

from shinsou import metrics
from support import random_array


def batches(seed, shape=(8, 3), low=0.1, high=2.0):
    first = [random_array(shape, seed=seed + i, low=low, high=high) for i in range(2)]
    second = [random_array((5, shape[1]), seed=seed + 2 + i, low=low, high=high) for i in range(2)]
    weights = [np.linspace(0.1, 1.0, shape[0]).astype("float32"), None]
    return [(*first, weights[0]), (*second, weights[1])]


def accumulate(metric, data):
    for y_true, y_pred, weights in data:
        metric.update_state(y_true, y_pred, sample_weight=weights)
    return metric.result()


def weighted_reference(data, per_sample):
    values = np.concatenate([per_sample(t, p) for t, p, _ in data])
    weights = np.concatenate([np.ones(len(t)) if w is None else w for t, _, w in data])
    return (values * weights).sum() / weights.sum()


REGRESSION = [
    (metrics.MeanSquaredError, lambda t, p: ((t - p) ** 2).mean(-1)),
    (metrics.MeanAbsoluteError, lambda t, p: np.abs(t - p).mean(-1)),
    (metrics.MeanAbsolutePercentageError, lambda t, p: 100 * np.abs((t - p) / t).mean(-1)),
    (metrics.MeanSquaredLogarithmicError, lambda t, p: ((np.log1p(t) - np.log1p(p)) ** 2).mean(-1)),
    (metrics.LogCoshError, lambda t, p: np.log(np.cosh(p - t)).mean(-1)),
    (
        metrics.CosineSimilarity,
        lambda t, p: (t * p).sum(-1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1),
    ),
    (metrics.Poisson, lambda t, p: (p - t * np.log(p + 1e-7)).mean(-1)),
    (
        metrics.KLDivergence,
        lambda t, p: (np.clip(t, 1e-7, 1) * np.log(np.clip(t, 1e-7, 1) / np.clip(p, 1e-7, 1))).sum(
            -1
        ),
    ),
    (metrics.Hinge, lambda t, p: np.maximum(1 - t * p, 0).mean(-1)),
    (metrics.SquaredHinge, lambda t, p: np.maximum(1 - t * p, 0).__pow__(2).mean(-1)),
]


@pytest.mark.parametrize(
    ("cls", "per_sample"), REGRESSION, ids=lambda x: getattr(x, "__name__", "")
)
def test_weighted_running_means_match_numpy(cls, per_sample):
    data = batches(seed=1)
    np.testing.assert_allclose(
        accumulate(cls(), data), weighted_reference(data, per_sample), rtol=1e-5
    )


def test_root_mean_squared_error_is_the_root_of_the_weighted_mean():
    data = batches(seed=5)
    expected = np.sqrt(weighted_reference(data, lambda t, p: ((t - p) ** 2).mean(-1)))
    np.testing.assert_allclose(
        accumulate(metrics.RootMeanSquaredError(), data), expected, rtol=1e-5
    )
    m = metrics.RootMeanSquaredError()
    m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert m.result() == pytest.approx(np.sqrt(0.5))


def test_crossentropy_metrics_match_numpy():
    rng = np.random.default_rng(7)
    raw = rng.uniform(0.1, 1, size=(6, 4)).astype("float32")
    probabilities = raw / raw.sum(-1, keepdims=True)
    classes = rng.integers(0, 4, size=6)
    expected = -np.log(probabilities[np.arange(6), classes]).mean()
    sparse = metrics.SparseCategoricalCrossentropy()
    sparse.update_state(classes[:3], probabilities[:3])
    sparse.update_state(classes[3:].reshape(3, 1), probabilities[3:])
    dense = metrics.CategoricalCrossentropy()
    dense.update_state(np.eye(4)[classes], probabilities)
    np.testing.assert_allclose([sparse.result(), dense.result()], [expected] * 2, rtol=1e-5)
    logits = metrics.SparseCategoricalCrossentropy(from_logits=True)
    logits.update_state(classes, np.log(probabilities))
    assert logits.result() == pytest.approx(expected, rel=1e-5)
    y_true = (rng.uniform(size=(6, 2)) > 0.5).astype("float32")
    p = rng.uniform(0.05, 0.95, size=(6, 2)).astype("float32")
    binary = metrics.BinaryCrossentropy()
    binary.update_state(y_true, p)
    reference = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean()
    assert binary.result() == pytest.approx(reference, rel=1e-5)


def test_sparse_crossentropy_metric_leaves_ignored_samples_out():
    m = metrics.SparseCategoricalCrossentropy(ignore_class=-1)
    m.update_state([1, -1, 0], [[0.2, 0.8], [0.5, 0.5], [0.6, 0.4]])
    assert m.result() == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2, rel=1e-5)


def test_categorical_hinge_matches_numpy():
    y_true = np.eye(3)[[0, 2, 1, 1]]
    y_pred = random_array((4, 3), seed=9, low=-1, high=1)
    m = metrics.CategoricalHinge()
    m.update_state(y_true, y_pred)
    expected = np.maximum(((1 - y_true) * y_pred).max(-1) - (y_true * y_pred).sum(-1) + 1, 0)
    assert m.result() == pytest.approx(expected.mean(), rel=1e-5)


def test_r2_score_matches_numpy():
    y_true = random_array((20, 2), seed=10)
    y_pred = y_true + random_array((20, 2), seed=11, low=-0.3, high=0.3)
    m = metrics.R2Score()
    m.update_state(y_true[:12], y_pred[:12])
    m.update_state(y_true[12:], y_pred[12:])
    residual = ((y_true - y_pred) ** 2).sum(0)
    total = ((y_true - y_true.mean(0)) ** 2).sum(0)
    assert m.result() == pytest.approx((1 - residual / total).mean(), rel=1e-4)
    raw = metrics.R2Score(class_aggregation=None)
    raw.update_state(y_true, y_pred)
    np.testing.assert_allclose(raw.result(), 1 - residual / total, rtol=1e-4)


def test_names_and_config_round_trips():
    expected_names = {
        metrics.MeanSquaredError: "mean_squared_error",
        metrics.RootMeanSquaredError: "root_mean_squared_error",
        metrics.MeanAbsoluteError: "mean_absolute_error",
        metrics.MeanAbsolutePercentageError: "mean_absolute_percentage_error",
        metrics.MeanSquaredLogarithmicError: "mean_squared_logarithmic_error",
        metrics.LogCoshError: "logcosh",
        metrics.CosineSimilarity: "cosine_similarity",
        metrics.KLDivergence: "kl_divergence",
        metrics.Poisson: "poisson",
        metrics.BinaryCrossentropy: "binary_crossentropy",
        metrics.CategoricalCrossentropy: "categorical_crossentropy",
        metrics.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
        metrics.Hinge: "hinge",
        metrics.R2Score: "r2_score",
    }
    for cls, name in expected_names.items():
        metric = cls()
        config = metric.get_config()
        assert metric.name == name and config["name"] == name and config["dtype"] == "float32"
        assert cls.from_config(config).get_config() == config
    assert set(metrics.CategoricalCrossentropy().get_config()) == {
        "name",
        "dtype",
        "from_logits",
        "label_smoothing",
        "axis",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.MeanSquaredError().update_state(np.ones(4), np.ones((4, 2))),
            r"mean_squared_error: y_true shape \(4,\) and y_pred shape \(4, 2\)",
        ),
        (
            lambda: metrics.RootMeanSquaredError().update_state(np.ones((2, 3)), np.ones((3, 2))),
            "RootMeanSquaredError 'root_mean_squared_error': y_true shape",
        ),
        (lambda: metrics.BinaryCrossentropy(label_smoothing=2), "label_smoothing must lie"),
        (lambda: metrics.R2Score(class_aggregation="median"), "class_aggregation must be one of"),
        (
            lambda: metrics.R2Score().update_state(np.ones(3), np.ones(3)),
            r"expected inputs of shape \(samples, outputs\)",
        ),
    ],
)
def test_bad_input_is_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()

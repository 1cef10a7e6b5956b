"""Confusion-matrix metrics against NumPy references: counts, precision and recall at
thresholds (with top_k and class_id), AUC on known examples and against the exact ROC AUC."""

import numpy as np
import pytest

from shinsou import metrics
from support import random_array


def reference_counts(y_true, y_pred, thresholds, weights=None):
    y_pred = np.asarray(y_pred, "float32")
    weights = np.ones_like(y_pred) if weights is None else np.broadcast_to(weights, y_pred.shape)
    positive = np.asarray(y_true, bool).reshape(-1)
    y_pred, weights = y_pred.reshape(-1), weights.reshape(-1)
    counts = {"tp": [], "fp": [], "tn": [], "fn": []}
    for t in np.asarray(thresholds, "float32"):
        predicted = y_pred > t
        counts["tp"].append((weights * (predicted & positive)).sum())
        counts["fp"].append((weights * (predicted & ~positive)).sum())
        counts["tn"].append((weights * (~predicted & ~positive)).sum())
        counts["fn"].append((weights * (~predicted & positive)).sum())
    return {key: np.array(value) for key, value in counts.items()}


def exact_roc_auc(y_true, y_pred):
    """Probability that a random positive outranks a random negative (ties count half)."""
    positives, negatives = y_pred[y_true == 1], y_pred[y_true == 0]
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return (wins + 0.5 * ties) / (len(positives) * len(negatives))


THRESHOLDS = [0.0, 0.25, 0.5, 0.8, 1.0]


def test_counts_and_precision_recall_at_several_thresholds_over_batches():
    rng = np.random.default_rng(0)
    y_true = [rng.integers(0, 2, size=(16, 3)), rng.integers(0, 2, size=(10, 3))]
    y_pred = [
        random_array((16, 3), seed=1, low=0, high=1),
        random_array((10, 3), seed=2, low=0, high=1),
    ]
    y_pred[0][0, :] = [0.25, 0.5, 1.0]  # exactly on thresholds: not above them
    weights = [np.linspace(0, 2, 16).astype("float32"), None]
    created = {
        "tp": metrics.TruePositives(THRESHOLDS),
        "fp": metrics.FalsePositives(THRESHOLDS),
        "tn": metrics.TrueNegatives(THRESHOLDS),
        "fn": metrics.FalseNegatives(THRESHOLDS),
        "precision": metrics.Precision(THRESHOLDS),
        "recall": metrics.Recall(THRESHOLDS),
    }
    totals = dict.fromkeys(("tp", "fp", "tn", "fn"), 0)
    for t, p, w in zip(y_true, y_pred, weights):
        for metric in created.values():
            metric.update_state(t, p, sample_weight=w)
        counts = reference_counts(t, p, THRESHOLDS, None if w is None else w[:, None])
        totals = {key: totals[key] + counts[key] for key in totals}
    for key in ("tp", "fp", "tn", "fn"):
        np.testing.assert_allclose(created[key].result(), totals[key], rtol=1e-5)
    tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
    with np.errstate(invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0)
    assert isinstance(created["precision"].result(), np.ndarray)
    np.testing.assert_allclose(created["precision"].result(), precision, rtol=1e-5)
    np.testing.assert_allclose(created["recall"].result(), recall, rtol=1e-5)


def test_single_threshold_results_are_floats_and_keras_examples_hold():
    precision, recall = metrics.Precision(), metrics.Recall()
    precision.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    recall.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert precision.result() == 1.0 and isinstance(precision.result(), float)
    assert recall.result() == pytest.approx(2 / 3)
    assert metrics.Precision().result() == 0.0  # nothing seen: 0, not nan


def test_unsorted_thresholds_keep_their_order():
    m = metrics.Recall(thresholds=[0.9, 0.1, 0.5])
    m.update_state([1, 1, 1, 1], [0.2, 0.6, 0.95, 0.05])
    np.testing.assert_allclose(m.result(), [0.25, 0.75, 0.5])


def test_precision_top_k_and_class_id_follow_keras():
    top2 = metrics.Precision(top_k=2)
    top2.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert top2.result() == 0.0
    top4 = metrics.Precision(top_k=4)
    top4.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert top4.result() == 0.5
    y_true = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    y_pred = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.3, 0.6, 0.1]])
    column = metrics.Precision(class_id=1)
    column.update_state(y_true, y_pred)
    assert column.result() == 0.5  # class 1 above 0.5 in rows 0 and 3; right in row 0
    recall = metrics.Recall(class_id=1, top_k=1)
    recall.update_state(y_true, y_pred)
    assert recall.result() == 0.5  # class 1 is top-1 in rows 0 and 3; true in rows 0 and 2


def test_auc_known_examples():
    m = metrics.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(1.0)


def test_roc_auc_equals_the_exact_auc_when_thresholds_separate_the_scores():
    rng = np.random.default_rng(1)
    y_pred = ((rng.permutation(100) + 0.25) / 100).astype("float32")  # one score per bucket
    y_true = (rng.uniform(size=100) < y_pred).astype("int64")  # informative, not perfect
    m = metrics.AUC(num_thresholds=201)
    m.update_state(y_true[:60], y_pred[:60])
    m.update_state(y_true[60:], y_pred[60:])
    assert m.result() == pytest.approx(exact_roc_auc(y_true, y_pred), abs=1e-6)


def test_pr_auc_and_summation_methods():
    y_true = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    y_pred = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.55])
    results = {}
    for method in ("interpolation", "minoring", "majoring"):
        m = metrics.AUC(curve="PR", summation_method=method, num_thresholds=1000)
        m.update_state(y_true, y_pred)
        results[method] = m.result()
    # Average precision over the ranking (positives at ranks 1, 2, 3 and 6 of 8).
    average_precision = (1 + 1 + 1 + 4 / 6) / 4
    assert results["minoring"] <= results["interpolation"] <= results["majoring"]
    assert results["interpolation"] == pytest.approx(average_precision, abs=0.05)
    roc = metrics.AUC(curve="roc", num_thresholds=1000)
    roc.update_state(y_true, y_pred)
    assert roc.result() == pytest.approx(exact_roc_auc(y_true, y_pred), abs=1e-6)


def test_auc_from_logits_and_multi_label():
    logits = random_array((30, 2), seed=3, low=-4, high=4)
    y_true = (random_array((30, 2), seed=4, low=-4, high=4) < logits).astype("float32")
    probabilities = 1 / (1 + np.exp(-logits))
    plain = metrics.AUC(multi_label=True, label_weights=[1.0, 3.0])
    plain.update_state(y_true, probabilities)
    from_logits = metrics.AUC(multi_label=True, label_weights=[1.0, 3.0], from_logits=True)
    from_logits.update_state(y_true, logits)
    per_label = []
    for column in range(2):
        single = metrics.AUC()
        single.update_state(y_true[:, column], probabilities[:, column])
        per_label.append(single.result())
    assert plain.result() == pytest.approx((per_label[0] + 3 * per_label[1]) / 4, abs=1e-6)
    assert from_logits.result() == pytest.approx(plain.result(), abs=1e-6)


def test_names_and_configs():
    assert metrics.Precision().name == "precision" and metrics.AUC().name == "auc"
    assert metrics.Recall().name == "recall" and metrics.TruePositives().name == "true_positives"
    auc = metrics.AUC(thresholds=[0.3, 0.6], curve="PR", label_weights=[1.0])
    config = auc.get_config()
    assert config["thresholds"] == pytest.approx([0.3, 0.6]) and config["curve"] == "PR"
    assert metrics.AUC.from_config(config).get_config() == config
    precision = metrics.Precision(thresholds=[0.2, 0.4], top_k=2, class_id=1)
    assert set(precision.get_config()) == {"name", "dtype", "thresholds", "top_k", "class_id"}
    assert metrics.Precision.from_config(precision.get_config()).thresholds == [0.2, 0.4]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: metrics.Precision(thresholds=[0.5, 1.5]),
            r"thresholds must be numbers in \[0, 1\]",
        ),
        (lambda: metrics.Recall(top_k=0), "top_k must be an int >= 1"),
        (lambda: metrics.AUC(curve="XY"), "curve must be 'ROC' or 'PR'"),
        (lambda: metrics.AUC(summation_method="simpson"), "summation_method must be"),
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds must be an int > 1"),
        (lambda: metrics.AUC(num_labels=3), "num_labels is only used with multi_label"),
        (
            lambda: metrics.Precision().update_state([0, 1, 1], [0.5, 0.5]),
            r"Precision 'precision': y_true shape \(3,\) and y_pred shape \(2,\)",
        ),
        (
            lambda: metrics.Precision(class_id=3).update_state(np.ones((2, 3)), np.ones((2, 3))),
            "class_id=3 needs y_pred of shape",
        ),
        (
            lambda: metrics.AUC(multi_label=True).update_state(np.ones(4), np.ones(4)),
            "multi_label=True needs y_pred of shape",
        ),
    ],
)
def test_bad_input_is_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()

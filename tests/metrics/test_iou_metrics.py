"""IoU metrics against a NumPy confusion-matrix reference, for classification and for
segmentation maps (scores with sparse_y_pred=False, ignore_class)."""

import numpy as np
import pytest

from shinsou import metrics
from support import random_array


def reference_mean_iou(y_true, y_pred, classes, weights=None):
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    weights = np.ones(y_true.shape) if weights is None else np.asarray(weights).reshape(-1)
    cm = np.zeros((classes, classes))
    np.add.at(cm, (y_true, y_pred), weights)
    ious = []
    for c in range(classes):
        union = cm[c].sum() + cm[:, c].sum() - cm[c, c]
        if union > 0:
            ious.append(cm[c, c] / union)
    return np.mean(ious)


def test_mean_iou_keras_examples():
    m = metrics.MeanIoU(num_classes=2)
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    assert m.result() == pytest.approx(1 / 3, abs=1e-6)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    assert m.result() == pytest.approx(0.23809525, abs=1e-6)


def test_segmentation_maps_over_batches_with_scores_and_weights():
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 4, size=(3, 6, 6))
    scores = random_array((3, 6, 6, 4), seed=1, low=0, high=1)
    weights = rng.uniform(0, 1, size=(3, 6, 6)).astype("float32")
    m = metrics.MeanIoU(num_classes=4, sparse_y_pred=False)
    m.update_state(masks[:2], scores[:2], sample_weight=weights[:2])
    m.update_state(masks[2:, ..., None], scores[2:], sample_weight=weights[2:])
    expected = reference_mean_iou(masks, scores.argmax(-1), 4, weights)
    assert m.result() == pytest.approx(expected, rel=1e-5)


def test_ignore_class_pixels_are_left_out():
    y_true = np.array([[0, 1, 255], [1, 255, 0]])
    y_pred = np.array([[0, 1, 1], [0, 1, 0]])
    m = metrics.MeanIoU(num_classes=2, ignore_class=255)
    m.update_state(y_true, y_pred)
    kept = y_true != 255
    assert m.result() == pytest.approx(reference_mean_iou(y_true[kept], y_pred[kept], 2))


def test_classes_absent_from_both_do_not_lower_the_mean():
    m = metrics.MeanIoU(num_classes=5)
    m.update_state([0, 1, 1], [0, 1, 1])
    assert m.result() == pytest.approx(1.0, abs=1e-6)


def test_iou_variants():
    iou = metrics.IoU(num_classes=3, target_class_ids=[2])
    iou.update_state([2, 2, 0, 1], [2, 0, 0, 2])
    assert iou.result() == pytest.approx(1 / 3, abs=1e-6)  # tp 1, row 2, column 2
    binary = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    binary.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    assert binary.result() == pytest.approx(0.17361112, abs=1e-6)
    y_true = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]])
    y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1], [0.1, 0.4, 0.5]])
    one_hot = metrics.OneHotIoU(num_classes=3, target_class_ids=[0, 2])
    one_hot.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    assert one_hot.result() == pytest.approx(0.0714, abs=1e-4)
    one_hot_mean = metrics.OneHotMeanIoU(num_classes=3)
    one_hot_mean.update_state(y_true, y_pred, sample_weight=[0.1, 0.2, 0.3, 0.4])
    assert one_hot_mean.result() == pytest.approx(0.1 / 0.7 / 3, abs=1e-6)  # Keras: 0.048


def test_names_and_configs():
    m = metrics.MeanIoU(num_classes=3, ignore_class=0, sparse_y_pred=False)
    assert m.name == "mean_io_u"  # Keras's snake case of MeanIoU
    config = m.get_config()
    assert set(config) == {
        "name",
        "dtype",
        "num_classes",
        "ignore_class",
        "sparse_y_true",
        "sparse_y_pred",
        "axis",
    }
    assert metrics.MeanIoU.from_config(config).get_config() == config
    for metric in (
        metrics.IoU(4, [1, 3]),
        metrics.BinaryIoU(threshold=0.7),
        metrics.OneHotIoU(3, [0]),
        metrics.OneHotMeanIoU(3),
    ):
        assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.MeanIoU(num_classes=0), "num_classes must be a positive int"),
        (
            lambda: metrics.IoU(3, target_class_ids=[3]),
            r"target_class_ids must be class ids in \[0, 3\)",
        ),
        (
            lambda: metrics.MeanIoU(num_classes=2).update_state([0, 2], [0, 1]),
            r"y_true holds class 2, outside the valid class ids \[0, 2\)",
        ),
        (
            lambda: metrics.MeanIoU(num_classes=2).update_state([0, 1], [[0.2, 0.8], [0.6, 0.4]]),
            "y_true has 2 entries and y_pred 4",
        ),
        (
            lambda: metrics.MeanIoU(num_classes=2).update_state([0, 1], [0.2, 0.8]),
            "pass sparse_y_pred=False",
        ),
    ],
)
def test_bad_input_is_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()

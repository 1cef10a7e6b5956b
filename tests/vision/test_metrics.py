"""vision.metrics: detection AP against pycocotools (random and crafted cases) and
hand-worked VOC examples; pixel accuracy and mean IoU against hand values and
shinsou.metrics.MeanIoU; the Fréchet distance against float64 references."""

import contextlib
import io

import numpy as np
import pytest

from shinsou.metrics import MeanIoU
from shinsou.vision.boxes import convert_format, pad_boxes
from shinsou.vision.metrics import (
    COCO_IOU_THRESHOLDS,
    frechet_distance,
    mean_average_precision,
    mean_iou,
    pixel_accuracy,
)

# -- pycocotools reference ---------------------------------------------------------------


def pycocotools_ap(pred_boxes, pred_scores, pred_labels, true_boxes, true_labels, classes):
    """COCOeval's bbox AP, AP50, AP75 for per-image lists of xyxy boxes (-1 if undefined)."""
    coco = pytest.importorskip("pycocotools.coco", reason="pycocotools is not installed")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")

    def xywh(box):
        return [float(v) for v in convert_format(np.asarray(box), "xyxy", "xywh")]

    annotations = []
    for image, (boxes, labels) in enumerate(zip(true_boxes, true_labels)):
        for box, label in zip(boxes, labels):
            if label < 0:
                continue
            bbox = xywh(box)
            annotations.append(
                {
                    "id": len(annotations) + 1,  # pycocotools needs ids above 0
                    "image_id": image,
                    "category_id": int(label) + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    results = [
        {"image_id": image, "category_id": int(label) + 1, "bbox": xywh(box), "score": float(s)}
        for image, (boxes, scores, labels) in enumerate(zip(pred_boxes, pred_scores, pred_labels))
        for box, s, label in zip(boxes, scores, labels)
        if label >= 0
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = coco.COCO()
        truth.dataset = {
            "images": [{"id": i} for i in range(len(true_boxes))],
            "categories": [{"id": c + 1} for c in classes],
            "annotations": annotations,
        }
        truth.createIndex()
        evaluation = cocoeval.COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(("AP", "AP50", "AP75"), evaluation.stats[:3]))


def assert_matches_coco(ours, theirs):
    for name in ("AP", "AP50", "AP75"):
        expected = np.nan if theirs[name] == -1 else theirs[name]
        np.testing.assert_allclose(ours[name], expected, rtol=1e-9, atol=1e-12, err_msg=name)


def random_scene(seed, images=12, classes=3, max_truths=6, extra=4, field=80, rounded=False):
    """Ground truth plus predictions: jittered copies (some missed, some doubled) and false
    positives, with random scores; per-image lists. ``rounded``: integer boxes (IoUs hit
    thresholds exactly) and scores with one decimal (many ties)."""
    rng = np.random.default_rng(seed)
    truth_boxes, truth_labels, boxes, scores, labels = [], [], [], [], []
    for _ in range(images):
        count = rng.integers(0, max_truths + 1)
        corner = rng.uniform(0, field, (count, 2))
        truth = np.concatenate([corner, corner + rng.uniform(4, 30, (count, 2))], axis=1)
        truth_label = rng.integers(0, classes, count)
        copies = np.repeat(np.arange(count), rng.integers(0, 3, count))
        jitter = rng.normal(0, rng.uniform(0.5, 4), (len(copies), 4))
        noise_corner = rng.uniform(0, field, (extra, 2))
        noise = np.concatenate([noise_corner, noise_corner + rng.uniform(4, 30, (extra, 2))], 1)
        noise_label = rng.integers(0, classes, extra)
        flip = rng.random(len(copies)) < 0.1  # a few right boxes with the wrong class
        copy_label = np.where(flip, (truth_label[copies] + 1) % classes, truth_label[copies])
        truth_boxes.append(truth)
        truth_labels.append(truth_label)
        jittered = truth[copies] + jitter
        jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)  # keep them boxes
        boxes.append(np.concatenate([jittered, noise]))
        labels.append(np.concatenate([copy_label, noise_label]))
        scores.append(rng.random(len(copies) + extra))
        if rounded:
            truth_boxes[-1], boxes[-1] = np.round(truth_boxes[-1]), np.round(boxes[-1])
            scores[-1] = np.round(scores[-1], 1)
    return boxes, scores, labels, truth_boxes, truth_labels


@pytest.mark.parametrize("seed", range(6))
def test_coco_matches_pycocotools_on_random_scenes(seed):
    scene = random_scene(seed)
    ours = mean_average_precision(*scene)
    assert set(ours) == {"AP", "AP50", "AP75"}
    assert_matches_coco(ours, pycocotools_ap(*scene, classes=range(3)))


@pytest.mark.parametrize("seed", range(3))
def test_coco_matches_pycocotools_on_crowded_rounded_scenes(seed):
    """Many overlapping boxes (a detection's best truth is often taken), integer
    coordinates and tied scores."""
    scene = random_scene(seed, images=20, max_truths=15, extra=10, field=30, rounded=True)
    assert_matches_coco(mean_average_precision(*scene), pycocotools_ap(*scene, classes=range(3)))


def test_coco_padded_arrays_equal_lists():
    boxes, scores, labels, truth_boxes, truth_labels = random_scene(7)
    from_lists = mean_average_precision(boxes, scores, labels, truth_boxes, truth_labels)
    padded_boxes, padded_labels = pad_boxes(boxes, labels)
    padded_scores = np.zeros(padded_labels.shape)
    for i, s in enumerate(scores):
        padded_scores[i, : len(s)] = s
    padded_truth, padded_truth_labels = pad_boxes(truth_boxes, truth_labels, max_boxes=9)
    from_arrays = mean_average_precision(
        padded_boxes, padded_scores, padded_labels, padded_truth, padded_truth_labels
    )
    for name in from_lists:
        np.testing.assert_allclose(from_arrays[name], from_lists[name], rtol=1e-6)


def test_coco_crafted_cases_match_pycocotools():
    truth = [[[0, 0, 10, 10], [2, 0, 12, 10]], [[20, 20, 40, 40]], []]
    truth_labels = [[0, 0], [1], []]
    cases = {
        # The second detection's best truth is taken: COCO gives it the other one.
        "second-best truth": ([[[0, 0, 10, 10], [0.5, 0, 10.5, 10]], [], []], [[0.9, 0.8]]),
        # IoUs exactly on thresholds (integer boxes): 0.5, 0.55, 0.65, 0.75, 0.95 and 1.
        "exact thresholds": (
            [[[0, 0, 10, 20], [2, 0, 12, 10]], [[20, 20, 40, 35]], [[20, 20, 40, 39]]],
            [[0.9, 0.8], [0.7], [0.6]],
        ),
        # Tied scores across and within images.
        "tied scores": (
            [[[0, 0, 10, 10], [5, 5, 15, 15], [2, 0, 12, 10]], [[20, 20, 40, 41]], []],
            [[0.5, 0.5, 0.5], [0.5], []],
        ),
    }
    for name, (boxes, scores) in cases.items():
        scores = scores + [[]] * (3 - len(scores))
        labels = [[0] * len(b) if i == 0 else [1] * len(b) for i, b in enumerate(boxes)]
        scene = (boxes, scores, labels, truth, truth_labels)
        ours = mean_average_precision(*scene)
        try:
            assert_matches_coco(ours, pycocotools_ap(*scene, classes=range(2)))
        except AssertionError as error:
            raise AssertionError(f"case {name!r}: {error}") from None


def test_coco_keeps_100_detections_per_image_and_class():
    rng = np.random.default_rng(3)
    truth = [[[0, 0, 10, 10], [50, 50, 60, 60]]]
    # 150 false positives scoring above the two right boxes, one image, one class.
    noise = rng.uniform(100, 200, (150, 2))
    boxes = [np.concatenate([np.concatenate([noise, noise + 5], 1), truth[0]])]
    scores = [np.r_[rng.uniform(0.5, 1, 150), 0.4, 0.3]]
    labels = [np.zeros(152, int)]
    scene = (boxes, scores, labels, truth, [[0, 0]])
    ours = mean_average_precision(*scene)
    assert ours["AP"] == 0  # the right boxes rank 151st and 152nd: cut off
    assert_matches_coco(ours, pycocotools_ap(*scene, classes=[0]))
    unlimited = mean_average_precision(*scene, max_detections=1000)
    assert 0 < unlimited["AP"] < 0.05


def test_coco_undefined_and_perfect():
    empty = mean_average_precision([[[1, 1, 5, 5]]], [[0.5]], [[0]], [np.zeros((0, 4))], [[]])
    assert all(np.isnan(v) for v in empty.values())
    truth = [[[0, 0, 10, 10], [20, 20, 30, 30]]]
    perfect = mean_average_precision(truth, [[0.9, 0.8]], [[0, 1]], truth, [[0, 1]])
    assert all(v == pytest.approx(1.0) for v in perfect.values())
    missed = mean_average_precision([np.zeros((0, 4))], [[]], [[]], truth, [[0, 1]])
    assert missed == {"AP": 0.0, "AP50": 0.0, "AP75": 0.0}


def test_hand_worked_example_coco_voc_and_voc11():
    """One class, three truths; detections by score: TP, FP, TP, duplicate of the first
    (FP), FP. Precision 1, 1/2, 2/3, 1/2, 2/5 at recall 1/3, 1/3, 2/3, 2/3, 2/3."""
    truth = [[[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]]
    boxes = [[[0, 0, 10, 10], [60, 60, 70, 70], [20, 0, 30, 10], [1, 0, 11, 10], [80, 80, 90, 90]]]
    scene = (boxes, [[0.9, 0.8, 0.7, 0.6, 0.5]], [[0] * 5], truth, [[0, 0, 0]])
    # VOC2010+: area under the envelope = 1/3 * 1 + 1/3 * 2/3.
    assert mean_average_precision(*scene, convention="voc")["AP50"] == pytest.approx(5 / 9)
    # VOC2007: recall points 0-0.3 reach precision 1, 0.4-0.6 reach 2/3, 0.7-1 nothing.
    assert mean_average_precision(*scene, convention="voc11")["AP50"] == pytest.approx(6 / 11)
    # COCO: 34 of 101 recall points (0-0.33) at 1, 33 (0.34-0.66) at 2/3, at every threshold.
    coco = mean_average_precision(*scene)
    assert coco["AP"] == pytest.approx(56 / 101) and coco["AP75"] == pytest.approx(56 / 101)
    assert_matches_coco(coco, pycocotools_ap(*scene, classes=[0]))


def test_voc_counts_a_match_to_a_taken_truth_as_false_positive():
    truth = [[[0, 0, 10, 10], [2, 0, 12, 10]]]
    boxes = [[[0, 0, 10, 10], [0.5, 0, 10.5, 10]]]  # the second overlaps the first truth best
    scene = (boxes, [[0.9, 0.8]], [[0, 0]], truth, [[0, 0]])
    assert mean_average_precision(*scene, convention="voc") == {"AP50": 0.5}
    assert mean_average_precision(*scene, iou_thresholds=[0.5])["AP50"] == pytest.approx(1)


def test_voc_several_thresholds_and_classes():
    truth = [[[0, 0, 10, 10], [20, 20, 30, 30]], [[0, 0, 20, 20]]]
    boxes = [[[0, 0, 10, 8], [20, 20, 30, 30]], [[0, 0, 20, 20], [50, 50, 60, 60]]]
    scene = (boxes, [[0.9, 0.8], [0.7, 0.95]], [[0, 1], [0, 0]], truth, [[0, 1], [0]])
    result = mean_average_precision(*scene, iou_thresholds=[0.5, 0.9], convention="voc")
    # Class 0 at 0.5: FP (0.95), TP, TP -> precision 0, 1/2, 2/3 at recall 0, 1/2, 1: AP 2/3.
    # Class 0 at 0.9: the 0.8-IoU box misses -> FP, FP, TP: AP 1/2 * 1/3 = 1/6. Class 1: 1.
    assert result["AP50"] == pytest.approx((2 / 3 + 1) / 2)
    assert result["AP90"] == pytest.approx((1 / 6 + 1) / 2)
    assert result["AP"] == pytest.approx((result["AP50"] + result["AP90"]) / 2)


def test_coco_box_formats_and_thresholds_constant():
    assert len(COCO_IOU_THRESHOLDS) == 10 and COCO_IOU_THRESHOLDS[0] == 0.5
    boxes, scores, labels, truth_boxes, truth_labels = random_scene(11)
    reference = mean_average_precision(boxes, scores, labels, truth_boxes, truth_labels)
    as_xywh = [convert_format(np.reshape(b, (-1, 4)), "xyxy", "xywh") for b in boxes]
    truth_xywh = [convert_format(np.reshape(b, (-1, 4)), "xyxy", "xywh") for b in truth_boxes]
    converted = mean_average_precision(
        as_xywh, scores, labels, truth_xywh, truth_labels, box_format="xywh"
    )
    for name in reference:
        assert converted[name] == pytest.approx(reference[name], abs=1e-6)


def test_mean_average_precision_bad_input():
    truth = [[[0, 0, 10, 10]]]
    with pytest.raises(ValueError, match=r"unknown convention 'pascal'; choose one of"):
        mean_average_precision(truth, [[1.0]], [[0]], truth, [[0]], convention="pascal")
    with pytest.raises(ValueError, match=r"predictions cover 2 images but the ground truth 1"):
        mean_average_precision(truth * 2, [[1.0]] * 2, [[0]] * 2, truth, [[0]])
    with pytest.raises(ValueError, match=r"image 0 of the predictions has 1 boxes and 1 labels"):
        mean_average_precision(truth, [[1.0, 0.5]], [[0]], truth, [[0]])
    with pytest.raises(ValueError, match=r"iou_thresholds must be one or more values in \[0, 1\]"):
        mean_average_precision(truth, [[1.0]], [[0]], truth, [[0]], iou_thresholds=[1.5])
    with pytest.raises(ValueError, match=r"max_detections must be a positive int"):
        mean_average_precision(truth, [[1.0]], [[0]], truth, [[0]], max_detections=0)


# -- segmentation ------------------------------------------------------------------------


def test_pixel_accuracy_hand_values_scores_and_ignore():
    y_true = np.array([[0, 1, 2], [2, 2, 0]])
    y_pred = np.array([[0, 1, 1], [2, 0, 0]])
    assert pixel_accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert pixel_accuracy(y_true, np.eye(3)[y_pred]) == pytest.approx(4 / 6)
    assert pixel_accuracy(y_true[..., None], y_pred) == pytest.approx(4 / 6)
    assert pixel_accuracy(y_true, y_pred, ignore_class=2) == pytest.approx(3 / 3)


def test_mean_iou_hand_values_and_keras_metric():
    y_true = np.array([[0, 1, 2], [2, 2, 0]])
    y_pred = np.array([[0, 1, 1], [2, 0, 0]])
    # class 0: 2 / 3, class 1: 1 / 2, class 2: 1 / 3; class 3 never occurs
    assert mean_iou(y_true, y_pred, num_classes=4) == pytest.approx((2 / 3 + 1 / 2 + 1 / 3) / 3)
    # without the pixels labelled 2, classes 0 and 1 are predicted perfectly
    assert mean_iou(y_true, y_pred, 4, ignore_class=2) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    masks = rng.integers(0, 4, (6, 16, 16))
    scores = rng.random((6, 16, 16, 4)).astype(np.float32)
    keras_metric = MeanIoU(num_classes=4, sparse_y_pred=False)
    keras_metric.update_state(masks, scores)
    assert mean_iou(masks, scores, 4) == pytest.approx(keras_metric.result(), rel=1e-5)


def test_segmentation_bad_input():
    with pytest.raises(ValueError, match=r"pixel_accuracy: y_true has shape \(2, 2\) but y_pred"):
        pixel_accuracy(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"mean_iou: y_pred holds class 5, outside \[0, 3\)"):
        mean_iou([0, 1], [0, 5], num_classes=3)
    with pytest.raises(ValueError, match=r"mean_iou: num_classes must be a positive int"):
        mean_iou([0, 1], [0, 1], num_classes=0)
    with pytest.raises(ValueError, match=r"mean_iou: y_true must hold integer class ids"):
        mean_iou([0.5, 1], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match=r"pixel_accuracy: no pixels to score"):
        pixel_accuracy([1, 1], [1, 0], ignore_class=1)


# -- frechet_distance --------------------------------------------------------------------


def eigen_reference(a, b):
    """FID with Tr((C_a C_b)^½) from the (real, non-negative) eigenvalues of C_a C_b."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    return ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root


def correlated_features(seed, n=400, d=12, shift=0.0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mixing + shift).astype(np.float32)


def test_frechet_distance_matches_eigen_reference():
    a, b = correlated_features(0), correlated_features(1, shift=0.3)
    expected = eigen_reference(a.astype(np.float64), b.astype(np.float64))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy is not installed")
    a, b = correlated_features(2, n=300, d=20), correlated_features(3, n=500, d=20, shift=-0.2)
    a, b = a.astype(np.float64), b.astype(np.float64)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_one_dimension_and_identity():
    rng = np.random.default_rng(4)
    a, b = rng.normal(1, 2, (500, 1)), rng.normal(-1, 0.5, (800, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    features = correlated_features(5)
    assert frechet_distance(features, features) == pytest.approx(0, abs=1e-6)
    # Rank-deficient covariances (fewer samples than features) stay finite and >= 0.
    assert frechet_distance(features[:5], features[5:10]) >= 0


def test_frechet_distance_bad_input():
    with pytest.raises(ValueError, match=r"frechet_distance: expected two \(n, d\) feature arrays"):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"got shapes \(1, 3\) and \(10, 3\)"):
        frechet_distance(np.zeros((1, 3)), np.zeros((10, 3)))

"""The metrics of the vision case studies: detection AP (COCO and Pascal VOC conventions),
segmentation pixel accuracy and mean IoU, and the Fréchet distance between feature sets.

:func:`mean_average_precision` reproduces pycocotools' ``COCOeval`` for boxes (AP@[.5:.95],
AP50, AP75: 101-point interpolated precision, 100 detections per image and class, all
areas) and the Pascal VOC rules (AP50 with 11-point or all-point interpolation). The
per-image matching runs for all images at once: one vectorised step per detection rank.
These are evaluation metrics, not training: boxes, scores and counts are taken to float64
on purpose, as pycocotools computes, so IoUs at a threshold and cumulative precision compare
exactly as the reference's do.

Example:
    >>> truth = numpy.array([[[0, 0, 10, 10]]])
    >>> result = mean_average_precision(truth, [[0.9]], [[0]], truth, [[0]])
    >>> {name: round(value, 6) for name, value in result.items()}
    {'AP': 1.0, 'AP50': 1.0, 'AP75': 1.0}
    >>> pixel_accuracy([[0, 1], [1, 1]], [[0, 1], [0, 1]])
    0.75
"""

from __future__ import annotations

import numpy

from .boxes import _as_float_boxes, _pairwise_iou, convert_format

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "frechet_distance",
    "mean_average_precision",
    "mean_iou",
    "pixel_accuracy",
]

COCO_IOU_THRESHOLDS = tuple(numpy.linspace(0.5, 0.95, 10).tolist())
"""The ten IoU thresholds 0.50, 0.55, …, 0.95 of COCO's AP@[.5:.95], as pycocotools has them."""

_COCO_RECALL_POINTS = numpy.linspace(0.0, 1.0, 101)
_CONVENTIONS = ("coco", "voc", "voc11")


# -- detection -----------------------------------------------------------------------------


def _flatten_detections(caller, what, boxes, labels, scores=None):
    """Per-image lists or padded arrays → flat (image, label, box[, score]) arrays.

    Rows whose label is negative are padding and dropped.
    """
    if len(boxes) != len(labels) or (scores is not None and len(scores) != len(labels)):
        counts = [len(boxes), len(labels)] + ([] if scores is None else [len(scores)])
        raise ValueError(f"{caller}: {what} inputs disagree on the number of images: {counts}")
    flat_boxes, flat_labels, flat_scores, images = [], [], [], []
    for i in range(len(labels)):
        image_labels = numpy.asarray(labels[i]).reshape(-1)
        if image_labels.dtype.kind not in "iuf":
            raise ValueError(f"{caller}: {what} labels of image {i} are not numbers")
        image_boxes = _as_float_boxes(caller, numpy.reshape(boxes[i], (-1, 4)), f"{what} boxes")
        image_scores = None if scores is None else numpy.asarray(scores[i]).reshape(-1)
        sizes = {len(image_boxes), len(image_labels)}
        sizes |= set() if image_scores is None else {len(image_scores)}
        if len(sizes) != 1:
            raise ValueError(
                f"{caller}: image {i} of the {what} has {len(image_boxes)} boxes and "
                f"{len(image_labels)} labels"
                + ("" if image_scores is None else f" and {len(image_scores)} scores")
                + "; they must match one to one"
            )
        kept = image_labels >= 0
        flat_boxes.append(image_boxes[kept])
        flat_labels.append(image_labels[kept].astype(numpy.int64))
        images.append(numpy.full(int(kept.sum()), i, numpy.int64))
        if image_scores is not None:
            flat_scores.append(image_scores[kept].astype(numpy.float64))
    if not images:
        flat_boxes, flat_labels, flat_scores = [numpy.zeros((0, 4))], [numpy.zeros(0, int)], [[]]
        images = [numpy.zeros(0, numpy.int64)]
    flat = {
        "image": numpy.concatenate(images),
        "label": numpy.concatenate(flat_labels),
        # float64 so IoUs equal to a threshold compare the way pycocotools' do
        "box": numpy.concatenate(flat_boxes).astype(numpy.float64),
    }
    if scores is not None:
        flat["score"] = numpy.concatenate(flat_scores).astype(numpy.float64)
    return flat


def _rank_within_groups(group):
    """For an array already sorted by group: each entry's position within its group."""
    if len(group) == 0:
        return numpy.zeros(0, numpy.intp)
    starts = numpy.flatnonzero(numpy.r_[True, group[1:] != group[:-1]])
    sizes = numpy.diff(numpy.r_[starts, len(group)])
    return numpy.arange(len(group)) - numpy.repeat(starts, sizes)


def _match_detections(detections, truths, thresholds, convention):
    """Greedy matching per (image, class), for every IoU threshold.

    Returns ``(T, D)`` booleans: detection d is a true positive at threshold t. COCO gives
    each detection, best score first, the unmatched ground truth it overlaps most; VOC
    takes the ground truth it overlaps most and counts a repeat match as a false positive.
    All (image, class) groups advance together, one detection rank at a time.
    """
    num_thresholds = len(thresholds)
    if len(truths["label"]) == 0 or len(detections["label"]) == 0:
        return numpy.zeros((num_thresholds, len(detections["label"])), bool)
    num_labels = int(max(detections["label"].max(initial=0), truths["label"].max(initial=0))) + 1
    det_key = detections["image"] * num_labels + detections["label"]
    truth_key = truths["image"] * num_labels + truths["label"]
    keys, group_index = numpy.unique(numpy.r_[det_key, truth_key], return_inverse=True)
    det_group, truth_group = group_index[: len(det_key)], group_index[len(det_key) :]
    det_rank, truth_rank = detections["rank"], _rank_within_groups(truth_group)

    det_count, truth_count = det_rank.max(initial=-1) + 1, truth_rank.max(initial=-1) + 1
    det_boxes = numpy.zeros((len(keys), det_count, 4))
    det_boxes[det_group, det_rank] = detections["box"]
    det_valid = numpy.zeros((len(keys), det_count), bool)
    det_valid[det_group, det_rank] = True
    truth_boxes = numpy.zeros((len(keys), truth_count, 4))
    truth_boxes[truth_group, truth_rank] = truths["box"]
    truth_valid = numpy.zeros((len(keys), truth_count), bool)
    truth_valid[truth_group, truth_rank] = True
    overlaps = _pairwise_iou(det_boxes, truth_boxes)  # (groups, det ranks, truths)
    overlaps[~numpy.broadcast_to(truth_valid[:, None, :], overlaps.shape)] = -1

    # pycocotools caps a threshold of 1 just below it, so an exact overlap still matches.
    limits = numpy.minimum(numpy.asarray(thresholds, numpy.float64), 1 - 1e-10)[None, :, None]
    taken = numpy.zeros((len(keys), num_thresholds, truth_count), bool)
    matched = numpy.zeros((len(keys), num_thresholds, det_count), bool)
    for rank in range(det_count):
        row = overlaps[:, rank, None, :]  # (groups, 1, truths)
        if convention == "coco":
            eligible = (row >= limits) & ~taken
            # Among equal overlaps pycocotools keeps the last truth: argmax of the reverse.
            candidates = numpy.where(eligible, row, -2.0)[..., ::-1]
            best = truth_count - 1 - candidates.argmax(axis=-1)
            hit = eligible.any(axis=-1)
        else:
            best_truth = row[:, 0].argmax(axis=-1)  # (groups,): the first of equal overlaps
            best_overlap = row[numpy.arange(len(keys)), 0, best_truth]
            best = numpy.repeat(best_truth[:, None], num_thresholds, axis=1)
            repeat = numpy.take_along_axis(taken, best[..., None], axis=-1)[..., 0]
            hit = (best_overlap[:, None] >= limits[0, :, 0]) & ~repeat
        hit &= det_valid[:, rank, None]
        matched[:, :, rank] = hit
        group_hit, threshold_hit = numpy.nonzero(hit)
        taken[group_hit, threshold_hit, best[group_hit, threshold_hit]] = True
    return matched[det_group, :, det_rank].T


def _coco_average_precision(hits, count):
    """COCO's 101-point interpolated precision for one class and one threshold."""
    if len(hits) == 0:
        return 0.0
    true_positives = numpy.cumsum(hits, dtype=numpy.float64)
    false_positives = numpy.cumsum(~hits, dtype=numpy.float64)
    recall = true_positives / count
    precision = true_positives / (true_positives + false_positives + numpy.spacing(1))
    precision = numpy.maximum.accumulate(precision[::-1])[::-1]  # precision envelope
    index = numpy.searchsorted(recall, _COCO_RECALL_POINTS, side="left")
    reached = index < len(precision)
    return float(
        numpy.where(reached, precision[numpy.minimum(index, len(precision) - 1)], 0).mean()
    )


def _voc_average_precision(hits, count, eleven_points):
    true_positives = numpy.cumsum(hits, dtype=numpy.float64)
    recall = true_positives / count
    precision = true_positives / numpy.maximum(numpy.arange(1, len(hits) + 1), 1)
    if eleven_points:  # VOC2007: mean of the best precision at recall >= 0, 0.1, ..., 1
        points = numpy.linspace(0, 1, 11)
        reached = recall[None, :] >= points[:, None]
        return float(numpy.where(reached, precision[None, :], 0).max(axis=1, initial=0).mean())
    # VOC2010+: area under the precision envelope, summed where recall changes.
    recall = numpy.r_[0.0, recall, 1.0]
    precision = numpy.maximum.accumulate(numpy.r_[0.0, precision, 0.0][::-1])[::-1]
    steps = numpy.flatnonzero(recall[1:] != recall[:-1])
    return float(((recall[steps + 1] - recall[steps]) * precision[steps + 1]).sum())


def _threshold_name(threshold):
    return f"AP{round(threshold * 100):d}"


def mean_average_precision(
    pred_boxes,
    pred_scores,
    pred_labels,
    true_boxes,
    true_labels,
    iou_thresholds=None,
    convention="coco",
    max_detections=None,
    box_format="xyxy",
):
    """Detection mean average precision over classes, as COCO or Pascal VOC define it.

    Predictions and ground truth are given per image, either as padded arrays
    (``boxes (N, K, 4)``, ``scores``/``labels (N, K)``, label -1 = padding) or as lists of
    per-image arrays. Boxes are pixels in ``box_format`` (``"xyxy"`` by default).

    - ``convention="coco"`` (pycocotools' ``COCOeval``, bbox, area "all"): returns
      ``{"AP": ..., "AP50": ..., "AP75": ...}``; AP averages the ``iou_thresholds``
      (default :data:`COCO_IOU_THRESHOLDS`) and the classes that have ground truth; the
      precision is interpolated at 101 recall points; at most ``max_detections`` (default
      100) best-scored detections per image and class count.
    - ``convention="voc"`` (VOC2010+, all-point area) or ``"voc11"`` (VOC2007, 11-point):
      returns ``{"AP50": ...}`` (one ``"AP<t>"`` per threshold, default 0.5, plus their
      mean ``"AP"`` when several). A detection whose best-overlapping box is already
      matched is a false positive; no "difficult" boxes; no detection limit by default.

    Classes without any ground-truth box are left out of the mean; with none at all the
    values are NaN.

    Example:
        >>> truth_boxes = numpy.array([[[0, 0, 10, 10], [20, 20, 30, 30]]])
        >>> truth_labels = numpy.array([[0, 1]])
        >>> boxes = numpy.array([[[0, 0, 10, 9], [20, 20, 30, 30], [50, 50, 60, 60]]])
        >>> scores, labels = numpy.array([[0.9, 0.8, 0.95]]), numpy.array([[0, 1, 1]])
        >>> result = mean_average_precision(boxes, scores, labels, truth_boxes, truth_labels)
        >>> {name: round(value, 4) for name, value in result.items()}
        {'AP': 0.7, 'AP50': 0.75, 'AP75': 0.75}
        >>> mean_average_precision(
        ...     boxes, scores, labels, truth_boxes, truth_labels, convention="voc")
        {'AP50': 0.75}
    """
    caller = "mean_average_precision"
    if convention not in _CONVENTIONS:
        raise ValueError(
            f"{caller}: unknown convention {convention!r}; choose one of {_CONVENTIONS}"
        )
    if iou_thresholds is None:
        iou_thresholds = COCO_IOU_THRESHOLDS if convention == "coco" else (0.5,)
    thresholds = numpy.atleast_1d(numpy.asarray(iou_thresholds, numpy.float64))
    if thresholds.ndim != 1 or len(thresholds) == 0 or ((thresholds < 0) | (thresholds > 1)).any():
        raise ValueError(
            f"{caller}: iou_thresholds must be one or more values in [0, 1]; got {iou_thresholds!r}"
        )
    if max_detections is None:
        max_detections = 100 if convention == "coco" else None
    elif isinstance(max_detections, bool) or max_detections < 1:
        raise ValueError(f"{caller}: max_detections must be a positive int; got {max_detections!r}")
    if len(pred_boxes) != len(true_boxes):
        raise ValueError(
            f"{caller}: predictions cover {len(pred_boxes)} images but the ground truth "
            f"{len(true_boxes)}"
        )
    detections = _flatten_detections(caller, "predictions", pred_boxes, pred_labels, pred_scores)
    truths = _flatten_detections(caller, "ground truth", true_boxes, true_labels)
    by_group = numpy.lexsort((truths["label"], truths["image"]))
    truths = {name: values[by_group] for name, values in truths.items()}
    if box_format != "xyxy":
        detections["box"] = convert_format(detections["box"], box_format, "xyxy", dtype="float64")
        truths["box"] = convert_format(truths["box"], box_format, "xyxy", dtype="float64")

    # Best score first within each (image, class); ties keep the given order, as in COCO.
    order = numpy.lexsort((-detections["score"], detections["label"], detections["image"]))
    detections = {name: values[order] for name, values in detections.items()}
    detections["rank"] = _rank_within_groups(detections["image"] * (1 << 32) + detections["label"])
    if max_detections is not None:
        within = detections["rank"] < max_detections
        detections = {name: values[within] for name, values in detections.items()}
    matched = _match_detections(detections, truths, thresholds, convention)

    per_class = []
    for label in numpy.unique(truths["label"]):
        count = int((truths["label"] == label).sum())
        of_class = numpy.flatnonzero(detections["label"] == label)
        by_score = of_class[numpy.argsort(-detections["score"][of_class], kind="stable")]
        hits = matched[:, by_score]
        if convention == "coco":
            per_class.append([_coco_average_precision(h, count) for h in hits])
        else:
            per_class.append(
                [_voc_average_precision(h, count, convention == "voc11") for h in hits]
            )
    per_threshold = (
        numpy.mean(per_class, axis=0) if per_class else numpy.full(len(thresholds), numpy.nan)
    )
    if convention == "coco":
        result = {"AP": float(per_threshold.mean())}
        for named in (0.5, 0.75):
            found = numpy.flatnonzero(numpy.isclose(thresholds, named))
            if len(found):
                result[_threshold_name(named)] = float(per_threshold[found[0]])
        return result
    result = {_threshold_name(t): float(ap) for t, ap in zip(thresholds, per_threshold)}
    if len(thresholds) > 1:
        result["AP"] = float(per_threshold.mean())
    return result


# -- segmentation ------------------------------------------------------------------------


def _class_maps(caller, y_true, y_pred):
    """Integer class maps of the same shape; scores with one more axis are argmaxed."""
    y_true, y_pred = numpy.asarray(y_true), numpy.asarray(y_pred)
    if y_true.ndim >= 2 and y_true.shape[-1] == 1 and y_true.shape != y_pred.shape:
        y_true = y_true[..., 0]  # Keras-style sparse labels with a trailing axis of 1
    if y_pred.ndim == y_true.ndim + 1:
        y_pred = y_pred.argmax(axis=-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y_true has shape {y_true.shape} but y_pred {y_pred.shape}; pass class "
            "maps of the same shape, or per-class scores with one more (last) axis"
        )
    for what, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.dtype.kind not in "iub" and not (values == numpy.floor(values)).all():
            raise ValueError(f"{caller}: {what} must hold integer class ids")
    return y_true.astype(numpy.int64).reshape(-1), y_pred.astype(numpy.int64).reshape(-1)


def pixel_accuracy(y_true, y_pred, ignore_class=None):
    """Share of pixels whose predicted class equals the true one.

    ``y_pred`` holds class ids of ``y_true``'s shape or per-class scores with one more
    last axis (their argmax is taken). Pixels labelled ``ignore_class`` are left out.

    Example:
        >>> scores = numpy.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.3, 0.7]]])
        >>> pixel_accuracy([[0, 1], [1, 1]], scores)
        0.75
    """
    y_true, y_pred = _class_maps("pixel_accuracy", y_true, y_pred)
    if ignore_class is not None:
        kept = y_true != ignore_class
        y_true, y_pred = y_true[kept], y_pred[kept]
    if y_true.size == 0:
        raise ValueError("pixel_accuracy: no pixels to score (empty input, or all ignored)")
    return float((y_true == y_pred).mean())


def mean_iou(y_true, y_pred, num_classes, ignore_class=None):
    """Mean over classes of ``intersection / union`` of true and predicted pixels.

    The same value as ``shinsou.metrics.MeanIoU(num_classes)`` over the same pixels:
    classes absent from both ``y_true`` and ``y_pred`` are left out of the mean. Inputs as
    for :func:`pixel_accuracy`.

    Example:
        >>> round(mean_iou([[0, 0], [1, 1]], [[0, 1], [1, 1]], num_classes=2), 4)
        0.5833
    """
    caller = "mean_iou"
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{caller}: num_classes must be a positive int; got {num_classes!r}")
    y_true, y_pred = _class_maps(caller, y_true, y_pred)
    if ignore_class is not None:
        kept = y_true != ignore_class
        y_true, y_pred = y_true[kept], y_pred[kept]
    for what, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            culprit = values.min() if values.min() < 0 else values.max()
            raise ValueError(
                f"{caller}: {what} holds class {culprit}, outside [0, {num_classes}) "
                f"(num_classes={num_classes})"
            )
    confusion = numpy.bincount(
        y_true * num_classes + y_pred, minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)
    intersection = numpy.diagonal(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    present = union > 0
    if not present.any():
        raise ValueError(f"{caller}: no pixels to score (empty input, or all ignored)")
    return float((intersection[present] / union[present]).mean())


# -- generation --------------------------------------------------------------------------


def _symmetric_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix through its eigenbasis."""
    values, vectors = numpy.linalg.eigh(matrix)
    return (vectors * numpy.sqrt(numpy.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

    ``||mu_a - mu_b||² + Tr(C_a + C_b - 2 (C_a C_b)^½)`` with sample means and
    covariances (``ddof=1``) of ``(n, d)`` features: FID when the features are Inception
    pool activations, a "Fréchet classifier distance" with any other network's features.
    ``Tr((C_a C_b)^½)`` is the sum of the square roots of the eigenvalues of the symmetric
    ``C_a^½ C_b C_a^½``, so no general matrix square root (or scipy) is needed. Computed
    in float64: the result is a small difference of large sums.

    Example:
        >>> rng = numpy.random.default_rng(0)
        >>> a = rng.standard_normal((2000, 3))
        >>> round(frechet_distance(a, a), 6), round(frechet_distance(a, a + 2), 6)
        (0.0, 12.0)
    """
    caller = "frechet_distance"
    a = numpy.asarray(features_a, numpy.float64)
    b = numpy.asarray(features_b, numpy.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"{caller}: expected two (n, d) feature arrays with the same d and n >= 2; got "
            f"shapes {a.shape} and {b.shape}"
        )
    mean_gap = a.mean(axis=0) - b.mean(axis=0)
    cov_a = numpy.atleast_2d(numpy.cov(a, rowvar=False))
    cov_b = numpy.atleast_2d(numpy.cov(b, rowvar=False))
    root_a = _symmetric_sqrt(cov_a)
    product = root_a @ cov_b @ root_a
    product = (product + product.T) / 2  # symmetric up to rounding; make it exactly so
    cross_trace = numpy.sqrt(numpy.clip(numpy.linalg.eigvalsh(product), 0, None)).sum()
    distance = mean_gap @ mean_gap + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * cross_trace
    return float(max(distance, 0.0))

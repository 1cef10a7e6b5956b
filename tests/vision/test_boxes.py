"""vision.boxes: format conversion, pairwise IoU and NMS against plain references (and a
PyTorch re-implementation of torchvision's ``nms``), grid encoding round trips."""

import itertools

import numpy as np
import pytest

from shinsou.vision import boxes as boxes_module
from shinsou.vision.boxes import (
    BOX_FORMATS,
    clip_boxes,
    convert_format,
    decode_grid,
    encode_grid,
    iou,
    nms,
    pad_boxes,
)
from support import requires_torch, torch


def random_boxes(count, seed=0, size=100.0, max_side=30.0):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, size, (count, 2))
    side = rng.uniform(1, max_side, (count, 2))
    return np.concatenate([corner, corner + side], axis=1).astype(np.float32)


def reference_iou(a, b):
    """One pair at a time, in float64."""
    out = np.zeros((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        width = min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0])
        height = min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1])
        inter = max(width, 0) * max(height, 0)
        area_a = max(a[i, 2] - a[i, 0], 0) * max(a[i, 3] - a[i, 1], 0)
        area_b = max(b[j, 2] - b[j, 0], 0) * max(b[j, 3] - b[j, 1], 0)
        union = area_a + area_b - inter
        out[i, j] = inter / union if union > 0 else 0.0
    return out


def broadcast_iou(a, b):
    """The same formula in float64 by broadcasting, for larger reference computations."""
    a, b = a.astype(np.float64)[:, None], b.astype(np.float64)[None]
    sides = np.clip(
        np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None
    )
    inter = sides.prod(-1)
    union = (a[..., 2:] - a[..., :2]).prod(-1) + (b[..., 2:] - b[..., :2]).prod(-1) - inter
    return inter / union


def reference_nms(boxes, scores, threshold, labels=None):
    """The textbook greedy loop over every pair."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    suppressed, kept = set(), []
    overlaps = broadcast_iou(boxes, boxes)
    for i in order:
        if i in suppressed:
            continue
        kept.append(i)
        for j in order:
            same_class = labels is None or labels[i] == labels[j]
            if j != i and same_class and overlaps[i, j] > threshold:
                suppressed.add(j)
    return kept


def torch_nms(boxes, scores, threshold):
    """torchvision.ops.nms's semantics written with plain torch tensor ops."""
    boxes, scores = torch.from_numpy(boxes), torch.from_numpy(scores)
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = torch.sort(scores, descending=True, stable=True).indices
    kept = []
    while order.numel():
        i = order[0]
        kept.append(int(i))
        rest = order[1:]
        width = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        height = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = width * height
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = rest[overlap <= threshold]
    return kept


# -- convert_format ----------------------------------------------------------------------


def test_convert_format_known_values():
    xyxy = np.array([[10, 20, 30, 60]], np.float32)
    expected = {
        "xyxy": [10, 20, 30, 60],
        "yxyx": [20, 10, 60, 30],
        "xywh": [10, 20, 20, 40],
        "center_xywh": [20, 40, 20, 40],
        "cxcywh": [20, 40, 20, 40],
        "center_yxhw": [40, 20, 40, 20],
    }
    for fmt, values in expected.items():
        out = convert_format(xyxy, "xyxy", fmt)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out[0], values, err_msg=fmt)
        np.testing.assert_allclose(convert_format(out, fmt, "xyxy"), xyxy, err_msg=fmt)


def test_convert_format_round_trips_every_pair_and_keeps_leading_axes():
    boxes = random_boxes(12).reshape(3, 4, 4)
    for source, target in itertools.product(BOX_FORMATS, repeat=2):
        there = convert_format(boxes, "xyxy", source, height=120, width=150)
        back = convert_format(there, source, target, height=120, width=150)
        again = convert_format(back, target, "xyxy", height=120, width=150)
        assert again.shape == (3, 4, 4)
        np.testing.assert_allclose(again, boxes, rtol=1e-5, atol=1e-4, err_msg=(source, target))


def test_convert_format_relative_and_dicts():
    boxes = np.array([[10, 20, 30, 40], [50, 60, 70, 80]])
    relative = convert_format(boxes, "xyxy", "rel_xyxy", height=200, width=300)
    np.testing.assert_allclose(relative[0], [10 / 300, 20 / 200, 30 / 300, 40 / 200], rtol=1e-6)
    converted = convert_format({"boxes": boxes, "labels": [1, 2]}, "XYXY", "xywh")
    assert converted["labels"] == [1, 2]
    np.testing.assert_allclose(converted["boxes"][1], [50, 60, 20, 20])


def test_convert_format_bad_input():
    with pytest.raises(ValueError, match=r"convert_format: unknown box format 'xxyy'"):
        convert_format(np.zeros((1, 4)), "xxyy", "xyxy")
    with pytest.raises(ValueError, match=r"needs the image height and width"):
        convert_format(np.zeros((1, 4)), "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match=r"last axis holds 4 coordinates; got shape \(2, 3\)"):
        convert_format(np.zeros((2, 3)), "xyxy", "xywh")


# -- iou ---------------------------------------------------------------------------------


def test_iou_matches_pairwise_reference():
    a, b = random_boxes(30, seed=1), random_boxes(20, seed=2)
    out = iou(a, b)
    assert out.shape == (30, 20) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_iou(a, b), rtol=1e-5, atol=1e-6)


def test_iou_hand_values_degenerate_and_inverted_boxes():
    a = np.array([[0, 0, 2, 2], [0, 0, 0, 5], [4, 4, 2, 2]], np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [0, 0, 0, 5]], np.float32)
    np.testing.assert_allclose(
        iou(a, b), [[1 / 7, 1, 0], [0, 0, 0], [0, 0, 0]], rtol=1e-6, atol=1e-7
    )


def test_iou_batched_large_and_other_formats():
    a, b = random_boxes(24, seed=3).reshape(2, 12, 4), random_boxes(10, seed=4)
    batched = iou(a, b[None])
    assert batched.shape == (2, 12, 10)
    np.testing.assert_allclose(batched[1], iou(a[1], b), rtol=1e-6)
    # Past the chunk size the matrix is computed a band of rows at a time.
    many = random_boxes(1500, seed=5, size=300)
    full = iou(many, many[:100])
    np.testing.assert_allclose(full[1400:1410], reference_iou(many[1400:1410], many[:100]), 1e-5)
    xywh = convert_format(many[:50], "xyxy", "xywh")
    np.testing.assert_allclose(iou(xywh, xywh, box_format="xywh"), full[:50, :50], rtol=1e-5)


@requires_torch
def test_iou_matches_torch_formula():
    a, b = random_boxes(40, seed=6), random_boxes(30, seed=7)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    low = torch.maximum(ta[:, None, :2], tb[None, :, :2])
    high = torch.minimum(ta[:, None, 2:], tb[None, :, 2:])
    inter = (high - low).clamp(min=0).prod(-1)
    area_a, area_b = (ta[:, 2:] - ta[:, :2]).prod(-1), (tb[:, 2:] - tb[:, :2]).prod(-1)
    expected = inter / (area_a[:, None] + area_b[None] - inter)
    np.testing.assert_allclose(iou(a, b), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_iou_bad_input():
    with pytest.raises(ValueError, match=r"iou: boxes_a and boxes_b must be \(\.\.\., N, 4\)"):
        iou(np.zeros(4), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"iou: boxes_b must be a numeric array"):
        iou(np.zeros((1, 4)), np.zeros((2, 5)))


# -- nms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7])
def test_nms_matches_greedy_reference(threshold):
    boxes = random_boxes(200, seed=8, size=80)
    scores = np.random.default_rng(9).random(200).astype(np.float32)
    kept = nms(boxes, scores, iou_threshold=threshold)
    assert kept.dtype == np.intp
    assert kept.tolist() == reference_nms(boxes, scores, threshold)


def test_nms_class_aware_matches_reference():
    boxes = random_boxes(150, seed=10, size=60)
    scores = np.random.default_rng(11).random(150).astype(np.float32)
    labels = np.random.default_rng(12).integers(0, 3, 150)
    kept = nms(boxes, scores, iou_threshold=0.4, labels=labels)
    assert kept.tolist() == reference_nms(boxes, scores, 0.4, labels)
    # Class-aware NMS is plain NMS per class, merged by score.
    per_class = []
    for label in range(3):
        chosen = np.flatnonzero(labels == label)
        per_class += chosen[nms(boxes[chosen], scores[chosen], 0.4)].tolist()
    assert sorted(per_class, key=lambda i: -scores[i]) == kept.tolist()


def test_nms_spans_several_blocks(monkeypatch):
    monkeypatch.setattr(boxes_module, "_NMS_BLOCK", 64)  # 300 boxes cross 5 blocks
    boxes = random_boxes(300, seed=13, size=70)
    scores = np.random.default_rng(14).random(300).astype(np.float32)
    labels = np.random.default_rng(15).integers(0, 2, 300)
    assert nms(boxes, scores, 0.5).tolist() == reference_nms(boxes, scores, 0.5)
    assert nms(boxes, scores, 0.5, labels=labels).tolist() == reference_nms(
        boxes, scores, 0.5, labels
    )
    assert (
        nms(boxes, scores, 0.5, max_outputs=70).tolist() == reference_nms(boxes, scores, 0.5)[:70]
    )


@requires_torch
def test_nms_matches_torch_reimplementation():
    boxes = random_boxes(500, seed=16, size=120)
    scores = np.random.default_rng(17).random(500).astype(np.float32)
    assert nms(boxes, scores, 0.45).tolist() == torch_nms(boxes, scores, 0.45)


def test_nms_thresholds_limits_and_empty_input():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 9, 9]])
    scores = np.array([0.9, 0.85, 0.3, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms(boxes, scores, 0.5, score_threshold=0.5).tolist() == [0]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 3, 2]
    assert nms(boxes, scores, 0.9, max_outputs=2).tolist() == [0, 1]
    assert nms(boxes, scores, 0.9, max_outputs=0).tolist() == []
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []
    cxcywh = convert_format(boxes, "xyxy", "cxcywh")
    assert nms(cxcywh, scores, 0.5, box_format="cxcywh").tolist() == [0, 2]


def test_nms_bad_input():
    with pytest.raises(ValueError, match=r"nms: expected boxes of shape \(K, 4\) and scores"):
        nms(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match=r"nms: labels must hold one class per box"):
        nms(np.zeros((3, 4)), np.zeros(3), labels=[1, 2])
    with pytest.raises(ValueError, match=r"nms: max_outputs must be a non-negative int"):
        nms(np.zeros((3, 4)), np.zeros(3), max_outputs=-1)


# -- clip_boxes, pad_boxes -------------------------------------------------------------


def test_clip_and_pad_boxes():
    np.testing.assert_array_equal(
        clip_boxes([[-5, 3, 50, 90], [1, 2, 3, 4]], (64, 48)), [[0, 3, 48, 64], [1, 2, 3, 4]]
    )
    boxes, labels = pad_boxes(
        [np.ones((3, 4)), np.zeros((0, 4)), np.full((1, 4), 2.0)], [[0, 1, 2], [], [1]]
    )
    assert boxes.shape == (3, 3, 4) and boxes.dtype == np.float32 and labels.dtype == np.int32
    assert labels.tolist() == [[0, 1, 2], [-1, -1, -1], [1, -1, -1]]
    repadded, relabelled = pad_boxes(boxes, labels, max_boxes=5)
    assert repadded.shape == (3, 5, 4) and relabelled[2].tolist() == [1, -1, -1, -1, -1]
    with pytest.raises(ValueError, match=r"pad_boxes: an image has 3 boxes, more than max_boxes=2"):
        pad_boxes(boxes, labels, max_boxes=2)
    with pytest.raises(ValueError, match=r"pad_boxes: image 0 has 3 boxes but 2 labels"):
        pad_boxes([np.ones((3, 4))], [[0, 1]])


# -- encode_grid / decode_grid ---------------------------------------------------------


def padded_targets():
    boxes = np.array(
        [
            [[4, 6, 20, 30], [40, 8, 60, 20], [0, 0, 0, 0]],
            [[10, 10, 50, 54], [0, 0, 0, 0], [0, 0, 0, 0]],
        ],
        np.float32,
    )
    labels = np.array([[0, 2, -1], [1, -1, -1]])
    return boxes, labels


def test_encode_grid_assigns_centre_cells_and_decodes_back():
    boxes, labels = padded_targets()
    target = encode_grid(boxes, labels, (64, 64), (8, 8))
    assert target["objectness"].shape == (2, 8, 8) and target["boxes"].shape == (2, 8, 8, 4)
    assert target["labels"].dtype == np.int32 and target["objectness"].dtype == np.float32
    # Centres (12, 18), (50, 14), (30, 32) fall in cells (row 2, col 1), (1, 6), (4, 3).
    assert sorted(zip(*np.nonzero(target["objectness"]))) == [(0, 1, 6), (0, 2, 1), (1, 4, 3)]
    assert target["labels"][0, 2, 1] == 0 and target["labels"][0, 1, 6] == 2
    assert (target["labels"] >= 0).sum() == 3
    np.testing.assert_allclose(
        target["boxes"][0, 2, 1], [0.5, 0.25, np.log(16 / 8), np.log(24 / 8)], rtol=1e-6
    )
    decoded = decode_grid(target["boxes"], (64, 64))
    np.testing.assert_allclose(decoded[0, 2, 1], boxes[0, 0], atol=1e-4)
    np.testing.assert_allclose(decoded[0, 1, 6], boxes[0, 1], atol=1e-4)
    np.testing.assert_allclose(decoded[1, 4, 3], boxes[1, 0], atol=1e-4)


def test_encode_grid_with_anchors_picks_best_shape_and_round_trips():
    boxes, labels = padded_targets()
    anchors = np.array([[16, 16], [24, 12], [40, 40]], np.float32)
    target = encode_grid(boxes, labels, (64, 64), (4, 4), anchors=anchors)
    assert target["boxes"].shape == (2, 4, 4, 3, 4)
    # 16x24 box -> the 16x16 anchor; 20x12 -> 24x12; 40x44 -> 40x40.
    assert target["objectness"][0, 1, 0, 0] == 1
    assert target["objectness"][0, 0, 3, 1] == 1
    assert target["objectness"][1, 2, 1, 2] == 1
    decoded = decode_grid(target["boxes"], (64, 64), anchors=anchors)
    np.testing.assert_allclose(decoded[1, 2, 1, 2], boxes[1, 0], atol=1e-4)


def test_encode_grid_collision_keeps_the_smaller_box():
    boxes = np.array([[[0, 0, 30, 30], [10, 10, 20, 20], [12, 12, 14, 14]]], np.float32)
    target = encode_grid(boxes, np.array([[0, 1, -1]]), (32, 32), (2, 2))
    assert target["objectness"].sum() == 1 and target["labels"][0, 0, 0] == 1
    np.testing.assert_allclose(decode_grid(target["boxes"], (32, 32))[0, 0, 0], boxes[0, 1])


def test_encode_decode_random_round_trip():
    boxes = random_boxes(40, seed=18, size=90).reshape(4, 10, 4)
    labels = np.random.default_rng(19).integers(-1, 3, (4, 10))
    target = encode_grid(boxes, labels, (128, 120), (16, 15))
    decoded = decode_grid(target["boxes"], (128, 120))
    where = target["objectness"] > 0
    for image in range(4):
        found = decoded[image][where[image]]
        valid = boxes[image][labels[image] >= 0]
        # every decoded box is one of the valid ground-truth boxes
        assert np.abs(found[:, None] - valid[None]).max(-1).min(-1).max() < 1e-3


def test_grid_bad_input():
    boxes, labels = padded_targets()
    with pytest.raises(ValueError, match=r"encode_grid: expected padded boxes \(N, B, 4\)"):
        encode_grid(boxes[0], labels, (64, 64), (8, 8))
    with pytest.raises(ValueError, match=r"encode_grid: anchors must be an \(A, 2\) array"):
        encode_grid(boxes, labels, (64, 64), (8, 8), anchors=[1, 2])
    with pytest.raises(ValueError, match=r"encode_grid: image_shape and grid_shape must be"):
        encode_grid(boxes, labels, (64, 64), (0, 8))
    with pytest.raises(ValueError, match=r"decode_grid: encodings have 2 anchors"):
        decode_grid(np.zeros((1, 4, 4, 2, 4)), (64, 64), anchors=[[8, 8], [4, 4], [2, 2]])
    with pytest.raises(ValueError, match=r"decode_grid: expected encodings of shape"):
        decode_grid(np.zeros((4, 4)), (64, 64))

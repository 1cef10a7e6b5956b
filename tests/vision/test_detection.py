"""vision.detection.YOLODetector: target encoding, the loss (numerical gradient checks and
hand-worked values), the Keras workflow (padded and per-image targets), decoding, saving,
a short training run that must learn, and bad-input messages."""

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.datasets import shapes
from shinsou.vision import boxes as box_utils
from shinsou.vision.detection import YOLODetector, _distance_iou, default_backbone
from shinsou.vision.metrics import mean_average_precision
from support import check_gradient


def small_detector(num_classes=2, size=32, **kwargs):
    settings = {"filters": 4, "head_filters": 8, **kwargs}
    return YOLODetector(num_classes, (size, size, 3), **settings)


def test_default_backbone_has_stride_four_and_grid_follows():
    detector = small_detector()
    assert detector.grid_shape == (8, 8) and detector.stride == 4
    raw = detector(np.zeros((3, 32, 32, 3), "float32"))
    assert raw.shape == (3, 8, 8, 7) and raw.dtype == np.float32
    assert default_backbone((64, 48, 3), filters=4).output_shape == (None, 16, 12, 16)


def test_custom_backbone_sets_the_grid():
    backbone = shinsou.Sequential(
        [
            shinsou.Input((32, 32, 3)),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(8, 3, strides=4, padding="same", activation="relu"),
        ]
    )
    detector = YOLODetector(3, (32, 32, 3), backbone=backbone, head_filters=8)
    assert detector.grid_shape == (4, 4) and detector.stride == 8
    assert detector(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 4, 4, 8)
    # The backbone trains with the detector.
    assert set(map(id, backbone.trainable_variables)) <= set(map(id, detector.trainable_variables))


def test_encode_targets_assigns_the_centre_cell_and_its_nearest_neighbours():
    detector = small_detector()
    # Centre (6.5, 13.0): cell column 1 (x 4-8), row 3 (y 12-16); nearest neighbours lie
    # right (x 6.5 is past the cell's middle 6) and up (y 13 is before its middle 14).
    targets = detector.encode_targets([[[3, 10, 10, 16], [0, 0, 0, 0]]], [[1, -1]])
    cells = np.argwhere(targets["objectness"][0]).tolist()
    assert cells == [[2, 1], [2, 2], [3, 1], [3, 2]]
    for row, col in cells:
        assert targets["labels"][0, row, col] == 1
        np.testing.assert_array_equal(targets["boxes"][0, row, col], [3, 10, 10, 16])
    assert (targets["labels"][0][targets["objectness"][0] == 0] == -1).all()


def test_encode_targets_gives_a_shared_centre_cell_to_the_smaller_object():
    detector = small_detector()
    targets = detector.encode_targets([[[0, 0, 8, 8], [1, 1, 7, 7]]], [[0, 1]])
    # Both centres (4, 4) fall in cell (1, 1); the smaller object keeps it.
    assert targets["labels"][0, 1, 1] == 1
    np.testing.assert_array_equal(targets["boxes"][0, 1, 1], [1, 1, 7, 7])


def test_distance_iou_matches_box_iou_and_penalises_centre_distance():
    centre = shinsou.tensor(np.array([[5.0, 5.0], [10.0, 5.0]], "float32"))
    size = shinsou.tensor(np.array([[4.0, 4.0], [4.0, 4.0]], "float32"))
    target = np.array([[3.0, 3.0, 7.0, 7.0], [2.0, 3.0, 6.0, 7.0]], "float32")
    iou, penalty = _distance_iou(centre, size, target)
    predicted = np.array([[3, 3, 7, 7], [8, 3, 12, 7]], "float32")
    expected = np.diag(box_utils.iou(predicted, target))
    np.testing.assert_allclose(iou.numpy(), expected, atol=1e-6)
    # Disjoint boxes: centres 6 apart, enclosing box 10 × 4 → d²/c² = 36 / 116.
    np.testing.assert_allclose(penalty.numpy(), [0.0, 36 / 116], atol=1e-6)


def _loss_case():
    detector = small_detector(size=16)  # a 4 × 4 grid keeps the numerical checks quick
    rng = np.random.default_rng(0)
    raw = rng.normal(0, 0.5, (2, 4, 4, 7))
    true_boxes = np.array(
        [[[1, 2, 6, 7], [9, 8, 15, 14]], [[2, 10, 7, 15], [0, 0, 0, 0]]], "float32"
    )
    true_labels = np.array([[0, 1], [1, -1]], "int32")
    return detector, raw, true_boxes, true_labels


@pytest.mark.parametrize("term", [0, 2], ids=["box", "class"])
def test_box_and_class_loss_gradients_are_numerically_right(term):
    detector, raw, true_boxes, true_labels = _loss_case()
    check_gradient(lambda grid: detector.detection_loss(true_boxes, true_labels, grid)[term], raw)


def test_objectness_loss_gradient_is_numerically_right():
    # The objectness target is the IoU reached, taken as a constant: check the gradient
    # with respect to the objectness logits while the box logits stay fixed.
    detector, raw, true_boxes, true_labels = _loss_case()

    def objectness_loss(logits):
        grid = shinsou.ops.concatenate([raw[..., :4], logits[..., None], raw[..., 5:]], -1)
        return detector.detection_loss(true_boxes, true_labels, grid)[1]

    check_gradient(objectness_loss, raw[..., 4])


def test_loss_values_match_a_hand_computation():
    detector = small_detector()
    raw = np.zeros((1, 8, 8, 7), "float32")
    # One object filling cell (2, 3) exactly; the zero logits put every prediction at its
    # cell's centre + 0.5 cell, size 1 × 1 cell.
    box, objectness, classes = detector.detection_loss([[[12, 8, 16, 12]]], [[1]], raw)
    # Four cells hold the object (centre cell + three neighbours); two classes, zero logits.
    assert classes.item() == pytest.approx(np.log(2), rel=1e-6)
    targets = detector.encode_targets([[[12, 8, 16, 12]]], [[1]])
    assert targets["objectness"].sum() == 4
    # Objectness: sum over 64 cells of BCE(0 logit) = 64 · log 2 when all targets are 0 except
    # four IoU targets t: BCE(0, t) = log 2 for any t; divided by 4 objects.
    assert objectness.item() == pytest.approx(64 * np.log(2) / 4, rel=1e-5)
    assert 0 < box.item() < 2


def test_fit_accepts_padded_and_per_image_targets_alike():
    (x, y), _ = shapes.load_data(n_train=8, n_test=0, image_size=32, seed=3)
    per_image = [y["boxes"][i][y["labels"][i] >= 0] for i in range(8)]
    per_image_labels = [y["labels"][i][y["labels"][i] >= 0] for i in range(8)]
    losses = []
    for targets in (
        {"boxes": y["boxes"], "labels": y["labels"]},
        {"boxes": per_image, "classes": per_image_labels},
    ):
        shinsou.utils.set_random_seed(1)
        detector = small_detector(num_classes=3)
        detector.compile(optimizer=shinsou.optimizers.SGD(0.0))
        history = detector.fit(x, targets, batch_size=8, epochs=1, verbose=0, shuffle=False)
        losses.append(history.history)
    for name, values in losses[0].items():
        assert values == pytest.approx(losses[1][name]), name
    assert sorted(losses[0]) == ["box_loss", "class_loss", "loss", "objectness_loss"]
    assert isinstance(losses[0]["loss"][0], float)


def test_predict_returns_padded_detections_after_nms():
    detector = small_detector(max_detections=5, score_threshold=0.0)
    found = detector.predict(np.random.default_rng(0).random((3, 32, 32, 3), "float32"), verbose=0)
    assert found["boxes"].shape == (3, 5, 4) and found["boxes"].dtype == np.float32
    assert found["labels"].shape == (3, 5) and found["labels"].dtype == np.int32
    assert found["scores"].shape == (3, 5) and found["scores"].dtype == np.float32
    assert found["num_detections"].tolist() == [5, 5, 5]
    scores = found["scores"]
    assert (np.diff(scores, axis=1) <= 0).all(), "best first"
    assert (found["boxes"] >= 0).all() and (found["boxes"] <= 32).all()


def test_decode_predictions_suppresses_duplicates_of_one_class_only():
    detector = small_detector()
    raw = np.full((1, 8, 8, 7), -9.0, "float32")
    raw[0, 2, 3] = [0, 0, 1, 1, 9, 9, -9]  # class 0 centred in cell (2, 3)
    raw[0, 2, 4] = [-1.1, 0, 1, 1, 8, 9, -9]  # the same box from the next cell: suppressed
    raw[0, 3, 3] = [0, 0, 1, 1, 7, -9, 9]  # overlapping, but class 1: kept
    found = detector.decode_predictions(raw)
    assert found["num_detections"].tolist() == [2]
    assert found["labels"][0, :2].tolist() == [0, 1]


def test_short_training_learns_to_find_the_shapes():
    # Small scenes with at most two larger objects keep this quick; the full budget of
    # `shinsou detect` (64×64 scenes, up to four objects) reaches AP50 ≥ 0.95.
    scenes = shapes.load_data(
        n_train=256, n_test=64, image_size=32, seed=5, size_range=(0.15, 0.3), max_objects=2
    )
    (x, y), (x_test, y_test) = scenes
    shinsou.utils.set_random_seed(0)
    detector = YOLODetector(3, (32, 32, 3), filters=8, head_filters=32)
    detector.compile(optimizer=shinsou.optimizers.Adam(3e-3))
    history = detector.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]
    found = detector.predict(x_test, verbose=0)
    scores = mean_average_precision(
        found["boxes"], found["scores"], found["labels"], y_test["boxes"], y_test["labels"]
    )
    assert scores["AP50"] > 0.15, scores  # an untrained detector scores 0.0


def test_weights_and_config_round_trip(tmp_path):
    detector = small_detector()
    detector.compile(optimizer="adam", box_loss_weight=2.0)
    images = np.random.default_rng(1).random((2, 32, 32, 3), "float32")
    path = str(tmp_path / "detector.weights.h5")
    detector.save_weights(path)
    clone = YOLODetector.from_config(detector.get_config())
    clone.load_weights(path)
    np.testing.assert_array_equal(clone(images).numpy(), detector(images).numpy())
    assert clone.get_config() == detector.get_config()
    assert detector.get_compile_config()["box_loss_weight"] == 2.0


def test_saved_model_file_loads_with_its_loss_weights(tmp_path):
    detector = small_detector()
    detector.compile(optimizer="adam", objectness_loss_weight=0.5)
    images = np.random.default_rng(2).random((1, 32, 32, 3), "float32")
    targets = {"boxes": [[[2, 2, 12, 12]]], "labels": [[1]]}
    detector.fit(images, targets, epochs=1, verbose=0)  # the optimizer has slots to save
    path = str(tmp_path / "detector.keras")
    detector.save(path)
    loaded = shinsou.saving.load_model(path)
    assert isinstance(loaded, YOLODetector)
    np.testing.assert_allclose(loaded(images).numpy(), detector(images).numpy(), atol=1e-6)
    assert loaded._loss_weights["objectness_loss_weight"] == 0.5
    assert loaded.optimizer.iterations.numpy() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"input_shape": (32, 32)}, "input_shape must be"),
        ({"input_shape": (30, 30, 3)}, "multiples of 8"),
        ({"score_threshold": 1.5}, r"score_threshold must be a number in \[0, 1\]"),
        ({"iou_threshold": 0}, r"iou_threshold must be a number in \(0, 1\]"),
        ({"backbone": "resnet"}, "backbone must be None or a Keras layer"),
    ],
)
def test_bad_construction_arguments_are_named(kwargs, message):
    settings = {"num_classes": 2, "input_shape": (32, 32, 3), **kwargs}
    with pytest.raises(ValueError, match=message):
        YOLODetector(**settings)


def test_bad_targets_and_compile_arguments_are_named():
    detector = small_detector()
    images = np.zeros((2, 32, 32, 3), "float32")
    with pytest.raises(ValueError, match="brings its own loss"):
        detector.compile(optimizer="adam", loss="mse")
    with pytest.raises(RuntimeError, match="call compile"):
        detector.compute_loss(images, {"boxes": np.zeros((2, 1, 4)), "labels": np.zeros((2, 1))},
                              detector(images))  # fmt: skip
    detector.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        detector.fit(images, {"boxes": np.zeros((2, 1, 4)), "labels": [[2], [0]]}, verbose=0)
    with pytest.raises(ValueError, match=r"expected boxes of shape \(N, max_boxes, 4\)"):
        detector.fit(images, {"boxes": np.zeros((2, 1, 5)), "labels": [[1], [0]]}, verbose=0)
    with pytest.raises(ValueError, match="targets must be a dict"):
        detector.fit(images, np.zeros((2, 1, 4)), verbose=0)
    with pytest.raises(ValueError, match=r"expected raw predictions of shape \(N, 8, 8, 7\)"):
        detector.decode_predictions(np.zeros((1, 4, 4, 7)))

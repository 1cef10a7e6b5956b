"""datasets.shapes: layout and dtypes, determinism, boxes and labels that agree with the
masks (occlusion included), the background is not blank, speed sanity."""

import time

import numpy as np
import pytest

from shinsou.datasets import shapes


@pytest.fixture(scope="module")
def scenes():
    return shapes.load_data(n_train=300, n_test=60, image_size=64, seed=0)


def test_layout_dtypes_and_ranges(scenes):
    (x_train, y_train), (x_test, y_test) = scenes
    assert x_train.shape == (300, 64, 64, 3) and x_test.shape == (60, 64, 64, 3)
    assert x_train.dtype == x_test.dtype == np.float32
    assert x_train.min() >= 0 and x_train.max() <= 1
    for y, n in ((y_train, 300), (y_test, 60)):
        assert set(y) == {"boxes", "labels", "masks"}
        assert y["boxes"].shape == (n, 4, 4) and y["boxes"].dtype == np.float32
        assert y["labels"].shape == (n, 4) and y["labels"].dtype == np.int32
        assert y["masks"].shape == (n, 64, 64) and y["masks"].dtype == np.int32
        assert y["labels"].min() >= -1 and y["labels"].max() < len(shapes.CLASS_NAMES)
        assert y["masks"].min() >= 0 and y["masks"].max() <= len(shapes.CLASS_NAMES)
    assert shapes.CLASS_NAMES == ("circle", "square", "triangle")


def test_objects_per_image_padding_and_class_balance(scenes):
    (_, y), _ = scenes
    valid = y["labels"] >= 0
    counts = valid.sum(axis=1)
    assert counts.min() >= 1 and counts.max() == 4
    assert 2 < counts.mean() < 3.2  # 1-4 drawn uniformly, a few dropped as hidden
    # Kept objects come first, padding after, with zero boxes.
    assert (np.sort(~valid, axis=1, kind="stable") == ~valid).all()
    assert (y["boxes"][~valid] == 0).all()
    share = np.bincount(y["labels"][valid], minlength=3) / valid.sum()
    assert (share > 0.25).all()


def test_boxes_are_tight_around_visible_pixels_of_their_class(scenes):
    (_, y), _ = scenes
    boxes, labels, masks = y["boxes"], y["labels"], y["masks"]
    size = masks.shape[-1]
    valid = labels >= 0
    assert (boxes[valid][:, 2:] > boxes[valid][:, :2]).all()
    assert boxes.min() >= 0 and boxes.max() <= size
    checked = 0
    for image in range(len(masks)):
        classes = labels[image][valid[image]]
        for k in np.unique(classes):
            if (classes == k).sum() > 1:
                continue  # two objects of a class share the mask value; skip the image's k
            rows, cols = np.nonzero(masks[image] == k + 1)
            expected = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            np.testing.assert_array_equal(boxes[image][labels[image] == k][0], expected)
            checked += 1
        # Every labelled class shows in the mask, and nothing else does.
        present = set(np.unique(masks[image]).tolist()) - {0}
        assert present == {int(k) + 1 for k in classes}
    assert checked > 300


def test_every_mask_pixel_lies_in_a_box_of_its_class(scenes):
    (_, y), _ = scenes
    size = y["masks"].shape[-1]
    centres = np.arange(size) + 0.5
    for image in range(50):
        covered = np.zeros((size, size), np.int32)
        for box, label in zip(y["boxes"][image], y["labels"][image]):
            if label < 0:
                continue
            inside = (centres[None, :] > box[0]) & (centres[None, :] < box[2])
            inside = inside & (centres[:, None] > box[1]) & (centres[:, None] < box[3])
            pixels = inside & (y["masks"][image] == label + 1)
            assert pixels.any()
            covered |= pixels
        assert ((y["masks"][image] > 0) == covered.astype(bool)).all()


def test_objects_are_mostly_visible(scenes):
    """Occlusion keeps each kept object at least min_visible visible: with a single object
    of a class, its visible pixels fill a fair share of its box."""
    (_, y), _ = scenes
    fills = []
    for image in range(len(y["masks"])):
        labels = y["labels"][image]
        for box, label in zip(y["boxes"][image], labels):
            if label < 0 or (labels == label).sum() > 1:
                continue
            x1, y1, x2, y2 = box.astype(int)
            area = (x2 - x1) * (y2 - y1)
            fills.append((y["masks"][image][y1:y2, x1:x2] == label + 1).sum() / area)
    fills = np.array(fills)
    assert np.median(fills) > 0.45 and fills.min() > 0.1


def test_deterministic_and_seeded(scenes):
    (x_train, y_train), (x_test, y_test) = scenes
    (x_again, y_again), (x_test_again, _) = shapes.load_data(300, 60, image_size=64, seed=0)
    np.testing.assert_array_equal(x_train, x_again)
    np.testing.assert_array_equal(x_test, x_test_again)
    for key in y_train:
        np.testing.assert_array_equal(y_train[key], y_again[key])
    (x_other, _), _ = shapes.load_data(20, 0, image_size=64, seed=1)
    assert not np.allclose(x_other, x_train[:20])
    # The test set does not depend on the size of the training set.
    _, (x_test_small, y_test_small) = shapes.load_data(5, 60, image_size=64, seed=0)
    np.testing.assert_array_equal(x_test_small, x_test)
    np.testing.assert_array_equal(y_test_small["masks"], y_test["masks"])


def test_backgrounds_are_textured_and_objects_stand_out(scenes):
    (x, y), _ = scenes
    background = y["masks"] == 0
    assert background.mean() > 0.5
    # Not flat: pixel noise and texture vary within each background.
    per_image_std = np.array([x[i][background[i]].std() for i in range(20)])
    assert (per_image_std > 0.02).all()
    # Objects are saturated colours, backgrounds muted: mean chroma differs clearly.
    chroma = x.max(axis=-1) - x.min(axis=-1)
    assert chroma[~background].mean() > chroma[background].mean() + 0.2


def test_options_image_size_object_counts():
    (x, y), (x_test, _) = shapes.load_data(
        n_train=40, n_test=0, image_size=96, seed=2, max_objects=6, min_objects=3
    )
    assert x.shape == (40, 96, 96, 3) and x_test.shape == (0, 96, 96, 3)
    assert y["boxes"].shape == (40, 6, 4) and y["masks"].shape == (40, 96, 96)
    counts = (y["labels"] >= 0).sum(axis=1)
    assert counts.max() <= 6 and counts.mean() > 2.5
    (_, y_one), _ = shapes.load_data(30, 0, image_size=32, max_objects=1)
    assert (y_one["labels"] >= 0).all()


def test_generation_is_fast():
    start = time.perf_counter()
    shapes.load_data(n_train=1000, n_test=0, image_size=64)
    # ~0.5 s on two cores; a generous bound that still catches per-image Python loops.
    assert time.perf_counter() - start < 10


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"shapes.load_data: n_train must be an int >= 0"):
        shapes.load_data(n_train=-1)
    with pytest.raises(ValueError, match=r"image_size must be an int >= 16; got 8"):
        shapes.load_data(10, 10, image_size=8)
    with pytest.raises(ValueError, match=r"min_objects \(3\) must not exceed max_objects \(2\)"):
        shapes.load_data(10, 10, min_objects=3, max_objects=2)
    with pytest.raises(ValueError, match=r"size_range must satisfy 0 < low <= high <= 0.357"):
        shapes.load_data(10, 10, size_range=(0.1, 0.5))
    with pytest.raises(ValueError, match=r"min_visible must lie in \[0, 1\]"):
        shapes.load_data(10, 10, min_visible=1.5)

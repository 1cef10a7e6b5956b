"""vision.drawing: every function returns a Figure and writes a PNG of the figure's size
that is not blank; captions, legends and panel counts; no pyplot state is touched."""

import sys

import numpy as np
import pytest

from shinsou.datasets.shapes import CLASS_NAMES, load_data
from shinsou.vision.drawing import draw_detections, draw_masks, image_grid

pytest.importorskip("matplotlib", reason="matplotlib is not installed")


@pytest.fixture(scope="module")
def scenes():
    (x, y), _ = load_data(n_train=4, n_test=0, image_size=48, seed=3)
    return x, y


def read_png(path, figure):
    from matplotlib.image import imread

    assert path.stat().st_size > 1000
    pixels = imread(path)
    width, height = (figure.get_size_inches() * figure.dpi).round().astype(int)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.05  # not blank
    return pixels


def test_draw_detections_single_image(scenes, tmp_path):
    x, y = scenes
    path = tmp_path / "detections.png"
    scores = np.linspace(0.9, 0.6, 4)
    figure = draw_detections(
        x[0], y["boxes"][0], y["labels"][0], scores, class_names=CLASS_NAMES, path=path
    )
    read_png(path, figure)
    valid = y["labels"][0] >= 0
    captions = [text.get_text() for text in figure.axes[0].texts]
    expected = [
        f"{CLASS_NAMES[label]} {score:.2f}"
        for label, score in zip(y["labels"][0][valid], scores[valid])
    ]
    assert captions == expected
    assert len(figure.axes[0].patches) == valid.sum()


def test_draw_detections_batch_grid_without_scores_or_names(scenes, tmp_path):
    x, y = scenes
    path = tmp_path / "nested" / "grid.png"  # folders are created
    figure = draw_detections(x, y["boxes"], y["labels"], path=path, rows=2, title="batch")
    pixels = read_png(path, figure)
    assert len(figure.axes) == 4 and pixels.shape[1] > pixels.shape[0] * 0.9
    assert figure.axes[1].texts[0].get_text() == str(y["labels"][1][0])
    # per-image lists and [-1, 1] images work too
    lists = [b[k >= 0] for b, k in zip(y["boxes"], y["labels"])]
    labels = [k[k >= 0] for k in y["labels"]]
    assert len(draw_detections(x[:3] * 2 - 1, lists[:3], labels[:3]).axes) == 3


def test_draw_masks_overlay_and_legend(scenes, tmp_path):
    x, y = scenes
    path = tmp_path / "masks.png"
    figure = draw_masks(x, y["masks"], class_names=CLASS_NAMES, path=path, alpha=0.6)
    read_png(path, figure)
    shown = sorted(set(np.unique(y["masks"]).tolist()) - {0})
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        CLASS_NAMES[k - 1] for k in shown
    ]
    # class scores are argmaxed; a single image gives a single panel
    scores = np.eye(4)[y["masks"][0]]
    single = draw_masks(x[0], scores)
    assert len(single.axes) == 1
    shown_image = single.axes[0].images[0].get_array()
    assert shown_image.shape == (48, 48, 3)
    # background pixels stay grey, object pixels take a colour
    background = y["masks"][0] == 0
    assert np.ptp(np.asarray(shown_image)[background], axis=-1).max() < 1e-6
    assert np.ptp(np.asarray(shown_image)[~background], axis=-1).mean() > 0.1


def test_image_grid_sizes_ranges_and_grey(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "samples.png"
    figure = image_grid(rng.uniform(-1, 1, (10, 28, 28, 1)), path=path, title="epoch 1")
    read_png(path, figure)
    assert len(figure.axes) == 10  # 3 x 4 grid, two empty panels removed
    assert figure.axes[0].images[0].get_cmap().name == "gray"
    colour = image_grid(rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8), rows=1)
    assert len(colour.axes) == 6
    assert list(colour.get_size_inches()) == [6.0, 1.0]
    shown = np.asarray(colour.axes[0].images[0].get_array())
    assert shown.min() >= 0 and shown.max() <= 1


def test_no_pyplot_state():
    image_grid(np.zeros((2, 8, 8)))
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_drawing_bad_input(scenes):
    x, y = scenes
    with pytest.raises(ValueError, match=r"draw_detections: got 4 images but boxes for 2"):
        draw_detections(x, y["boxes"][:2], y["labels"])
    with pytest.raises(ValueError, match=r"draw_detections: image 0 has 4 boxes and 3 labels"):
        draw_detections(x[0], y["boxes"][0], y["labels"][0][:3])
    with pytest.raises(ValueError, match=r"draw_masks: masks of shape \(1, 10, 10\) do not fit"):
        draw_masks(x[0], np.zeros((10, 10), int))
    with pytest.raises(ValueError, match=r"draw_masks: alpha must lie in \[0, 1\]"):
        draw_masks(x[0], y["masks"][0], alpha=2)
    with pytest.raises(ValueError, match=r"image_grid: images need 1 or 3 channels"):
        image_grid(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match=r"image_grid: rows must be a positive int or None"):
        image_grid(np.zeros((2, 8, 8)), rows=0)
    with pytest.raises(ValueError, match=r"image_grid: no images to show"):
        image_grid(np.zeros((0, 8, 8)))

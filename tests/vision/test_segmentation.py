"""U-Net segmentation of the shapes scenes: the plain Keras workflow, class maps, scores,
pictures. The full budget (mean IoU >= 0.95) takes minutes and is measured outside the
suite; here a small budget must still learn clearly above the all-background baseline."""

import dataclasses

import numpy
import pytest

import shinsou as keras
from shinsou.applications import UNet
from shinsou.datasets import shapes
from shinsou.vision import metrics, segmentation

NUM_CLASSES = len(shapes.CLASS_NAMES) + 1
SIZE = 32  # quarter the pixels of the 64×64 scenes: the suite stays fast


@pytest.fixture(scope="module")
def scenes():
    (x_train, y_train), _ = shapes.load_data(n_train=256, n_test=0, image_size=SIZE, seed=0)
    # Held-out scenes from another seed, as the held-back check uses.
    _, (x_test, y_test) = shapes.load_data(n_train=0, n_test=64, image_size=SIZE, seed=7)
    return x_train, y_train["masks"], x_test, y_test["masks"]


@pytest.fixture(scope="module")
def trained(scenes):
    """The plain Keras workflow: UNet(filters=16, depth=3) with a softmax, the loss and the
    metric by their Keras names, integer (N, H, W) masks against (N, H, W, C) scores."""
    x_train, m_train, _, _ = scenes
    keras.utils.set_random_seed(0)
    model = UNet(
        input_shape=(SIZE, SIZE, 3),
        num_classes=NUM_CLASSES,
        filters=16,
        depth=3,
        final_activation="softmax",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.MeanIoU(num_classes=NUM_CLASSES, sparse_y_pred=False)],
    )
    history = model.fit(x_train, m_train, batch_size=8, epochs=3, verbose=0)
    return model, history


def test_plain_keras_workflow_learns_above_the_background_baseline(scenes, trained):
    model, history = trained
    _, _, x_test, m_test = scenes
    assert sorted(history.history) == ["loss", "mean_io_u"]
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
    predicted = segmentation.predict_masks(model, x_test)
    background = (m_test == 0).mean()
    # Predicting background everywhere scores pixel accuracy = its share and mean IoU =
    # share / 4 (the other three classes have IoU 0).
    baseline_iou = metrics.mean_iou(m_test, numpy.zeros_like(m_test), NUM_CLASSES)
    assert baseline_iou == pytest.approx(background / NUM_CLASSES)
    # Measured: 0.323 against 0.219 (seeded, so reproducible); the full budget reaches 0.95.
    assert metrics.mean_iou(m_test, predicted, NUM_CLASSES) > baseline_iou + 0.07
    assert metrics.pixel_accuracy(m_test, predicted) > background + 0.02


def test_predict_masks_gives_int32_class_maps(scenes, trained):
    model, _ = trained
    _, _, x_test, _ = scenes
    predicted = segmentation.predict_masks(model, x_test[:5], batch_size=2)
    assert predicted.shape == (5, SIZE, SIZE)
    assert predicted.dtype == numpy.int32
    scores = model.predict(x_test[:5], verbose=0)
    numpy.testing.assert_array_equal(predicted, scores.argmax(axis=-1))


def test_evaluate_segmentation_equals_the_metric_functions(scenes, trained):
    model, _ = trained
    _, _, x_test, m_test = scenes
    predicted = segmentation.predict_masks(model, x_test)
    scores = segmentation.evaluate_segmentation(model, x_test, m_test)
    assert scores == {
        "mean_iou": metrics.mean_iou(m_test, predicted, NUM_CLASSES),
        "pixel_accuracy": metrics.pixel_accuracy(m_test, predicted),
    }


def test_mean_iou_metric_equals_the_function(scenes, trained):
    model, _ = trained
    _, _, x_test, m_test = scenes
    probabilities = model.predict(x_test, verbose=0)
    expected = metrics.mean_iou(m_test, probabilities, NUM_CLASSES)
    metric = keras.metrics.MeanIoU(num_classes=NUM_CLASSES, sparse_y_pred=False)
    metric.update_state(m_test, probabilities)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    # evaluate() accumulates the confusion matrix over all batches: the same number.
    logged = model.evaluate(x_test, m_test, batch_size=16, verbose=0, return_dict=True)
    assert logged["mean_io_u"] == pytest.approx(expected, abs=1e-6)


def test_train_segmentation_with_logits_and_with_softmax():
    rng = numpy.random.default_rng(0)
    images = rng.random((8, 8, 8, 3), dtype=numpy.float32)
    masks = (images[..., 0] > 0.5).astype(numpy.int32)
    recipe = segmentation.SegmentationRecipe(epochs=2, batch_size=4, filters=4, depth=2)
    for activation, from_logits in ((None, True), ("softmax", False)):
        model = UNet((8, 8, 3), 2, filters=4, depth=2, final_activation=activation)
        history = segmentation.train_segmentation(model, images, masks, recipe, verbose=0)
        assert model.loss.from_logits is from_logits
        assert numpy.isfinite(history.history["loss"]).all()


def test_segmentation_unet_follows_the_recipe():
    recipe = dataclasses.replace(segmentation.DEFAULT_RECIPE, filters=8, depth=2)
    model = segmentation.segmentation_unet((16, 16, 3), 4, recipe)
    assert model.output_shape == (None, 16, 16, 4)
    assert model.get_layer("down2_conv2").filters == 16
    assert segmentation.DEFAULT_RECIPE.filters == 16 and segmentation.DEFAULT_RECIPE.depth == 3


def test_draw_mask_comparison_writes_image_truth_prediction(tmp_path, scenes):
    _, _, x_test, m_test = scenes
    path = tmp_path / "sub" / "masks.png"
    figure = segmentation.draw_mask_comparison(
        x_test[:2], m_test[:2], m_test[:2], class_names=shapes.CLASS_NAMES, path=path
    )
    assert len(figure.axes) == 6
    # The first column shows the image in colour, the others the greyed overlays.
    numpy.testing.assert_allclose(figure.axes[0].images[0].get_array(), x_test[0])
    assert path.stat().st_size > 5000
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05


def test_bad_inputs_name_the_function_and_what_was_expected():
    images = numpy.zeros((2, 8, 8, 3), numpy.float32)
    model = UNet((8, 8, 3), 3, filters=4, depth=2)
    recipe = segmentation.SegmentationRecipe(epochs=1, filters=4, depth=2)
    with pytest.raises(ValueError, match=r"SegmentationRecipe: batch_size must be a positive"):
        segmentation.SegmentationRecipe(batch_size=0)
    with pytest.raises(ValueError, match=r"learning_rate must be a positive number"):
        segmentation.SegmentationRecipe(learning_rate=-1.0)
    with pytest.raises(TypeError, match=r"segmentation_unet: recipe must be a Segmentation"):
        segmentation.segmentation_unet((8, 8, 3), 3, recipe={"epochs": 1})
    with pytest.raises(ValueError, match=r"train_segmentation: masks must be \(N, height, "):
        segmentation.train_segmentation(model, images, numpy.zeros((2, 8, 7), "int32"), recipe)
    with pytest.raises(ValueError, match=r"masks must hold integer class ids; received dtype"):
        segmentation.train_segmentation(model, images, numpy.zeros((2, 8, 8)), recipe)
    with pytest.raises(ValueError, match=r"masks hold class 3, outside the model's \[0, 3\)"):
        segmentation.train_segmentation(model, images, numpy.full((2, 8, 8), 3), recipe)
    sigmoid = UNet((8, 8, 3), 3, filters=4, depth=2, final_activation="sigmoid")
    with pytest.raises(ValueError, match=r"last layer must give logits .* activation 'sigmoid'"):
        segmentation.train_segmentation(sigmoid, images, numpy.zeros((2, 8, 8), "int32"), recipe)
    with pytest.raises(ValueError, match=r"predict_masks: images must be a batch"):
        segmentation.predict_masks(model, images[0])
    with pytest.raises(ValueError, match=r"evaluate_segmentation: masks must be"):
        segmentation.evaluate_segmentation(model, images, numpy.zeros((3, 8, 8), "int32"))
    with pytest.raises(ValueError, match=r"draw_mask_comparison: predicted_masks must have"):
        segmentation.draw_mask_comparison(images, numpy.zeros((2, 8, 8)), numpy.zeros((2, 4, 4)))

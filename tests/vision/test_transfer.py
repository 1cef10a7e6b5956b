"""Fine-tuning a U-Net whose encoder was pretrained as a multi-label shape classifier. The
full comparison (pretrained encoder ahead of scratch on few masks) takes minutes and is
measured outside the suite; here its plumbing runs on a tiny budget."""

import dataclasses

import numpy
import pytest

import shinsou as keras
from shinsou.vision import segmentation, transfer


def test_presence_labels_marks_the_classes_each_image_shows():
    labels = numpy.array([[2, 0, 2, -1], [-1, -1, -1, -1], [1, 1, 1, 1]], numpy.int32)
    present = transfer.presence_labels(labels, num_classes=3)
    assert present.dtype == numpy.float32
    numpy.testing.assert_array_equal(present, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])


def test_presence_labels_bad_input():
    with pytest.raises(ValueError, match=r"presence_labels: labels must be integer \(N, max_"):
        transfer.presence_labels(numpy.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match=r"presence_labels: labels must be integer .*shape \(3,\)"):
        transfer.presence_labels([0, 1, 2], 3)
    with pytest.raises(ValueError, match=r"label 3 is outside \[0, 3\) \(or -1 for padding\)"):
        transfer.presence_labels([[0, 3]], 3)
    with pytest.raises(ValueError, match=r"label -2 is outside"):
        transfer.presence_labels([[0, -2]], 3)
    with pytest.raises(ValueError, match=r"num_classes must be a positive int; got 0"):
        transfer.presence_labels([[0]], 0)


def test_encoder_classifier_shares_the_unet_encoder_layers():
    recipe = segmentation.SegmentationRecipe(filters=4, depth=3, batch_norm=False)
    unet = segmentation.segmentation_unet((16, 16, 3), 4, recipe)
    classifier = transfer.encoder_classifier(unet, num_outputs=3)
    assert classifier.output_shape == (None, 3)
    assert type(classifier.get_layer("encoder_pool")).__name__ == "GlobalMaxPooling2D"
    averaged = transfer.encoder_classifier(unet, num_outputs=2, pooling="avg")
    assert type(averaged.get_layer("encoder_pool")).__name__ == "GlobalAveragePooling2D"
    encoder = [layer.name for layer in classifier.layers[1:-2]]
    assert encoder == [
        "down1_conv1", "down1_conv2", "down1_pool",
        "down2_conv1", "down2_conv2", "down2_pool",
        "down3_conv1", "down3_conv2",
    ]  # fmt: skip
    for name in encoder:
        assert classifier.get_layer(name) is unet.get_layer(name)
    # Training the classifier moves the U-Net's encoder, not its decoder.
    encoder_kernel = unet.get_layer("down1_conv1").kernel.numpy().copy()
    decoder_kernel = unet.get_layer("up1_conv1").kernel.numpy().copy()
    rng = numpy.random.default_rng(0)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    classifier.fit(
        rng.random((8, 16, 16, 3), dtype=numpy.float32),
        (rng.random((8, 3)) > 0.5).astype(numpy.float32),
        epochs=1,
        verbose=0,
    )
    assert not numpy.allclose(unet.get_layer("down1_conv1").kernel.numpy(), encoder_kernel)
    numpy.testing.assert_array_equal(unet.get_layer("up1_conv1").kernel.numpy(), decoder_kernel)


def test_encoder_classifier_bad_input():
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 1)])
    with pytest.raises(ValueError, match=r"encoder_classifier: unet must be an applications"):
        transfer.encoder_classifier(plain, 3)
    unet = segmentation.segmentation_unet((8, 8, 3), 2, segmentation.SegmentationRecipe(depth=2))
    with pytest.raises(ValueError, match=r"num_outputs must be a positive int; received 0"):
        transfer.encoder_classifier(unet, 0)
    with pytest.raises(ValueError, match=r"pooling must be one of \('max', 'avg'\); received"):
        transfer.encoder_classifier(unet, 3, pooling="mean")


def test_compare_fine_tuning_runs_both_and_scores_them():
    tiny = dataclasses.replace(transfer.FINE_TUNING_RECIPE, epochs=1, filters=4, depth=2)
    result = transfer.compare_fine_tuning(
        num_masks=4, pretrain_size=8, pretrain_epochs=1, recipe=tiny, test_size=4, image_size=16
    )
    assert sorted(result) == ["fine_tuned", "from_scratch", "models", "seconds"]
    assert sorted(result["seconds"]) == ["fine_tuned", "from_scratch", "pretraining"]
    for name in ("fine_tuned", "from_scratch"):
        assert sorted(result[name]) == ["mean_iou", "pixel_accuracy"]
        assert 0 <= result[name]["mean_iou"] <= 1
        assert result["models"][name].output_shape == (None, 16, 16, 4)
    assert result["models"]["fine_tuned"] is not result["models"]["from_scratch"]


def test_compare_fine_tuning_bad_input():
    with pytest.raises(ValueError, match=r"compare_fine_tuning: num_masks must be a positive"):
        transfer.compare_fine_tuning(num_masks=0)
    with pytest.raises(ValueError, match=r"compare_fine_tuning: pretrain_epochs must be"):
        transfer.compare_fine_tuning(pretrain_epochs=1.5)
    with pytest.raises(TypeError, match=r"recipe must be a SegmentationRecipe; received dict"):
        transfer.compare_fine_tuning(recipe={"epochs": 3})

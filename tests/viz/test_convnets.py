import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.viz import plot_feature_maps, plot_filters

pytest.importorskip("matplotlib")


def _built_conv(channels, filters=6, name="conv"):
    conv = layers.Conv2D(filters, 3, name=name)
    conv(np.zeros((1, 8, 8, channels), "float32"))
    return conv


def test_first_layer_filters_in_colour_and_grey(tmp_path, check_png):
    path = tmp_path / "filters.png"
    figure = plot_filters(_built_conv(3), to_file=path)
    check_png(path)
    pictures = [axes.images[0].get_array() for axes in figure.axes]
    assert len(pictures) == 6 and pictures[0].shape == (3, 3, 3)
    assert "colour (RGB)" in figure.texts[0].get_text()
    grey = plot_filters(_built_conv(1))
    assert grey.axes[0].images[0].get_array().shape == (3, 3)
    assert "grey" in grey.texts[0].get_text()


def test_deeper_filters_mean_or_one_channel():
    conv = _built_conv(5, filters=4)
    kernel = conv.kernel.numpy()
    figure = plot_filters(conv)
    assert "mean over 5 input channels" in figure.texts[0].get_text()
    shown = figure.axes[1].images[0].get_array()
    expected = kernel[:, :, :, 1].mean(axis=2)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-6)
    one = plot_filters(conv, channel=2, max_filters=3)
    assert len(one.axes) == 3
    assert "input channel 2 of 5 (first 3)" in one.texts[0].get_text()


def test_plot_filters_bad_input():
    with pytest.raises(ValueError, match="layer 'fresh' \\(Conv2D\\) has no kernel"):
        plot_filters(layers.Conv2D(2, 3, name="fresh"))
    dense = layers.Dense(3, name="dense_x")
    dense(np.zeros((1, 4), "float32"))
    with pytest.raises(ValueError, match=r"dense_x \(Dense\) has shape \(4, 3\)"):
        plot_filters(dense)
    with pytest.raises(ValueError, match=r"channel must be 'mean' or an input channel in \[0, 5\)"):
        plot_filters(_built_conv(5), channel=7)


def _small_cnn():
    return shinsou.Sequential(
        [
            shinsou.Input((8, 8, 1)),
            layers.Conv2D(6, 3, activation="relu", name="c1"),
            layers.Flatten(name="flat"),
            layers.Dense(4, name="scores"),
        ]
    )


def test_feature_maps_of_a_conv_layer(tmp_path, check_png):
    model = _small_cnn()
    image = np.random.default_rng(0).random((8, 8)).astype("float32")
    path = tmp_path / "maps.png"
    figure = plot_feature_maps(model, "c1", image, to_file=path, max_maps=4)
    check_png(path)
    assert len(figure.axes) == 4
    conv = model.layers[0]
    expected = np.asarray(conv(image[None, :, :, None]))[0, :, :, 2]
    shown = figure.axes[2].images[0].get_array()
    span = max(expected.max() - expected.min(), 1e-12)
    np.testing.assert_allclose(shown, (expected - expected.min()) / span, atol=1e-5)
    assert "first 4 maps" in figure.texts[0].get_text()


def test_feature_maps_of_a_dense_layer_and_a_functional_model(check_png, tmp_path):
    inputs = shinsou.Input((6, 6, 3))
    left = layers.Conv2D(2, 3, padding="same", name="left")(inputs)
    right = layers.Conv2D(2, 1, name="right")(inputs)
    model = shinsou.Model(inputs, layers.Concatenate(name="both")([left, right]))
    figure = plot_feature_maps(model, "both", np.ones((1, 6, 6, 3), "float32"))
    assert len(figure.axes) == 4
    path = tmp_path / "bars.png"
    bars = plot_feature_maps(_small_cnn(), "scores", np.ones((8, 8, 1)), to_file=path)
    check_png(path)
    assert len(bars.axes[0].patches) == 4


def test_plot_feature_maps_bad_input():
    model = _small_cnn()
    with pytest.raises(ValueError, match=r"has no layer named 'c9'; its layers are \['c1'"):
        plot_feature_maps(model, "c9", np.ones((8, 8)))
    with pytest.raises(ValueError, match=r"image must be one input of shape \(8, 8, 1\)"):
        plot_feature_maps(model, "c1", np.ones((2, 8, 8, 1)))
    with pytest.raises(TypeError, match="expected a functional or Sequential model"):
        plot_feature_maps(layers.Dense(2), "c1", np.ones((8, 8)))
    with pytest.raises(ValueError, match="max_maps must be >= 1"):
        plot_feature_maps(model, "c1", np.ones((8, 8)), max_maps=0)

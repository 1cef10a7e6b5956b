"""What a convolutional network has learned: its filters as small images, and the feature
maps a layer computes for one image.

Example:
    >>> import numpy
    >>> from shinsou import layers
    >>> conv = layers.Conv2D(4, 3)
    >>> _ = conv(numpy.zeros((1, 8, 8, 3), "float32"))
    >>> figure = plot_filters(conv)
    >>> len(figure.axes)
    4
"""

from __future__ import annotations

import math

import numpy

from ..layers.base import Layer
from ..models.model import Model
from ._figures import as_numpy, hide_axes, new_figure, save_png
from .model_plot import nodes_in_call_order

__all__ = ["plot_feature_maps", "plot_filters"]


def _grid(count, columns=None):
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return math.ceil(count / columns), columns


def _min_max(array, axes):
    """Scale to [0, 1] over ``axes`` (each filter or map on its own, so faint ones show)."""
    low = array.min(axis=axes, keepdims=True)
    high = array.max(axis=axes, keepdims=True)
    return (array - low) / numpy.maximum(high - low, 1e-12)


def _kernel_of(conv_layer):
    if isinstance(conv_layer, Layer):
        kernel = getattr(conv_layer, "kernel", None)
        if kernel is None:
            raise ValueError(
                f"plot_filters: layer '{conv_layer.name}' ({type(conv_layer).__name__}) has no "
                "kernel: pass a built Conv2D layer (call it on data or build it first)"
            )
        name = f"{conv_layer.name} ({type(conv_layer).__name__})"
        kernel = kernel.numpy()
    else:
        kernel, name = as_numpy("plot_filters", "conv_layer", conv_layer), "kernel"
    if kernel.ndim != 4:
        raise ValueError(
            f"plot_filters: expected a Conv2D kernel of shape (height, width, in_channels, "
            f"filters); {name} has shape {kernel.shape}"
        )
    return kernel.astype(numpy.float32), name


def plot_filters(conv_layer, to_file=None, channel="mean", max_filters=64):
    """Show each filter of a Conv2D layer (or a kernel array ``(kh, kw, in, out)``) as a
    small image and return the Figure; save a PNG at ``to_file`` unless None.

    A kernel over 3 input channels (a first layer on colour images) is shown in colour,
    one over 1 channel in grey. Deeper kernels are reduced to one grey image per filter:
    ``channel="mean"`` averages over the input channels, an integer shows that one input
    channel; the title says which. Each filter is scaled to its own range (dark: most
    negative weight, bright: most positive).

    Example:
        >>> import numpy
        >>> figure = plot_filters(numpy.ones((3, 3, 16, 2), "float32"), channel=0)
        >>> figure.texts[0].get_text().splitlines()
        ['kernel: 2 filters 3×3,', 'input channel 0 of 16']
    """
    kernel, name = _kernel_of(conv_layer)
    height, width, channels, filters = kernel.shape
    if not isinstance(max_filters, int) or max_filters < 1:
        raise ValueError(f"plot_filters: max_filters must be >= 1; received {max_filters!r}")
    if channels == 3:
        pictures, shown = kernel, "colour (RGB)"
    elif channels == 1:
        pictures, shown = kernel[:, :, 0], "grey"
    elif channel == "mean":
        pictures, shown = kernel.mean(axis=2), f"mean over {channels} input channels"
    elif isinstance(channel, int) and 0 <= channel < channels:
        pictures, shown = kernel[:, :, channel], f"input channel {channel} of {channels}"
    else:
        raise ValueError(
            f"plot_filters: channel must be 'mean' or an input channel in [0, {channels}); "
            f"received {channel!r}"
        )
    pictures = numpy.moveaxis(pictures, -1, 0)[:max_filters]  # (filters, kh, kw[, 3])
    pictures = _min_max(pictures, tuple(range(1, pictures.ndim)))
    rows, columns = _grid(len(pictures))
    figure = new_figure((max(3.6, 0.9 * columns + 0.4), 0.9 * rows + 0.7), "plot_filters")
    panels = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for index, axes in enumerate(panels):
        if index >= len(pictures):
            axes.remove()
            continue
        grey = pictures.ndim == 3
        axes.imshow(pictures[index], cmap="gray" if grey else None, interpolation="nearest")
        hide_axes(axes)
    more = f" (first {len(pictures)})" if filters > len(pictures) else ""
    figure.suptitle(f"{name}: {filters} filters {height}×{width},\n{shown}{more}", fontsize=9)
    figure.tight_layout()
    save_png(figure, to_file, caller="plot_filters")
    return figure


def _find_layer(model, layer_name):
    for layer in model.layers:
        if layer.name == layer_name:
            return layer
    raise ValueError(
        f"plot_feature_maps: model '{model.name}' has no layer named {layer_name!r}; its "
        f"layers are {[layer.name for layer in model.layers]}"
    )


def _as_batch_of_one(image, input_shape):
    """One image as a batch of one, with a channel axis added when the model wants one."""
    array = as_numpy("plot_feature_maps", "image", image).astype(numpy.float32)
    rank = len(input_shape)
    if array.ndim == rank - 2 and input_shape[-1] == 1:
        array = array[..., None]
    if array.ndim == rank - 1:
        array = array[None]
    if array.ndim != rank or array.shape[0] != 1:
        raise ValueError(
            f"plot_feature_maps: image must be one input of shape {tuple(input_shape[1:])} "
            f"(or a batch of one); received shape {numpy.shape(image)}"
        )
    return array


def plot_feature_maps(model, layer_name, image, to_file=None, max_maps=32):
    """Show what layer ``layer_name`` of ``model`` computes for one ``image`` and return
    the Figure; save a PNG at ``to_file`` unless None.

    A sub-model from ``model.inputs`` to the layer's output is run on the image. Outputs of
    shape ``(1, H, W, C)`` show their first ``max_maps`` channels as images (each scaled to
    its own range; the title gives the range of all of them); a vector output ``(1, units)``
    shows as a bar chart.

    Example:
        >>> import numpy, shinsou
        >>> from shinsou import layers
        >>> model = shinsou.Sequential(
        ...     [shinsou.Input((8, 8, 1)), layers.Conv2D(4, 3, name="conv")])
        >>> figure = plot_feature_maps(model, "conv", numpy.ones((8, 8)))
        >>> len(figure.axes)
        4
    """
    if not isinstance(model, Model) or getattr(model, "inputs", None) is None:
        raise TypeError(
            "plot_feature_maps: expected a functional or Sequential model with known inputs "
            f"(a Sequential needs its input shape); received {type(model).__name__}"
        )
    if not isinstance(max_maps, int) or max_maps < 1:
        raise ValueError(f"plot_feature_maps: max_maps must be >= 1; received {max_maps!r}")
    if len(model.inputs) != 1:
        raise ValueError(
            f"plot_feature_maps: model '{model.name}' has {len(model.inputs)} inputs; only "
            "single-input models are supported"
        )
    layer = _find_layer(model, layer_name)
    # The layer's call inside this model's graph (a layer may also have been called elsewhere).
    calls = [node for node in nodes_in_call_order(model.outputs) if node.operation is layer]
    if not calls:
        raise ValueError(
            f"plot_feature_maps: layer {layer_name!r} does not lead to the outputs of model "
            f"'{model.name}'"
        )
    node = calls[0]
    probe = Model(model.inputs[0], node.outputs)
    batch = _as_batch_of_one(image, model.inputs[0].shape)
    activations = numpy.asarray(probe(batch))
    low, high = float(activations.min()), float(activations.max())
    title = f"{layer_name} ({type(layer).__name__}) output {activations.shape[1:]}"
    if activations.ndim == 2:
        figure = new_figure((6, 3), "plot_feature_maps")
        axes = figure.add_subplot()
        axes.bar(numpy.arange(activations.shape[1]), activations[0])
        axes.set(xlabel="unit", ylabel="activation")
        axes.set_title(title, fontsize=9)
    elif activations.ndim == 4:
        maps = numpy.moveaxis(activations[0], -1, 0)[:max_maps]
        rows, columns = _grid(len(maps))
        size = (max(4.0, 1.1 * columns + 0.4), 1.1 * rows + 0.8)
        figure = new_figure(size, "plot_feature_maps")
        panels = figure.subplots(rows, columns, squeeze=False).reshape(-1)
        scaled = _min_max(maps, (1, 2))
        for index, axes in enumerate(panels):
            if index >= len(maps):
                axes.remove()
                continue
            axes.imshow(scaled[index], cmap="viridis", interpolation="nearest")
            axes.set_title(str(index), fontsize=7)
            hide_axes(axes)
        shown = f", first {len(maps)} maps" if activations.shape[-1] > len(maps) else ""
        figure.suptitle(f"{title}{shown},\nvalues in [{low:.3g}, {high:.3g}]", fontsize=9)
    else:
        raise ValueError(
            f"plot_feature_maps: layer '{layer_name}' outputs shape {activations.shape}; only "
            "image outputs (1, H, W, C) and vectors (1, units) can be drawn"
        )
    figure.tight_layout()
    save_png(figure, to_file, caller="plot_feature_maps")
    return figure

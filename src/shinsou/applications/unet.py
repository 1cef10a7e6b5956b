"""U-Net (Ronneberger, Fischer and Brox, "U-Net: convolutional networks for biomedical image
segmentation", MICCAI 2015): per-pixel class scores from a contracting and an expansive path.

With ``batch_norm=False, final_activation=None``, the paper's network: five resolution
levels with 64, 128, 256, 512 and 1024 channels. Each level applies two 3×3 convolutions
with ReLU; the contracting path goes down a level with 2×2 max pooling (stride 2), the
expansive path comes up with a 2×2 up-convolution (``Conv2DTranspose`` of stride 2) that
halves the channels, concatenates the contracting path's feature map of that level (``[skip,
upsampled]``), and applies the two convolutions again. A final 1×1 convolution gives
``num_classes`` scores per pixel.

``padding="same"`` (default) keeps every map's size, so the output has the input's size
(which must then be divisible by ``2 ** (depth - 1)``). ``padding="valid"`` is the paper's
unpadded form: every 3×3 convolution loses a pixel on each border, the skip maps are cropped
to the upsampled maps' size (``Cropping2D``, centred), and the output is smaller than the
input — 572×572 gives 388×388, as in the paper's figure 1. Both have the same weights:
31,030,658 parameters for one input channel and two classes without batch normalization
(tested).

Beyond the paper, and on by default: ``batch_norm=True`` puts batch normalization between
each convolution (then without bias) and its ReLU, and ``final_activation="softmax"`` turns
the scores into probabilities, as Keras applications do. ``dropout`` is the rate of a
dropout layer at the end of the contracting path (the paper's "drop-out layers at the end of
the contracting path"), after the deepest level's convolutions. Kernels start He-normal, the
paper's Gaussian with standard deviation ``sqrt(2 / fan_in)``.

Example:
    >>> from shinsou.applications.unet import UNet
    >>> model = UNet((572, 572, 1), num_classes=2, padding="valid", batch_norm=False,
    ...              final_activation=None)  # the paper's network exactly
    >>> model.output_shape, model.count_params()
    ((None, 388, 388, 2), 31030658)
"""

from __future__ import annotations

import itertools

from .. import activations, layers
from ..layers.input_layer import Input
from ..models import Model

__all__ = ["UNet"]

_PADDINGS = ("same", "valid")
# Moving statistics follow the batches at PyTorch's default rate (Keras momentum 0.9 =
# torch momentum 0.1) rather than Keras's 0.99, which needs several hundred steps to
# forget the initial statistics: segmentation budgets are often shorter than that.
_BATCH_NORM_MOMENTUM = 0.9


def UNet(
    input_shape,
    num_classes,
    filters=64,
    depth=5,
    padding="same",
    batch_norm=True,
    dropout=0.0,
    final_activation="softmax",
    name="unet",
):
    """Build a U-Net as a functional ``Model`` from images to per-pixel class scores.

    Layers are named by level ``l`` (1 is the full resolution): ``down{l}_conv{1,2}``
    (with ``down{l}_bn{i}``, ``down{l}_relu{i}`` under batch normalization) and
    ``down{l}_pool``; ``down{depth}_dropout``; ``up{l}_upconv``, ``up{l}_crop`` (valid
    padding), ``up{l}_concat``, ``up{l}_conv{1,2}``; and the 1×1 ``predictions``.

    Args:
        input_shape: ``(height, width, channels)``; the sizes may be ``None`` with
            ``padding="same"`` (any multiple of ``2 ** (depth - 1)`` is then accepted).
        num_classes: number of per-pixel scores.
        filters: channels of the first level; level ``l`` has ``filters * 2 ** (l - 1)``.
        depth: number of resolution levels (5 in the paper; ``filters=16, depth=3`` gives
            16-32-64 channels).
        padding: ``"same"`` (output size = input size) or ``"valid"`` (the paper's).
        batch_norm: batch normalization after each 3×3 convolution (the paper has none:
            ``batch_norm=False``; with it, small U-Nets leave the all-background plateau
            of segmentation far sooner).
        dropout: dropout rate at the end of the contracting path (0 for none).
        final_activation: activation of the per-pixel scores: ``"softmax"`` (the default,
            as Keras applications' ``classifier_activation``: train with
            ``"sparse_categorical_crossentropy"``), ``"sigmoid"`` for one class, or
            ``None`` for logits (train with ``from_logits=True``).
        name: the model's name.

    Example:
        >>> import numpy as np
        >>> model = UNet((32, 32, 3), num_classes=4, filters=16, depth=3)
        >>> [model.get_layer(f"down{l}_conv2").filters for l in (1, 2, 3)]
        [16, 32, 64]
        >>> model.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape
        (1, 32, 32, 4)
    """
    for argument, value, minimum in (
        ("num_classes", num_classes, 1),
        ("filters", filters, 1),
        ("depth", depth, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(
                f"UNet: {argument} must be an integer >= {minimum}, received {value!r}"
            )
    if padding not in _PADDINGS:
        raise ValueError(f"UNet: padding must be one of {_PADDINGS}; received {padding!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"UNet: dropout must be a rate in [0, 1), received {dropout!r}")
    try:
        activations.get(final_activation)
    except ValueError as error:
        raise ValueError(f"UNet: final_activation: {error}") from None
    input_shape = _check_input_shape(input_shape, depth, padding)

    def convolutions(x, channels, prefix):
        for i in (1, 2):
            x = layers.Conv2D(
                channels,
                3,
                padding=padding,
                activation=None if batch_norm else "relu",
                use_bias=not batch_norm,
                kernel_initializer="he_normal",
                name=f"{prefix}_conv{i}",
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(
                    momentum=_BATCH_NORM_MOMENTUM, name=f"{prefix}_bn{i}"
                )(x)
                x = layers.ReLU(name=f"{prefix}_relu{i}")(x)
        return x

    inputs = Input(input_shape, name="input")
    x, skips = inputs, []
    for level in range(1, depth + 1):
        x = convolutions(x, filters * 2 ** (level - 1), f"down{level}")
        if level < depth:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"down{depth}_dropout")(x)
    for level in range(depth - 1, 0, -1):
        channels = filters * 2 ** (level - 1)
        x = layers.Conv2DTranspose(
            channels, 2, strides=2, kernel_initializer="he_normal", name=f"up{level}_upconv"
        )(x)
        skip = skips[level - 1]
        if padding == "valid":
            skip = layers.Cropping2D(_centred_crop(skip.shape, x.shape), name=f"up{level}_crop")(
                skip
            )
        x = layers.Concatenate(name=f"up{level}_concat")([skip, x])
        x = convolutions(x, channels, f"up{level}")
    outputs = layers.Conv2D(num_classes, 1, activation=final_activation, name="predictions")(x)
    return Model(inputs, outputs, name=name)


def _centred_crop(skip_shape, target_shape):
    crops = []
    for big, small in zip(skip_shape[1:3], target_shape[1:3]):
        excess = big - small
        crops.append((excess // 2, excess - excess // 2))
    return tuple(crops)


def _output_size(size, depth, padding):
    """Output size of one spatial axis, or None when ``size`` does not fit the network."""
    if padding == "same":
        return size if size % 2 ** (depth - 1) == 0 else None
    for _ in range(depth - 1):  # two valid 3×3 convolutions, then 2×2 pooling
        size -= 4
        if size <= 0 or size % 2:
            return None
        size //= 2
    size -= 4
    if size <= 0:
        return None
    for _ in range(depth - 1):  # up-convolution doubles, two convolutions trim 4
        size = 2 * size - 4
        if size <= 0:
            return None
    return size


def _check_input_shape(input_shape, depth, padding):
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or not isinstance(shape[2], int)
        or shape[2] < 1
        or not all(size is None or (isinstance(size, int) and size > 0) for size in shape[:2])
    ):
        raise ValueError(
            "UNet: input_shape must be (height, width, channels) with a known number of "
            f"channels, e.g. (256, 256, 3); received input_shape={input_shape!r}"
        )
    for size in shape[:2]:
        if size is None:
            if padding == "valid":
                raise ValueError(
                    "UNet: padding='valid' crops the skip connections by amounts that depend "
                    f"on the image size, which must then be known; received {shape}"
                )
            continue
        if _output_size(size, depth, padding) is None:
            fitting = next(s for s in itertools.count(size + 1) if _output_size(s, depth, padding))
            rule = (
                f"divisible by 2 ** (depth - 1) = {2 ** (depth - 1)}"
                if padding == "same"
                else "such that every map before a 2×2 pooling has an even size and no map "
                "shrinks to nothing"
            )
            raise ValueError(
                f"UNet: with depth={depth} and padding={padding!r} the image sizes must be "
                f"{rule}; received input_shape={shape} (the next size that fits is {fitting})"
            )
    return shape

"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
recognition", 1998): the convolutional network of the lecture's first example.

The paper's layers, as this builder realises them on a 32×32 input:

=====  ==========================================  ====================  =====================
layer  paper                                       here                  parameters (1 channel)
=====  ==========================================  ====================  =====================
C1     6 maps, 5×5 convolutions                    ``Conv2D``            156
S2     2×2 subsampling: sum · coefficient + bias   ``AveragePooling2D``  0 (paper: 12)
C3     16 maps, 5×5, partial connection table      ``Conv2D``            2,416 (paper: 1,516)
S4     2×2 subsampling                             ``AveragePooling2D``  0 (paper: 32)
C5     120 maps, 5×5 (1×1 outputs)                 ``Conv2D``            48,120
F6     84 units                                    ``Dense``             10,164
out    10 Euclidean RBF units, fixed prototypes    ``Dense``             850 (paper: fixed)
=====  ==========================================  ====================  =====================

Total 61,706 trainable parameters, the figure of the usual "classic" LeNet-5 (the paper's
own total is 60,000). The three differences are the ones modern re-implementations make:
C3 connects to all six S2 maps (the paper's table connected each C3 map to 3, 4 or 6 of
them, to bound the connections and break symmetry); S2 and S4 are plain 2×2 average
pooling, without the paper's trainable coefficient and bias per map (and the sigmoid after
them); the output is a dense layer with a softmax instead of RBF units with hand-set ±1
prototypes. The activation follows each convolution and F6 (``"tanh"`` by default; the
paper used the scaled ``1.7159 · tanh(2a/3)``).

MNIST's 28×28 digits are padded with two zero pixels on each side to the paper's 32×32
input. The paper chose an input larger than the digits (at most 20×20 in a 28×28 field) so
that stroke end points and corners can lie at the centre of the receptive fields of the
highest-level feature detectors.

Example:
    >>> from shinsou.applications.lenet import LeNet5
    >>> model = LeNet5(input_shape=(28, 28, 1))
    >>> model.output_shape, model.count_params()
    ((None, 10), 61706)
"""

from __future__ import annotations

from .. import activations, layers
from ..layers.input_layer import Input
from ..models import Model

__all__ = ["LeNet5"]

# Input sizes the network accepts, and the zero padding that brings each to 32×32.
_PADDING_TO_32 = {32: 0, 28: 2}


def LeNet5(
    input_shape=(32, 32, 1),
    classes=10,
    activation="tanh",
    classifier_activation="softmax",
    name="lenet5",
):
    """Build LeNet-5 as a functional ``Model`` (layers ``c1, s2, c3, s4, c5, f6,
    predictions``; see the module documentation for how each realises the paper's).

    Args:
        input_shape: ``(32, 32, channels)`` as in the paper, or ``(28, 28, channels)``
            (MNIST), which a ``ZeroPadding2D`` layer named ``padding`` pads to 32×32.
        classes: number of output units.
        activation: activation after C1, C3, C5 and F6 (any Keras activation).
        classifier_activation: activation of the output layer; ``None`` gives logits.
        name: the model's name.

    Example:
        >>> import numpy as np
        >>> model = LeNet5(classifier_activation=None)
        >>> model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape
        (2, 10)
    """
    input_shape = _check_input_shape(input_shape)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"LeNet5: classes must be a positive integer, received {classes!r}")
    for argument, value in (
        ("activation", activation),
        ("classifier_activation", classifier_activation),
    ):
        try:
            activations.get(value)
        except ValueError as error:
            raise ValueError(f"LeNet5: {argument}: {error}") from None

    inputs = Input(input_shape, name="input")
    x = inputs
    padding = _PADDING_TO_32[input_shape[0]]
    if padding:
        x = layers.ZeroPadding2D(padding, name="padding")(x)
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    outputs = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return Model(inputs, outputs, name=name)


def _check_input_shape(input_shape):
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or shape[0] != shape[1]
        or shape[0] not in _PADDING_TO_32
        or not isinstance(shape[2], int)
        or shape[2] < 1
    ):
        raise ValueError(
            "LeNet5: input_shape must be (32, 32, channels) as in the paper or (28, 28, "
            f"channels) for MNIST (padded to 32×32); received input_shape={input_shape!r}"
        )
    return shape

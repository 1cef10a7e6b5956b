"""How good are generated digits? A score from a small convnet trained by shinsou on real digits.

:func:`train_digit_classifier` trains the judge; :func:`digit_quality` scores a batch of
generated images with it, the way the GAN literature scores samples with a pretrained
network (Inception Score, FID), scaled down to digits:

- ``confident_share``: the share of samples the classifier gives one class a probability
  of at least ``threshold`` (0.9): "looks like *some* digit".
- ``class_coverage``: the normalized entropy ``H(p) / log(10)`` of the classes ``p`` of the
  confident samples: 1 when the ten digits appear equally often, 0 when all confident
  samples are one digit (mode collapse) or none is confident. Unlike "share of classes
  present", one stray sample does not count as covering a class.
- ``classes_present``: how many classes have at least one confident sample.
- ``frechet_distance``: the Fréchet distance between Gaussians fitted to the classifier's
  penultimate-layer features of real and of generated images
  (:func:`shinsou.vision.metrics.frechet_distance`, FID's formula in this network's feature
  space). 0 for identical distributions; it shrinks with better samples but is biased
  upward for small sample counts, so compare it between runs of equal sizes.
- ``label_accuracy`` (when ``target_labels`` are given, for a conditional GAN): the share
  of samples whose most probable class is the requested digit.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = rng.uniform(-1, 1, (40, 8, 8, 1)).astype("float32")
    >>> labels = np.arange(40) % 10
    >>> judge = train_digit_classifier(images, labels, epochs=1, seed=0)
    >>> sorted(digit_quality(images[:20], judge, images[20:]))
    ['class_coverage', 'classes_present', 'confident_share', 'frechet_distance']
"""

from __future__ import annotations

import numbers

import numpy

from .. import layers, optimizers, utils
from ..models import Model, Sequential
from .metrics import frechet_distance

__all__ = ["FEATURES_LAYER", "build_digit_classifier", "digit_quality", "train_digit_classifier"]

FEATURES_LAYER = "features"
"""Name of the classifier layer whose activations :func:`digit_quality` compares."""

_NUM_CLASSES = 10


def _checked_images(caller, argument, images, image_shape=None):
    """``images`` as float32 ``(N, H, W, C)``, checked against the expected image shape."""
    array = numpy.asarray(images)
    if array.dtype.kind not in "uif" or array.ndim != 4 or len(array) == 0:
        raise ValueError(
            f"{caller}: {argument} must be a non-empty batch of images (N, height, width, "
            f"channels) of numbers; received shape {array.shape} and dtype {array.dtype}"
        )
    if image_shape is not None and tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"{caller}: {argument} must have images of the classifier's shape "
            f"{tuple(image_shape)}; received a batch of shape {array.shape}"
        )
    return array.astype(numpy.float32, copy=False)


def _checked_labels(caller, argument, labels, count):
    array = numpy.asarray(labels).reshape(-1)
    if array.dtype.kind not in "iu" or len(array) != count:
        raise ValueError(
            f"{caller}: {argument} must be {count} integer class ids (one per image); "
            f"received shape {numpy.shape(labels)} and dtype {array.dtype}"
        )
    if array.min() < 0 or array.max() >= _NUM_CLASSES:
        raise ValueError(
            f"{caller}: {argument} must be digits in [0, {_NUM_CLASSES}); received ids from "
            f"{array.min()} to {array.max()}"
        )
    return array.astype(numpy.int32)


def build_digit_classifier(image_shape):
    """The judge's architecture for images of ``image_shape`` (height, width, channels).

    Two 3×3 convolutions (16 and 32 filters, ReLU, 2×2 max pooling), then ``Dense(64)``
    named :data:`FEATURES_LAYER` — the penultimate features of the Fréchet distance — and
    a 10-way softmax. The light dropout keeps the features from depending on a few pixels.

    Example:
        >>> model = build_digit_classifier((16, 16, 1))
        >>> model.get_layer(FEATURES_LAYER).units, model.output_shape
        (64, (None, 10))
    """
    return Sequential(
        [
            layers.Input(tuple(image_shape)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu", name=FEATURES_LAYER),
            layers.Dropout(0.3),
            layers.Dense(_NUM_CLASSES, activation="softmax", name="probabilities"),
        ],
        name="digit_classifier",
    )


def train_digit_classifier(
    images, labels, epochs=10, batch_size=32, learning_rate=2e-3, seed=0, verbose=0
):
    """Train :func:`build_digit_classifier` on real digits and return the Model.

    ``images`` ``(N, H, W, C)`` on the scale the generated images will have (``[-1, 1]``
    for a GAN's ``tanh`` output), ``labels`` ``(N,)`` digits 0–9. Adam, sparse categorical
    cross-entropy; ``seed`` fixes weights and shuffling. On the 1,442 training digits
    upsampled to 16×16 the defaults reach about 98% test accuracy in some seconds.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).uniform(-1, 1, (20, 8, 8, 1))
        >>> train_digit_classifier(x, np.arange(20) % 10, epochs=1).name
        'digit_classifier'
    """
    caller = "train_digit_classifier"
    images = _checked_images(caller, "images", images)
    labels = _checked_labels(caller, "labels", labels, len(images))
    for argument, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{caller}: {argument} must be a positive int; received {value!r}")
    utils.set_random_seed(seed)
    model = build_digit_classifier(images.shape[1:])
    model.compile(
        optimizer=optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images, labels, batch_size=batch_size, epochs=epochs, verbose=verbose)
    return model


def _features_and_probabilities(classifier, images, batch_size):
    """The penultimate features and the class probabilities of ``images``."""
    try:
        features = classifier.get_layer(FEATURES_LAYER).output
    except ValueError:  # another classifier: the input of its last layer
        features = classifier.layers[-1].input
    probe = Model(classifier.inputs, [features, classifier.outputs[0]])
    features, probabilities = probe.predict(images, batch_size=batch_size, verbose=0)
    return numpy.asarray(features), numpy.asarray(probabilities)


def digit_quality(
    generated_images,
    classifier,
    real_images,
    target_labels=None,
    threshold=0.9,
    batch_size=256,
):
    """Score generated digits with a classifier trained on real ones (see the module text).

    ``generated_images`` and ``real_images`` ``(N, H, W, C)`` of the classifier's input
    shape and scale; ``classifier`` a functional/Sequential Model with a 10-way softmax
    (:func:`train_digit_classifier`); ``target_labels`` the digit requested for each
    generated image (conditional GAN). Use a few hundred images on each side: the Fréchet
    distance needs more samples than feature dimensions (64) to be meaningful.

    Returns a dict of floats: ``confident_share``, ``class_coverage``, ``classes_present``,
    ``frechet_distance`` and, with ``target_labels``, ``label_accuracy``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(1).uniform(-1, 1, (30, 8, 8, 1))
        >>> judge = train_digit_classifier(x, np.arange(30) % 10, epochs=1)
        >>> score = digit_quality(x, judge, x, target_labels=np.arange(30) % 10)
        >>> score["frechet_distance"] < 1e-6, 0 <= score["label_accuracy"] <= 1
        (True, True)
    """
    caller = "digit_quality"
    if not isinstance(classifier, Model):
        raise TypeError(
            f"{caller}: classifier must be a shinsou Model (see train_digit_classifier); "
            f"received {type(classifier).__name__}"
        )
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"{caller}: threshold must be a number in (0, 1]; got {threshold!r}")
    if not 0 < threshold <= 1:
        raise ValueError(f"{caller}: threshold must be in (0, 1]; received {threshold!r}")
    image_shape = tuple(classifier.input_shape[1:])
    generated = _checked_images(caller, "generated_images", generated_images, image_shape)
    real = _checked_images(caller, "real_images", real_images, image_shape)
    if min(len(generated), len(real)) < 2:
        raise ValueError(
            f"{caller}: the Fréchet distance needs at least 2 generated and 2 real images; "
            f"received {len(generated)} and {len(real)}"
        )
    targets = None
    if target_labels is not None:
        targets = _checked_labels(caller, "target_labels", target_labels, len(generated))

    generated_features, probabilities = _features_and_probabilities(
        classifier, generated, batch_size
    )
    real_features, _ = _features_and_probabilities(classifier, real, batch_size)
    predicted = probabilities.argmax(axis=1)
    confident = probabilities.max(axis=1) >= threshold
    counts = numpy.bincount(predicted[confident], minlength=_NUM_CLASSES)
    score = {
        "confident_share": float(confident.mean()),
        "class_coverage": _normalized_entropy(counts),
        "classes_present": float((counts > 0).sum()),
        "frechet_distance": frechet_distance(real_features, generated_features),
    }
    if targets is not None:
        score["label_accuracy"] = float((predicted == targets).mean())
    return score


def _normalized_entropy(counts):
    """Entropy of the distribution ``counts / counts.sum()`` over ``log(len(counts))``."""
    total = counts.sum()
    if total == 0:
        return 0.0
    shares = counts[counts > 0] / total
    return float(-(shares * numpy.log(shares)).sum() / numpy.log(len(counts)))

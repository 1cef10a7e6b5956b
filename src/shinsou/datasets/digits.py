"""The handwritten digits that ship with scikit-learn: 1,797 real 8×8 images of the digits
0–9 (the UCI "Optical Recognition of Handwritten Digits" test set), loaded without any
download, in MNIST's layout. scikit-learn is an optional dependency:
``pip install "shinsou[all]"``.

Example:
    >>> TRAIN_SIZE, TEST_SIZE
    (1442, 355)
    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> x_train.shape, x_test.shape, x_train.dtype, int(x_train.max())  # doctest: +SKIP
    ((1442, 8, 8), (355, 8, 8), dtype('uint8'), 255)
"""

from __future__ import annotations

import numpy

TRAIN_SIZE = 1442
"""Samples in the training split (every digit class keeps 4 of each 5 of its samples)."""

TEST_SIZE = 355
"""Samples in the test split (every fifth sample of each class, in dataset order)."""

_INSTALL_HINT = 'pip install "shinsou[all]"'


def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "shinsou.datasets.digits needs scikit-learn, which ships the digits images; "
            f"install it with: {_INSTALL_HINT}"
        ) from error
    digits = load_digits()
    return digits.images, digits.target


def _stratified_test_mask(labels):
    """True for every fifth sample of each class (its 5th, 10th, ... in dataset order)."""
    counts = numpy.bincount(labels)
    first_of_class = numpy.cumsum(counts) - counts
    by_class = numpy.argsort(labels, kind="stable")
    rank_in_class = numpy.empty_like(by_class)
    rank_in_class[by_class] = numpy.arange(len(labels)) - numpy.repeat(first_of_class, counts)
    return rank_in_class % 5 == 4


def load_data():
    """Load the digits as ``(x_train, y_train), (x_test, y_test)`` like ``mnist.load_data``.

    ``x`` is uint8 of shape ``(n, 8, 8)`` with grey levels scaled from scikit-learn's 0–16
    to 0–255 (so MNIST code that divides by 255 works unchanged), ``y`` uint8 labels 0–9.
    The split is fixed and stratified: every fifth sample of each class goes to the test
    set, giving :data:`TRAIN_SIZE` (1,442) training and :data:`TEST_SIZE` (355) test
    samples, both in dataset order. Needs scikit-learn (``pip install "shinsou[all]"``);
    nothing is downloaded.

    Example (the lines calling load_data need scikit-learn; doctests skip them):
        >>> TRAIN_SIZE + TEST_SIZE  # all of scikit-learn's digits
        1797
        >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
        >>> x_train.shape, sorted(set(y_train.tolist())) == list(range(10))  # doctest: +SKIP
        ((1442, 8, 8), True)
    """
    images, labels = _load_sklearn_digits()
    pixels = numpy.rint(images.astype(numpy.float32) * numpy.float32(255 / 16))
    x = numpy.clip(pixels, 0, 255).astype(numpy.uint8)
    y = labels.astype(numpy.uint8)
    test = _stratified_test_mask(labels)
    return (x[~test], y[~test]), (x[test], y[test])

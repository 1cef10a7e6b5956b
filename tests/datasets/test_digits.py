"""digits.load_data: scikit-learn's real 8×8 digits in MNIST's layout, a fixed stratified
split; a clear ImportError naming the extra when scikit-learn is missing."""

import sys

import numpy as np
import pytest

from shinsou.datasets import digits


def test_digits_layout_and_split():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (digits.TRAIN_SIZE, 8, 8) == (1442, 8, 8)
    assert x_test.shape == (digits.TEST_SIZE, 8, 8) == (355, 8, 8)
    assert y_train.shape == (1442,) and y_test.shape == (355,)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 255  # scaled like MNIST
    # Stratified: the test set holds every fifth image of each class (its 5th, 10th, ...),
    # the training set the others, both in scikit-learn's order, rescaled from 0-16.
    from sklearn.datasets import load_digits

    original = load_digits()
    scaled = np.rint(original.images * 255 / 16)
    for label in range(10):
        of_class = scaled[original.target == label]
        np.testing.assert_array_equal(x_test[y_test == label], of_class[4::5])
        np.testing.assert_array_equal(
            x_train[y_train == label], np.delete(of_class, np.s_[4::5], axis=0)
        )


def test_digits_split_is_deterministic():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    (first, _), (first_test, _) = digits.load_data()
    (second, _), (second_test, _) = digits.load_data()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first_test, second_test)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'needs scikit-learn.*pip install "shinsou\[all\]"'):
        digits.load_data()

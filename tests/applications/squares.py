"""Synthetic images for the GAN tests: a bright 2x2 square on a dark 8x8 background,
somewhere inside the quadrant of its class (0 top left, 1 top right, 2 bottom left,
3 bottom right), pixels in [-1, 1]."""

import numpy as np

QUADRANTS = [(0, 0), (0, 4), (4, 0), (4, 4)]


def square_images(count, rng):
    """``(images (count, 8, 8, 1) float32, labels (count,))``."""
    labels = rng.integers(0, 4, count)
    offsets = rng.integers(0, 3, (count, 2))  # the square moves within its quadrant
    images = np.full((count, 8, 8, 1), -1.0, np.float32)
    for row, label in enumerate(labels):
        top = QUADRANTS[label][0] + offsets[row, 0]
        left = QUADRANTS[label][1] + offsets[row, 1]
        images[row, top : top + 2, left : left + 2] = 1.0
    return images, labels


def brightest_quadrant(images):
    """The class whose quadrant is brightest in each image."""
    means = [images[:, r : r + 4, c : c + 4, 0].mean(axis=(1, 2)) for r, c in QUADRANTS]
    return np.stack(means, axis=1).argmax(axis=1)

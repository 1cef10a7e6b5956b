"""Shared checks for the pictures of shinsou.viz: a written PNG is loosely inspected
(a real PNG, not tiny, not one flat colour)."""

import os

import numpy
import pytest


def _check_png(path, min_side=60):
    assert os.path.getsize(path) > 1000, f"{path} is suspiciously small"
    from matplotlib.image import imread

    pixels = imread(path, format="png")
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_side, pixels.shape
    assert float(numpy.var(pixels[..., :3])) > 0, f"{path} is blank"
    leftovers = [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    return pixels


@pytest.fixture
def check_png():
    """``check_png(path)`` asserts that ``path`` is a non-blank PNG and returns its pixels."""
    return _check_png

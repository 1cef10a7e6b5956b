"""Writing small IDX files and MNIST-shaped folders for the dataset tests."""

import gzip
import struct

import numpy as np
import pytest

from shinsou.datasets.idx import IDX_DTYPES


def encode_idx(array, type_code=0x08):
    """The IDX encoding of ``array``: magic number, big-endian dimensions, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[type_code]).tobytes()


@pytest.fixture
def idx_bytes():
    return encode_idx


@pytest.fixture
def write_split():
    """``write_split(folder, prefix, count, compressed)`` writes random images and labels."""

    def write(folder, prefix, count, compressed=False, seed=0):
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        suffix = ".gz" if compressed else ""
        for name, array in (
            (f"{prefix}-images-idx3-ubyte", images),
            (f"{prefix}-labels-idx1-ubyte", labels),
        ):
            data = encode_idx(array)
            (folder / (name + suffix)).write_bytes(gzip.compress(data) if compressed else data)
        return images, labels

    return write

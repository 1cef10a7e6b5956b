"""read_idx: plain and gzip IDX files of every type code, and clear errors on corrupt ones."""

import gzip

import numpy as np
import pytest

from shinsou.datasets.idx import IDX_DTYPES, read_idx


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_plain_and_gzip(tmp_path, compressed, idx_bytes):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    data = idx_bytes(images)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compressed else data)
    loaded = read_idx(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (5, 4, 3)
    np.testing.assert_array_equal(loaded, images)
    loaded[0, 0, 0] = 7  # a writable copy, not a view of the file's bytes


@pytest.mark.parametrize("type_code", [0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_other_types_come_back_in_native_byte_order(tmp_path, type_code, idx_bytes):
    values = np.arange(-3, 3).reshape(2, 3)
    path = tmp_path / "values.idx"
    path.write_bytes(idx_bytes(values, type_code))
    loaded = read_idx(path)
    assert loaded.dtype == IDX_DTYPES[type_code].newbyteorder("=")
    assert loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, values)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00\x08", "not an IDX file: its magic number is 000008"),
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x05", "magic number is 01020801"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "magic number is 00000701"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", r"header is cut short \(8 bytes\)"),
        (
            b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03",
            r"announces shape \(2, 2\) \(4 bytes of data\) but the file holds 3",
        ),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02")[:-6], "not a valid gzip"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, content, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)

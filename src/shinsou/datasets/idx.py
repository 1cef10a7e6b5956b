"""Reading the IDX format in which MNIST is published (plain or gzip-compressed).

An IDX file is a 4-byte magic number — two zero bytes, a type code (``0x08`` for unsigned
bytes) and the number of dimensions — then each dimension as a big-endian 32-bit integer,
then the values in C order, big-endian.

Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as handle:
    ...     _ = handle.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path).tolist()
    [7, 2, 1]
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy

# The type code in byte 3 of the magic number, and the big-endian dtype it stands for.
IDX_DTYPES = {
    0x08: numpy.dtype("u1"),
    0x09: numpy.dtype("i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a valid gzip file ({error}); the file is corrupt") from error


def read_idx(path) -> numpy.ndarray:
    """Read an IDX file (gzip-compressed or not, told apart by content) as a NumPy array.

    Values come back in the machine's byte order. A bad magic number or a size that does
    not match the header raises ``ValueError`` naming the file.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "broken-idx1-ubyte")
        >>> with open(path, "wb") as handle:
        ...     _ = handle.write(b"not an idx file")
        >>> read_idx(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...broken-idx1-ubyte: not an IDX file: its magic number is 6e6f7420...
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file: its magic number is {data[:4].hex()}, expected "
            "0000TTNN (TT a type code such as 08 for unsigned bytes, NN the number of axes)"
        )
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(f"{path}: the IDX header is cut short ({len(data)} bytes)")
    shape = tuple(int(n) for n in numpy.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    if len(data) - header_bytes != expected:
        raise ValueError(
            f"{path}: the IDX header announces shape {shape} ({expected} bytes of data) but "
            f"the file holds {len(data) - header_bytes}; the file is truncated or corrupt"
        )
    values = numpy.frombuffer(data, dtype, offset=header_bytes).reshape(shape)
    # frombuffer views immutable bytes; hand back a writable array in native byte order.
    return values.astype(dtype.newbyteorder("="))

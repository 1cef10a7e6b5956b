"""Unique default names for layers and models ("dense", "dense_1", ...), as Keras gives them.

Example:
    >>> from shinsou.utils.naming import clear_session, to_snake_case, unique_name
    >>> clear_session()
    >>> unique_name("dense"), unique_name("dense")
    ('dense', 'dense_1')
    >>> to_snake_case("Conv2DTranspose")
    'conv2d_transpose'
"""

from __future__ import annotations

import re
from collections import defaultdict

_counts: defaultdict[str, int] = defaultdict(int)


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ..."""
    count = _counts[prefix]
    _counts[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def to_snake_case(name: str) -> str:
    """A class name as Keras turns it into a default layer name."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def clear_session() -> None:
    """Forget the names given so far (``keras.backend.clear_session``)."""
    _counts.clear()

"""Repository-wide pytest hooks (tests/conftest.py holds the test suite's own)."""

import pytest


def pytest_collection_modifyitems(config, items):
    """The examples in ``shinsou.native`` call the compiled kernels: skip them where the
    kernels were not built (no C compiler at install), as the kernels' tests skip."""
    from shinsou import native

    if native.available():
        return
    skip = pytest.mark.skip(reason="shinsou's compiled kernels are not built")
    for item in items:
        if item.nodeid.startswith("src/shinsou/native/"):
            item.add_marker(skip)

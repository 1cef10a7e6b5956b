"""Option types shared by the ``shinsou`` subcommands (``argparse`` ``type=`` callables).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--epochs", type=positive_int)
    >>> parser.parse_args(["--epochs", "3"]).epochs
    3
"""

from __future__ import annotations

import argparse

__all__ = ["positive_int"]


def positive_int(text):
    """``text`` as an int above zero, or the ``argparse`` error that says what is wrong.

    Example:
        >>> positive_int("12")
        12
        >>> positive_int("-1")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a positive integer, got -1
    """
    value = int(text) if text.isdigit() else 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value

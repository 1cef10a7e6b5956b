"""Utilities for users: gradient checking (more arrive with the Keras API).

Example:
    >>> from shinsou.utils import gradient_check
    >>> callable(gradient_check)
    True
"""

from ..gradcheck import gradient_check

__all__ = ["gradient_check"]

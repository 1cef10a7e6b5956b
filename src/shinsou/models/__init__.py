"""Models: Model (functional and subclassed), Sequential, and loading/cloning.

Example:
    >>> from shinsou import models
    >>> models.Sequential().name.startswith("sequential")
    True
"""

from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]

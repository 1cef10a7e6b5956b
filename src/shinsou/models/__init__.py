"""Models: Model (functional and subclassed), Sequential, and loading/cloning.

Example:
    >>> from shinsou import models
    >>> models.Sequential().name.startswith("sequential")
    True
"""

from ..saving import clone_model, load_model, save_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "save_model"]

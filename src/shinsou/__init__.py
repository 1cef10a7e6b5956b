"""shinsou (深層): a deep-learning framework with its own autograd engine on NumPy.

Example:
    >>> import shinsou
    >>> x = shinsou.tensor([2.0], requires_grad=True)
    >>> (x ** 3).backward(shinsou.tensor([1.0]))
    >>> x.grad.tolist()
    [12.0]
"""

from . import backend, ops, utils
from .tensor import Tensor, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

__all__ = ["Tensor", "backend", "is_grad_enabled", "no_grad", "ops", "tensor", "utils"]

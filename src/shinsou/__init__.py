"""shinsou (深層): a deep-learning framework with its own autograd engine on NumPy and a
Keras-compatible API — ``import shinsou as keras``.

Example:
    >>> import shinsou
    >>> x = shinsou.tensor([2.0], requires_grad=True)
    >>> (x ** 3).backward(shinsou.tensor([1.0]))
    >>> x.grad.tolist()
    [12.0]
"""

from . import (
    activations,
    backend,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
    saving,
    utils,
)
from .layers import Input
from .losses import Loss
from .metrics import Metric
from .models import Model, Sequential
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .variables import Variable

__version__ = "0.1.0"
_LAZY_SUBPACKAGES = ("applications", "vision", "viz")


def __getattr__(name):
    # The model zoo, the vision case studies and the pictures are large and rarely needed
    # at once: import them on first use, so that ``import shinsou`` stays fast.
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'shinsou' has no attribute {name!r}")


__all__ = [
    "Input",
    "Loss",
    "Metric",
    "Model",
    "Sequential",
    "Tensor",
    "Variable",
    "activations",
    "backend",
    "callbacks",
    "datasets",
    "enable_grad",
    "initializers",
    "is_grad_enabled",
    "layers",
    "losses",
    "metrics",
    "models",
    "no_grad",
    "ops",
    "optimizers",
    "regularizers",
    "saving",
    "tensor",
    "utils",
]

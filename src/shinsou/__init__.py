"""shinsou (深層): a deep-learning framework with its own autograd engine on NumPy and a
Keras-compatible API — ``import shinsou as keras``.

Example:
    >>> import shinsou
    >>> x = shinsou.tensor([2.0], requires_grad=True)
    >>> (x ** 3).backward(shinsou.tensor([1.0]))
    >>> x.grad.tolist()
    [12.0]
"""

import os as _os
import sys as _sys

if "numpy" not in _sys.modules:
    # NumPy's OpenBLAS threads busy-wait for 2**28 cycles (~0.1 s) after every matrix
    # product; on a small machine they take the cores that shinsou's own kernels then need
    # (a ResNet-20 step measured 297 -> 225 ms alone with this). 2**20 cycles (~0.5 ms)
    # keeps them awake through back-to-back products. Read once, when NumPy loads OpenBLAS:
    # it takes effect when shinsou is imported before NumPy; a user's own setting wins.
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

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

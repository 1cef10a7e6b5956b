"""Differentiable ops, named, ordered and shaped like ``keras.ops`` (channels-last).

Every op takes tensors, NumPy arrays or Python numbers and returns tensors; when an input
requires a gradient, the op records how to send gradients back to it.

Example:
    >>> from shinsou import ops
    >>> x = ops.convert_to_tensor([[-1.0, 2.0]])
    >>> ops.relu(x).tolist()
    [[0.0, 2.0]]
"""

from .activations import *  # noqa: F403
from .attention import *  # noqa: F403
from .convolution import *  # noqa: F403
from .core import *  # noqa: F403
from .linalg import *  # noqa: F403
from .losses import *  # noqa: F403
from .manipulation import *  # noqa: F403
from .math import *  # noqa: F403
from .normalization import *  # noqa: F403
from .numeric import *  # noqa: F403
from .pooling import *  # noqa: F403
from .random import *  # noqa: F403
from .reduce import *  # noqa: F403
from .rnn import *  # noqa: F403

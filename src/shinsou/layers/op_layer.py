"""OpLayer: an op applied to symbolic tensors (``x + y`` on Inputs) as a node of the graph.

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> a, b = shinsou.Input((3,)), shinsou.Input((3,))
    >>> model = shinsou.Model([a, b], a * b + 1.0)
    >>> model([np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 2.0, 2.0]])]).tolist()
    [[3.0, 5.0, 7.0]]
"""

from __future__ import annotations

from .. import ops
from .base import Layer


class OpLayer(Layer):
    """Calls ``shinsou.ops.<op_name>`` on its arguments; holds no weights."""

    def __init__(self, op_name, **kwargs):
        super().__init__(name=kwargs.pop("name", None), **kwargs)
        self.op_name = op_name
        self.built = True

    def call(self, *args):
        return getattr(ops, self.op_name)(*args)

    def get_config(self):
        return {**super().get_config(), "op_name": self.op_name}

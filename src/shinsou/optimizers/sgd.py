"""Stochastic gradient descent, with optional (Nesterov) momentum: ``keras.optimizers.SGD``.

Example:
    >>> import numpy as np
    >>> from shinsou import Variable
    >>> w = Variable(np.array([1.0], dtype="float32"))
    >>> optimizer = SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     optimizer.apply([np.array([1.0], dtype="float32")], [w])
    >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 - (0.9 * 0.1 + 0.1)
    0.71
"""

from __future__ import annotations

from ..backend import xp
from .base import Optimizer, check_number


class SGD(Optimizer):
    """Gradient descent with momentum, as Keras writes it.

    Without momentum: ``w = w - learning_rate * g``. With momentum:
    ``velocity = momentum * velocity - learning_rate * g`` then ``w = w + velocity``; with
    ``nesterov=True`` the second line becomes ``w = w + momentum * velocity -
    learning_rate * g``. (This equals PyTorch's SGD with ``dampening=0`` while the learning
    rate is constant.)

    Example:
        >>> SGD(momentum=0.9, nesterov=True).get_config()["nesterov"]
        True
    """

    _threaded = False  # four passes per element: memory-bound (see Optimizer._threaded)

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="SGD",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        check_number("SGD", "momentum", momentum, 0.0, 1.0)
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _slot_groups(self):
        return [[("momentum", 0.0)]] if self.momentum != 0 else []

    def _update_chunk(self, param, grad, slots, scratch, learning_rate):
        xp.multiply(grad, learning_rate, out=grad)
        if self.momentum == 0:
            xp.subtract(param, grad, out=param)
            return
        velocity = slots["momentum"]
        xp.multiply(velocity, self.momentum, out=velocity)
        xp.subtract(velocity, grad, out=velocity)
        if self.nesterov:
            xp.multiply(velocity, self.momentum, out=scratch)
            xp.subtract(scratch, grad, out=scratch)
            xp.add(param, scratch, out=param)
        else:
            xp.add(param, velocity, out=param)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config

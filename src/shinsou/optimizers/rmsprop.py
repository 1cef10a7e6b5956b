"""RMSprop: divide the gradient by a running root mean square: ``keras.optimizers.RMSprop``.

Example:
    >>> import numpy as np
    >>> from shinsou import Variable
    >>> w = Variable(np.array([10.0], dtype="float32"))
    >>> RMSprop(learning_rate=0.1).apply([w.numpy()], [w])  # gradient of w**2 / 2
    >>> round(float(w.numpy()[0]), 5)
    9.68377
"""

from __future__ import annotations

from ..backend import xp
from .base import Optimizer, check_number


class RMSprop(Optimizer):
    """RMSprop with Keras's formula (epsilon inside the square root):

    ``velocity = rho * velocity + (1 - rho) * g**2``, ``increment = learning_rate * g /
    sqrt(velocity + epsilon)``, ``w = w - increment``. With ``centered=True`` the
    denominator is ``sqrt(velocity - average_gradient**2 + epsilon)``, ``average_gradient``
    being the running mean of ``g``. With ``momentum > 0``: ``m = momentum * m + increment``
    and ``w = w - m``. (PyTorch adds its eps outside the square root; the two agree when
    epsilon is 0.)

    Example:
        >>> RMSprop(centered=True).get_config()["rho"]
        0.9
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="rmsprop",
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
        check_number("RMSprop", "rho", rho, 0.0, 1.0)
        check_number("RMSprop", "momentum", momentum, 0.0, 1.0)
        check_number("RMSprop", "epsilon", epsilon, low=0.0)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = bool(centered)

    def _slot_groups(self):
        groups = [[("velocity", 0.0)]]
        if self.momentum > 0:
            groups.append([("momentum", 0.0)])
        if self.centered:
            groups.append([("average_gradient", 0.0)])
        return groups

    def _update_chunk(self, param, grad, slots, scratch, learning_rate):
        rho, velocity = self.rho, slots["velocity"]
        xp.multiply(grad, grad, out=scratch)
        xp.multiply(scratch, 1.0 - rho, out=scratch)
        xp.multiply(velocity, rho, out=velocity)
        xp.add(velocity, scratch, out=velocity)
        if self.centered:
            average = slots["average_gradient"]
            xp.multiply(grad, 1.0 - rho, out=scratch)
            xp.multiply(average, rho, out=average)
            xp.add(average, scratch, out=average)
            xp.multiply(average, average, out=scratch)
            xp.subtract(velocity, scratch, out=scratch)
            xp.add(scratch, self.epsilon, out=scratch)
        else:
            xp.add(velocity, self.epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.multiply(grad, learning_rate, out=grad)
        xp.divide(grad, scratch, out=scratch)  # the increment
        if self.momentum > 0:
            momentum = slots["momentum"]
            xp.multiply(momentum, self.momentum, out=momentum)
            xp.add(momentum, scratch, out=momentum)
            xp.subtract(param, momentum, out=param)
        else:
            xp.subtract(param, scratch, out=param)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config

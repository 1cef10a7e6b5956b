"""Optimizers that scale each weight's step by its gradient history: ``keras.optimizers``'
``Adagrad`` and ``Adadelta``.

Example:
    >>> import numpy as np
    >>> from shinsou import Variable
    >>> w = Variable(np.array([1.0], dtype="float32"))
    >>> Adagrad(learning_rate=0.1).apply([np.array([0.3], dtype="float32")], [w])
    >>> round(float(w.numpy()[0]), 4)  # 1 - 0.1 * 0.3 / sqrt(0.1 + 0.09)
    0.9312
"""

from __future__ import annotations

from ..backend import xp
from .base import Optimizer, check_number


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): ``accumulator = accumulator + g**2`` (starting at
    ``initial_accumulator_value``), ``w = w - learning_rate * g / sqrt(accumulator +
    epsilon)``. (PyTorch adds its eps outside the square root; the two agree when epsilon
    is 0.)

    Example:
        >>> Adagrad().get_config()["initial_accumulator_value"]
        0.1
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adagrad",
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
        check_number("Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0)
        check_number("Adagrad", "epsilon", epsilon, low=0.0)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_groups(self):
        return [[("accumulator", self.initial_accumulator_value)]]

    def _update_chunk(self, param, grad, slots, scratch, learning_rate):
        accumulator = slots["accumulator"]
        xp.multiply(grad, grad, out=scratch)
        xp.add(accumulator, scratch, out=accumulator)
        xp.add(accumulator, self.epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.multiply(grad, learning_rate, out=grad)
        xp.divide(grad, scratch, out=scratch)
        xp.subtract(param, scratch, out=param)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}
        )
        return config


class Adadelta(Optimizer):
    """Adadelta (Zeiler) with a learning rate, as Keras and PyTorch both write it:

    ``acc_g = rho * acc_g + (1 - rho) * g**2``,
    ``delta = -sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g``,
    ``acc_delta = rho * acc_delta + (1 - rho) * delta**2``, ``w = w + learning_rate * delta``.
    Use ``learning_rate=1.0`` for the paper's form.

    Example:
        >>> Adadelta().get_config()["rho"]
        0.95
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.95,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adadelta",
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
        check_number("Adadelta", "rho", rho, 0.0, 1.0)
        check_number("Adadelta", "epsilon", epsilon, low=0.0)
        self.rho = rho
        self.epsilon = epsilon

    def _slot_groups(self):
        return [[("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]]

    def _update_chunk(self, param, grad, slots, scratch, learning_rate):
        rho = self.rho
        accumulated_grad = slots["accumulated_grad"]
        accumulated_delta = slots["accumulated_delta_var"]
        xp.multiply(grad, grad, out=scratch)
        xp.multiply(scratch, 1.0 - rho, out=scratch)
        xp.multiply(accumulated_grad, rho, out=accumulated_grad)
        xp.add(accumulated_grad, scratch, out=accumulated_grad)
        # scratch = -delta = sqrt(acc_delta + eps) * g / sqrt(acc_g + eps); grad is spare after.
        xp.add(accumulated_delta, self.epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.multiply(scratch, grad, out=scratch)
        xp.add(accumulated_grad, self.epsilon, out=grad)
        xp.sqrt(grad, out=grad)
        xp.divide(scratch, grad, out=scratch)
        xp.multiply(scratch, scratch, out=grad)
        xp.multiply(grad, 1.0 - rho, out=grad)
        xp.multiply(accumulated_delta, rho, out=accumulated_delta)
        xp.add(accumulated_delta, grad, out=accumulated_delta)
        xp.multiply(scratch, learning_rate, out=scratch)
        xp.subtract(param, scratch, out=param)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config

"""Adam and its relatives: ``keras.optimizers.Adam``, ``AdamW``, ``Adamax`` and ``Nadam``.

Example:
    >>> import numpy as np
    >>> from shinsou import Variable
    >>> w = Variable(np.array([1.0, -1.0], dtype="float32"))
    >>> Adam(learning_rate=0.1).apply([np.array([3.0, -0.5], dtype="float32")], [w])
    >>> [round(float(x), 4) for x in w.numpy()]  # the first step is learning_rate * sign(g)
    [0.9, -0.9]
"""

from __future__ import annotations

import math

from .. import native
from ..backend import xp
from .base import Optimizer, check_number


class _Moments(Optimizer):
    """Shared constructor of the optimizers with ``beta_1``, ``beta_2`` and ``epsilon``."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, beta_2_may_be_1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        owner = type(self).__name__
        check_number(owner, "beta_1", beta_1, 0.0, 1.0, high_open=True)
        check_number(owner, "beta_2", beta_2, 0.0, 1.0, high_open=not beta_2_may_be_1)
        check_number(owner, "epsilon", epsilon, low=0.0)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update_first_moment(self, grad, momentum, scratch):
        """``m += (g - m) * (1 - beta_1)``."""
        xp.subtract(grad, momentum, out=scratch)
        xp.multiply(scratch, 1.0 - self.beta_1, out=scratch)
        xp.add(momentum, scratch, out=momentum)

    def _update_second_moment(self, grad, velocity, scratch):
        """``v += (g**2 - v) * (1 - beta_2)``."""
        xp.multiply(grad, grad, out=scratch)
        xp.subtract(scratch, velocity, out=scratch)
        xp.multiply(scratch, 1.0 - self.beta_2, out=scratch)
        xp.add(velocity, scratch, out=velocity)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class Adam(_Moments):
    """Adam (Kingma & Ba), with Keras's "epsilon hat":

    ``m = m + (g - m) * (1 - beta_1)``, ``v = v + (g**2 - v) * (1 - beta_2)``,
    ``w = w - learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) +
    epsilon)``. PyTorch's Adam divides by ``sqrt(v / (1 - beta_2**t)) + eps`` instead, so
    Keras's epsilon equals PyTorch's ``eps * sqrt(1 - beta_2**t)``. ``amsgrad=True`` uses the
    running maximum of ``v``.

    Example:
        >>> Adam().get_config()["epsilon"]
        1e-07
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adam",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            beta_2_may_be_1=False,
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
        self.amsgrad = bool(amsgrad)

    def _slot_groups(self):
        groups = [[("momentum", 0.0), ("velocity", 0.0)]]  # interleaved, as Keras 3 saves them
        if self.amsgrad:
            groups.append([("velocity_hat", 0.0)])
        return groups

    def _prepare_step(self, learning_rate):
        step = self._local_step()
        return learning_rate * math.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)

    def _update_chunk(self, param, grad, slots, scratch, alpha):
        momentum, velocity = slots["momentum"], slots["velocity"]
        if not self.amsgrad and native.supports_rows(param, grad, momentum, velocity):
            # One compiled pass instead of eleven NumPy ones.
            native.adam_update(
                param, grad, momentum, velocity, self.beta_1, self.beta_2, self.epsilon, alpha
            )
            return
        self._update_first_moment(grad, momentum, scratch)
        self._update_second_moment(grad, velocity, scratch)
        if self.amsgrad:
            velocity_hat = slots["velocity_hat"]
            xp.maximum(velocity_hat, velocity, out=velocity_hat)
            velocity = velocity_hat
        xp.sqrt(velocity, out=scratch)
        xp.add(scratch, self.epsilon, out=scratch)
        xp.divide(momentum, scratch, out=scratch)
        xp.multiply(scratch, alpha, out=scratch)
        xp.subtract(param, scratch, out=param)

    def get_config(self):
        config = super().get_config()
        config["amsgrad"] = self.amsgrad
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before each Adam update the
    weights are multiplied by ``1 - learning_rate * weight_decay``. Same as PyTorch's AdamW
    up to Adam's epsilon placement.

    Example:
        >>> AdamW().weight_decay
        0.004
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name="adamw",
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a float; received weight_decay=None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
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


class Adamax(_Moments):
    """Adamax, Adam with the infinity norm (section 7.1 of the Adam paper):

    ``m = m + (g - m) * (1 - beta_1)``, ``u = max(beta_2 * u, |g|)``,
    ``w = w - learning_rate / (1 - beta_1**t) * m / (u + epsilon)``. (PyTorch takes
    ``max(beta_2 * u, |g| + eps)`` and divides by ``u``; the two agree when epsilon is 0.)

    Example:
        >>> Adamax().get_config()["beta_2"]
        0.999
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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
        name="adamax",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            beta_2_may_be_1=True,
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

    def _slot_groups(self):
        return [[("momentum", 0.0), ("norm", 0.0)]]

    def _prepare_step(self, learning_rate):
        return learning_rate / (1.0 - self.beta_1 ** self._local_step())

    def _update_chunk(self, param, grad, slots, scratch, step_size):
        momentum, norm = slots["momentum"], slots["norm"]
        self._update_first_moment(grad, momentum, scratch)
        xp.multiply(norm, self.beta_2, out=norm)
        xp.abs(grad, out=scratch)
        xp.maximum(norm, scratch, out=norm)
        xp.add(norm, self.epsilon, out=scratch)
        xp.divide(momentum, scratch, out=scratch)
        xp.multiply(scratch, step_size, out=scratch)
        xp.subtract(param, scratch, out=param)


class Nadam(_Moments):
    """Nadam, Adam with Nesterov momentum (Dozat), with Keras's momentum schedule
    ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and ``prod_t = u_1 * ... * u_t``:

    ``m`` and ``v`` as in Adam, ``m_hat = u_{t+1} * m / (1 - prod_{t+1}) + (1 - u_t) * g /
    (1 - prod_t)``, ``v_hat = v / (1 - beta_2**t)``,
    ``w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)``. (PyTorch's NAdam with
    ``momentum_decay=1.0`` computes the same; its default 0.004 is a different schedule.)

    Example:
        >>> Nadam().name
        'nadam'
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
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
        name="nadam",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            beta_2_may_be_1=False,
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
        self._u_product = None

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._u_product = self.add_variable((), initializer="ones", name="u_product")

    def _slot_groups(self):
        return [[("momentum", 0.0), ("velocity", 0.0)]]

    def _prepare_step(self, learning_rate):
        step = self._local_step()
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96**step)
        u_next = self.beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
        self._u_product.assign(float(self._u_product.data) * u_t)
        product = float(self._u_product.data)  # as stored (float32), so resuming repeats it
        return (
            learning_rate,
            u_next / (1.0 - product * u_next),
            (1.0 - u_t) / (1.0 - product),
            1.0 - self.beta_2**step,
        )

    def _update_chunk(self, param, grad, slots, scratch, constants):
        learning_rate, momentum_weight, gradient_weight, correction_2 = constants
        momentum, velocity = slots["momentum"], slots["velocity"]
        self._update_first_moment(grad, momentum, scratch)
        self._update_second_moment(grad, velocity, scratch)
        xp.multiply(grad, gradient_weight, out=grad)
        xp.multiply(momentum, momentum_weight, out=scratch)
        xp.add(grad, scratch, out=grad)  # m_hat
        xp.divide(velocity, correction_2, out=scratch)
        xp.sqrt(scratch, out=scratch)
        xp.add(scratch, self.epsilon, out=scratch)
        xp.divide(grad, scratch, out=scratch)
        xp.multiply(scratch, learning_rate, out=scratch)
        xp.subtract(param, scratch, out=param)

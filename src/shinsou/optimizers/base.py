"""The optimizer base class (``keras.optimizers.Optimizer``) and the flat buffers it steps on.

One step is ``optimizer.apply(grads, variables)``. Write your own training loop with it::

    loss.backward()
    optimizer.apply([v.grad for v in variables], variables)

``apply`` sets each updated variable's ``.grad`` to ``None`` afterwards, so the next
``backward()`` starts from fresh gradients instead of adding to the old ones.

Why it is fast: on the first ``apply`` (or ``build``), the variables of each dtype are laid
end to end in ONE flat parameter buffer, and each variable's ``.data`` becomes a view into it.
Every optimizer slot (Adam's momentum and velocity, say) is one flat buffer with the same
layout, and so is the gradient buffer the step copies the gradients into. The update rule is a
handful of vectorised in-place NumPy passes over those buffers, in cache-sized chunks spread
over a few threads (see :mod:`~shinsou.optimizers.flat`), instead of a Python loop over dozens
of small arrays. The views stay valid because every later update is in place:
``Variable.assign``, ``set_weights`` and weight loading write through them. Should anything
rebind a variable's ``.data`` all the same, the next ``apply`` notices and copies the new value
back into the flat buffer.

Example:
    >>> import numpy as np
    >>> from shinsou import Variable, optimizers
    >>> w = Variable(np.array([1.0, 2.0], dtype="float32"), name="w")
    >>> optimizer = optimizers.SGD(learning_rate=0.5)
    >>> optimizer.apply([np.array([1.0, 1.0], dtype="float32")], [w])
    >>> w.numpy().tolist(), int(optimizer.iterations)
    ([0.5, 1.5], 1)
"""

from __future__ import annotations

import math
import numbers
import re
import warnings

from .. import backend, initializers
from ..backend import xp
from ..tensor import Tensor, no_grad
from ..utils.naming import to_snake_case
from ..variables import Variable
from . import schedules
from .flat import FlatLayout, chunks, run_in_lanes


def check_number(owner, name, value, low=None, high=None, high_open=False, allow_none=False):
    """Raise a clear error unless ``value`` is a real number in ``[low, high]``
    (``[low, high)`` with ``high_open``); ``None`` passes when ``allow_none``.

    Example:
        >>> check_number("SGD", "momentum", 1.5, 0.0, 1.0)
        Traceback (most recent call last):
        ...
        ValueError: SGD: momentum must be in [0.0, 1.0]; received momentum=1.5
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number; received {name}={value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite; received {name}={value!r}")
    too_high = high is not None and (value >= high if high_open else value > high)
    if (low is not None and value < low) or too_high:
        bracket = ")" if high_open else "]"
        expected = f">= {low}" if high is None else f"in [{low}, {high}{bracket}"
        raise ValueError(f"{owner}: {name} must be {expected}; received {name}={value!r}")


class Optimizer:
    """Base class of the optimizers, with Keras's arguments and behaviour.

    Common arguments: ``weight_decay`` (decoupled: each step multiplies the weights by
    ``1 - learning_rate * weight_decay`` before the update), ``clipnorm`` (clip each
    gradient's L2 norm), ``clipvalue`` (clip each gradient element), ``global_clipnorm``
    (clip the norm of all gradients together; at most one of the three), ``use_ema``,
    ``ema_momentum``, ``ema_overwrite_frequency`` (keep an exponential moving average of the
    weights; ``finalize_variable_values`` copies it into them), ``loss_scale_factor``
    (gradients are divided by it; ``scale_loss`` multiplies a loss by it),
    ``gradient_accumulation_steps`` (update every that many calls, with the mean gradient).

    ``learning_rate`` is a float, a :class:`~shinsou.optimizers.schedules.LearningRateSchedule`
    (evaluated at ``iterations`` before each step) or a callable with no arguments.

    A custom optimizer subclasses this, creates its state in ``build`` with
    ``add_variable_from_reference`` and implements ``update_step(gradient, variable,
    learning_rate)``, as in Keras; it runs one variable at a time.

    Example:
        >>> from shinsou import optimizers
        >>> optimizer = optimizers.Adam(learning_rate=0.01, clipnorm=1.0)
        >>> optimizer.learning_rate = 0.001  # what ReduceLROnPlateau does
        >>> round(float(optimizer.learning_rate), 6)
        0.001
    """

    # Whether the update's chunks are shared among threads; an update rule of only a few
    # passes per element is bound by memory bandwidth, and there a second thread was measured
    # to slow it down.
    _threaded = True

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        owner = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                f"{owner}: argument 'decay' is no longer supported and is ignored; pass a "
                "learning rate schedule as learning_rate instead",
                stacklevel=2,
            )
        if kwargs:
            raise ValueError(f"{owner}: argument(s) not recognized: {kwargs}")
        for key, value in (
            ("weight_decay", weight_decay),
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            check_number(owner, key, value, low=0.0, allow_none=True)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(value is not None for value in clips.values()) > 1:
            raise ValueError(
                f"{owner}: set at most one of clipnorm, clipvalue and global_clipnorm; received "
                + ", ".join(f"{key}={value}" for key, value in clips.items())
            )
        check_number(owner, "ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (
            not isinstance(ema_overwrite_frequency, numbers.Integral) or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                f"{owner}: ema_overwrite_frequency must be an integer >= 1 or None; received "
                f"ema_overwrite_frequency={ema_overwrite_frequency!r}"
            )
        check_number(owner, "loss_scale_factor", loss_scale_factor, low=0.0, allow_none=True)
        if loss_scale_factor == 0:
            raise ValueError(f"{owner}: loss_scale_factor must be > 0; received 0")
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, numbers.Integral)
            or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                f"{owner}: gradient_accumulation_steps must be an integer >= 2 or None; "
                f"received gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        self.name = name or to_snake_case(owner)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables = []
        self._trainable_variables = []
        self._trainable_variables_indices = {}
        self._layout = None
        self._exclude_ids = set()
        self._exclude_pattern = None
        iterations = Variable(0, dtype="int64", trainable=False, name="iteration")
        self._iterations = self._track(iterations)
        self._learning_rate = None
        self._set_learning_rate(learning_rate)

    # -- learning rate and step count -----------------------------------------------------
    @property
    def iterations(self):
        """The number of updates applied so far (a variable; with gradient accumulation,
        the number of accumulated updates)."""
        if self.gradient_accumulation_steps:
            steps = int(self._iterations.data) // self.gradient_accumulation_steps
            return Tensor._wrap(xp.asarray(steps, dtype="int64"))
        return self._iterations

    @property
    def learning_rate(self):
        """The current learning rate: the variable holding it, or a schedule's value now.
        Assign a number to change it (callbacks such as ReduceLROnPlateau do)."""
        if isinstance(self._learning_rate, Variable):
            return self._learning_rate
        return Tensor._wrap(xp.asarray(self._current_learning_rate(), dtype=backend.floatx()))

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_learning_rate(value)

    def _set_learning_rate(self, value):
        owner = type(self).__name__
        if isinstance(value, schedules.LearningRateSchedule) or callable(value):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
            return
        if isinstance(value, Tensor) or hasattr(value, "shape"):
            if value.size != 1:
                raise ValueError(
                    f"{owner}: learning_rate must be a scalar; received shape {value.shape}"
                )
            value = float(value.data if isinstance(value, Tensor) else value)
        check_number(owner, "learning_rate", value, low=0.0)
        if isinstance(self._learning_rate, Variable):
            self._learning_rate.assign(value)
        elif self._learning_rate is None:
            variable = Variable(
                value, dtype=backend.floatx(), trainable=False, name="learning_rate"
            )
            self._learning_rate = self._track(variable)
        else:
            raise TypeError(
                f"{owner} was created with a learning rate schedule (or callable), so its "
                "learning rate cannot be set to a number; create the optimizer with a float "
                "learning_rate to make it settable"
            )

    def _current_learning_rate(self) -> float:
        rate = self._learning_rate
        if isinstance(rate, Variable):
            return float(rate.data)
        if isinstance(rate, schedules.LearningRateSchedule):
            return float(rate(self._iterations))
        return float(rate())

    def _local_step(self) -> int:
        """The 1-based number of the update being applied (Adam's ``t``)."""
        return int(self.iterations) + 1

    # -- variables ------------------------------------------------------------------------
    def _track(self, variable):
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    @property
    def variables(self) -> list:
        """The optimizer's state in Keras's order: ``iteration``, ``learning_rate`` (when a
        number), then the slots created by ``build``."""
        return list(self._variables)

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="mean", name=None):
        """A new non-trainable state variable owned (and saved) by the optimizer
        (``aggregation`` is accepted for Keras compatibility; there is one replica)."""
        variable = Variable(
            initializers.get(initializer),
            shape=tuple(shape),
            dtype=dtype or backend.floatx(),
            trainable=False,
            name=name,
        )
        return self._track(variable)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A state variable shaped like ``reference_variable``, named after it (Keras's way
        for a custom optimizer's ``build``)."""
        name = f"{reference_variable.path.replace('/', '_')}_{name or 'var'}"
        return self.add_variable(
            reference_variable.shape, initializer, reference_variable.dtype, name=name
        )

    def build(self, variables):
        """Lay ``variables`` out in flat buffers and create the optimizer's state for them.

        Called by the first ``apply``; call it yourself to create the state beforehand (to
        load saved optimizer variables, say).
        """
        if self.built:
            return
        owner = type(self).__name__
        variables = list(variables)
        seen = set()
        for variable in variables:
            if not isinstance(variable, Variable):
                raise TypeError(f"{owner}.build: expected Variables; received {variable!r}")
            if not backend.is_floating(variable.dtype):
                raise TypeError(
                    f"{owner}.build: variable '{variable.path}' has dtype {variable.dtype}; only "
                    "floating-point variables can be optimized"
                )
            if id(variable) in seen:
                raise ValueError(f"{owner}.build: variable '{variable.path}' is listed twice")
            seen.add(id(variable))
        self._trainable_variables = variables
        self._trainable_variables_indices = {id(v): i for i, v in enumerate(variables)}
        self._layout = FlatLayout(variables)
        for group in self._layout.groups:  # backward writes gradients straight into place
            for variable, grad_view in zip(group.variables, group.grad_views):
                variable._grad_buffer = grad_view
        extra = []
        if self.use_ema:
            extra.append(("average", 0.0))
        if self.gradient_accumulation_steps:
            extra.append(("gradient_accumulator", 0.0))
        self._add_flat_slots(extra, into_extra=True)
        for slot_group in self._slot_groups():
            self._add_flat_slots(slot_group)
        self.built = True

    def _slot_groups(self) -> list:
        """The update rule's state: groups of ``(name, initial value)``. The variables of a
        group are created interleaved per model variable, as Keras orders them."""
        return []

    def _add_flat_slots(self, specs, into_extra=False):
        for group in self._layout.groups:
            target = group.extra if into_extra else group.slots
            for name, initial in specs:
                target[name] = xp.full(group.bounds[-1], initial, dtype=group.dtype)
        for variable in self._trainable_variables:
            group, index = self._layout.locate(variable)
            for name, _ in specs:
                view = group.view((group.extra if into_extra else group.slots)[name], index)
                slot = Variable(
                    view,
                    dtype=group.dtype,
                    trainable=False,
                    name=f"{variable.path.replace('/', '_')}_{name}",
                )
                slot.data = view  # the variable is a window on the flat buffer
                self._track(slot)

    def _get_variable_index(self, variable) -> int:
        return self._trainable_variables_indices[id(variable)]

    def assign(self, variable, value):
        """``variable.assign(value)`` (Keras's hook for custom ``update_step`` code)."""
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    # -- applying gradients ---------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """``apply`` for a list of ``(gradient, variable)`` pairs; returns ``iterations``.

        Example:
            >>> import numpy as np
            >>> from shinsou import Variable, optimizers
            >>> w = Variable(np.zeros(2, dtype="float32"))
            >>> step = optimizers.SGD(0.1).apply_gradients([(np.ones(2, dtype="float32"), w)])
            >>> w.numpy().tolist()
            [-0.10000000149011612, -0.10000000149011612]
        """
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update ``trainable_variables`` in place from ``grads`` (NumPy arrays or tensors,
        one per variable; a ``None`` gradient leaves its variable untouched).

        Without ``trainable_variables`` the gradients follow the variables the optimizer was
        built with. Each updated variable's constraint (if any) is applied afterwards and its
        ``.grad`` is set to ``None``.
        """
        grads = list(grads)
        if not grads:
            return
        owner = type(self).__name__
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{owner}.apply: pass trainable_variables on the first call, or call "
                    "build(variables) first"
                )
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            self.build(variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{owner}.apply: received {len(grads)} gradients for {len(variables)} variables"
            )
        layout = self._layout
        masks, updated, missing = layout.gather(grads, variables, owner)
        if not updated:
            raise ValueError(f"{owner}.apply: no gradients provided for any variable")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If "
                "using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=2,
            )
        runs = layout.runs(masks)
        clipping = self.clipnorm or self.global_clipnorm or self.clipvalue
        custom_rule = type(self).update_step is not Optimizer.update_step
        if clipping or custom_rule or self.loss_scale_factor or self.gradient_accumulation_steps:
            layout.fill(runs)  # these need every gradient before the update
        if self.loss_scale_factor is not None:
            layout.divide_gradients(runs, self.loss_scale_factor)
        ready = True
        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            ready = (int(self._iterations.data) + 1) % steps == 0
            layout.accumulate(runs, steps, ready)
        if ready:
            learning_rate = self._current_learning_rate()
            if self.clipnorm:
                layout.clip_each_norm(masks, self.clipnorm)
            elif self.global_clipnorm:
                layout.clip_global_norm(runs, self.global_clipnorm)
            elif self.clipvalue:
                layout.clip_value(runs, self.clipvalue)
            if custom_rule:
                self._update_each(masks, learning_rate)
            else:
                self._update_flat(masks, runs, learning_rate)
        if self.use_ema:
            step = int(self.iterations)
            frequency = self.ema_overwrite_frequency
            layout.update_average(
                self.ema_momentum if step != 0 else 0.0,
                overwrite=bool(frequency) and (step + 1) % frequency == 0,
            )
        self._iterations.data += 1
        with no_grad():
            for variable in updated:
                if variable.constraint is not None:
                    variable.assign(variable.constraint(variable))
                variable.grad = None

    def _decay_masks(self, masks):
        """Per group, which variables get weight decay this step (those updated and not
        excluded); ``None`` when weight decay is off."""
        if not self.weight_decay:
            return None
        result = []
        for group, mask in zip(self._layout.groups, masks):
            if group.decayed is None:
                group.decayed = [self._use_weight_decay(v) for v in group.variables]
            result.append([m and d for m, d in zip(mask, group.decayed)])
        return result

    def _update_flat(self, masks, runs, learning_rate):
        """The built-in update rules: chunked passes over the flat buffers, the chunks shared
        among the lanes (threads)."""
        decay_masks = self._decay_masks(masks)
        decay_factor = 1.0 - learning_rate * self.weight_decay if decay_masks else None
        constants = self._prepare_step(learning_rate)
        jobs = []
        for group_index, (group, group_runs) in enumerate(zip(self._layout.groups, runs)):
            fold_decay = decay_masks is not None and decay_masks[group_index] == masks[group_index]
            if decay_masks is not None and not fold_decay:
                for start, stop in group.runs(decay_masks[group_index]):
                    view = group.params[start:stop]
                    xp.multiply(view, decay_factor, out=view)
            factor = decay_factor if fold_decay else None
            jobs.extend((group, start, stop, factor) for start, stop in chunks(group_runs))

        def work(part, lane):
            for group, start, stop, factor in part:
                group.fill(start, stop)  # this chunk's gradients, copied while they are hot
                param = group.params[start:stop]
                if factor is not None:
                    xp.multiply(param, factor, out=param)
                slots = {name: flat[start:stop] for name, flat in group.slots.items()}
                scratch = group.scratch[lane, : stop - start]
                self._update_chunk(param, group.grads[start:stop], slots, scratch, constants)

        if self._threaded:
            run_in_lanes(jobs, work)
        else:
            work(jobs, 0)
        for group in self._layout.groups:
            group.pending = [None] * len(group.variables)  # do not keep the caller's arrays

    def _update_each(self, masks, learning_rate):
        """A custom ``update_step``: one call per variable, as Keras makes it."""
        decay_masks = self._decay_masks(masks)
        if decay_masks is not None:
            for group, mask in zip(self._layout.groups, decay_masks):
                for start, stop in group.runs(mask):
                    view = group.params[start:stop]
                    xp.multiply(view, 1.0 - learning_rate * self.weight_decay, out=view)
        rate = Tensor._wrap(xp.asarray(learning_rate, dtype=backend.floatx()))
        with no_grad():
            for group, mask in zip(self._layout.groups, masks):
                for index, selected in enumerate(mask):
                    if selected:
                        gradient = Tensor._wrap(group.grad_views[index])
                        self.update_step(gradient, group.variables[index], rate)

    def _prepare_step(self, learning_rate):
        """The step's scalars for ``_update_chunk`` (bias corrections, say), computed once
        per update; may advance per-step state such as Nadam's momentum product."""
        return learning_rate

    def _update_chunk(self, param, grad, slots, scratch, constants):
        """Apply the update rule in place to one chunk of the flat buffers.

        ``param``, ``grad``, each ``slots[name]`` and ``scratch`` are equally long 1-D views;
        ``grad`` and ``scratch`` may be overwritten.
        """
        self.update_step(None, None, None)  # neither rule is defined: raise update_step's error

    def update_step(self, gradient, variable, learning_rate):
        """Update one variable from its gradient; custom optimizers implement this (Keras's
        hook). The built-in optimizers update all variables at once instead."""
        raise NotImplementedError(
            f"{type(self).__name__}: a custom optimizer must implement "
            "update_step(gradient, variable, learning_rate)"
        )

    def finalize_variable_values(self, var_list):
        """With ``use_ema``, copy the moving averages into the variables (end of training)."""
        if not self.use_ema:
            return
        for variable in var_list:
            group, index = self._layout.locate(variable)
            variable.assign(group.view(group.extra["average"], index))

    def scale_loss(self, loss):
        """The loss multiplied by ``loss_scale_factor`` (unchanged when it is None)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # -- weight decay exclusions -----------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempt variables from weight decay: those in ``var_list``, and those whose name
        contains any of the strings in ``var_names`` (``["bias"]``, say)."""
        self._exclude_ids = {id(variable) for variable in var_list or ()}
        pattern = "|".join(map(re.escape, var_names)) if var_names else None
        self._exclude_pattern = re.compile(pattern) if pattern else None
        for group in self._layout.groups if self._layout else ():
            group.decayed = None

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        return self._exclude_pattern is None or not self._exclude_pattern.search(variable.name)

    # -- state and config ------------------------------------------------------------------
    def set_weights(self, weights):
        """Overwrite the optimizer's variables (in :attr:`variables` order)."""
        if not self.built:
            raise ValueError(
                f"{type(self).__name__}.set_weights: the optimizer is not built yet; call "
                "build(trainable_variables) first"
            )
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(
                f"{type(self).__name__}.set_weights: expected {len(self._variables)} arrays, "
                f"received {len(weights)}"
            )
        for variable, weight in zip(self._variables, weights):
            variable.assign(weight)

    def save_own_variables(self, store):
        """Write the variables into ``store`` under keys ``"0"``, ``"1"``, ... (Keras files)."""
        for index, variable in enumerate(self._variables):
            store[str(index)] = variable.numpy()

    def load_own_variables(self, store):
        """Read the variables written by :meth:`save_own_variables`."""
        if len(store.keys()) != len(self._variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}': it has "
                f"{len(self._variables)} variables, the saved optimizer has "
                f"{len(store.keys())}" + ("" if self.built else " (it is not built yet)"),
                stacklevel=2,
            )
            return
        for index, variable in enumerate(self._variables):
            variable.assign(store[str(index)])

    def get_config(self) -> dict:
        """The constructor arguments, with Keras's keys."""
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(rate)
        elif isinstance(rate, Variable):
            learning_rate = float(rate.data)
        else:
            raise ValueError(
                f"{type(self).__name__}.get_config: a plain callable learning_rate cannot be "
                "serialized; use a LearningRateSchedule subclass with get_config() instead"
            )
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new optimizer (without state) from :meth:`get_config`'s output."""
        config = dict(config)
        for legacy in ("jit_compile", "is_legacy_optimizer"):  # keys tf.keras used to write
            config.pop(legacy, None)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)

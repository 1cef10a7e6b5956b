"""The training loop: compile, fit, evaluate, predict and their one-batch versions.

One training step is ``train_step(data)``: forward with ``training=True``, the compiled loss
(plus the layers' regularization losses), ``loss.backward()``, ``optimizer.apply`` and the
metric updates. Override it for custom training; the same four lines work in your own loop::

    y_pred = model(x, training=True)
    loss = model.compute_loss(y=y, y_pred=y_pred)
    loss.backward()
    model.optimizer.apply([v.grad for v in model.trainable_weights], model.trainable_weights)

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> from shinsou import layers
    >>> model = shinsou.Sequential([shinsou.Input((2,)), layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0)
    >>> sorted(history.history)
    ['loss']
"""

from __future__ import annotations

import warnings

import numpy

from ..tensor import Tensor, enable_grad, no_grad
from ..utils import tree
from . import data as data_module
from .compile_utils import CompileLoss, CompileMetrics


class Trainer:
    """Mixin that gives :class:`~shinsou.Model` its Keras training methods."""

    def __init__(self):
        self.optimizer = None
        self.compiled = False
        self.loss = None
        self.stop_training = False
        self.history = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = None
        self._compile_config = None
        self._initial_epoch = None  # set by BackupAndRestore when it resumes a run

    # -- compile ------------------------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Choose the optimizer, loss and metrics (objects or their string names)."""
        from .. import metrics as metrics_module
        from .. import optimizers

        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._compile_loss = CompileLoss(loss, loss_weights) if loss is not None else None
        self._compile_metrics = (
            CompileMetrics(metrics, weighted_metrics, self._output_names)
            if metrics is not None or weighted_metrics is not None
            else None
        )
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.compiled = True
        self.stop_training = False
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
        }

    def _assert_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(
                f"{method}: you must call compile() on model '{self.name}' first, e.g. "
                "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')"
            )

    @property
    def metrics(self) -> list:
        """After ``compile``: the loss tracker (``"loss"``), then, when metrics were
        compiled, their container (``"compile_metrics"``, whose ``result()`` is a dict).

        A custom ``train_step`` updates them all as Keras's guide does: ``update_state(loss)``
        for the one named ``"loss"``, ``update_state(y, y_pred)`` for the others.

        Example:
            >>> import shinsou
            >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
            >>> model.compile(loss="mse", metrics=["mae"])
            >>> [metric.name for metric in model.metrics]
            ['loss', 'compile_metrics']
        """
        result = []
        if self.compiled:
            if self._loss_tracker is not None:
                result.append(self._loss_tracker)
            if self._compile_metrics is not None:
                result.append(self._compile_metrics)
        return result

    @property
    def metrics_names(self) -> list[str]:
        return [metric.name for metric in self.metrics]

    @property
    def compiled_metrics(self):
        """Keras 2's ``self.compiled_metrics.update_state(y, y_pred, sample_weight)``
        (deprecated in Keras 3): updates the compiled metrics, not the loss tracker."""
        return _CompiledMetricsUpdater(self)

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Keras 2's ``self.compiled_loss(y, y_pred)`` (deprecated in Keras 3): the same as
        ``compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)``, which already
        adds the layers' losses (so ``regularization_losses`` is not added again)."""
        warnings.warn(
            "`model.compiled_loss()` is deprecated. Instead, use "
            "`model.compute_loss(x, y, y_pred, sample_weight)`.",
            stacklevel=2,
        )
        return self.compute_loss(x=None, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def _output_names(self):
        outputs = getattr(self, "outputs", None)
        if outputs:
            return [t._keras_history.operation.name for t in outputs]
        return None

    # -- one step -----------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss on ``(y, y_pred)`` plus the model's regularization losses."""
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight, self._output_names())
        extra = self.losses
        if extra:
            penalty = extra[0]
            for term in extra[1:]:
                penalty = penalty + term
            total = penalty if total is None else total + penalty
        if total is None:
            raise ValueError(
                f"model '{self.name}' has no loss to optimize: pass loss= to compile() or add "
                "losses with add_loss()"
            )
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch and return all current results."""
        if self._compile_metrics is not None and y is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """``{name: result}`` of :attr:`metrics`, the compiled metrics' dict merged in."""
        results = {}
        for metric in self.metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update({name: _as_python(item) for name, item in value.items()})
            else:
                results[metric.name] = _as_python(value)
        return results

    def train_step(self, data) -> dict:
        """One optimization step on a batch ``(x, y[, sample_weight])``; returns the logs."""
        x, y, sample_weight = data_module.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        variables = self.trainable_weights
        for variable in variables:
            variable.grad = None
        self.optimizer.scale_loss(loss).backward()
        self.optimizer.apply([v.grad for v in variables], variables)
        self._loss_tracker.update_state(loss.item(), sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data) -> dict:
        """Loss and metrics on a batch, without training."""
        x, y, sample_weight = data_module.unpack_x_y_sample_weight(data)
        with no_grad():
            y_pred = self(x, training=False)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
            )
        self._loss_tracker.update_state(loss.item(), sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs on a batch (no graph recorded)."""
        x, _, _ = data_module.unpack_x_y_sample_weight(data)
        with no_grad():
            return self(x, training=False)

    # -- loops --------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` epochs; returns a ``History`` whose ``.history`` holds the
        per-epoch logs (``loss``, metrics, and ``val_``-prefixed validation results)."""
        from ..callbacks import CallbackList

        self._assert_compiled("fit")
        if x is None:
            raise ValueError("fit: x is required")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = data_module.split_validation(
                x, y, sample_weight, validation_split
            )
        batches = data_module.make_batches(
            x, y, sample_weight, batch_size, shuffle, class_weight, steps_per_epoch
        )
        verbose = _resolve_verbose(verbose)
        callback_list = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=batches.steps,
        )
        self.stop_training = False
        callback_list.on_train_begin()
        if self._initial_epoch is not None:
            initial_epoch, self._initial_epoch = self._initial_epoch, None
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            step_logs = None
            for step, batch in enumerate(batches.epoch()):
                callback_list.on_train_batch_begin(step)
                with enable_grad():
                    step_logs = self.train_step(data_module.pack_x_y_sample_weight(*batch))
                _check_logs(step_logs, "train_step")
                callback_list.on_train_batch_end(step, step_logs)
                if self.stop_training:
                    break
            epoch_logs = dict(self._get_metrics_result_or_logs(step_logs))
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_x, val_y, val_weight = _validation_parts(validation_data)
                val_logs = self.evaluate(
                    val_x,
                    val_y,
                    sample_weight=val_weight,
                    batch_size=validation_batch_size or batch_size,
                    steps=validation_steps,
                    verbose=0,
                    return_dict=True,
                    _called_from_fit=True,
                )
                epoch_logs.update({f"val_{name}": value for name, value in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        self.optimizer.finalize_variable_values(self.trainable_weights)  # EMA, when used
        callback_list.on_train_end(logs)
        self.history = callback_list.history
        return self.history

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        **kwargs,
    ):
        """Loss and metrics over the data: a scalar, ``[loss, *metrics]`` or a dict."""
        from ..callbacks import CallbackList

        called_from_fit = kwargs.pop("_called_from_fit", False)
        if kwargs:
            raise TypeError(f"evaluate: unrecognized arguments {sorted(kwargs)}")
        self._assert_compiled("evaluate")
        batches = data_module.make_batches(x, y, sample_weight, batch_size, False, None, steps)
        verbose = 0 if called_from_fit else _resolve_verbose(verbose)
        callback_list = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            steps=batches.steps,
            mode="test",
        )
        self.reset_metrics()
        callback_list.on_test_begin()
        step_logs = None
        for step, batch in enumerate(batches.epoch()):
            callback_list.on_test_batch_begin(step)
            step_logs = self.test_step(data_module.pack_x_y_sample_weight(*batch))
            _check_logs(step_logs, "test_step")
            callback_list.on_test_batch_end(step, step_logs)
        logs = self._get_metrics_result_or_logs(step_logs)
        callback_list.on_test_end(logs)
        return _format_logs(logs, return_dict, self.metrics)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on ``x`` as NumPy arrays, computed in batches."""
        from ..callbacks import CallbackList

        batches = data_module.make_batches(x, None, None, batch_size, False, None, steps)
        verbose = _resolve_verbose(verbose)
        callback_list = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            steps=batches.steps,
            mode="predict",
        )
        callback_list.on_predict_begin()
        outputs = []
        for step, (batch_x, _, _) in enumerate(batches.epoch()):
            callback_list.on_predict_batch_begin(step)
            batch = data_module.pack_x_y_sample_weight(batch_x)
            batch_out = tree.map_structure(_to_numpy, self.predict_step(batch))
            outputs.append(batch_out)
            callback_list.on_predict_batch_end(step, {"outputs": batch_out})
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError("predict: the input holds no samples")
        flat = [tree.flatten(batch) for batch in outputs]
        joined = [numpy.concatenate(parts, axis=0) for parts in zip(*flat)]
        return tree.pack_sequence_as(outputs[0], joined)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns the loss (and metrics)."""
        self._assert_compiled("train_on_batch")
        self.reset_metrics()
        batch = next(
            iter(
                data_module.ArrayBatches(
                    x,
                    y,
                    sample_weight,
                    batch_size=_num_rows(x),
                    shuffle=False,
                    class_weight=class_weight,
                ).epoch()
            )
        )
        with enable_grad():
            logs = self.train_step(data_module.pack_x_y_sample_weight(*batch))
        return _format_logs(self._get_metrics_result_or_logs(logs), return_dict, self.metrics)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        batch = next(
            iter(
                data_module.ArrayBatches(
                    x, y, sample_weight, batch_size=_num_rows(x), shuffle=False
                ).epoch()
            )
        )
        logs = self.test_step(data_module.pack_x_y_sample_weight(*batch))
        return _format_logs(self._get_metrics_result_or_logs(logs), return_dict, self.metrics)

    def predict_on_batch(self, x):
        """The model's outputs on one batch, as NumPy arrays."""
        batch = data_module.pack_x_y_sample_weight(data_module.as_arrays(x))
        return tree.map_structure(_to_numpy, self.predict_step(batch))

    def _get_metrics_result_or_logs(self, logs) -> dict:
        """The metrics' results when the step returned the same names (the usual case),
        else the step's own logs (a custom step may report other values): Keras's rule."""
        results = self.get_metrics_result()
        if logs is None or (isinstance(logs, dict) and set(logs) == set(results)):
            return results
        return _flat_logs(logs)


def _as_python(value):
    if isinstance(value, Tensor):
        value = value.numpy()
    value = numpy.asarray(value)
    return float(value) if value.ndim == 0 else value


def _to_numpy(value):
    return value.numpy() if isinstance(value, Tensor) else numpy.asarray(value)


def _batch_size(x) -> int:
    return len(tree.flatten(x)[0])


def _num_rows(x) -> int:
    return max(1, len(tree.flatten(data_module.as_arrays(x))[0]))


def _check_logs(logs, step):
    if not isinstance(logs, dict):
        raise TypeError(
            f"{step} must return a dict of logs, e.g. {{'loss': loss}}; got {type(logs).__name__}"
        )


def _flat_logs(logs) -> dict:
    """A step's logs with nested dicts (the compiled metrics' results) merged in, in the
    order Keras gives them: sorted by key, a nested dict expanded where its key sorts."""
    _check_logs(logs, "train_step/test_step")
    flat = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            flat.update(_flat_logs(value))
        else:
            flat[key] = _as_python(value) if isinstance(value, Tensor) else value
    return flat


def _format_logs(logs, return_dict, metrics=()):
    """A dict, or the values in the order of the metrics' names (then the other keys,
    sorted), one value alone: what evaluate and test_on_batch return, as in Keras."""
    if return_dict:
        return logs
    names = []
    for metric in metrics:
        if isinstance(metric, CompileMetrics):
            names.extend(m.name for m in metric.metrics)
        else:
            names.append(metric.name)
    values = [logs[name] for name in names if name in logs]
    values += [logs[key] for key in sorted(logs) if key not in names]
    return values[0] if len(values) == 1 else values


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2; got {verbose!r}")
    return verbose


def _validation_parts(validation_data):
    if data_module.is_generator_like(validation_data):
        return validation_data, None, None
    return data_module.unpack_x_y_sample_weight(validation_data)


class _CompiledMetricsUpdater:
    """What ``model.compiled_metrics`` returns: ``update_state`` as in Keras 2."""

    def __init__(self, model):
        self._model = model

    def update_state(self, y, y_pred, sample_weight=None):
        warnings.warn(
            "`model.compiled_metrics()` is deprecated. Instead, use e.g.: "
            "`for metric in self.metrics: metric.update_state(y, y_pred)`",
            stacklevel=2,
        )
        if self._model._compile_metrics is not None:
            self._model._compile_metrics.update_state(y, y_pred, sample_weight)

"""What ``compile(loss=..., metrics=...)`` turns into: losses and metrics matched to the
model's outputs (one, a list, or a dict keyed by output name), with "accuracy" resolved
from the shapes of targets and predictions as Keras does.

Example:
    >>> import numpy as np
    >>> from shinsou import tensor
    >>> from shinsou.models.compile_utils import CompileMetrics
    >>> metrics = CompileMetrics(["accuracy"], None)
    >>> metrics.update_state(np.array([1, 0]), tensor([[0.1, 0.9], [0.8, 0.2]]))
    >>> [(m.name, type(m).__name__) for m in metrics.metrics], metrics.result()
    ([('accuracy', 'SparseCategoricalAccuracy')], {'accuracy': 1.0})
"""

from __future__ import annotations

from ..tensor import Tensor, as_tensor
from ..utils import tree


def _align(structure, y_pred, output_names, what):
    """``structure`` (one item, list or dict) as a list with one entry per output."""
    outputs = _flat_outputs(y_pred)
    count = len(outputs)
    if isinstance(structure, dict):
        names = _names_for(y_pred, output_names)
        unknown = [key for key in structure if key not in names]
        if unknown:
            raise ValueError(
                f"compile: {what} dict has keys {unknown} that are not output names; the "
                f"outputs are {names}"
            )
        return [structure.get(name) for name in names]
    if isinstance(structure, (list, tuple)) and count > 1:
        if len(structure) != count:
            raise ValueError(
                f"compile: {what} has {len(structure)} entries but the model has {count} outputs"
            )
        return list(structure)
    if isinstance(structure, (list, tuple)) and count == 1 and len(structure) == 1:
        return list(structure)
    return [structure] * count


def _flat_outputs(y_pred):
    if isinstance(y_pred, dict):
        return [y_pred[key] for key in y_pred]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


def _names_for(y_pred, output_names):
    if isinstance(y_pred, dict):
        return list(y_pred)
    count = len(_flat_outputs(y_pred))
    if output_names and len(output_names) == count:
        return list(output_names)
    return [f"output_{i}" for i in range(count)] if count > 1 else ["output"]


def _flat_targets(y, y_pred, output_names):
    count = len(_flat_outputs(y_pred))
    if isinstance(y, dict):
        names = _names_for(y_pred, output_names)
        missing = [name for name in names if name not in y]
        if missing:
            raise ValueError(f"the targets dict lacks outputs {missing}; it has {list(y)}")
        return [y[name] for name in names]
    if count == 1:
        return [y[0] if isinstance(y, (list, tuple)) and len(y) == 1 else y]
    if not isinstance(y, (list, tuple)) or len(y) != count:
        raise ValueError(f"the model has {count} outputs; give y as a list or dict of {count}")
    return list(y)


class CompileLoss:
    """The total training loss: the weighted sum of one loss per output."""

    def __init__(self, loss, loss_weights=None):
        from .. import losses

        for identifier in tree.flatten(loss):
            if isinstance(identifier, str):
                losses.get(identifier)  # an unknown name fails at compile(), not in fit()
        self.loss = loss
        self.loss_weights = loss_weights
        self._resolved = None

    def _build(self, y_pred, output_names):
        from .. import losses

        functions = _align(self.loss, y_pred, output_names, "loss")
        weights = (
            [1.0] * len(functions)
            if self.loss_weights is None
            else _align(self.loss_weights, y_pred, output_names, "loss_weights")
        )
        self._resolved = [
            (None if fn is None else losses.get(fn), 1.0 if w is None else float(w))
            for fn, w in zip(functions, weights)
        ]

    def __call__(self, y, y_pred, sample_weight, output_names):
        if self._resolved is None:
            self._build(y_pred, output_names)
        targets = _flat_targets(y, y_pred, output_names)
        total = None
        for (loss_fn, weight), target, prediction in zip(
            self._resolved, targets, _flat_outputs(y_pred)
        ):
            if loss_fn is None:
                continue
            value = loss_fn(_target(target), prediction, sample_weight=sample_weight)
            value = value * weight if weight != 1.0 else value
            total = value if total is None else total + value
        return total


def _target(y):
    return y if isinstance(y, Tensor) else as_tensor(y)


def _resolve_metric(identifier, y_true, y_pred):
    from .. import metrics

    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if not pred_shape or pred_shape[-1] == 1:
            return metrics.BinaryAccuracy(name=identifier)
        if len(true_shape) == len(pred_shape) - 1 or (true_shape and true_shape[-1] == 1):
            return metrics.SparseCategoricalAccuracy(name=identifier)
        return metrics.CategoricalAccuracy(name=identifier)
    metric = metrics.get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier  # Keras logs string metrics under the string given
    return metric


class CompileMetrics:
    """The metrics given to ``compile``, as one entry of ``model.metrics`` named
    ``"compile_metrics"`` (Keras's container): ``update_state(y, y_pred, sample_weight)``
    updates them all (creating them on the first call, when target shapes are known),
    ``result()`` is a dict of their results, ``reset_state()`` resets them.

    Metrics in ``weighted_metrics`` receive ``sample_weight``; those in ``metrics`` do not.
    ``output_names`` (a list, or a function returning it) names a multi-output model's
    outputs for dict-valued targets and for the logged names.
    """

    def __init__(self, metrics, weighted_metrics, output_names=None):
        from .. import metrics as metrics_module

        for identifier in tree.flatten([metrics or [], weighted_metrics or []]):
            if isinstance(identifier, str) and identifier.lower() not in ("accuracy", "acc"):
                metrics_module.get(identifier)  # an unknown name fails at compile()
        self.name = "compile_metrics"
        self.metrics_config = metrics
        self.weighted_config = weighted_metrics
        self.output_names = output_names
        self._entries = None  # [(output index, metric, weighted)]

    @property
    def built(self) -> bool:
        return self._entries is not None

    @property
    def metrics(self) -> list:
        """The metric objects, once the first batch has created them."""
        return [metric for _, metric, _ in self._entries or []]

    @property
    def variables(self) -> list:
        return [variable for metric in self.metrics for variable in metric.variables]

    def build(self, y_true, y_pred):
        """Create the metric objects ("accuracy" resolved from the shapes of the targets)."""
        if callable(self.output_names):  # a model's names, known once it is built
            self.output_names = self.output_names()
        output_names = self.output_names
        names = _names_for(y_pred, output_names)
        targets = _flat_targets(y_true, y_pred, output_names)
        predictions = _flat_outputs(y_pred)
        entries = []
        for config, weighted in ((self.metrics_config, False), (self.weighted_config, True)):
            if not config:
                continue
            per_output = _align(config, y_pred, output_names, "metrics")
            if (
                not isinstance(config, dict)
                and len(predictions) > 1
                and not any(isinstance(item, (list, tuple)) for item in config)
            ):
                per_output = [config] * len(predictions)
            for index, entry in enumerate(per_output):
                for identifier in tree.flatten(entry) if entry is not None else []:
                    metric = _resolve_metric(identifier, targets[index], predictions[index])
                    if len(predictions) > 1:
                        metric.name = f"{names[index]}_{metric.name}"
                    taken = {m.name for _, m, _ in entries}
                    if weighted and metric.name in taken:
                        metric.name = f"weighted_{metric.name}"
                    base, count = metric.name, 1
                    while metric.name in taken:  # two AUC() objects log as auc and auc_1
                        metric.name, count = f"{base}_{count}", count + 1
                    entries.append((index, metric, weighted))
        self._entries = entries

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Update every compiled metric with one batch."""
        if self._entries is None:
            self.build(y_true, y_pred)
        if not self._entries:
            return
        targets = _flat_targets(y_true, y_pred, self.output_names)
        predictions = _flat_outputs(y_pred)
        for index, metric, weighted in self._entries:
            metric.update_state(
                targets[index],
                predictions[index],
                sample_weight=sample_weight if weighted else None,
            )

    def result(self) -> dict:
        """``{name: result}`` for each metric; empty before the first ``update_state``
        (Keras builds the metrics before the first step, so it never sees that case)."""
        return {metric.name: metric.result() for metric in self.metrics}

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def __repr__(self) -> str:
        return f"<CompileMetrics name={self.name} metrics={[m.name for m in self.metrics]}>"

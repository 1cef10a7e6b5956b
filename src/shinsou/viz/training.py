"""Pictures of training and its results: learning curves, a confusion matrix, a grid of
predictions with the wrong ones in red.

Example:
    >>> figure = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    >>> [axes.get_title() for axes in figure.axes]
    ['loss']
"""

from __future__ import annotations

import math

import numpy

from ._figures import as_numpy, check_choice, displayable_images, hide_axes, new_figure, save_png

__all__ = ["confusion_matrix", "plot_confusion_matrix", "plot_history", "show_predictions"]

_PANEL_INCHES = 4.0
_WRONG_COLOR = "#d62728"
_RIGHT_COLOR = "#1a7f37"


def _history_dict(history):
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "plot_history: expected a History (what fit returns) or its .history dict; "
            f"received {type(history).__name__}"
        )
    if not logs or not any(len(values) for values in logs.values()):
        raise ValueError("plot_history: the history is empty; train for at least one epoch")
    return logs


def plot_history(history, metrics=None, to_file=None):
    """Plot the loss and metrics per epoch and return the Figure: one panel per quantity,
    training (solid) and validation (``val_`` keys, dashed) in the same panel; save a PNG at
    ``to_file`` unless that is None.

    ``history`` is what ``model.fit`` returns or its ``.history`` dict; ``metrics`` a list
    of names without the ``val_`` prefix (default: all of them, the loss first).

    Example:
        >>> logs = {"loss": [0.9, 0.5], "accuracy": [0.6, 0.8], "val_accuracy": [0.5, 0.7]}
        >>> figure = plot_history(logs, metrics=["accuracy"])
        >>> [line.get_label() for line in figure.axes[0].get_lines()]
        ['training', 'validation']
    """
    logs = _history_dict(history)
    available = list(dict.fromkeys(key.removeprefix("val_") for key in logs))
    available.sort(key=lambda name: name != "loss")  # the loss first, the rest as logged
    if metrics is None:
        metrics = available
    elif isinstance(metrics, str):
        metrics = [metrics]
    missing = [name for name in metrics if name not in available]
    if missing or not metrics:
        raise ValueError(
            f"plot_history: no values logged for {missing or metrics}; the history has {available}"
        )
    columns = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / columns)
    figure = new_figure((_PANEL_INCHES * columns, 0.8 * _PANEL_INCHES * rows), "plot_history")
    from matplotlib.ticker import MaxNLocator  # after new_figure, which explains a missing one

    panels = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for axes, name in zip(panels, metrics):
        for key, label, style in ((name, "training", "o-"), (f"val_{name}", "validation", "s--")):
            values = numpy.asarray(logs.get(key, []), dtype=numpy.float32)
            if values.size:
                axes.plot(
                    numpy.arange(1, values.size + 1), values, style, markersize=3, label=label
                )
        axes.set(title=name, xlabel="epoch", ylabel=name)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        axes.grid(alpha=0.3)
        axes.legend()
    for axes in panels[len(metrics) :]:
        axes.remove()
    figure.tight_layout()
    save_png(figure, to_file, caller="plot_history")
    return figure


def _labels(caller, name, values):
    """Integer class labels from labels, one-hot rows or probability rows (argmax)."""
    array = as_numpy(caller, name, values)
    if array.ndim == 2 and array.shape[1] > 1:
        return array.argmax(axis=1)
    if array.ndim == 2:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{caller}: {name} must be labels of shape (n,) or scores of shape (n, classes); "
            f"received shape {array.shape}"
        )
    if array.dtype.kind == "f" and not numpy.all(array == numpy.round(array)):
        raise ValueError(f"{caller}: {name} holds non-integer labels; pass class indices")
    return array.astype(numpy.int64)


def confusion_matrix(y_true, y_pred, num_classes=None):
    """The confusion counts: row = true class, column = predicted class (as scikit-learn
    orders them). Labels may be indices, one-hot or probability rows.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    true = _labels("confusion_matrix", "y_true", y_true)
    predicted = _labels("confusion_matrix", "y_pred", y_pred)
    if true.shape != predicted.shape:
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must have as many samples; received "
            f"{true.shape[0]} and {predicted.shape[0]}"
        )
    if true.size and min(true.min(), predicted.min()) < 0:
        raise ValueError("confusion_matrix: class labels must be >= 0")
    needed = int(max(true.max(initial=-1), predicted.max(initial=-1))) + 1
    num_classes = needed if num_classes is None else int(num_classes)
    if num_classes < needed:
        raise ValueError(
            f"confusion_matrix: labels go up to {needed - 1} but num_classes={num_classes}"
        )
    counts = numpy.zeros((num_classes, num_classes), dtype=numpy.int64)
    numpy.add.at(counts, (true, predicted), 1)
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=None, to_file=None):
    """Draw the confusion matrix (rows: true class, columns: predicted) with the count of
    every cell written in it, and return the Figure; save a PNG at ``to_file`` unless None.

    ``normalize`` as in scikit-learn: ``None`` (counts), ``"true"`` (each row sums to 1:
    recall on the diagonal), ``"pred"`` (each column: precision) or ``"all"``; normalized
    cells show the fraction above the count.

    Example:
        >>> figure = plot_confusion_matrix([0, 1, 1], [0, 1, 0], class_names=["cat", "dog"])
        >>> sorted(text.get_text() for text in figure.axes[0].texts)
        ['0', '1', '1', '1']
    """
    check_choice("plot_confusion_matrix", "normalize", normalize, (None, "true", "pred", "all"))
    num_classes = None if class_names is None else len(class_names)
    counts = confusion_matrix(y_true, y_pred, num_classes)
    if class_names is None:
        class_names = [str(index) for index in range(len(counts))]
    class_names = [str(name) for name in class_names]
    shown = counts.astype(numpy.float32)
    if normalize is not None:
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        totals = counts.sum(axis=axis, keepdims=axis is not None).astype(numpy.float32)
        shown = shown / numpy.maximum(totals, 1)
    size = max(3.5, 0.55 * len(counts) + 2)
    figure = new_figure((size + 1, size), "plot_confusion_matrix")
    axes = figure.add_subplot()
    image = axes.imshow(shown, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    threshold = shown.max() / 2 if shown.size else 0
    for (row, column), count in numpy.ndenumerate(counts):
        text = str(count) if normalize is None else f"{shown[row, column]:.2f}\n({count})"
        color = "white" if shown[row, column] > threshold else "black"
        axes.text(column, row, text, ha="center", va="center", color=color, fontsize=8)
    ticks = numpy.arange(len(counts))
    axes.set_xticks(ticks, class_names, rotation=45 if len(counts) > 5 else 0)
    axes.set_yticks(ticks, class_names)
    accuracy = numpy.trace(counts) / max(counts.sum(), 1)
    axes.set(xlabel="predicted class", ylabel="true class")
    axes.set_title(f"confusion matrix (accuracy {accuracy:.1%})")
    figure.tight_layout()
    save_png(figure, to_file, caller="plot_confusion_matrix")
    return figure


def show_predictions(
    images, labels, preds, class_names=None, to_file=None, max_images=36, columns=None
):
    """Show images in a grid, each titled with the predicted class (and the true one when
    they differ); wrong predictions in red with a red frame, right ones in green. Returns
    the Figure; saves a PNG at ``to_file`` unless None.

    ``images`` ``(N, H, W[, 1 or 3])``; ``labels`` class indices or one-hot; ``preds`` class
    indices or score rows (then the predicted class's score is shown too). At most
    ``max_images`` are shown.

    Example:
        >>> import numpy
        >>> figure = show_predictions(numpy.zeros((3, 8, 8)), [0, 1, 1], [0, 1, 0])
        >>> [axes.title.get_color() for axes in figure.axes]
        ['#1a7f37', '#1a7f37', '#d62728']
    """
    pictures = displayable_images("show_predictions", images)
    true = _labels("show_predictions", "labels", labels)
    scores = as_numpy("show_predictions", "preds", preds)
    predicted = _labels("show_predictions", "preds", scores)
    if not len(pictures) == len(true) == len(predicted):
        raise ValueError(
            f"show_predictions: images, labels and preds must have as many samples; received "
            f"{len(pictures)}, {len(true)} and {len(predicted)}"
        )
    if not isinstance(max_images, int) or max_images < 1:
        raise ValueError(f"show_predictions: max_images must be >= 1; received {max_images!r}")
    count = min(len(pictures), max_images)
    if count == 0:
        raise ValueError("show_predictions: no images given")
    names = None if class_names is None else [str(name) for name in class_names]
    needed = int(max(true[:count].max(), predicted[:count].max())) + 1
    if names is not None and len(names) < needed:
        raise ValueError(
            f"show_predictions: class_names has {len(names)} names but labels go up to {needed - 1}"
        )
    columns = columns or min(count, max(1, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / columns)
    figure = new_figure((1.6 * columns, 1.8 * rows), "show_predictions")
    panels = figure.subplots(rows, columns, squeeze=False).reshape(-1)
    for index, axes in enumerate(panels):
        if index >= count:
            axes.remove()
            continue
        picture = pictures[index]
        axes.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1)
        hide_axes(axes)
        guess, answer = int(predicted[index]), int(true[index])
        title = names[guess] if names else str(guess)
        if scores.ndim == 2 and scores.shape[1] > 1:
            title += f" {float(scores[index, guess]):.0%}"
        wrong = guess != answer
        if wrong:
            title += f"\n(true: {names[answer] if names else answer})"
            for spine in axes.spines.values():
                spine.set(visible=True, color=_WRONG_COLOR, linewidth=3)
        axes.set_title(title, fontsize=8, color=_WRONG_COLOR if wrong else _RIGHT_COLOR)
    errors = int(numpy.sum(predicted[:count] != true[:count]))
    figure.suptitle(f"{count - errors} of {count} right", fontsize=10)
    figure.tight_layout()
    save_png(figure, to_file, caller="show_predictions")
    return figure

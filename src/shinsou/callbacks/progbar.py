"""The progress display of ``fit``/``evaluate``/``predict``: :class:`Progbar` (Keras's
``keras.utils.Progbar``) and :class:`ProgbarLogger`, the callback that drives it.

A line looks as Keras 3 prints it::

    Epoch 1/5
    469/469 ━━━━━━━━━━━━━━━━━━━━ 3s 6ms/step - accuracy: 0.9123 - loss: 0.2811

On a terminal the line is redrawn in place during the epoch (``rich`` renders it, with
Keras's colours). Anywhere else (a file, a pipe, CI logs) only whole lines are written, one
per epoch, without control characters.

Example:
    >>> bar = Progbar(target=3, verbose=2)
    >>> for step in (1, 2, 3):
    ...     bar.update(step, [("loss", 0.5)])  # doctest: +ELLIPSIS
    3/3 - 0s - ...s/step - loss: 0.5000
"""

from __future__ import annotations

import math
import numbers
import sys
import time

import numpy

from .callback import Callback

_active_line = None  # the Progbar whose unfinished line is on the terminal, if any


def print_msg(message: str) -> None:
    """Print a whole line of callback output (``Epoch 3: early stopping``) to stdout.

    An unfinished progress line on the terminal is cleared first, so the message gets a
    line of its own and the bar is drawn again below it.

    Example:
        >>> print_msg("Epoch 3: early stopping")
        Epoch 3: early stopping
    """
    if _active_line is not None:
        _active_line._clear_line()
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _format_duration(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_value(value) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, numbers.Real):
        value = float(numpy.mean(numpy.asarray(value, dtype="float64")))
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


class Progbar:
    """A progress bar over ``target`` steps (``keras.utils.Progbar``).

    Args:
        target: total number of steps, or None when unknown.
        width: characters of the bar.
        verbose: 0 silent, 1 a bar (redrawn in place on a terminal, printed once when done
            elsewhere), 2 one line when done.
        interval: least seconds between two redraws.
        stateful_metrics: names whose values are shown as given; the others are averaged
            over the steps so far. Give this or ``stateless_metrics``, not both.
        stateless_metrics: names to average; all others are shown as given.
        unit_name: what a step is called (``"step"``, ``"sample"``).

    Example:
        >>> bar = Progbar(target=4, verbose=2, stateful_metrics=["acc"])
        >>> bar.update(2, [("loss", 1.0), ("acc", 0.5)])
        >>> bar.update(4, [("loss", 3.0), ("acc", 0.75)], finalize=False)
        >>> bar.average("loss"), bar.average("acc")
        (2.0, 0.75)
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
    ):
        if target is not None and (
            isinstance(target, bool) or not isinstance(target, numbers.Integral)
        ):
            raise TypeError(f"Progbar: target must be an int or None, received {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, received {verbose!r}")
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: give stateful_metrics or stateless_metrics, not both")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = set(stateless_metrics) if stateless_metrics is not None else None
        self._stream = sys.stdout
        self._dynamic_display = _is_terminal(self._stream)
        self._console = None
        self._values: dict[str, list] = {}  # name -> [weighted sum, weight]
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._time_per_unit = 0.0

    def _is_averaged(self, name) -> bool:
        if self.stateless_metrics is not None:
            return name in self.stateless_metrics
        return name not in self.stateful_metrics

    def average(self, name):
        """The value shown for ``name``: its running average, or the value last given."""
        total, count = self._values[name]
        if isinstance(total, str):
            return total
        return total / max(1, count)

    def update(self, current, values=None, finalize=None) -> None:
        """Move to step ``current`` with ``values``, a list of ``(name, value)`` pairs.

        ``finalize`` (default: ``current >= target``) ends the bar: its last line is printed.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if not self._is_averaged(name) or isinstance(value, str):
                self._values[name] = [value, 1]
            elif finalize:
                self._values[name] = [value, 1]  # the final logs are already epoch averages
            else:
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * steps, count + steps]
        now = time.time()
        if current > self._seen_so_far or not finalize:
            self._time_per_unit = self._estimate_step_duration(current, now)
        self._seen_so_far = current

        if self.verbose == 1:
            if finalize or (self._dynamic_display and now - self._last_update >= self.interval):
                self._draw(current, now, finalize)
                self._last_update = now
        elif self.verbose == 2 and finalize:
            self._write_plain(self._summary_line(current, now) + "\n")

    def add(self, n, values=None) -> None:
        """Advance by ``n`` steps."""
        self.update(self._seen_so_far + n, values)

    def _estimate_step_duration(self, current, now) -> float:
        # The first step (graph building, caches) is slow: once there are more, leave it out.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    def _metric_parts(self) -> list[str]:
        return [f" - {name}: {_format_value(self.average(name))}" for name in self._values]

    def _segments(self, current, now, finalize) -> list[tuple[str, str]]:
        """The pieces of a verbose=1 line with their styles (Keras's colours)."""
        segments = []
        if self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            segments.append((f"{current:{digits}d}/{self.target}", "bold"))
            segments.append((" ", ""))
            done = min(self.width, int(self.width * current / self.target))
            segments.append(("━" * done, "green"))
            segments.append(("━" * (self.width - done), "white"))
        else:
            segments.append((f"{current:7d}/Unknown", "bold"))
        if self.target is not None and self.target > 0 and not finalize:
            clock = _format_duration(self._time_per_unit * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        segments.append((" ", ""))
        segments.append((clock, "bold"))
        segments.append((" " + _format_time_per_unit(self._time_per_unit, self.unit_name), ""))
        segments.extend((part, "") for part in self._metric_parts())
        return segments

    def _summary_line(self, current, now) -> str:
        digits = int(math.log10(self.target)) + 1 if self.target else 1
        count = f"{current:{digits}d}/{self.target}" if self.target else f"{current}/Unknown"
        time_part = _format_time_per_unit(self._time_per_unit, self.unit_name)
        return f"{count} - {now - self._start:.0f}s - {time_part}" + "".join(self._metric_parts())

    def _draw(self, current, now, finalize) -> None:
        global _active_line
        segments = self._segments(current, now, finalize)
        if not self._dynamic_display:
            self._write_plain("".join(text for text, _ in segments) + "\n")
            return
        from rich.control import Control, ControlType
        from rich.text import Text

        console = self._get_console()
        text = Text.assemble(*segments)
        console.control(Control(ControlType.CARRIAGE_RETURN))
        if finalize:
            console.print(text, end="", soft_wrap=True)
        else:
            # One screen row at most, so that the carriage return can redraw it.
            console.print(
                text, end="", no_wrap=True, overflow="ellipsis", width=max(console.width - 1, 10)
            )
        console.control(Control((ControlType.ERASE_IN_LINE, 0)))
        if finalize:
            console.file.write("\n")
            _active_line = None
        else:
            _active_line = self
        console.file.flush()

    def _clear_line(self) -> None:
        global _active_line
        from rich.control import Control, ControlType

        console = self._get_console()
        console.control(Control(ControlType.CARRIAGE_RETURN, (ControlType.ERASE_IN_LINE, 0)))
        console.file.flush()
        self._last_update = 0.0  # draw again at the next step
        _active_line = None

    def _get_console(self):
        if self._console is None:
            try:
                from rich.console import Console
            except ImportError as error:  # pragma: no cover - rich is a dependency
                raise ImportError(
                    "the progress bar is drawn with the 'rich' package: pip install rich"
                ) from error
            self._console = Console(file=self._stream, highlight=False)
        return self._console

    def _write_plain(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


class ProgbarLogger(Callback):
    """Prints the progress of ``fit``/``evaluate``/``predict`` (``verbose=1``: a bar;
    ``verbose=2``: one line per epoch). ``fit`` adds one by itself when ``verbose`` is not 0.

    The values shown are those of ``logs``: the epoch's running results during an epoch,
    then the epoch's results (with the ``val_`` ones) at its end.

    Example:
        >>> logger = ProgbarLogger()
        >>> logger.set_params({"verbose": 2, "epochs": 2, "steps": 2})
        >>> logger.on_train_begin()
        >>> logger.on_epoch_begin(0)
        Epoch 1/2
        >>> logger.on_train_batch_end(0, {"loss": 0.9})
        >>> logger.on_train_batch_end(1, {"loss": 0.7})
        >>> logger.on_epoch_end(0, {"loss": 0.7, "val_loss": 0.8})  # doctest: +ELLIPSIS
        2/2 - 0s - ...s/step - loss: 0.7000 - val_loss: 0.8000
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs") or 1
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True  # validation inside fit stays silent

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._start_progbar()

    def on_predict_begin(self, logs=None):
        self._start_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._start_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # the logs hold the predictions: not for display

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def _start_progbar(self):
        self.seen = 0
        self.progbar = Progbar(
            target=self.target, verbose=self.verbose, stateless_metrics=(), unit_name="step"
        )

    def _update(self, batch, logs):
        if self.progbar is None:
            self._start_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        if self.progbar is None:
            self._start_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

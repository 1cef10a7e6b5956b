"""What every chapter shares: its command line (``--quick``, ``--output``, ``--seed``), the
printed report (measurements, claims with PASS/FAIL), the pictures it writes and the data
most chapters use (the embedded 8×8 digits).

A chapter is a function of a :class:`Chapter`; :func:`run_chapter` parses the arguments,
runs it and returns the exit status: 0 when every claim held, 1 when one failed.

Example:
    >>> import tempfile
    >>> def lesson(chapter):
    ...     chapter.measure("answer", 42)
    ...     chapter.claim("the answer is even", 42 % 2 == 0)
    >>> run_chapter(0, "a test", lesson, ["--quick", "--output", tempfile.mkdtemp()])
    ... # doctest: +ELLIPSIS
    <BLANKLINE>
    === Chapter 0: a test (quick mode) ===
      answer: 42
    PASS: the answer is even
    ...
    0
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import numpy

__all__ = ["Chapter", "chapter_parser", "digits", "new_figure", "run_chapter"]


def chapter_parser(number, title):
    """The options every chapter takes (also used by ``shinsou lecture``)."""
    parser = argparse.ArgumentParser(
        prog=f"shinsou lecture {number}", description=f"Chapter {number}: {title}"
    )
    add_chapter_arguments(parser, number)
    return parser


def add_chapter_arguments(parser, number=None):
    """Add ``--quick``, ``--output`` and ``--seed`` to ``parser``."""
    default = f"lecture-output/ch{number}" if number is not None else "lecture-output/chN"
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced mode (seconds, for CI): smaller data and fewer steps; claims still checked",
    )
    parser.add_argument(
        "--output", default=None, help=f"folder for the pictures (default: {default})"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


class Chapter:
    """The running chapter: its options, and the report it prints as it goes.

    ``measure`` prints a number, ``claim`` checks and prints one statement of the lecture
    (PASS/FAIL), ``picture`` gives the path for a PNG and remembers it, ``pick`` chooses
    between the quick and the full budget.
    """

    def __init__(self, number, title, quick=False, output=None, seed=0):
        self.number = number
        self.title = title
        self.quick = bool(quick)
        self.seed = int(seed)
        self.output = output or os.path.join("lecture-output", f"ch{number}")
        self.claims = []
        self.pictures = []
        self.started = time.perf_counter()
        os.makedirs(self.output, exist_ok=True)

    def pick(self, quick, full):
        """``quick`` in quick mode, else ``full``."""
        return quick if self.quick else full

    def section(self, title):
        print(f"\n--- {self.number}.{title}", flush=True)

    def say(self, text):
        print(text, flush=True)

    def measure(self, name, value, unit=""):
        if isinstance(value, float):
            value = f"{value:.4g}"
        print(f"  {name}: {value}{unit}", flush=True)

    def claim(self, statement, holds, detail=""):
        """Check one statement; print ``PASS: ...`` or ``FAIL: ...``; return ``holds``."""
        holds = bool(holds)
        self.claims.append((statement, holds))
        suffix = f" ({detail})" if detail else ""
        print(f"{'PASS' if holds else 'FAIL'}: {statement}{suffix}", flush=True)
        return holds

    def picture(self, name):
        """The path of picture ``name`` (a PNG in the output folder), remembered for the end."""
        path = os.path.join(self.output, name)
        self.pictures.append(path)
        return path

    def finish(self):
        """Print the pictures and the claims' tally; return the exit status."""
        seconds = time.perf_counter() - self.started
        failed = [statement for statement, holds in self.claims if not holds]
        print(f"\nPictures ({len(self.pictures)}):")
        for path in self.pictures:
            print(f"  {path}")
        passed = len(self.claims) - len(failed)
        print(
            f"Chapter {self.number}: {passed} of {len(self.claims)} claims hold "
            f"({seconds:.1f}s{', quick mode' if self.quick else ''})",
            flush=True,
        )
        for statement in failed:
            print(f"  FAILED: {statement}")
        return 1 if failed else 0


def run_chapter(number, title, lesson, argv=None, options=None):
    """Parse ``argv`` (or take parsed ``options``), run ``lesson(chapter)``, return 0 when
    all its claims hold and 1 otherwise."""
    if options is None:
        options = chapter_parser(number, title).parse_args(argv)
    from .. import utils

    chapter = Chapter(number, title, options.quick, options.output, options.seed)
    mode = "quick mode" if chapter.quick else "full mode"
    print(f"\n=== Chapter {number}: {title} ({mode}) ===", flush=True)
    utils.set_random_seed(chapter.seed)
    lesson(chapter)
    return chapter.finish()


@functools.cache
def _digits_arrays():
    from ..datasets import digits as digits_dataset

    (x_train, y_train), (x_test, y_test) = digits_dataset.load_data()
    scale = numpy.float32(1 / 255)
    return (x_train * scale, y_train.astype(numpy.int32)), (
        x_test * scale,
        y_test.astype(numpy.int32),
    )


def digits(flat=False):
    """The embedded 8×8 digits in [0, 1]: ``(x_train, y_train), (x_test, y_test)`` with
    ``x`` ``(N, 64)`` when ``flat`` else ``(N, 8, 8, 1)``. Loaded once per process."""
    (x_train, y_train), (x_test, y_test) = _digits_arrays()
    shape = (-1, 64) if flat else (-1, 8, 8, 1)
    return (x_train.reshape(shape), y_train), (x_test.reshape(shape), y_test)


def new_figure(figsize):
    """A matplotlib Figure on the Agg canvas (no pyplot, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save(figure, path):
    """Save ``figure`` as a PNG at ``path`` (written to a temporary file, then renamed)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    figure.tight_layout()
    figure.savefig(temporary, format="png", dpi=100)
    os.replace(temporary, path)
    return path


def plot_curves(curves, path, title, ylabel="training loss", logy=False):
    """One panel of curves ``{label: values per epoch}``, saved at ``path``."""
    figure = new_figure((6, 4))
    axes = figure.add_subplot()
    for label, values in curves.items():
        axes.plot(numpy.arange(1, len(values) + 1), values, "o-", markersize=3, label=label)
    axes.set(xlabel="epoch", ylabel=ylabel, title=title)
    if logy:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    axes.legend()
    return save(figure, path)

"""The ``shinsou`` command line: ``shinsou demo`` (also ``python -m shinsou demo``).

Each subcommand is one :class:`Command` in :data:`COMMANDS`: a name, a one-line help, a
function that adds its options to an ``argparse`` parser and a function that runs it and
returns the exit status. Adding a subcommand is writing those two functions and one entry.
Heavy imports happen inside the run functions, so ``shinsou --help`` answers at once.

Example:
    >>> main(["--version"])  # doctest: +ELLIPSIS
    shinsou ...
    0
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import time
from collections.abc import Callable

from .utils.command_line import positive_int

INSTALL_ALL = 'pip install "shinsou[all]"'
DEMO_MODEL_FILE = "shinsou_demo.keras"
DEMO_PLOT_FILE = "learning_curves.png"


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` runs it.

    Example:
        >>> hello = Command("hello", "say hello", lambda parser: None, lambda args: 0)
        >>> hello.run(None)
        0
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# -- shinsou demo --------------------------------------------------------------------------
def _demo_arguments(parser):
    parser.add_argument(
        "--epochs", type=positive_int, default=25, help="training epochs (default: 25)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for weights, dropout and shuffling"
    )
    parser.add_argument(
        "--output",
        default="shinsou-demo",
        help="folder for the saved model and the learning-curve plot (default: ./shinsou-demo)",
    )


def build_demo_model():
    """The lecture's convnet (keras.io's MNIST convnet) sized for 8×8 digits.

    Example:
        >>> build_demo_model().count_params()
        21386
    """
    import shinsou as keras
    from shinsou import layers

    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu", padding="same"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu", padding="same"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="shinsou_demo",
    )


def plot_learning_curves(history, filepath):
    """Save loss and accuracy per epoch (training and validation) as a PNG with
    :func:`shinsou.viz.plot_history`; return False when matplotlib is missing.

    Example:
        >>> import os, tempfile
        >>> history = {"loss": [0.9, 0.5], "val_loss": [1.0, 0.6],
        ...            "accuracy": [0.7, 0.8], "val_accuracy": [0.6, 0.8]}
        >>> plot_learning_curves(history, os.path.join(tempfile.mkdtemp(), "c.png"))
        ... # doctest: +SKIP
        True
    """
    from .viz import plot_history

    try:
        plot_history(history, to_file=filepath)
    except ImportError:
        return False
    return True


def run_demo(args):
    """Train the convnet on the 8×8 digits, report test accuracy, save model and plot."""
    import numpy

    import shinsou
    from shinsou.datasets import digits

    try:
        (x_train, y_train), (x_test, y_test) = digits.load_data()
    except ImportError as error:
        print(f"shinsou demo: {error}", file=sys.stderr)
        return 1
    os.makedirs(args.output, exist_ok=True)
    shinsou.utils.set_random_seed(args.seed)
    # The MNIST recipe unchanged: scale to [0, 1], add the channel axis.
    x_train = numpy.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = numpy.expand_dims(x_test.astype("float32") / 255, -1)
    print(
        f"shinsou demo: a convnet learns scikit-learn's handwritten digits (8×8 pixels): "
        f"{len(x_train)} training images (10% held out for validation), {len(x_test)} test"
    )
    model = build_demo_model()
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=args.epochs, validation_split=0.1, verbose=1
    )
    seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"Test accuracy: {test_accuracy:.4f} (test loss {test_loss:.4f}), trained in {seconds:.1f}s"
    )

    model_path = os.path.join(args.output, DEMO_MODEL_FILE)
    model.save(model_path)
    print(f"Model saved to {model_path}")
    plot_path = os.path.join(args.output, DEMO_PLOT_FILE)
    if plot_learning_curves(history.history, plot_path):
        print(f"Learning curves saved to {plot_path}")
    else:
        print(f"Learning curves not drawn: matplotlib is missing ({INSTALL_ALL})")
    return 0


def _command_in(module_name, name, summary):
    """A :class:`Command` whose two functions live in ``module_name``, imported on first use.

    Example:
        >>> command = _command_in("shinsou.vision.detect_command", "detect", "find shapes")
        >>> parser = argparse.ArgumentParser()
        >>> command.add_arguments(parser)
        >>> parser.parse_args([]).output
        'shinsou-detect'
    """

    def add_arguments(parser):
        importlib.import_module(module_name).add_arguments(parser)

    def run(args):
        return importlib.import_module(module_name).run(args)

    return Command(name, summary, add_arguments, run)


COMMANDS = (
    Command(
        "demo",
        "train the lecture's convnet on 8×8 handwritten digits (well under a minute)",
        _demo_arguments,
        run_demo,
    ),
    _command_in(
        "shinsou.vision.detect_command",
        "detect",
        "object detection: train a one-stage detector on shapes scenes, score it (COCO AP), "
        "draw its boxes",
    ),
    _command_in(
        "shinsou.vision.segment_command",
        "segment",
        "segmentation: train a U-Net to label every pixel of shapes scenes, score it (mean "
        "IoU), draw mask overlays",
    ),
    _command_in(
        "shinsou.vision.generate_command",
        "generate",
        "image generation: train a GAN on handwritten digits, save sample grids, score them",
    ),
    _command_in(
        "shinsou.lecture.command",
        "lecture",
        "run chapter N (1-6) of the lecture: its measurements, claims (PASS/FAIL) and pictures",
    ),
)
"""The subcommands, in the order ``shinsou --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``shinsou`` argument parser with one subparser per :data:`COMMANDS` entry.

    Example:
        >>> build_parser().parse_args(["demo", "--epochs", "3"]).epochs
        3
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="shinsou",
        description="shinsou: deep learning with its own autograd engine and a Keras API",
    )
    parser.add_argument("--version", action="version", version=f"shinsou {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        subparser = subparsers.add_parser(command.name, help=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv=None) -> int:
    """Run the ``shinsou`` command line on ``argv`` (default ``sys.argv[1:]``); return the
    exit status.

    Example:
        >>> main([])  # doctest: +ELLIPSIS
        usage: shinsou [-h] [--version] COMMAND ...
        ...
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else 1
    if args.command is None:
        parser.print_help(sys.stdout)
        return 2
    return args.run(args)

"""``shinsou generate``: train a GAN on handwritten digits, save sample grids, score them.

By default a DCGAN learns scikit-learn's embedded digits (upsampled to 16×16) in a few
minutes on two cores; ``--conditional`` trains the class-conditional GAN instead and draws
a chosen ``--digit`` (or a row per digit); ``--mnist PATH`` uses real MNIST (a folder of
IDX files, or a ``.npz``). While it trains, ``SampleGrid`` writes
``samples_epoch_NNNN.png`` into ``--output``; at the end ``final_samples.png`` is drawn and
the samples are scored by a digit classifier trained on the real digits
(:func:`shinsou.vision.generation_quality.digit_quality`).

The ``shinsou`` command line registers :func:`add_arguments` and :func:`run`.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="shinsou generate")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--conditional", "--digit", "7", "--epochs", "3"])
    >>> args.conditional, args.digit, args.epochs, args.output
    (True, 7, 3, 'shinsou-generate')
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..utils.command_line import positive_int

__all__ = ["FINAL_GRID_FILE", "add_arguments", "run"]

FINAL_GRID_FILE = "final_samples.png"
"""The grid drawn after training, in the output folder."""

_SCORED_SAMPLES = 1000
_GRID_COLUMNS = 10


def _digit(text):
    if not (text.isdigit() and 0 <= int(text) <= 9):
        raise argparse.ArgumentTypeError(f"must be a digit from 0 to 9, got {text}")
    return int(text)


def add_arguments(parser):
    """Declare ``shinsou generate``'s options on an ``argparse`` parser.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> parser.parse_args([]).epochs
        15
    """
    parser.add_argument(
        "--epochs", type=positive_int, default=15, help="training epochs (default: 15)"
    )
    parser.add_argument(
        "--conditional",
        action="store_true",
        help="train the class-conditional GAN (BigGAN-style) and draw chosen digits",
    )
    parser.add_argument(
        "--digit",
        type=_digit,
        default=None,
        help="with --conditional: the digit to draw (default: a row per digit 0-9)",
    )
    parser.add_argument(
        "--mnist",
        metavar="PATH",
        default=None,
        help="train on real MNIST from a folder of IDX files or a .npz (28x28) instead of "
        "the embedded 8x8 digits upsampled to 16x16",
    )
    parser.add_argument(
        "--max-images",
        type=positive_int,
        default=None,
        help="train on the first N images only (useful with --mnist on a small budget)",
    )
    parser.add_argument(
        "--every",
        type=positive_int,
        default=2,
        help="save a sample grid every N epochs (default: 2)",
    )
    parser.add_argument(
        "--output",
        default="shinsou-generate",
        help="folder for the sample grids (default: ./shinsou-generate)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for weights, latents and shuffling"
    )


def _grid_labels(args, count):
    """The class of each grid sample: ``--digit`` everywhere, or row ``k`` = digit ``k``."""
    import numpy

    if args.digit is not None:
        return numpy.full(count, args.digit, dtype=numpy.int32)
    return numpy.repeat(numpy.arange(10, dtype=numpy.int32), count // 10)


def run(args):
    """Run ``shinsou generate`` with parsed ``args``; return the exit status.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> run(parser.parse_args(["--digit", "3"]))
        2
    """
    if args.digit is not None and not args.conditional:
        print(
            "shinsou generate: --digit needs --conditional (only the conditional GAN draws "
            "a chosen digit)",
            file=sys.stderr,
        )
        return 2
    from .generation import SampleGrid, digit_images, save_tiled_grid, train_digit_gan
    from .generation_quality import digit_quality, train_digit_classifier

    try:
        (x_train, y_train), (x_test, y_test) = digit_images(args.mnist, max_images=args.max_images)
    except (ImportError, OSError, ValueError) as error:
        print(f"shinsou generate: {error}", file=sys.stderr)
        return 1
    os.makedirs(args.output, exist_ok=True)
    source = "MNIST" if args.mnist else "scikit-learn's 8×8 digits upsampled"
    kind = "conditional GAN" if args.conditional else "DCGAN"
    size = x_train.shape[1]
    print(
        f"shinsou generate: a {kind} learns {len(x_train)} handwritten digits ({source}, "
        f"{size}×{size}) for {args.epochs} epochs; sample grids go to {args.output}"
    )

    started = time.perf_counter()
    classifier = train_digit_classifier(x_train, y_train, seed=args.seed)
    accuracy = float((classifier.predict(x_test, verbose=0).argmax(1) == y_test).mean())
    print(
        f"Judge: a digit classifier trained on the real digits, {accuracy:.3f} held-out "
        f"accuracy ({time.perf_counter() - started:.1f}s)"
    )

    grid_count = 64 if args.digit is not None or not args.conditional else 80
    grid_labels = _grid_labels(args, grid_count) if args.conditional else None
    rows = 10 if grid_labels is not None and args.digit is None else 8
    grids = SampleGrid(
        args.output, grid_count, every=args.every, labels=grid_labels, seed=args.seed, rows=rows
    )
    started = time.perf_counter()
    gan, _ = train_digit_gan(
        x_train,
        y_train,
        conditional=args.conditional,
        epochs=args.epochs,
        seed=args.seed,
        callbacks=[grids],
        verbose=1,
    )
    seconds = time.perf_counter() - started

    final_path = os.path.join(args.output, FINAL_GRID_FILE)
    save_tiled_grid(grids.samples(), final_path, rows=rows)
    targets = None
    if args.conditional:
        targets = _grid_labels(args, _SCORED_SAMPLES)
        samples = gan.generate(_SCORED_SAMPLES, labels=targets, seed=args.seed + 1)
    else:
        samples = gan.generate(_SCORED_SAMPLES, seed=args.seed + 1)
    score = digit_quality(samples, classifier, x_train, target_labels=targets)
    reference = digit_quality(x_test, classifier, x_train)
    print(
        f"Trained in {seconds:.1f}s. Quality of {_SCORED_SAMPLES} samples (real held-out digits):"
    )
    print(
        f"  confident share {score['confident_share']:.3f} ({reference['confident_share']:.3f})"
        f", class coverage {score['class_coverage']:.3f} ({reference['class_coverage']:.3f})"
        f", Fréchet distance {score['frechet_distance']:.2f} "
        f"({reference['frechet_distance']:.2f})"
    )
    if targets is not None:
        print(f"  label accuracy {score['label_accuracy']:.3f} (the requested digit)")
    if args.digit is not None:
        print("  (one digit requested: a class coverage near 0 is what it should be)")
    print(f"Sample grids: {len(grids.paths)} in {args.output}; final grid {final_path}")
    return 0

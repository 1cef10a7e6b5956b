"""``shinsou segment``: a U-Net learns to label every pixel of the embedded shapes scenes.

The command generates scenes with :func:`shinsou.datasets.shapes.load_data`, trains
``applications.UNet(filters=16, depth=3)`` on their masks with
:data:`~shinsou.vision.segmentation.DEFAULT_RECIPE` (16 epochs of 1,000 scenes, about ten
minutes on two cores; measured mean IoU 0.95 on held-out scenes; ``--epochs 8`` takes half
the time and reaches 0.78), prints pixel accuracy and mean IoU on held-out
scenes and writes ``masks.png`` (image | ground truth | prediction for a few test
scenes) to ``--output``. With ``--fine-tuning`` it runs
:func:`shinsou.vision.transfer.compare_fine_tuning` instead: a U-Net whose encoder was
pretrained on image-level labels against one trained from scratch, both on
``--train-size`` masks, and writes one picture per model.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="shinsou segment")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--epochs", "2", "--output", "out"])
    >>> args.epochs, args.train_size, args.fine_tuning
    (2, None, False)
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

from ..utils.command_line import positive_int
from .segmentation import DEFAULT_RECIPE

__all__ = ["DEFAULT_EPOCHS", "HELP", "PICTURE_FILE", "add_arguments", "run"]

HELP = "train a U-Net to label every pixel of scenes of shapes (about ten minutes)"
DEFAULT_EPOCHS = DEFAULT_RECIPE.epochs
PICTURE_FILE = "masks.png"
_PICTURED = 6  # test scenes drawn per picture
_TEST_SIZE = 200


def add_arguments(parser):
    """Declare ``shinsou segment``'s options on an ``argparse`` parser.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> parser.parse_args(["--fine-tuning", "--seed", "3"]).seed
        3
    """
    from .segmentation import DEFAULT_RECIPE
    from .transfer import FINE_TUNING_RECIPE, PRETRAIN_EPOCHS, PRETRAIN_SIZE

    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help=f"training epochs (default: {DEFAULT_EPOCHS}, the full recipe is "
        f"{DEFAULT_RECIPE.epochs}; with --fine-tuning {FINE_TUNING_RECIPE.epochs})",
    )
    parser.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        help=f"training scenes with masks (default: {DEFAULT_RECIPE.train_size}; with "
        f"--fine-tuning {FINE_TUNING_RECIPE.train_size})",
    )
    parser.add_argument(
        "--test-size",
        type=positive_int,
        default=_TEST_SIZE,
        help=f"held-out scenes scored at the end (default: {_TEST_SIZE})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for the scenes, weights and shuffling"
    )
    parser.add_argument(
        "--output",
        default="shinsou-segment",
        help="folder for the mask pictures (default: ./shinsou-segment)",
    )
    parser.add_argument(
        "--fine-tuning",
        action="store_true",
        help="compare a U-Net whose encoder was pretrained on image-level labels (which "
        "shapes a scene shows) with one trained from scratch, on few masks",
    )
    parser.add_argument(
        "--pretrain-size",
        type=positive_int,
        default=PRETRAIN_SIZE,
        help=f"with --fine-tuning: scenes with image-level labels for pretraining "
        f"(default: {PRETRAIN_SIZE})",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=positive_int,
        default=PRETRAIN_EPOCHS,
        help=f"with --fine-tuning: pretraining epochs (default: {PRETRAIN_EPOCHS})",
    )


def run(args):
    """Run ``shinsou segment`` with parsed ``args``; return the exit status.

    Example:
        >>> import argparse, contextlib, io, tempfile
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> args = parser.parse_args(["--output", tempfile.mkdtemp()])
        >>> args.epochs = 0
        >>> with contextlib.redirect_stderr(io.StringIO()) as errors:
        ...     status = run(args)
        >>> status, errors.getvalue().strip()
        (2, 'shinsou segment: --epochs must be a positive integer, got 0')
    """
    for name in ("epochs", "train_size", "test_size", "pretrain_size", "pretrain_epochs"):
        value = getattr(args, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            print(
                f"shinsou segment: --{name.replace('_', '-')} must be a positive integer, "
                f"got {value!r}",
                file=sys.stderr,
            )
            return 2
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as error:
        print(f"shinsou segment: cannot create the output folder: {error}", file=sys.stderr)
        return 1
    try:
        import matplotlib  # noqa: F401  (the pictures need it; fail before training)
    except ImportError:
        print('shinsou segment: matplotlib is needed: pip install "shinsou[all]"', file=sys.stderr)
        return 1
    if args.fine_tuning:
        return _run_fine_tuning(args)
    return _run_segmentation(args)


def _budget(recipe, args):
    changes = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.train_size is not None:
        changes["train_size"] = args.train_size
    return dataclasses.replace(recipe, **changes)


def _run_segmentation(args):
    from .. import utils
    from ..datasets import shapes
    from .segmentation import (
        DEFAULT_RECIPE,
        draw_mask_comparison,
        evaluate_segmentation,
        predict_masks,
        segmentation_unet,
        train_segmentation,
    )

    recipe = _budget(dataclasses.replace(DEFAULT_RECIPE, epochs=DEFAULT_EPOCHS), args)
    (x_train, y_train), (x_test, y_test) = shapes.load_data(
        n_train=recipe.train_size, n_test=args.test_size, seed=args.seed
    )
    print(
        f"shinsou segment: a U-Net (filters={recipe.filters}, depth={recipe.depth}) learns "
        f"to label the pixels of {len(x_train)} scenes of {', '.join(shapes.CLASS_NAMES)} "
        f"({recipe.epochs} epochs); scored on {len(x_test)} held-out scenes"
    )
    utils.set_random_seed(args.seed)
    model = segmentation_unet(x_train.shape[1:], len(shapes.CLASS_NAMES) + 1, recipe)
    started = time.perf_counter()
    train_segmentation(model, x_train, y_train["masks"], recipe, verbose=1)
    seconds = time.perf_counter() - started
    scores = evaluate_segmentation(model, x_test, y_test["masks"])
    print(
        f"Pixel accuracy: {scores['pixel_accuracy']:.4f}, mean IoU: {scores['mean_iou']:.4f} "
        f"(trained in {seconds:.1f}s)"
    )
    shown = slice(0, _PICTURED)
    path = os.path.join(args.output, PICTURE_FILE)
    draw_mask_comparison(
        x_test[shown],
        y_test["masks"][shown],
        predict_masks(model, x_test[shown]),
        class_names=shapes.CLASS_NAMES,
        path=path,
    )
    print(f"Masks saved to {path}")
    return 0


def _run_fine_tuning(args):
    from ..datasets import shapes
    from .segmentation import draw_mask_comparison, predict_masks
    from .transfer import FINE_TUNING_RECIPE, compare_fine_tuning

    recipe = _budget(FINE_TUNING_RECIPE, args)
    print(
        f"shinsou segment --fine-tuning: pretrain a U-Net's encoder to tell which shapes a "
        f"scene shows, fine-tune it on {recipe.train_size} masks ({recipe.epochs} epochs) "
        f"and compare with the same U-Net trained from scratch"
    )
    results = compare_fine_tuning(
        num_masks=recipe.train_size,
        pretrain_size=args.pretrain_size,
        pretrain_epochs=args.pretrain_epochs,
        recipe=recipe,
        test_size=args.test_size,
        seed=args.seed,
        verbose=1,
    )
    _, (x_test, y_test) = shapes.load_data(n_train=0, n_test=args.test_size, seed=args.seed)
    seconds = results["seconds"]
    print(f"Pretraining took {seconds['pretraining']:.1f}s")
    shown = slice(0, _PICTURED)
    for name in ("fine_tuned", "from_scratch"):
        scores = results[name]
        print(
            f"{name.replace('_', ' ').capitalize()}: pixel accuracy "
            f"{scores['pixel_accuracy']:.4f}, mean IoU {scores['mean_iou']:.4f} "
            f"(trained in {seconds[name]:.1f}s)"
        )
        path = os.path.join(args.output, f"masks_{name}.png")
        draw_mask_comparison(
            x_test[shown],
            y_test["masks"][shown],
            predict_masks(results["models"][name], x_test[shown]),
            class_names=shapes.CLASS_NAMES,
            path=path,
        )
        print(f"Masks saved to {path}")
    return 0

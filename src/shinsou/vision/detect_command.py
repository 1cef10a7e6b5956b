"""``shinsou detect``: train the one-stage detector on shapes scenes, score it, draw it.

The whole case study in one command: generate the embedded shapes scenes
(:func:`shinsou.datasets.shapes.load_data`), train a :class:`~shinsou.vision.YOLODetector`
with Adam on a cosine schedule, score its detections on held-out scenes with the COCO
metrics (AP@[.5:.95], AP50, AP75 by :func:`~shinsou.vision.metrics.mean_average_precision`)
and write pictures — detections with class names and scores next to the ground truth — and
the trained weights to the output folder. Heavy imports happen in :func:`run`, so
``shinsou --help`` stays instant.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--epochs", "2"])
    >>> args.epochs, args.train_size, args.output
    (2, 6000, 'shinsou-detect')
"""

from __future__ import annotations

import os
import sys
import time

import numpy

from ..utils.command_line import positive_int

__all__ = ["DetectionBudget", "add_arguments", "run", "train_detector"]

DETECTIONS_FILE = "detections.png"
GROUND_TRUTH_FILE = "ground_truth.png"
WEIGHTS_FILE = "detector.weights.h5"
PICTURE_IMAGES = 8  # test scenes drawn in each picture
PICTURE_MIN_SCORE = 0.3  # detections drawn in the picture (the metric uses all of them)


class DetectionBudget:
    """The training budget of ``shinsou detect``: scenes, epochs, batch and learning rate.

    The defaults are the budget measured for the README: 6,000 scenes of 64×64 pixels,
    8 epochs of batch 32 (1,500 steps) with Adam from 2e-3 decaying to zero along a cosine.

    Example:
        >>> budget = DetectionBudget(epochs=3, train_size=320)
        >>> budget.steps
        30
    """

    def __init__(self, epochs=8, train_size=6000, batch_size=32, learning_rate=2e-3):
        self.epochs = epochs
        self.train_size = train_size
        self.batch_size = batch_size
        self.learning_rate = learning_rate

    @property
    def steps(self):
        """Optimizer steps over the whole training (the length of the cosine decay)."""
        return self.epochs * -(-self.train_size // self.batch_size)


def train_detector(images, targets, budget, image_shape, num_classes, verbose="auto"):
    """Build a :class:`~shinsou.vision.YOLODetector`, train it with ``budget``; return
    ``(detector, history)``.

    Example:
        >>> from shinsou.datasets import shapes
        >>> (x, y), _ = shapes.load_data(n_train=16, n_test=0, image_size=32)
        >>> detector, history = train_detector(
        ...     x, y, DetectionBudget(epochs=1, train_size=16, batch_size=8), (32, 32, 3), 3,
        ...     verbose=0)
        >>> len(history.history["loss"])
        1
    """
    from .. import optimizers
    from .detection import YOLODetector

    detector = YOLODetector(num_classes, image_shape)
    schedule = optimizers.schedules.CosineDecay(budget.learning_rate, budget.steps)
    detector.compile(optimizer=optimizers.Adam(schedule))
    history = detector.fit(
        images,
        {"boxes": targets["boxes"], "labels": targets["labels"]},
        batch_size=budget.batch_size,
        epochs=budget.epochs,
        verbose=verbose,
    )
    return detector, history


def add_arguments(parser):
    """Declare ``shinsou detect``'s options on ``parser`` (see the module's example)."""
    defaults = DetectionBudget()
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=defaults.epochs,
        help=f"training epochs (default: {defaults.epochs})",
    )
    parser.add_argument(
        "--train-size",
        type=positive_int,
        default=defaults.train_size,
        help=f"training scenes (default: {defaults.train_size})",
    )
    parser.add_argument(
        "--test-size",
        type=positive_int,
        default=500,
        help="held-out scenes the detector is scored on (default: 500)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=64,
        help="scene width and height in pixels, a multiple of 8 (default: 64)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=defaults.batch_size,
        help=f"scenes per training step (default: {defaults.batch_size})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for scenes, weights and shuffling"
    )
    parser.add_argument(
        "--output",
        default="shinsou-detect",
        help="folder for the pictures and the weights (default: ./shinsou-detect)",
    )


def run(args):
    """Train, score and draw as the options say; return the exit status."""
    import shinsou
    from shinsou.datasets import shapes

    from . import drawing
    from .metrics import mean_average_precision

    if args.image_size % 8:
        print(
            f"shinsou detect: --image-size must be a multiple of 8; got {args.image_size}",
            file=sys.stderr,
        )
        return 2
    os.makedirs(args.output, exist_ok=True)
    shinsou.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = shapes.load_data(
        n_train=args.train_size,
        n_test=args.test_size,
        image_size=args.image_size,
        seed=args.seed,
    )
    names = shapes.CLASS_NAMES
    print(
        f"shinsou detect: a one-stage grid detector learns where and what the "
        f"{', '.join(names)} are in {args.train_size} scenes of {args.image_size}×"
        f"{args.image_size} pixels; scored on {args.test_size} held-out scenes"
    )
    budget = DetectionBudget(args.epochs, args.train_size, args.batch_size)
    started = time.perf_counter()
    detector, _ = train_detector(x_train, y_train, budget, x_train.shape[1:], len(names), verbose=1)
    seconds = time.perf_counter() - started
    found = detector.predict(x_test, batch_size=64, verbose=0)
    scores = mean_average_precision(
        found["boxes"], found["scores"], found["labels"], y_test["boxes"], y_test["labels"]
    )
    print(
        f"COCO AP@[.5:.95] {scores['AP']:.3f}  AP50 {scores['AP50']:.3f}  "
        f"AP75 {scores['AP75']:.3f}  (trained in {seconds:.0f}s)"
    )

    shown = slice(0, min(PICTURE_IMAGES, len(x_test)))
    confident = found["scores"][shown] >= PICTURE_MIN_SCORE
    paths = {
        "detections": os.path.join(args.output, DETECTIONS_FILE),
        "ground truth": os.path.join(args.output, GROUND_TRUTH_FILE),
        "weights": os.path.join(args.output, WEIGHTS_FILE),
    }
    drawing.draw_detections(
        x_test[shown],
        found["boxes"][shown],
        numpy.where(confident, found["labels"][shown], -1),
        scores=found["scores"][shown],
        class_names=names,
        rows=2,
        title=f"detections scoring ≥ {PICTURE_MIN_SCORE} (AP {scores['AP']:.2f})",
        path=paths["detections"],
    )
    drawing.draw_detections(
        x_test[shown],
        y_test["boxes"][shown],
        y_test["labels"][shown],
        class_names=names,
        rows=2,
        title="ground truth",
        path=paths["ground truth"],
    )
    detector.save_weights(paths["weights"])
    for what, path in paths.items():
        print(f"{what.capitalize()} saved to {path}")
    return 0

"""Chapter 6 — case studies: object detection, semantic segmentation and a GAN, each on a
small budget, scored with the metrics of the field.

- Detection: a one-stage grid detector (YOLO style) finds the circles, squares and
  triangles of generated scenes; scored by COCO average precision (AP50: a detection
  counts when its box overlaps the true one by IoU >= 0.5).
- Segmentation: a U-Net gives every pixel a class; scored by mean IoU over the classes.
- Generation: a DCGAN's generator learns to draw digits by fooling a discriminator; its
  samples are judged by a digit classifier trained on real digits.

The full budgets of ``shinsou detect``, ``shinsou segment`` and ``shinsou generate`` are
larger; these runs show the same pipelines in a few minutes (``--quick``: seconds, where
the claims are only that training made progress).

    python examples/lecture/ch6_case_studies.py [--quick] [--output DIR]
    shinsou lecture 6

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import numpy

from ._common import plot_curves, run_chapter

TITLE = "case studies: detection, segmentation, a GAN"


def _detection(chapter):
    from shinsou.datasets import shapes
    from shinsou.vision import drawing
    from shinsou.vision.detect_command import DetectionBudget, train_detector
    from shinsou.vision.metrics import mean_average_precision

    chapter.section("1 object detection: a one-stage grid detector on shapes scenes")
    size, train_size = 32, chapter.pick(128, 1000)
    (x_train, y_train), (x_test, y_test) = shapes.load_data(
        n_train=train_size, n_test=chapter.pick(32, 200), image_size=size, seed=chapter.seed
    )
    budget = DetectionBudget(epochs=chapter.pick(2, 10), train_size=train_size, batch_size=32)
    detector, history = train_detector(
        x_train, y_train, budget, (size, size, 3), len(shapes.CLASS_NAMES), verbose=0
    )
    found = detector.predict(x_test, batch_size=64, verbose=0)
    scores = mean_average_precision(
        found["boxes"], found["scores"], found["labels"], y_test["boxes"], y_test["labels"]
    )
    losses = history.history["loss"]
    chapter.measure("scenes / epochs", f"{train_size} / {budget.epochs}")
    chapter.measure("training loss first -> last epoch", f"{losses[0]:.3f} -> {losses[-1]:.3f}")
    chapter.measure(
        "COCO AP@[.5:.95] / AP50 / AP75",
        f"{scores['AP']:.3f} / {scores['AP50']:.3f} / {scores['AP75']:.3f}",
    )
    shown = slice(0, 8)
    confident = found["scores"][shown] >= 0.3
    drawing.draw_detections(
        x_test[shown], found["boxes"][shown],
        numpy.where(confident, found["labels"][shown], -1), scores=found["scores"][shown],
        class_names=shapes.CLASS_NAMES, rows=2,
        title=f"detections scoring >= 0.3 (AP50 {scores['AP50']:.2f})",
        path=chapter.picture("detections.png"),
    )  # fmt: skip
    chapter.claim("the detector's training loss went down", losses[-1] < losses[0])
    if not chapter.quick:
        chapter.claim("the detector finds the shapes: AP50 > 0.2", scores["AP50"] > 0.2,
                      f"{scores['AP50']:.3f}")  # fmt: skip


def _segmentation(chapter):
    from shinsou.datasets import shapes
    from shinsou.vision import segmentation

    chapter.section("2 semantic segmentation: a U-Net labels every pixel")
    size = 32
    (x_train, y_train), (x_test, y_test) = shapes.load_data(
        n_train=chapter.pick(64, 400), n_test=chapter.pick(16, 100), image_size=size,
        seed=chapter.seed + 1,
    )  # fmt: skip
    recipe = segmentation.SegmentationRecipe(
        epochs=chapter.pick(2, 8), batch_size=8, learning_rate=3e-3, filters=8, depth=3
    )
    model = segmentation.segmentation_unet((size, size, 3), len(shapes.CLASS_NAMES) + 1, recipe)
    history = segmentation.train_segmentation(model, x_train, y_train["masks"], recipe, verbose=0)
    scores = segmentation.evaluate_segmentation(model, x_test, y_test["masks"])
    background = float((y_test["masks"] == 0).mean())
    losses = history.history["loss"]
    chapter.measure("training loss first -> last epoch", f"{losses[0]:.3f} -> {losses[-1]:.3f}")
    chapter.measure("pixel accuracy (all background would score)",
                    f"{scores['pixel_accuracy']:.3f} ({background:.3f})")  # fmt: skip
    chapter.measure("mean IoU over background + 3 classes", scores["mean_iou"])
    predicted = segmentation.predict_masks(model, x_test[:4])
    segmentation.draw_mask_comparison(
        x_test[:4], y_test["masks"][:4], predicted, class_names=shapes.CLASS_NAMES,
        path=chapter.picture("segmentation.png"),
    )  # fmt: skip
    chapter.claim("the U-Net's training loss went down", losses[-1] < losses[0])
    if not chapter.quick:
        # Labelling every pixel "background" scores that share on the background class and
        # 0 on the three shape classes: a mean IoU of a quarter of the share.
        trivial = background / 4
        chapter.claim(
            "the U-Net finds the shapes: mean IoU well above all-background's (+0.05)",
            scores["mean_iou"] > trivial + 0.05,
            f"{scores['mean_iou']:.3f} vs {trivial:.3f}",
        )


def _gan(chapter):
    from shinsou.vision import drawing
    from shinsou.vision.generation import digit_images, train_digit_gan
    from shinsou.vision.generation_quality import digit_quality, train_digit_classifier

    chapter.section("3 a GAN: a generator learns to draw digits against a discriminator")
    (x_train, y_train), (x_test, _) = digit_images()  # 16×16 in [-1, 1]
    count = chapter.pick(256, len(x_train))
    gan, history = train_digit_gan(
        x_train[:count], epochs=chapter.pick(2, 12), batch_size=32,
        filters=chapter.pick(8, 16), latent_dim=chapter.pick(8, 32), seed=chapter.seed,
    )  # fmt: skip
    samples = gan.generate(chapter.pick(64, 400), seed=chapter.seed)
    drawing.image_grid(samples[:64], rows=8, title="generated digits",
                       path=chapter.picture("gan_samples.png"))  # fmt: skip
    plot_curves(
        {"discriminator": history.history["d_loss"], "generator": history.history["g_loss"]},
        chapter.picture("gan_losses.png"),
        "the two players' losses",
        "loss",
    )
    spread = float(samples.std(axis=0).mean())
    chapter.measure("per-pixel spread across samples (0: all samples identical)", spread)
    chapter.claim("the generator's samples are images in [-1, 1] that differ from each other",
                  samples.min() >= -1 and samples.max() <= 1 and spread > 0.005)  # fmt: skip
    if not chapter.quick:
        judge = train_digit_classifier(x_train, y_train, epochs=10, seed=chapter.seed)
        quality = digit_quality(samples, judge, x_test)
        for name, value in quality.items():
            chapter.measure(name, float(value))
        chapter.claim("the judge sees digits of most classes (>= 8 of 10 classes present)",
                      quality["classes_present"] >= 8,
                      f"{quality['classes_present']:.0f}")  # fmt: skip


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    _detection(chapter)
    _segmentation(chapter)
    _gan(chapter)


def main(argv=None):
    """Run chapter 6; return 0 when its claims hold."""
    return run_chapter(6, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

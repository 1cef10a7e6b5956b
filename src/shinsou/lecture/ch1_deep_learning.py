"""Chapter 1 — deep learning: a network learns from examples instead of being programmed.

The whole story in one small run: 1,442 real handwritten digits (8×8 pixels) go into a
two-layer network that starts from random weights; training adjusts the weights to make
the network's answers match the labels; then it answers for 355 digits it never saw. We
look at its answers, at its mistakes, and at what its first layer has learned.

    python examples/lecture/ch1_deep_learning.py [--quick] [--output DIR]
    shinsou lecture 1

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import numpy

from ._common import digits, run_chapter

TITLE = "deep learning: a tiny end-to-end classifier"


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    import shinsou as keras
    from shinsou import layers, viz

    chapter.section("1 the data: real handwritten digits, 8×8 grey pixels")
    (x_train, y_train), (x_test, y_test) = digits(flat=True)
    chapter.measure("training images", len(x_train))
    chapter.measure("test images (never seen in training)", len(x_test))

    chapter.section("2 the model: pixels -> 32 hidden units (ReLU) -> 10 class probabilities")
    # Nothing here knows what a digit is: 2,410 numbers, random at first, will be tuned.
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(32, activation="relu", name="hidden"),
            layers.Dense(10, activation="softmax", name="probabilities"),
        ],
        name="first_network",
    )
    chapter.measure("parameters", model.count_params())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, untrained = model.evaluate(x_test, y_test, verbose=0)
    chapter.measure("test accuracy before training (chance is 0.1)", float(untrained))

    chapter.section("3 learning: gradient descent on the cross-entropy of its answers")
    epochs = chapter.pick(8, 40)
    history = model.fit(
        x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=0
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    chapter.measure("epochs", epochs)
    chapter.measure(
        "training loss, first -> last epoch",
        f"{history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}",
    )
    chapter.measure("test accuracy after training", float(accuracy))
    viz.plot_history(history, to_file=chapter.picture("learning_curves.png"))

    chapter.section("4 what it answers, and where it is wrong")
    probabilities = model.predict(x_test, verbose=0)
    predicted = probabilities.argmax(axis=1)
    viz.show_predictions(
        x_test[:36].reshape(-1, 8, 8), y_test[:36], probabilities[:36],
        to_file=chapter.picture("predictions.png"),
    )  # fmt: skip
    wrong = numpy.flatnonzero(predicted != y_test)[:16]
    if len(wrong):
        viz.show_predictions(
            x_test[wrong].reshape(-1, 8, 8), y_test[wrong], probabilities[wrong],
            to_file=chapter.picture("mistakes.png"),
        )  # fmt: skip
    viz.plot_confusion_matrix(y_test, predicted, to_file=chapter.picture("confusion_matrix.png"))

    chapter.section("5 what the first layer learned: each hidden unit's 64 weights as an image")
    # A hidden unit responds to a pattern of ink; its weights, drawn as 8×8, show which.
    kernel = model.get_layer("hidden").kernel.numpy().reshape(8, 8, 1, -1)
    viz.plot_filters(kernel, max_filters=32, to_file=chapter.picture("hidden_unit_weights.png"))

    threshold = chapter.pick(0.85, 0.93)
    chapter.claim(
        f"the trained network recognises unseen digits: test accuracy > {threshold}",
        accuracy > threshold,
        f"{accuracy:.3f}, up from {untrained:.3f} untrained",
    )
    chapter.claim(
        "training lowered the loss",
        history.history["loss"][-1] < 0.5 * history.history["loss"][0],
        f"{history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}",
    )


def main(argv=None):
    """Run chapter 1; return 0 when its claims hold."""
    return run_chapter(1, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

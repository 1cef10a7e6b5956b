"""Chapter 5 — running it: the Keras workflow, then a pretrained model and fine-tuning.

The workflow every Keras program follows — import, build the model, ``compile``, ``fit``,
``evaluate``, ``save``, load it back — works unchanged with ``import shinsou as keras``.
Then transfer learning: a backbone trained on one task (the digits 0–4, all their images)
is reused for another (the digits 5–9, a few labelled images each): first frozen under a
new head, then fine-tuned at a low learning rate; compared with the same network trained
from scratch on the few images (``examples/fine_tuning.py`` tells the same story).

    python examples/lecture/ch5_running.py [--quick] [--output DIR]
    shinsou lecture 5

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import os

import numpy

from ._common import digits, run_chapter

TITLE = "running it: the Keras workflow, a pretrained model and fine-tuning"


def _workflow(chapter):
    import shinsou as keras  # the only line a Keras program changes
    from shinsou import layers, viz

    chapter.section("1 the Keras workflow: model, compile, fit, evaluate, save, load")
    (x_train, y_train), (x_test, y_test) = digits()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(10, activation="softmax"),
        ],
        name="workflow_convnet",
    )
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop_early = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=chapter.pick(4, 30),
        validation_split=0.1, callbacks=[stop_early], verbose=2,
    )  # fmt: skip
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    chapter.measure("test loss / accuracy", f"{loss:.4f} / {accuracy:.4f}")
    viz.plot_history(history, to_file=chapter.picture("workflow_history.png"))

    path = os.path.join(chapter.output, "workflow_convnet.keras")
    model.save(path)  # config.json + model.weights.h5 in a zip, as Keras writes it
    restored = keras.models.load_model(path)
    same = numpy.array_equal(model.predict(x_test, verbose=0), restored.predict(x_test, verbose=0))
    chapter.measure("saved to", path)
    chapter.claim("the loaded model predicts exactly what the saved one did", same)
    threshold = chapter.pick(0.75, 0.93)
    chapter.claim(f"the workflow trains a working classifier (test accuracy > {threshold})",
                  accuracy > threshold, f"{accuracy:.3f}")  # fmt: skip


def backbone():
    """The feature extractor reused across tasks: two convolutions and global pooling.

    Example:
        >>> backbone().output_shape
        (None, 64)
    """
    import shinsou as keras
    from shinsou import layers

    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.GlobalAveragePooling2D(),
        ],
        name="backbone",
    )


def classifier(base, training=None):
    """A new 5-class head on ``base``; ``training=False`` keeps batch-norm statistics fixed.

    Example:
        >>> classifier(backbone()).output_shape
        (None, 5)
    """
    import shinsou as keras
    from shinsou import layers

    inputs = keras.Input((8, 8, 1))
    features = base(inputs, training=training)
    outputs = layers.Dense(5, activation="softmax")(layers.Dropout(0.2)(features))
    return keras.Model(inputs, outputs)


def _compile(model, learning_rate):
    from shinsou import optimizers

    model.compile(optimizer=optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip


def _fine_tuning(chapter):
    from shinsou import utils, viz

    chapter.section("2 a pretrained backbone, a new head, fine-tuning")
    (x_train, y_train), (x_test, y_test) = digits()
    task_a = y_train < 5
    rng = numpy.random.default_rng(chapter.seed)
    per_class = 10
    few = numpy.concatenate([
        rng.choice(numpy.flatnonzero(y_train == digit), per_class, replace=False)
        for digit in range(5, 10)
    ])  # fmt: skip
    x_few, y_few = x_train[few], y_train[few] - 5
    x_b_test, y_b_test = x_test[y_test >= 5], y_test[y_test >= 5] - 5
    epochs = chapter.pick(6, 30)  # pretraining on task A's 720 images
    few_epochs = chapter.pick(30, 60)  # 4 steps each on the 50 task-B images

    # 1. Pretrain on task A and save the backbone's weights: our "pretrained model".
    utils.set_random_seed(chapter.seed)
    base = backbone()
    pretrain = classifier(base)
    _compile(pretrain, 1e-3)
    pretrain.fit(x_train[task_a], y_train[task_a], epochs=epochs, batch_size=32, verbose=0)
    weights = os.path.join(chapter.output, "backbone.weights.h5")
    base.save_weights(weights)
    chapter.measure("pretrained backbone saved to", weights)

    # 2. Load it into a fresh backbone, freeze it and train a new head on task B.
    base = backbone()
    base.load_weights(weights)
    base.trainable = False
    transfer = classifier(base, training=False)
    _compile(transfer, 1e-2)
    transfer.fit(x_few, y_few, epochs=few_epochs, batch_size=16, verbose=0)
    _, frozen = transfer.evaluate(x_b_test, y_b_test, verbose=0)

    # 3. Unfreeze and fine-tune everything at a low learning rate (recompile to apply).
    base.trainable = True
    _compile(transfer, 1e-4)
    transfer.fit(x_few, y_few, epochs=few_epochs, batch_size=16, verbose=0)
    _, fine_tuned = transfer.evaluate(x_b_test, y_b_test, verbose=0)
    viz.plot_model(transfer, to_file=chapter.picture("transfer_model.png"), expand_nested=True,
                   dpi=100)  # fmt: skip

    # The same network, trained on the few task-B images only.
    utils.set_random_seed(chapter.seed)
    scratch = classifier(backbone())
    _compile(scratch, 1e-2)
    scratch.fit(x_few, y_few, epochs=2 * few_epochs, batch_size=16, verbose=0)
    _, from_scratch = scratch.evaluate(x_b_test, y_b_test, verbose=0)
    predictions = transfer.predict(x_b_test, verbose=0)
    viz.show_predictions(x_b_test[:24, ..., 0], y_b_test[:24], predictions[:24],
                         class_names=[str(d) for d in range(5, 10)],
                         to_file=chapter.picture("fine_tuned_predictions.png"))  # fmt: skip
    chapter.measure(f"task B: {len(x_few)} labelled images; test accuracy on", len(x_b_test))
    chapter.measure("  frozen pretrained backbone + new head", float(frozen))
    chapter.measure("  after fine-tuning everything", float(fine_tuned))
    chapter.measure("  the same network from scratch", float(from_scratch))
    chapter.claim(
        "the pretrained, fine-tuned network beats training from scratch on few examples",
        fine_tuned > from_scratch,
        f"{fine_tuned:.3f} > {from_scratch:.3f}",
    )


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    _workflow(chapter)
    _fine_tuning(chapter)


def main(argv=None):
    """Run chapter 5; return 0 when its claims hold."""
    return run_chapter(5, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

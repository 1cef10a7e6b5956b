"""Chapter 4 — learning: empirical risk, gradient descent and its variants, and two tricks
that make deep networks train and generalise (batch normalization, dropout).

- Empirical risk: training minimises the average loss over the training examples. With
  a sigmoid/softmax output, the squared error's gradient vanishes when the network is
  confidently wrong; the cross-entropy's does not — so cross-entropy learns faster.
- Gradient descent moves against the gradient, which is perpendicular to the contour
  lines; on a long narrow valley (Rosenbrock) it crawls, and Adam's per-parameter step
  sizes get much further in the same number of steps.
- Minibatch SGD: many cheap noisy steps beat few exact ones for the same data passes.
- Batch normalization keeps each layer's inputs standardised so a deep net trains fast;
  dropout keeps a big network from memorising a small training set.

    python examples/lecture/ch4_learning.py [--quick] [--output DIR]
    shinsou lecture 4

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import numpy

from ._common import digits, new_figure, plot_curves, run_chapter, save

TITLE = "learning: empirical risk, GD / SGD / Adam, batch norm and dropout"


def _risk(chapter):
    import shinsou
    import shinsou as keras
    from shinsou import layers, ops, utils

    chapter.section("1 empirical risk: squared error vs cross-entropy")
    # One positive example seen through a sigmoid: loss and gradient as functions of the
    # logit z. For z << 0 (confidently wrong) the squared error is flat: no gradient.
    z = shinsou.tensor(numpy.linspace(-8, 8, 321, dtype=numpy.float32), requires_grad=True)
    squared = (ops.sigmoid(z) - 1.0) ** 2
    cross_entropy = ops.softplus(-z)  # -log sigmoid(z)
    curves = {}
    for name, loss in (("squared error", squared), ("cross-entropy", cross_entropy)):
        z.grad = None
        loss.sum().backward()
        curves[name] = (loss.numpy(), -z.grad.copy())
    figure = new_figure((10, 3.8))
    value_axes, slope_axes = figure.subplots(1, 2)
    for name, (values, slopes) in curves.items():
        value_axes.plot(z.numpy(), values, label=name)
        slope_axes.plot(z.numpy(), slopes, label=name)
    value_axes.set(title="loss of a positive example", xlabel="logit z", ylim=(0, 4))
    slope_axes.set(title="-dloss/dz: how hard training pushes", xlabel="logit z")
    for axes in (value_axes, slope_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    save(figure, chapter.picture("squared_vs_cross_entropy.png"))
    wrong = 0  # z = -8: confidently wrong
    chapter.measure("push at z = -8: squared / cross-entropy",
                    f"{curves['squared error'][1][wrong]:.5f} / "
                    f"{curves['cross-entropy'][1][wrong]:.5f}")  # fmt: skip

    # The same on the digits: a softmax layer trained on either risk, same optimizer/steps.
    (x_train, y_train), (x_test, y_test) = digits(flat=True)
    one_hot = numpy.eye(10, dtype=numpy.float32)[y_train]
    epochs = chapter.pick(3, 10)
    accuracy = {}
    for loss in ("mean_squared_error", "categorical_crossentropy"):
        utils.set_random_seed(chapter.seed)
        model = keras.Sequential([keras.Input((64,)), layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=["accuracy"])
        model.fit(x_train, one_hot, epochs=epochs, batch_size=32, verbose=0)
        accuracy[loss] = float((model.predict(x_test, verbose=0).argmax(1) == y_test).mean())
        chapter.measure(f"test accuracy after {epochs} epochs, {loss}", accuracy[loss])
    chapter.claim(
        "cross-entropy learns faster than squared error (higher accuracy, same steps)",
        accuracy["categorical_crossentropy"] > accuracy["mean_squared_error"],
    )


def _optimizers(chapter):
    from shinsou import viz

    chapter.section("2 gradient descent, SGD, momentum, RMSprop, Adam on 2-D losses")
    steps = {"quadratic": chapter.pick(30, 40), "rosenbrock": chapter.pick(200, 400),
             "logistic": chapter.pick(50, 100)}  # fmt: skip
    for name, count in steps.items():
        # Grey arrows: the negative gradient, perpendicular to the contour lines.
        viz.plot_optimizer_paths(
            name, steps=count, arrows=chapter.pick(4, 7),
            to_file=chapter.picture(f"optimizer_paths_{name}.png"),
        )  # fmt: skip
    paths = viz.optimizer_paths("rosenbrock", ["gd", "adam"], steps=steps["rosenbrock"])
    final = {name: float(path.losses[-1]) for name, path in paths.items()}
    chapter.measure(f"Rosenbrock loss after {steps['rosenbrock']} steps: GD / Adam",
                    f"{final['gd']:.4f} / {final['adam']:.4f}")  # fmt: skip
    chapter.claim("Adam ends lower than GD on the Rosenbrock valley after the same steps",
                  final["adam"] < final["gd"])  # fmt: skip


def _mlp(width=64, hidden=2, batch_norm=False, dropout=0.0, activation="relu"):
    import shinsou as keras
    from shinsou import layers

    stack = [keras.Input((64,))]
    for _ in range(hidden):
        stack.append(layers.Dense(width, use_bias=not batch_norm))
        if batch_norm:
            stack.append(layers.BatchNormalization())
        stack.append(layers.Activation(activation))
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(10, activation="softmax"))
    return keras.Sequential(stack)


def _train(chapter, model, x, y, epochs, batch_size, optimizer):
    from shinsou import utils

    utils.set_random_seed(chapter.seed)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)


def _minibatches(chapter):
    from shinsou import optimizers, utils

    chapter.section("3 minibatch SGD on real data: full batch vs batches of 32, same epochs")
    (x_train, y_train), _ = digits(flat=True)
    epochs = chapter.pick(5, 20)
    curves, final = {}, {}
    for batch_size in (len(x_train), 32):
        utils.set_random_seed(chapter.seed)
        model = _mlp()
        history = _train(chapter, model, x_train, y_train, epochs, batch_size,
                         optimizers.SGD(0.1))  # fmt: skip
        label = (
            "full batch (1 step per epoch)"
            if batch_size == len(x_train)
            else (f"minibatches of 32 ({-(-len(x_train) // 32)} steps per epoch)")
        )
        curves[label] = history.history["loss"]
        final[batch_size] = model.evaluate(x_train, y_train, verbose=0)[0]
        chapter.measure(f"training loss after {epochs} epochs, {label}", float(final[batch_size]))
    plot_curves(curves, chapter.picture("full_batch_vs_minibatch.png"),
                "digits: gradient descent vs minibatch SGD", logy=True)  # fmt: skip
    chapter.claim("minibatch SGD gets further than full-batch GD in the same epochs",
                  final[32] < final[len(x_train)])  # fmt: skip


def _ablations(chapter):
    from shinsou import optimizers, utils

    chapter.section("4 batch normalization: a deep sigmoid network with and without it")
    (x_train, y_train), (x_test, y_test) = digits(flat=True)
    epochs = chapter.pick(4, 15)
    curves, final = {}, {}
    for batch_norm in (False, True):
        utils.set_random_seed(chapter.seed)
        model = _mlp(hidden=6, batch_norm=batch_norm, activation="sigmoid")
        history = _train(chapter, model, x_train, y_train, epochs, 32, optimizers.SGD(0.1))
        label = "with batch norm" if batch_norm else "without"
        curves[label] = history.history["loss"]
        # The training curve (training-mode loss): after a few epochs the moving averages
        # that batch norm uses at inference are not settled yet.
        final[batch_norm] = history.history["loss"][-1]
    plot_curves(curves, chapter.picture("batch_norm_ablation.png"),
                "6 sigmoid layers, SGD: with and without batch norm")  # fmt: skip

    chapter.section("5 dropout: a wide network on 300 training digits")
    small = slice(0, 300)
    epochs = chapter.pick(30, 80)
    results = {}
    rows = [("batch norm", "off", final[False]), ("batch norm", "on", final[True])]
    for rate in (0.0, 0.5):
        utils.set_random_seed(chapter.seed)
        model = _mlp(width=256, dropout=rate)
        _train(chapter, model, x_train[small], y_train[small], epochs, 32,
               optimizers.Adam(1e-3))  # fmt: skip
        # Both losses with dropout off (evaluate runs in inference mode): the gap between
        # them is how much the network memorised rather than learned.
        train_loss = model.evaluate(x_train[small], y_train[small], verbose=0)[0]
        test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[rate] = (test_loss - train_loss, train_loss, test_loss, test_accuracy)
    chapter.say("  ablation                 | result")
    for what, setting, loss in rows:
        chapter.say(f"  {what} {setting:<13} | last-epoch training loss {loss:.4f}")
    for rate, (gap, train_loss, test_loss, test_accuracy) in results.items():
        chapter.say(
            f"  dropout {rate:<16} | training loss {train_loss:.3f}, test loss "
            f"{test_loss:.3f} (gap {gap:.3f}), test accuracy {test_accuracy:.3f}"
        )
    chapter.claim(
        "batch norm makes the deep sigmoid network train faster (lower loss)",
        final[True] < final[False],
        f"{final[True]:.3f} < {final[False]:.3f}",
    )
    chapter.claim("dropout narrows the gap between test and training loss",
                  results[0.5][0] < results[0.0][0],
                  f"{results[0.5][0]:.3f} < {results[0.0][0]:.3f}")  # fmt: skip


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    _risk(chapter)
    _optimizers(chapter)
    _minibatches(chapter)
    _ablations(chapter)


def main(argv=None):
    """Run chapter 4; return 0 when its claims hold."""
    return run_chapter(4, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Chapter 2 — basics: the neuron, activation functions, a dense layer, logistic regression,
a deep network, and the autograd graph that computes every gradient.

A neuron computes ``a = σ(w·x + b)``; a dense layer is many neurons side by side,
``z = σ(W x + b)``, one matrix product; logistic regression is a single dense layer with a
softmax, trained on the cross-entropy; a deep network stacks such layers. Gradients come
from the chain rule, applied node by node along the graph the forward pass recorded.

    python examples/lecture/ch2_basics.py [--quick] [--output DIR]
    shinsou lecture 2

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import numpy

from ._common import digits, new_figure, plot_curves, run_chapter, save

TITLE = "basics: neuron, activations, dense layer, logistic regression, deep network"

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "softplus")


def _neuron(chapter):
    import shinsou
    from shinsou import ops, viz

    chapter.section("1 a neuron: a = sigmoid(w·x + b), and its gradient by autograd")
    x = shinsou.tensor([0.5, -1.0, 2.0])
    w = shinsou.tensor([0.8, 0.2, -0.4], requires_grad=True)
    b = shinsou.tensor(0.1, requires_grad=True)
    z = (w * x).sum() + b
    a = ops.sigmoid(z)
    a.backward(retain_graph=True)
    chapter.measure("z = w·x + b", float(z.item()))
    chapter.measure("a = sigmoid(z)", float(a.item()))
    # The chain rule by hand: da/dw = sigmoid'(z) · x, with sigmoid' = a (1 - a).
    by_hand = float(a.item()) * (1 - float(a.item())) * x.numpy()
    chapter.measure("da/dw by autograd", numpy.round(w.grad, 5).tolist())
    chapter.measure("da/dw by hand, a(1-a)·x", numpy.round(by_hand, 5).tolist())
    chapter.claim(
        "autograd's gradient of a neuron equals the chain rule by hand",
        numpy.allclose(w.grad, by_hand, atol=1e-6),
    )
    # The graph the forward pass recorded: backward walks it from the bottom up.
    viz.plot_computation_graph(
        a, names={"x": x, "w": w, "b": b, "z": z}, to_file=chapter.picture("neuron_graph.png")
    )


def _activations(chapter):
    import shinsou
    from shinsou import activations

    chapter.section("2 activation functions and their derivatives (by autograd)")
    grid = numpy.linspace(-4, 4, 401, dtype=numpy.float32)
    figure = new_figure((10, 4))
    value_axes, slope_axes = figure.subplots(1, 2)
    worst = 0.0
    for name in ACTIVATIONS:
        z = shinsou.tensor(grid, requires_grad=True)
        out = activations.get(name)(z)
        out.sum().backward()  # each output depends on its own input: grad = derivative
        value_axes.plot(grid, out.numpy(), label=name)
        slope_axes.plot(grid, z.grad, label=name)
        # Check against a central difference, away from the kink of ReLU at 0.
        step = 1e-2
        plus = activations.get(name)(shinsou.tensor(grid + step)).numpy()
        minus = activations.get(name)(shinsou.tensor(grid - step)).numpy()
        smooth = numpy.abs(grid) > 2 * step
        numeric = (plus - minus) / (2 * step)
        worst = max(worst, float(numpy.abs(numeric - z.grad)[smooth].max()))
    value_axes.set(title="activation σ(z)", xlabel="z", ylim=(-1.5, 4))
    slope_axes.set(title="derivative σ'(z) (autograd)", xlabel="z", ylim=(-0.2, 1.3))
    for axes in (value_axes, slope_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    save(figure, chapter.picture("activations.png"))
    chapter.measure("largest |autograd - finite difference| over the activations", worst)
    chapter.claim("autograd derivatives of the activations match finite differences", worst < 2e-3)
    chapter.say(
        "  note: sigmoid' <= 0.25 everywhere — stacked sigmoids shrink gradients layer by "
        "layer; relu' is 1 for z > 0"
    )


def _dense_layer(chapter):
    from shinsou import layers

    chapter.section("3 a dense layer: z = sigmoid(x W + b), by hand and by the layer")
    rng = numpy.random.default_rng(chapter.seed)
    x = rng.normal(size=(4, 3)).astype(numpy.float32)  # 4 examples, 3 features each
    layer = layers.Dense(5, activation="sigmoid")
    by_layer = layer(x).numpy()
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    # Keras stores the kernel as (inputs, units), so a batch of rows is x @ W.
    by_hand = 1 / (1 + numpy.exp(-(x @ kernel + bias)))
    chapter.measure("kernel shape (inputs, units)", kernel.shape)
    difference = float(numpy.abs(by_layer - by_hand).max())
    chapter.measure("largest |layer - by hand|", difference)
    chapter.claim("a Dense layer is one matrix product plus bias, then σ", difference < 1e-6)


def _logistic_and_deep(chapter):
    import shinsou as keras
    from shinsou import layers

    chapter.section("4 logistic regression = one dense layer + softmax, trained on cross-entropy")
    (x_train, y_train), (x_test, y_test) = digits(flat=True)
    epochs = chapter.pick(10, 60)
    logistic = keras.Sequential(
        [keras.Input((64,)), layers.Dense(10, activation="softmax")], name="logistic_regression"
    )
    logistic.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    logistic_history = logistic.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    loss, accuracy = logistic.evaluate(x_test, y_test, verbose=0)
    # The same loss by hand: softmax of the logits, minus the log of the true class.
    kernel, bias = (weight.numpy() for weight in logistic.layers[0].weights)
    logits = x_test @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_probabilities = logits - numpy.log(numpy.exp(logits).sum(axis=1, keepdims=True))
    by_hand = float(-log_probabilities[numpy.arange(len(y_test)), y_test].mean())
    chapter.measure("test cross-entropy by evaluate / by hand", f"{loss:.5f} / {by_hand:.5f}")
    chapter.measure("logistic regression test accuracy", float(accuracy))
    chapter.claim("the cross-entropy by hand equals the model's loss", abs(loss - by_hand) < 1e-4)
    chapter.claim(
        "a linear model already separates the digits well (test accuracy > 0.85)", accuracy > 0.85
    )

    chapter.section("5 a deep network: three hidden layers of ReLU units")
    deep = keras.Sequential(
        [keras.Input((64,))]
        + [layers.Dense(64, activation="relu") for _ in range(3)]
        + [layers.Dense(10, activation="softmax")],
        name="deep_network",
    )
    # Adam (chapter 4) keeps the deeper stack's steps steady where plain SGD may spike.
    deep.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    deep_history = deep.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, deep_accuracy = deep.evaluate(x_test, y_test, verbose=0)
    chapter.measure(
        "parameters: logistic / deep", f"{logistic.count_params()} / {deep.count_params()}"
    )
    chapter.measure("deep network test accuracy", float(deep_accuracy))
    # The loss of the final weights on all training digits (the history averages over an
    # epoch while the weights still move).
    final = (
        logistic.evaluate(x_train, y_train, verbose=0)[0],
        deep.evaluate(x_train, y_train, verbose=0)[0],
    )
    chapter.measure("final training loss: logistic / deep", f"{final[0]:.4f} / {final[1]:.4f}")
    plot_curves(
        {"logistic regression": logistic_history.history["loss"],
         "deep network (3 hidden layers)": deep_history.history["loss"]},
        chapter.picture("logistic_vs_deep.png"),
        "digits: training loss", logy=True,
    )  # fmt: skip
    chapter.claim(
        "the deep network fits the training digits better than logistic regression",
        final[1] < final[0],
        f"training loss {final[1]:.4f} < {final[0]:.4f}",
    )
    chapter.claim(
        "the deep network also generalises (test accuracy > 0.85)",
        deep_accuracy > 0.85,
        f"{deep_accuracy:.3f}",
    )


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    _neuron(chapter)
    _activations(chapter)
    _dense_layer(chapter)
    _logistic_and_deep(chapter)


def main(argv=None):
    """Run chapter 2; return 0 when its claims hold."""
    return run_chapter(2, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

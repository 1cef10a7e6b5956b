"""Chapter 3 — models: the architectures that made deep learning work, each on a small task.

- a convolutional network on the digits: its learned filters and feature maps;
- skip connections: a residual network against the same network without them — at this
  depth the plain one hardly trains, the residual one does;
- DenseNet's dense block (every layer sees all earlier feature maps) and U-Net's encoder,
  decoder and skip connections (segmentation: chapter 6);
- attention: a one-layer Transformer encoder learns to reverse a sequence, and its
  attention weights show where each output position looks;
- an LSTM solves the "adding problem" (remember two marked numbers in a sequence).

    python examples/lecture/ch3_models.py [--quick] [--output DIR]
    shinsou lecture 3

Example:
    >>> import tempfile
    >>> main(["--quick", "--output", tempfile.mkdtemp()])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import numpy

from ._common import digits, new_figure, plot_curves, run_chapter, save

TITLE = "models: CNN, ResNet, DenseNet, U-Net, attention and Transformer, LSTM"


def _compile(model, learning_rate=1e-3, loss="sparse_categorical_crossentropy", metrics=None):
    from shinsou import optimizers

    model.compile(
        optimizer=optimizers.Adam(learning_rate),
        loss=loss,
        metrics=["accuracy"] if metrics is None else metrics,
    )
    return model


def _convnet(chapter):
    import shinsou as keras
    from shinsou import layers, viz

    chapter.section("1 a convolutional network on the digits")
    (x_train, y_train), (x_test, y_test) = digits()
    # Small 3×3 filters slide over the image: the same weights look for the same stroke
    # everywhere, so far fewer parameters than a dense layer on all pixels.
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(name="pool2"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="digits_convnet",
    )
    _compile(model, 3e-3)
    epochs = chapter.pick(4, 20)
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    chapter.measure("parameters", model.count_params())
    chapter.measure(f"test accuracy after {epochs} epochs", float(accuracy))
    viz.plot_model(model, to_file=chapter.picture("convnet_model.png"), dpi=100)
    viz.plot_filters(model.get_layer("conv1"), to_file=chapter.picture("convnet_filters.png"))
    viz.plot_feature_maps(
        model, "conv1", x_test[0], to_file=chapter.picture("convnet_feature_maps.png")
    )
    viz.plot_history(history, to_file=chapter.picture("convnet_history.png"))
    threshold = chapter.pick(0.6, 0.9)
    chapter.claim(f"the convnet learns the digits (test accuracy > {threshold})",
                  accuracy > threshold, f"{accuracy:.3f}")  # fmt: skip


def deep_network(blocks, skip, width=32, name=None):
    """``2 · blocks + 2`` dense layers; with ``skip`` every pair of layers adds its input
    back (a residual block: ``x + F(x)``), without it the same layers are simply stacked.

    Example:
        >>> deep_network(2, skip=True).count_params() == deep_network(2, skip=False).count_params()
        True
    """
    import shinsou as keras
    from shinsou import layers

    inputs = keras.Input((64,), name="pixels")
    x = layers.Dense(width, activation="relu", name="stem")(inputs)
    for block in range(1, blocks + 1):
        residual = layers.Dense(width, activation="relu", name=f"block{block}_1")(x)
        residual = layers.Dense(width, name=f"block{block}_2")(residual)
        if skip:
            residual = layers.Add(name=f"block{block}_add")([x, residual])
        x = layers.ReLU(name=f"block{block}_out")(residual)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or ("residual" if skip else "plain"))


def _skip_connections(chapter):
    from shinsou import applications, utils, viz

    chapter.section("2 why skip connections matter: a residual net vs a plain net, same depth")
    (x_train, y_train), _ = digits(flat=True)
    blocks = 10
    epochs = chapter.pick(4, 15)
    curves, final = {}, {}
    for skip in (True, False):
        utils.set_random_seed(chapter.seed)  # the same initial weights for both
        model = _compile(deep_network(blocks, skip))
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
        label = f"{'residual' if skip else 'plain'} ({2 * blocks + 2} layers)"
        curves[label] = history.history["loss"]
        final[skip] = model.evaluate(x_train, y_train, verbose=0)[0]
        chapter.measure(f"{label}: training loss after {epochs} epochs", float(final[skip]))
    plot_curves(
        curves,
        chapter.picture("resnet_vs_plain.png"),
        "digits: the same depth with and without skip connections",
        logy=True,
    )
    # The residual block drawn: the skip connection is the arrow around the two layers.
    viz.plot_model(deep_network(2, True), to_file=chapter.picture("residual_blocks.png"), dpi=100)
    chapter.measure(
        "the zoo's CIFAR ResNet-20 (same idea with convolutions), parameters",
        applications.ResNet20().count_params(),
    )
    chapter.claim(
        "the residual network reaches a lower training loss than the plain one of the same depth",
        final[True] < final[False],
        f"{final[True]:.3f} < {final[False]:.3f}",
    )


def _densenet_and_unet(chapter):
    import shinsou as keras
    from shinsou import applications, layers, viz

    chapter.section("3 DenseNet: each layer gets the feature maps of all layers before it")
    growth, count = 8, 3
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(16, 3, padding="same", name="stem")(inputs)
    for index in range(1, count + 1):
        new = layers.BatchNormalization(name=f"dense{index}_bn")(x)
        new = layers.ReLU(name=f"dense{index}_relu")(new)
        new = layers.Conv2D(growth, 3, padding="same", name=f"dense{index}_conv")(new)
        x = layers.Concatenate(name=f"dense{index}_concat")([x, new])
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    block = keras.Model(inputs, outputs, name="dense_block")
    channels = block.get_layer(f"dense{count}_concat").output.shape[-1]
    chapter.measure("channels after the dense block (16 + 3 layers × growth 8)", channels)
    viz.plot_model(block, to_file=chapter.picture("dense_block.png"), dpi=100)
    densenet = applications.DenseNet121(weights=None, input_shape=(32, 32, 3))
    chapter.measure("the zoo's DenseNet121 parameters", densenet.count_params())
    chapter.claim(
        "a dense block concatenates: channels grow by the growth rate per layer",
        channels == 16 + count * growth,
    )
    chapter.claim(
        "DenseNet121 has Keras's 8,062,504 parameters", densenet.count_params() == 8_062_504
    )

    chapter.section("4 U-Net: an encoder, a decoder, and skips joining them at each resolution")
    unet = applications.UNet((32, 32, 3), num_classes=4, filters=8, depth=3)
    scores = unet.predict(numpy.zeros((1, 32, 32, 3), "float32"), verbose=0)
    chapter.measure("U-Net input -> output", f"(32, 32, 3) -> {scores.shape[1:]}")
    viz.plot_model(unet, to_file=chapter.picture("unet_model.png"), dpi=80)
    chapter.claim("U-Net scores every pixel: output height × width = input's",
                  scores.shape[1:3] == (32, 32))  # fmt: skip


def _attention(chapter):
    import shinsou as keras
    from shinsou import applications, layers

    chapter.section("5 attention: a one-layer Transformer encoder learns to reverse sequences")
    length, vocabulary = 6, 10
    rng = numpy.random.default_rng(chapter.seed)
    count = chapter.pick(768, 3000)
    tokens = rng.integers(1, vocabulary + 1, size=(count + 256, length)).astype("int32")
    targets = tokens[:, ::-1].copy()
    # Output position i must copy input position L-1-i: only attention can move information
    # between positions here, and the position encoding tells positions apart.
    inputs = keras.Input((length,), dtype="int32", name="tokens")
    embedded = applications.PositionalEmbedding(
        vocabulary + 1, 32, length, mask_zero=False, name="embedding"
    )(inputs)
    attention = layers.MultiHeadAttention(1, 32, name="attention")
    attended, weights = attention(embedded, embedded, return_attention_scores=True)
    x = layers.LayerNormalization(name="norm1")(layers.Add()([embedded, attended]))
    feedforward = layers.Dense(32)(layers.Dense(64, activation="relu")(x))
    x = layers.LayerNormalization(name="norm2")(layers.Add()([x, feedforward]))
    outputs = layers.Dense(vocabulary + 1, activation="softmax", name="next_token")(x)
    model = _compile(keras.Model(inputs, outputs, name="tiny_transformer"), 5e-3)
    epochs = chapter.pick(6, 12)
    model.fit(tokens[:count], targets[:count], epochs=epochs, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(tokens[count:], targets[count:], verbose=0)
    chapter.measure("token accuracy on new sequences (chance 0.1)", float(accuracy))

    probe = keras.Model(inputs, weights)  # the same layers, returning the attention weights
    mean_weights = probe.predict(tokens[count:], verbose=0)[:, 0].mean(axis=0)
    mirrored = float(mean_weights[numpy.arange(length), length - 1 - numpy.arange(length)].mean())
    chapter.measure("mean attention weight on the mirrored position (uniform: 1/6)", mirrored)
    kernels = [weight.numpy() for weight in attention.weights if weight.name == "kernel"]
    figure = new_figure((13, 3.4))
    panels = figure.subplots(1, 4)
    for axes, kernel, name in zip(panels, kernels[:3], ("query", "key", "value")):
        image = axes.imshow(kernel.reshape(kernel.shape[0], -1), cmap="RdBu_r")
        axes.set(title=f"W_{name}", xlabel="key dim", ylabel="model dim", xticks=[], yticks=[])
        figure.colorbar(image, ax=axes, fraction=0.046)
    image = panels[3].imshow(mean_weights, cmap="viridis", vmin=0, vmax=1)
    panels[3].set(title="softmax(QKᵀ/√d): where each\noutput looks", xlabel="input position",
                  ylabel="output position")  # fmt: skip
    figure.colorbar(image, ax=panels[3], fraction=0.046)
    save(figure, chapter.picture("attention_weights.png"))
    zoo = applications.Transformer(2, 32, 4, 64, input_vocab_size=100, target_vocab_size=100,
                                   max_length=16)  # fmt: skip
    chapter.measure("the zoo's encoder-decoder Transformer (2 layers, width 32), parameters",
                    zoo.count_params())  # fmt: skip
    threshold = chapter.pick(0.5, 0.95)
    chapter.claim(f"the Transformer reverses unseen sequences (token accuracy > {threshold})",
                  accuracy > threshold, f"{accuracy:.3f}")  # fmt: skip
    chapter.claim("attention looks at the mirrored position (weight > 2 × uniform)",
                  mirrored > 2 / length, f"{mirrored:.2f}")  # fmt: skip


def _adding_problem(rng, count, steps):
    """Sequences of (value, marker) pairs; the target is the sum of the two marked values."""
    values = rng.random((count, steps), dtype=numpy.float32)
    first = rng.integers(0, steps, count)
    second = (first + rng.integers(1, steps, count)) % steps  # a different position
    markers = numpy.zeros((count, steps), numpy.float32)
    markers[numpy.arange(count), first] = 1
    markers[numpy.arange(count), second] = 1
    return numpy.stack([values, markers], axis=-1), (values * markers).sum(axis=1, keepdims=True)


def _lstm(chapter):
    import shinsou as keras
    from shinsou import layers

    chapter.section("6 an LSTM remembers: the adding problem")
    steps = chapter.pick(8, 16)
    rng = numpy.random.default_rng(chapter.seed)
    x_train, y_train = _adding_problem(rng, chapter.pick(1024, 3000), steps)
    x_test, y_test = _adding_problem(rng, 500, steps)
    # The cell state carries the marked values along the sequence; the gates decide what
    # to write into it and what to keep.
    model = keras.Sequential([keras.Input((steps, 2)), layers.LSTM(32), layers.Dense(1)],
                             name="adding_lstm")  # fmt: skip
    _compile(model, 1e-2, loss="mse", metrics=[])
    epochs = chapter.pick(6, 15)
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=chapter.pick(16, 32), verbose=0)
    mse = float(model.evaluate(x_test, y_test, verbose=0))
    baseline = float(y_test.var())  # always answering the mean
    chapter.measure("test mean squared error", mse)
    chapter.measure("error of always answering the mean", baseline)
    plot_curves({"LSTM": history.history["loss"]}, chapter.picture("lstm_adding.png"),
                f"adding problem ({steps} steps): training MSE", "MSE", logy=True)  # fmt: skip
    factor = chapter.pick(0.3, 0.05)
    chapter.claim(f"the LSTM adds the marked numbers (error < {factor} × the mean's)",
                  mse < factor * baseline, f"{mse:.4f} vs {baseline:.4f}")  # fmt: skip


def lesson(chapter):
    """Run the chapter's sections, reporting to ``chapter`` (a ``_common.Chapter``)."""
    _convnet(chapter)
    _skip_connections(chapter)
    _densenet_and_unet(chapter)
    _attention(chapter)
    _lstm(chapter)


def main(argv=None):
    """Run chapter 3; return 0 when its claims hold."""
    return run_chapter(3, TITLE, lesson, argv)


if __name__ == "__main__":
    raise SystemExit(main())

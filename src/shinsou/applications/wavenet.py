"""WaveNet (van den Oord et al., "WaveNet: a generative model for raw audio", 2016): a stack of
causal dilated convolutions predicting each μ-law quantised audio sample from the past ones,
with the cached ("Fast WaveNet", Paine et al. 2016) incremental generation.

The network, for integer codes ``x`` of shape ``(batch, time)``:

1. ``one_hot``: the codes as one-hot vectors — an ``Embedding`` frozen to the identity
   matrix, which is exactly a one-hot encoding — or, with ``embedding_dim``, a learned
   ``embedding``;
2. ``causal_conv``: a causal convolution to ``residual_channels``;
3. ``num_blocks × layers_per_block`` residual layers; layer ``l`` of a block has dilation
   ``2 ** (l - 1)`` (1, 2, 4, …, restarting in each block). Each computes the gated unit
   ``z = tanh(W_f * h) ⊙ σ(W_g * h)`` with two causal dilated convolutions (``_filter``
   with tanh, ``_gate`` with sigmoid, multiplied in ``_gated``), a 1×1 ``_skip``
   convolution to ``skip_channels`` and a 1×1 ``_residual`` convolution added to its input
   (``_add``) to feed the next layer — the last layer has no residual output, which
   nothing would use;
4. the sum of all skips (``skip_sum``), ReLU (``skip_relu``), a 1×1 convolution with ReLU
   (``output_conv``) and a 1×1 convolution to ``quantization_channels`` with a softmax
   (``predictions``): the distribution of the *next* sample at every step.

Output ``t`` sees inputs ``t - R + 1 … t``, the receptive field
``R = 1 + (kernel_size - 1) · (1 + num_blocks · (2 ** layers_per_block - 1))``. Train with
``model.fit(codes[:, :-1], codes[:, 1:])`` and ``"sparse_categorical_crossentropy"``.

All layers are standard Keras layers (``Conv1D`` with ``padding="causal"`` and
``dilation_rate``), so models save to ``.keras`` and load anywhere. :func:`generate` reads
their weights to generate one sample at a time with a queue of past inputs per
convolution: ``O(layers)`` work per sample instead of a pass over the receptive field.

Example:
    >>> import numpy as np
    >>> from shinsou.applications.wavenet import WaveNet, generate, mu_law_decode, mu_law_encode
    >>> codes = mu_law_encode(np.sin(np.linspace(0, 20, 200)))
    >>> model = WaveNet(num_blocks=1, layers_per_block=3, residual_channels=8, skip_channels=8)
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> history = model.fit(codes[None, :-1], codes[None, 1:], epochs=2, verbose=0)
    >>> mu_law_decode(generate(model, 5, seed_codes=codes[:20], temperature=0)).shape
    (5,)
"""

from __future__ import annotations

import re

import numpy as np

from .. import activations, backend, layers
from ..layers.input_layer import Input
from ..models import Model

__all__ = ["WaveNet", "generate", "mu_law_decode", "mu_law_encode"]


def _check_channels(function, channels):
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 2:
        raise ValueError(f"{function}: channels must be an integer >= 2, received {channels!r}")
    return int(channels)


def mu_law_encode(audio, channels=256):
    """Quantise audio in ``[-1, 1]`` to ``channels`` μ-law codes (``μ = channels - 1``).

    ``f(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ)``, then ``round((f + 1) / 2 · μ)``: small
    amplitudes, where hearing is most sensitive, get most of the codes. Values beyond
    ``[-1, 1]`` are clipped. Returns ``int32`` codes in ``[0, channels)``; silence is
    ``channels // 2``.

    Example:
        >>> mu_law_encode([-1.0, -0.01, 0.0, 0.01, 1.0]).tolist()
        [0, 98, 128, 157, 255]
    """
    channels = _check_channels("mu_law_encode", channels)
    mu = np.float32(channels - 1)
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    compressed = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    return np.floor((compressed + 1) / 2 * mu + 0.5).astype(np.int32)


def mu_law_decode(codes, channels=256):
    """Turn μ-law codes back into audio in ``[-1, 1]`` (float32), inverting
    :func:`mu_law_encode` up to its quantisation.

    Example:
        >>> mu_law_decode([0, 255]).tolist()
        [-1.0, 1.0]
        >>> round(float(mu_law_decode(mu_law_encode(0.3))), 3)
        0.306
    """
    channels = _check_channels("mu_law_decode", channels)
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"mu_law_decode: codes must be integers, received dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= channels):
        raise ValueError(
            f"mu_law_decode: codes must lie in [0, {channels - 1}]; received values from "
            f"{codes.min()} to {codes.max()}"
        )
    mu = np.float32(channels - 1)
    compressed = codes.astype(np.float32) / mu * 2 - 1
    return np.sign(compressed) * np.expm1(np.abs(compressed) * np.log1p(mu)) / mu


def WaveNet(
    num_blocks,
    layers_per_block,
    residual_channels,
    skip_channels,
    quantization_channels=256,
    kernel_size=2,
    dilation_channels=None,
    embedding_dim=None,
    input_length=None,
    classifier_activation="softmax",
    name="wavenet",
):
    """Build a WaveNet as a functional ``Model`` from codes ``(batch, time)`` (int) to the
    next code's distribution ``(batch, time, quantization_channels)``.

    Args:
        num_blocks: number of dilation cycles 1, 2, …, ``2 ** (layers_per_block - 1)``.
        layers_per_block: residual layers per block.
        residual_channels: channels of the residual path (between layers).
        skip_channels: channels of the skip connections and the output convolution.
        quantization_channels: number of codes (256 for 8-bit μ-law).
        kernel_size: taps of each causal convolution (2 in the paper).
        dilation_channels: channels of the gated units (default ``residual_channels``).
        embedding_dim: ``None`` feeds one-hot codes, as the paper; an integer feeds a
            learned embedding of that width instead (fewer weights when it is small).
        input_length: fixed number of time steps, or ``None`` for any.
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
        name: the model's name.

    Example:
        >>> model = WaveNet(2, 4, residual_channels=16, skip_channels=32)
        >>> model.output_shape, model.get_layer("block2_layer4_filter").dilation_rate
        ((None, None, 256), (8,))
    """
    for argument, value in (
        ("num_blocks", num_blocks),
        ("layers_per_block", layers_per_block),
        ("residual_channels", residual_channels),
        ("skip_channels", skip_channels),
        ("kernel_size", kernel_size),
    ):
        _check_positive("WaveNet", argument, value)
    if (
        isinstance(quantization_channels, bool)
        or not isinstance(quantization_channels, int)
        or quantization_channels < 2
    ):
        raise ValueError(
            "WaveNet: quantization_channels must be an integer >= 2 (256 for 8-bit μ-law), "
            f"received {quantization_channels!r}"
        )
    dilation_channels = residual_channels if dilation_channels is None else dilation_channels
    _check_positive("WaveNet", "dilation_channels", dilation_channels)
    for argument, value in (("embedding_dim", embedding_dim), ("input_length", input_length)):
        if value is not None:
            _check_positive("WaveNet", argument, value)
    try:
        activations.get(classifier_activation)
    except ValueError as error:
        raise ValueError(f"WaveNet: classifier_activation: {error}") from None

    def causal(filters, dilation, activation, layer_name):
        return layers.Conv1D(
            filters,
            kernel_size,
            padding="causal",
            dilation_rate=dilation,
            activation=activation,
            name=layer_name,
        )

    def one_by_one(filters, layer_name, activation=None):
        return layers.Conv1D(filters, 1, activation=activation, name=layer_name)

    inputs = Input((input_length,), dtype="int32", name="codes")
    if embedding_dim is None:
        encode = layers.Embedding(
            quantization_channels,
            quantization_channels,
            embeddings_initializer="identity",
            trainable=False,
            name="one_hot",
        )
    else:
        encode = layers.Embedding(quantization_channels, embedding_dim, name="embedding")
    x = causal(residual_channels, 1, None, "causal_conv")(encode(inputs))
    skips = []
    for block in range(1, num_blocks + 1):
        for layer in range(1, layers_per_block + 1):
            prefix = f"block{block}_layer{layer}"
            dilation = 2 ** (layer - 1)
            tanh = causal(dilation_channels, dilation, "tanh", f"{prefix}_filter")(x)
            sigmoid = causal(dilation_channels, dilation, "sigmoid", f"{prefix}_gate")(x)
            gated = layers.Multiply(name=f"{prefix}_gated")([tanh, sigmoid])
            skips.append(one_by_one(skip_channels, f"{prefix}_skip")(gated))
            if block < num_blocks or layer < layers_per_block:
                residual = one_by_one(residual_channels, f"{prefix}_residual")(gated)
                x = layers.Add(name=f"{prefix}_add")([x, residual])
    x = layers.Add(name="skip_sum")(skips) if len(skips) > 1 else skips[0]
    x = layers.ReLU(name="skip_relu")(x)
    x = one_by_one(skip_channels, "output_conv", activation="relu")(x)
    outputs = one_by_one(quantization_channels, "predictions", classifier_activation)(x)
    return Model(inputs, outputs, name=name)


def _check_positive(function, argument, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{function}: {argument} must be a positive integer, received {value!r}")


# -- incremental generation ---------------------------------------------------------------


class _CausalTaps:
    """The inputs a causal convolution of ``kernel_size`` taps and ``dilation`` needs at the
    current step: a ring buffer of the last ``(kernel_size - 1) · dilation`` inputs (zeros
    at the start, as causal padding), so that each step reads and writes one row per tap."""

    def __init__(self, batch, channels, kernel_size, dilation):
        self.length = (kernel_size - 1) * dilation
        self.offsets = [self.length - tap * dilation for tap in range(kernel_size - 1)]
        self.history = np.zeros((self.length, batch, channels), np.float32)
        self.taps = np.empty((batch, kernel_size, channels), np.float32)

    def __call__(self, inputs, step):
        """``(batch, kernel_size · channels)``: the inputs at ``step - (kernel_size - 1) ·
        dilation, …, step - dilation, step``, oldest first like the kernel's taps."""
        if not self.length:
            return inputs
        for tap, offset in enumerate(self.offsets):
            self.taps[:, tap] = self.history[(step - offset) % self.length]
        self.taps[:, -1] = inputs
        self.history[step % self.length] = inputs
        return self.taps.reshape(len(inputs), -1)


def _wavenet_layers(model):
    """The model's layers by name, after checking that :func:`WaveNet` built it."""
    names = {layer.name: layer for layer in getattr(model, "layers", ())}
    expected = {"causal_conv": "Conv1D", "output_conv": "Conv1D", "predictions": "Conv1D"}
    encoder = "one_hot" if "one_hot" in names else "embedding"
    expected[encoder] = "Embedding"
    found = {name: type(names[name]).__name__ for name in expected if name in names}
    if found != expected or not any(name.endswith("_filter") for name in names):
        raise ValueError(
            "generate: the model must be built by WaveNet(): layers 'one_hot' or 'embedding' "
            "(Embedding), 'causal_conv', 'block*_layer*_filter', 'output_conv' and "
            f"'predictions' (Conv1D); received a model with layers {found} of those"
        )
    return names


def _kernel_matrix(layer):
    """A Conv1D kernel ``(taps, in, out)`` as one matrix ``(taps · in, out)`` and its bias."""
    kernel = layer.kernel.numpy()
    bias = layer.bias.numpy() if layer.bias is not None else np.zeros(kernel.shape[-1], np.float32)
    return kernel.reshape(-1, kernel.shape[-1]), bias


class _IncrementalWaveNet:
    """The weights of a :func:`WaveNet` model and one queue per causal convolution."""

    _RESIDUAL_LAYER = re.compile(r"block(\d+)_layer(\d+)_filter$")

    def __init__(self, model, batch):
        names = _wavenet_layers(model)
        encoder = names.get("one_hot") or names.get("embedding")
        self.embeddings = encoder.embeddings.numpy()
        self.batch = batch
        self.input_conv = self._causal(names["causal_conv"])
        keys = sorted(
            (int(match[1]), int(match[2]), match[0][: -len("_filter")])
            for match in map(self._RESIDUAL_LAYER.match, names)
            if match
        )
        self.residual_layers = [self._gated_layer(names, prefix) for _, _, prefix in keys]
        self.output_conv = _kernel_matrix(names["output_conv"])
        self.predictions = _kernel_matrix(names["predictions"])
        self.step = 0

    def _causal(self, layer):
        kernel, bias = _kernel_matrix(layer)
        channels = layer.kernel.shape[1]
        taps = _CausalTaps(self.batch, channels, layer.kernel_size[0], layer.dilation_rate[0])
        return taps, kernel, bias

    def _gated_layer(self, names, prefix):
        """One residual layer's weights arranged for two GEMMs per step: the filter and
        gate convolutions side by side, then the skip and residual 1×1 side by side.

        ``tanh(f) · σ(g) = tanh(f) · (1 + tanh(g / 2)) / 2``: one tanh over both halves
        when the gate's weights are halved, and the last half folded into the output
        weights — halving is exact in floating point, so the result is unchanged."""
        taps, filter_kernel, filter_bias = self._causal(names[f"{prefix}_filter"])
        gate_kernel, gate_bias = _kernel_matrix(names[f"{prefix}_gate"])
        gated_kernel = np.concatenate([filter_kernel, gate_kernel * np.float32(0.5)], axis=1)
        gated_bias = np.concatenate([filter_bias, gate_bias * np.float32(0.5)])
        outputs = [_kernel_matrix(names[f"{prefix}_skip"])]
        if f"{prefix}_residual" in names:  # the last layer has none
            outputs.append(_kernel_matrix(names[f"{prefix}_residual"]))
        out_kernel = np.concatenate([kernel for kernel, _ in outputs], axis=1) * np.float32(0.5)
        out_bias = np.concatenate([bias for _, bias in outputs])
        return taps, gated_kernel, gated_bias, out_kernel, out_bias, outputs[0][0].shape[1]

    def __call__(self, codes):
        """Feed one code per sequence; return the logits of the next code ``(batch, Q)``."""
        taps, kernel, bias = self.input_conv
        x = taps(self.embeddings[codes], self.step) @ kernel + bias
        skip_sum = 0.0
        for taps, gated_kernel, gated_bias, out_kernel, out_bias, skips in self.residual_layers:
            activated = np.tanh(taps(x, self.step) @ gated_kernel + gated_bias)
            half = activated.shape[1] // 2
            doubled_gated = activated[:, :half] * (1.0 + activated[:, half:])
            out = doubled_gated @ out_kernel + out_bias
            skip_sum = skip_sum + out[:, :skips]
            if out.shape[1] > skips:
                x = x + out[:, skips:]
        self.step += 1
        hidden = np.maximum(skip_sum, 0.0) @ self.output_conv[0] + self.output_conv[1]
        return np.maximum(hidden, 0.0) @ self.predictions[0] + self.predictions[1]


def _sample(logits, temperature, generator):
    if temperature == 0:
        return np.argmax(logits, axis=1).astype(np.int32)
    scaled = logits / np.float32(temperature)
    probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probabilities, axis=1)
    draws = generator.random(len(logits), dtype=np.float32) * cumulative[:, -1]
    chosen = (cumulative < draws[:, None]).sum(axis=1)
    return np.minimum(chosen, logits.shape[1] - 1).astype(np.int32)


def generate(model, num_samples, seed_codes=None, temperature=1.0, seed=None):
    """Generate ``num_samples`` codes after ``seed_codes`` with a :func:`WaveNet` model, one
    at a time, caching each causal convolution's past inputs (Fast WaveNet).

    The result equals re-running the whole model on the growing sequence and sampling from
    its last output, but each new sample costs one step through every layer (a few small
    matrix products) instead of a pass over the full receptive field.

    Args:
        model: a model built by :func:`WaveNet` (or loaded from its ``.keras`` file).
        num_samples: number of codes to generate.
        seed_codes: codes to start from, ``(time,)`` or ``(batch, time)``; by default one
            code of silence (``quantization_channels // 2``).
        temperature: the logits are divided by it before sampling; ``0`` takes the most
            likely code (greedy).
        seed: seed of the sampling's random generator (default: shinsou's shared one,
            which ``shinsou.utils.set_random_seed`` seeds).

    Returns:
        ``int32`` codes ``(num_samples,)``, or ``(batch, num_samples)`` for a batch of seeds.

    Example:
        >>> model = WaveNet(1, 2, residual_channels=4, skip_channels=4)
        >>> generate(model, 10, seed_codes=[[128, 130], [120, 110]], seed=0).shape
        (2, 10)
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"generate: num_samples must be an integer, received {num_samples!r}")
    if num_samples < 0:
        raise ValueError(f"generate: num_samples must be >= 0, received {num_samples}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"generate: temperature must be a number, received {temperature!r}")
    if temperature < 0:
        raise ValueError(
            f"generate: temperature must be >= 0 (0 is greedy), received {temperature}"
        )
    channels = _wavenet_layers(model)["predictions"].filters
    if seed_codes is None:
        seed_codes = [channels // 2]
    codes = np.asarray(seed_codes)
    if codes.ndim not in (1, 2) or codes.shape[-1] == 0 or codes.dtype.kind not in "iu":
        raise ValueError(
            "generate: seed_codes must be a non-empty sequence of integer codes, shape "
            f"(time,) or (batch, time); received shape {codes.shape} of dtype {codes.dtype}"
        )
    if codes.min() < 0 or codes.max() >= channels:
        raise ValueError(
            f"generate: seed_codes must lie in [0, {channels - 1}]; received values from "
            f"{codes.min()} to {codes.max()}"
        )
    batched = codes.ndim == 2
    codes = np.atleast_2d(codes)
    network = _IncrementalWaveNet(model, len(codes))
    generator = backend.rng() if seed is None else np.random.default_rng(seed)
    for step in range(codes.shape[1] - 1):
        network(codes[:, step])
    generated = np.empty((len(codes), num_samples), np.int32)
    current = codes[:, -1]
    for index in range(num_samples):
        current = _sample(network(current), temperature, generator)
        generated[:, index] = current
    return generated if batched else generated[0]

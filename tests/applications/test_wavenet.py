import numpy as np
import pytest

import shinsou
from shinsou.applications import WaveNet, mu_law_decode, mu_law_encode
from shinsou.applications.wavenet import _IncrementalWaveNet, _sample, generate
from shinsou.saving import load_model


def reference_mu_law(audio, channels):
    """The paper's companding in float64, quantised as torchaudio's mu_law_encoding."""
    mu = channels - 1
    audio = np.clip(np.asarray(audio, np.float64), -1, 1)
    compressed = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    return ((compressed + 1) / 2 * mu + 0.5).astype(np.int64)


# -- mu-law -------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [256, 64, 255])
def test_mu_law_encode_matches_the_formula(channels):
    audio = np.linspace(-1.2, 1.2, 10_001, dtype=np.float32)
    codes = mu_law_encode(audio, channels)
    assert codes.dtype == np.int32
    assert codes.min() == 0 and codes.max() == channels - 1
    assert np.all(np.diff(codes) >= 0)
    assert mu_law_encode(0.0, channels) == channels // 2
    reference = reference_mu_law(audio, channels)
    # float32 against float64: at most one code apart, on rounding ties only.
    assert np.abs(codes - reference).max() <= 1
    assert np.mean(codes != reference) < 1e-3


def test_mu_law_decode_inverts_encode():
    codes = np.arange(256)
    audio = mu_law_decode(codes)
    assert audio.dtype == np.float32
    np.testing.assert_array_equal(mu_law_encode(audio), codes)
    signal = np.linspace(-1, 1, 2001, dtype=np.float32)
    error = np.abs(mu_law_decode(mu_law_encode(signal)) - signal)
    assert error.max() < 0.023  # half a code step near ±1: 256 · ln(256) / 255² ≈ 0.022
    quiet = np.abs(signal) < 0.01
    assert error[quiet].max() < 5e-4  # fine steps near silence


# -- the network --------------------------------------------------------------------------


def expected_parameters(blocks, per_block, residual, skip, quantization, kernel, dilation):
    layers = blocks * per_block
    gated = 2 * (kernel * residual * dilation + dilation)
    trainable = kernel * quantization * residual + residual  # causal_conv on one-hot codes
    trainable += layers * (gated + dilation * skip + skip) + (layers - 1) * (
        dilation * residual + residual
    )
    trainable += skip * skip + skip + skip * quantization + quantization
    return trainable, quantization * quantization  # the frozen one-hot embedding


def test_structure_and_parameter_counts():
    model = WaveNet(2, 3, residual_channels=8, skip_channels=12, dilation_channels=6)
    trainable, frozen = expected_parameters(2, 3, 8, 12, 256, 2, 6)
    assert sum(int(w.size) for w in model.trainable_weights) == trainable
    assert sum(int(w.size) for w in model.non_trainable_weights) == frozen
    dilations = [
        model.get_layer(f"block{block}_layer{layer}_filter").dilation_rate[0]
        for block in (1, 2)
        for layer in (1, 2, 3)
    ]
    assert dilations == [1, 2, 4, 1, 2, 4]
    assert model.get_layer("block1_layer1_gate").activation is shinsou.activations.sigmoid
    assert "block2_layer3_residual" not in [layer.name for layer in model.layers]
    codes = np.random.default_rng(0).integers(0, 256, (2, 30))
    probabilities = model.predict(codes, verbose=0)
    assert probabilities.shape == (2, 30, 256) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)

    embedded = WaveNet(1, 2, 4, 4, quantization_channels=16, embedding_dim=5, input_length=20)
    assert embedded.get_layer("embedding").embeddings.shape == (16, 5)
    assert embedded.input_shape == (None, 20)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_outputs_are_causal_with_the_documented_receptive_field(kernel_size):
    blocks, per_block = 2, 2
    field = 1 + (kernel_size - 1) * (1 + blocks * (2**per_block - 1))
    model = WaveNet(
        blocks,
        per_block,
        8,
        8,
        quantization_channels=16,
        kernel_size=kernel_size,
        classifier_activation=None,
    )
    # The oldest input reaches the output only through every gated layer in turn: weights
    # of twice the usual scale keep that product of gains well above float32 rounding.
    rng = np.random.default_rng(0)
    for weight in model.trainable_weights:
        fan_in = int(np.prod(weight.shape[:-1])) if len(weight.shape) > 1 else 8
        weight.assign(rng.normal(0.0, 2.0 / np.sqrt(fan_in), weight.shape).astype(np.float32))
    codes = rng.integers(0, 16, (1, field + 10))
    base = model.predict(codes, verbose=0)
    last = codes.shape[1] - 1
    for position, reaches in ((last, True), (last - field + 1, True), (last - field, False)):
        changed = codes.copy()
        changed[0, position] = (changed[0, position] + 5) % 16
        moved = np.abs(model.predict(changed, verbose=0)[0, last] - base[0, last]).max()
        assert (moved > 0) == reaches, (position, moved)
    later = codes.copy()
    later[0, -1] = (later[0, -1] + 5) % 16
    np.testing.assert_array_equal(model.predict(later, verbose=0)[0, :-1], base[0, :-1])


@pytest.mark.parametrize("kernel_size, embedding_dim", [(2, None), (3, 6)])
def test_incremental_steps_equal_the_full_model(kernel_size, embedding_dim):
    model = WaveNet(
        2,
        3,
        residual_channels=8,
        skip_channels=10,
        quantization_channels=32,
        kernel_size=kernel_size,
        dilation_channels=5,
        embedding_dim=embedding_dim,
        classifier_activation=None,
    )
    for weight in model.trainable_weights:  # non-zero biases everywhere
        weight.assign(weight.numpy() + np.float32(0.1))
    codes = np.random.default_rng(2).integers(0, 32, (3, 40))
    full = model.predict(codes, verbose=0)
    network = _IncrementalWaveNet(model, batch=3)
    steps = np.stack([network(codes[:, t]) for t in range(codes.shape[1])], axis=1)
    assert steps.dtype == np.float32
    np.testing.assert_allclose(steps, full, rtol=1e-4, atol=1e-5)


def naive_greedy_generation(model, seed_codes, num_samples):
    """Re-run the whole model on the growing sequence; take the most likely next code."""
    sequence = np.asarray(seed_codes)[None]
    for _ in range(num_samples):
        probabilities = model.predict(sequence, verbose=0)[:, -1]
        sequence = np.concatenate([sequence, probabilities.argmax(axis=-1)[:, None]], axis=1)
    return sequence[0, len(seed_codes) :]


def test_fast_generation_equals_naive_generation():
    model = WaveNet(2, 3, residual_channels=8, skip_channels=12, quantization_channels=32)
    seed_codes = [3, 17, 29, 8, 11]
    fast = generate(model, 40, seed_codes=seed_codes, temperature=0)
    assert fast.dtype == np.int32 and fast.shape == (40,)
    assert len(np.unique(fast)) >= 4  # a sequence that actually depends on its past
    np.testing.assert_array_equal(fast, naive_greedy_generation(model, seed_codes, 40))
    # The default seed is one code of silence.
    np.testing.assert_array_equal(
        generate(model, 10, temperature=0), naive_greedy_generation(model, [16], 10)
    )


def test_generation_batches_and_sampling():
    model = WaveNet(1, 2, residual_channels=4, skip_channels=4, quantization_channels=16)
    seeds = np.array([[1, 2, 3], [9, 9, 9]])
    both = generate(model, 12, seed_codes=seeds, temperature=0)
    assert both.shape == (2, 12)
    np.testing.assert_array_equal(both[1], generate(model, 12, seeds[1], temperature=0))
    first = generate(model, 50, seed_codes=seeds, temperature=1.5, seed=7)
    np.testing.assert_array_equal(first, generate(model, 50, seeds, temperature=1.5, seed=7))
    assert first.min() >= 0 and first.max() < 16
    assert generate(model, 0).shape == (0,)


def test_sampling_follows_the_softmax_with_temperature():
    logits = np.log(np.array([[0.1, 0.2, 0.7]] * 20_000, np.float32))
    generator = np.random.default_rng(0)
    frequencies = np.bincount(_sample(logits, 1.0, generator), minlength=3) / 20_000
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.7], atol=0.01)
    sharper = np.bincount(_sample(logits, 0.5, generator), minlength=3) / 20_000
    expected = np.array([0.01, 0.04, 0.49]) / 0.54  # p ** 2, renormalised
    np.testing.assert_allclose(sharper, expected, atol=0.01)
    assert set(_sample(logits[:5], 0, generator)) == {2}


def test_training_on_a_sine_wave_lowers_the_loss():
    wave = np.sin(2 * np.pi * np.arange(512) / 32).astype(np.float32) * 0.8
    codes = mu_law_encode(wave, 64).reshape(4, 128)
    model = WaveNet(1, 4, residual_channels=16, skip_channels=16, quantization_channels=64)
    model.compile(optimizer=shinsou.optimizers.Adam(2e-2), loss="sparse_categorical_crossentropy")
    history = model.fit(codes[:, :-1], codes[:, 1:], batch_size=4, epochs=20, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.1 * losses[0], losses
    # The trained model continues the wave: greedy samples follow the true next ones.
    continued = mu_law_decode(generate(model, 32, seed_codes=codes[0, :64], temperature=0), 64)
    assert np.abs(continued - wave[64:96]).mean() < 0.05


def test_keras_file_round_trip(tmp_path):
    model = WaveNet(1, 3, residual_channels=4, skip_channels=6, quantization_channels=16)
    path = tmp_path / "wavenet.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.get_layer("one_hot").trainable is False
    codes = np.random.default_rng(3).integers(0, 16, (2, 25))
    np.testing.assert_array_equal(loaded.predict(codes, verbose=0), model.predict(codes, verbose=0))
    np.testing.assert_array_equal(
        generate(loaded, 20, codes[0], temperature=0), generate(model, 20, codes[0], temperature=0)
    )


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_blocks": 0}, "num_blocks must be a positive integer, received 0"),
        ({"skip_channels": 2.5}, "skip_channels must be a positive integer, received 2.5"),
        ({"quantization_channels": 1}, "quantization_channels must be an integer >= 2"),
        ({"embedding_dim": -3}, "embedding_dim must be a positive integer"),
        ({"classifier_activation": "softmaxx"}, "classifier_activation: unknown activation"),
    ],
)
def test_bad_wavenet_arguments_are_rejected(kwargs, message):
    arguments = {"num_blocks": 1, "layers_per_block": 2, "residual_channels": 4}
    arguments.update({"skip_channels": 4, **kwargs})
    with pytest.raises(ValueError, match=f"WaveNet: {message}"):
        WaveNet(**arguments)


def test_bad_generate_arguments_are_rejected():
    model = WaveNet(1, 2, residual_channels=4, skip_channels=4, quantization_channels=16)
    with pytest.raises(ValueError, match=r"seed_codes must lie in \[0, 15\]; .* 3 to 16"):
        generate(model, 3, seed_codes=[3, 16])
    with pytest.raises(ValueError, match="non-empty sequence of integer codes"):
        generate(model, 3, seed_codes=[0.5])
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        generate(model, 3, temperature=-1)
    with pytest.raises(ValueError, match="num_samples must be >= 0"):
        generate(model, -1)
    other = shinsou.Sequential([shinsou.Input((3,)), shinsou.layers.Dense(2, name="predictions")])
    with pytest.raises(ValueError, match="generate: the model must be built by WaveNet"):
        generate(other, 3, seed_codes=[0])


def test_bad_mu_law_arguments_are_rejected():
    with pytest.raises(ValueError, match="mu_law_encode: channels must be an integer >= 2"):
        mu_law_encode([0.0], channels=1)
    with pytest.raises(ValueError, match=r"mu_law_decode: codes must lie in \[0, 255\]"):
        mu_law_decode([0, 256])
    with pytest.raises(TypeError, match="mu_law_decode: codes must be integers"):
        mu_law_decode([0.5])

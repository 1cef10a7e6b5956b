import math

import numpy as np
import pytest

import shinsou
from applications.squares import brightest_quadrant, square_images
from shinsou.applications.conditional_gan import ConditionalBatchNormalization, ConditionalGAN
from shinsou.saving import load_model
from support import check_parity, requires_torch, torch


def tiny_gan(**kwargs):
    options = {"generator_filters": 8, "discriminator_filters": 8}
    return ConditionalGAN(8, (8, 8, 1), 3, **{**options, **kwargs})


def adam(learning_rate=2e-3, beta_1=0.5):
    return shinsou.optimizers.Adam(learning_rate, beta_1=beta_1)


def batch(count=12):
    return np.full((count, 8, 8, 1), -1.0, np.float32), np.arange(count) % 3


def random_features(shape, seed=0):
    return np.random.default_rng(seed).normal(1.0, 2.0, size=shape).astype("float32")


# -- ConditionalBatchNormalization -----------------------------------------------------------
def test_conditional_batch_normalization_uses_each_samples_class():
    layer = ConditionalBatchNormalization(num_classes=3, momentum=0.5, epsilon=1e-3)
    x, labels = random_features((4, 2, 2, 5)), np.array([[2], [0], [2], [1]])
    layer.build([x.shape, labels.shape])
    rng = np.random.default_rng(1)
    gamma, beta = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    layer.set_weights([gamma, beta, np.zeros(5), np.ones(5)])
    out = layer([x, labels], training=True).numpy()
    mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    normalized = (x - mean) / np.sqrt(variance + 1e-3)
    ids = labels[:, 0]
    expected = normalized * gamma[ids][:, None, None] + beta[ids][:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * variance, rtol=1e-5)
    # Inference: the moving statistics, the same per-class affine transform.
    inference = layer([x, labels], training=False).numpy()
    moving = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(
        inference, moving * gamma[ids][:, None, None] + beta[ids][:, None, None], rtol=1e-4
    )
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2


@requires_torch
def test_conditional_batch_normalization_matches_torch():
    layer = ConditionalBatchNormalization(num_classes=4)
    labels = np.array([3, 1, 1, 0, 2, 3])
    layer.build([(6, 3, 3, 4), (6,)])
    rng = np.random.default_rng(2)
    layer.set_weights([rng.normal(size=(4, 4)), rng.normal(size=(4, 4)), np.zeros(4), np.ones(4)])
    gamma = torch.from_numpy(layer.gamma.numpy())
    beta = torch.from_numpy(layer.beta.numpy())
    ids = torch.from_numpy(labels)

    def theirs(x):
        channels_first = x.permute(0, 3, 1, 2)
        normalized = torch.nn.functional.batch_norm(
            channels_first, None, None, training=True, eps=1e-3
        ).permute(0, 2, 3, 1)
        return normalized * gamma[ids][:, None, None] + beta[ids][:, None, None]

    check_parity(
        lambda x: layer([x, labels], training=True), theirs, random_features((6, 3, 3, 4), 3)
    )


def test_conditional_batch_normalization_config_and_errors():
    layer = ConditionalBatchNormalization(5, momentum=0.9, epsilon=1e-5, name="cbn")
    config = layer.get_config()
    assert ConditionalBatchNormalization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        ConditionalBatchNormalization(0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        ConditionalBatchNormalization(3, momentum=2.0)
    with pytest.raises(ValueError, match=r"'cbn' must be called on a list \[x, labels\]"):
        layer(random_features((2, 4)))
    with pytest.raises(ValueError, match=r"'cbn': labels must be class ids in \[0, 5\).*to 7"):
        layer([random_features((2, 4)), np.array([1, 7])])
    with pytest.raises(ValueError, match="expected 2 labels"):
        layer([random_features((2, 4)), np.array([1, 2, 3])])


# -- the networks -----------------------------------------------------------------------------
def test_networks_and_projection_discriminator():
    gan = ConditionalGAN(latent_dim=16, image_shape=(28, 28, 1), num_classes=10)
    generator, discriminator = gan.generator, gan.discriminator
    assert [t.shape for t in generator.inputs] == [(None, 16), (None, 1)]
    assert generator.output_shape == (None, 28, 28, 1)
    normalizations = [
        layer for layer in generator.layers if isinstance(layer, ConditionalBatchNormalization)
    ]
    assert [layer.gamma.shape for layer in normalizations] == [(10, 128), (10, 64)]
    assert not any(
        isinstance(layer, shinsou.layers.BatchNormalization) for layer in generator.layers
    )
    features = discriminator.get_layer("flatten").output_shape[-1]
    assert features == 7 * 7 * 128
    assert discriminator.get_layer("class_embedding").embeddings.shape == (10, features)

    # logit(x, y) = psi(phi(x)) + <embed(y), phi(x)>: labels change it by the projection only.
    phi = shinsou.Model(discriminator.inputs[0], discriminator.get_layer("flatten").output)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 28, 28, 1)).astype("float32")
    first, second = np.array([[3], [3]]), np.array([[3], [8]])
    difference = discriminator([images, second]).numpy() - discriminator([images, first]).numpy()
    table = discriminator.get_layer("class_embedding").embeddings.numpy()
    projections = (phi(images).numpy() * (table[second[:, 0]] - table[first[:, 0]])).sum(axis=1)
    np.testing.assert_allclose(difference[:, 0], projections, atol=1e-5)


def test_generate_shapes_labels_and_errors():
    gan = tiny_gan(seed=0)
    images = gan.generate(4, labels=[0, 1, 2, 0], seed=5)
    assert images.shape == (4, 8, 8, 1) and images.dtype == np.float32
    assert np.abs(images).max() <= 1.0
    np.testing.assert_array_equal(gan.generate(4, [0, 1, 2, 0], seed=5), images)
    assert gan.generate(3, labels=2).shape == (3, 8, 8, 1)
    with pytest.raises(ValueError, match="one class id or n=4 of them; received 2"):
        gan.generate(4, labels=[0, 1])
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        gan.generate(2, labels=[0, 3])
    with pytest.raises(TypeError, match="integer class ids"):
        gan.generate(2, labels=["a", "b"])
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        ConditionalGAN(8, (8, 8, 1), num_classes=0)


# -- training ---------------------------------------------------------------------------------
def test_train_step_updates_both_networks_and_accepts_both_data_forms():
    gan = tiny_gan()
    gan.compile(adam(), adam())
    images, labels = batch()
    before = [w.numpy() for w in gan.trainable_weights]
    logs = gan.train_step(((images, labels), None, None))  # what fit((images, labels)) passes
    assert sorted(logs) == ["d_loss", "g_loss"]
    assert all(math.isfinite(value) for value in logs.values())
    unchanged = [
        w.path for b, w in zip(before, gan.trainable_weights) if np.array_equal(b, w.numpy())
    ]
    # Hinge loss with every logit in (-1, 1): the output bias gets -1 (real) + 1 (generated).
    assert unchanged == ["psi/bias"]
    assert all(w.grad is None for w in gan.trainable_weights)
    history = gan.fit(images, labels, batch_size=6, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"]).all()
    with pytest.raises(ValueError, match="training needs class labels"):
        gan.train_step((images, None, None))


def test_short_run_learns_class_dependent_squares():
    # Stochastic, but seeded (conftest seeds shinsou; data and latents have their own seeds):
    # 320 steps, about 4 s. A faster generator than discriminator, as measured on this task.
    images, labels = square_images(512, np.random.default_rng(0))
    gan = ConditionalGAN(16, (8, 8, 1), 4, generator_filters=16, discriminator_filters=8, seed=0)
    gan.compile(adam(5e-4, beta_1=0.0), adam(4e-3, beta_1=0.0))
    history = gan.fit((images, labels), batch_size=64, epochs=40, verbose=0).history
    d_loss, g_loss = np.array(history["d_loss"]), np.array(history["g_loss"])
    assert np.isfinite(d_loss).all() and np.isfinite(g_loss).all()
    # Hinge loss of a discriminator with logits about 0: relu(1 - 0) + relu(1 + 0) = 2.
    assert abs(d_loss[0] - 2.0) < 0.15 and abs(g_loss[0]) < 0.2
    assert d_loss.min() < 1.8  # the discriminator does beat chance on the way
    hits = [(brightest_quadrant(gan.generate(200, k, seed=k)) == k).mean() for k in range(4)]
    # Chance is 1/4; typical runs reach 0.85 to 1.0 on every class.
    assert np.mean(hits) > 0.5 and min(hits) > 0.3, f"class k at quadrant k: {hits}"


# -- configs and files ------------------------------------------------------------------------
def test_config_and_generator_keras_file(tmp_path):
    gan = tiny_gan(dropout=0.2, seed=3)
    config = gan.get_config()
    assert config["num_classes"] == 3 and config["dropout"] == 0.2
    assert ConditionalGAN.from_config(config).get_config() == config
    gan.compile(adam(), adam())
    gan.fit(batch(), batch_size=6, epochs=1, verbose=0)
    gan.generator.save(tmp_path / "generator.keras")
    generator = load_model(tmp_path / "generator.keras")
    assert isinstance(generator.get_layer("project_bn"), ConditionalBatchNormalization)
    inputs = [random_features((3, 8)), np.array([[0], [2], [1]], "int32")]
    np.testing.assert_array_equal(generator(inputs).numpy(), gan.generator(inputs).numpy())

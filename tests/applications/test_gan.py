import math
import warnings

import numpy as np
import pytest

import shinsou
from applications.squares import square_images
from shinsou import layers
from shinsou.applications.gan import DCGAN, upsampling_plan
from shinsou.saving import load_model


def tiny_gan(**kwargs):
    options = {"generator_filters": 8, "discriminator_filters": 8, "dropout": 0.0}
    return DCGAN(8, (8, 8, 1), **{**options, **kwargs})


def adam(learning_rate=2e-3):
    return shinsou.optimizers.Adam(learning_rate, beta_1=0.5)


def dark_images(count=16):
    return np.full((count, 8, 8, 1), -1.0, np.float32)


# -- architecture ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image_shape", "start", "upsamplings"),
    [((28, 28, 1), (7, 7), 2), ((32, 32, 3), (4, 4), 3), ((8, 8, 1), (4, 4), 1)],
)
def test_networks_are_sized_from_the_image_shape(image_shape, start, upsamplings):
    gan = DCGAN(latent_dim=32, image_shape=image_shape)
    generator, discriminator = gan.generator, gan.discriminator
    assert generator.input_shape == (None, 32)
    assert generator.output_shape == (None, *image_shape)
    assert generator.get_layer("project_reshape").output_shape == (
        None,
        *start,
        64 * 2 ** (upsamplings - 1),
    )
    transposed = [layer for layer in generator.layers if isinstance(layer, layers.Conv2DTranspose)]
    assert len(transposed) == upsamplings
    assert generator.get_layer("to_image").activation is shinsou.activations.tanh
    assert discriminator.input_shape == (None, *image_shape)
    assert discriminator.output_shape == (None, 1)
    strided = [layer for layer in discriminator.layers if isinstance(layer, layers.Conv2D)]
    assert [layer.filters for layer in strided] == [64 * 2**i for i in range(upsamplings)]
    assert discriminator.get_layer("flatten").output_shape == (
        None,
        math.prod(start) * strided[-1].filters,
    )


def test_mnist_sized_parameter_counts():
    gan = DCGAN(latent_dim=100, image_shape=(28, 28, 1))
    # Dense 100 -> 7*7*128 (no bias), BN(128), ConvT 4x4 128->64 (no bias), BN(64),
    # ConvT 4x4 64->1 (+bias).
    generator = 100 * 7 * 7 * 128 + 4 * 128 + 16 * 128 * 64 + 4 * 64 + 16 * 64 + 1
    assert gan.generator.count_params() == generator
    discriminator = (16 * 1 * 64 + 64) + (16 * 64 * 128 + 128) + (7 * 7 * 128 + 1)
    assert gan.discriminator.count_params() == discriminator
    assert gan.count_params() == generator + discriminator


def test_generate_shapes_range_and_seed():
    gan = DCGAN(latent_dim=16, image_shape=(32, 32, 3), generator_filters=8)
    images = gan.generate(5, seed=3)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.float32
    assert np.abs(images).max() <= 1.0
    np.testing.assert_array_equal(gan.generate(5, seed=3), images)
    assert not np.array_equal(gan.generate(5, seed=4), images)
    assert gan(np.zeros((2, 16), "float32")).shape == (2, 32, 32, 3)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match=r"even and at least 8.*\(7, 7, 1\)"):
        DCGAN(8, (7, 7, 1))
    with pytest.raises(ValueError, match=r"image_shape must be \(height, width, channels\)"):
        DCGAN(8, (28, 28))
    with pytest.raises(ValueError, match="DCGAN: latent_dim must be a positive integer"):
        DCGAN(0, (8, 8, 1))
    with pytest.raises(ValueError, match="DCGAN: dropout must be a float in the range"):
        DCGAN(8, (8, 8, 1), dropout=1.5)
    with pytest.raises(ValueError, match=r"label_noise must be a number in \[0, 1\)"):
        DCGAN(8, (8, 8, 1), label_noise=1.0)
    with pytest.raises(ValueError, match="generate: n must be a positive integer"):
        tiny_gan().generate(0)
    assert upsampling_plan("x", (128, 128, 3)) == (8, 8, 4)  # at most four doublings


def test_training_arguments_are_checked():
    gan = tiny_gan(name="g")
    with pytest.raises(RuntimeError, match="call compile"):
        gan.train_step((dark_images(), None, None))
    optimizer = adam()
    with pytest.raises(ValueError, match="must be two optimizer objects"):
        gan.compile(optimizer, optimizer)
    with pytest.raises(ValueError, match="loss_fn must be None, 'hinge' or a callable"):
        gan.compile(adam(), adam(), loss_fn="mse")
    gan.compile(adam(), adam())
    with pytest.raises(ValueError, match=r"'g'.*\(batch, 8, 8, 1\).*\(4, 8, 8, 3\)"):
        gan.train_step((np.zeros((4, 8, 8, 3), "float32"), None, None))
    with pytest.raises(ValueError, match=r"scaled to \[-1, 1\].*from 0 to 255"):
        gan.fit(np.linspace(0, 255, 256, dtype="float32").reshape(4, 8, 8, 1), verbose=0)


# -- one training step -------------------------------------------------------------------------
def test_train_step_updates_both_networks_and_leaves_no_gradients():
    gan = tiny_gan()
    gan.compile(adam(), adam())
    before_d = [w.numpy() for w in gan.discriminator.trainable_weights]
    before_g = [w.numpy() for w in gan.generator.trainable_weights]
    logs = gan.train_step((dark_images(), None, None))
    assert sorted(logs) == ["d_loss", "g_loss"]
    assert all(math.isfinite(value) for value in logs.values())
    for before, network in ((before_d, gan.discriminator), (before_g, gan.generator)):
        changed = [
            not np.array_equal(b, w.numpy()) for b, w in zip(before, network.trainable_weights)
        ]
        assert all(changed), f"{network.name}: some weights did not change"
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 1
    # The optimizers clear what they applied; the discriminator, frozen during the
    # generator's step, must hold no gradient either (it would leak into its next step).
    assert all(w.grad is None for w in gan.trainable_weights)


@pytest.mark.parametrize("frozen", ["discriminator", "generator"])
def test_each_optimizer_updates_only_its_network(frozen):
    gan = tiny_gan()
    # An optimizer with learning rate 0 leaves its network as it is; the other one trains.
    rates = {"discriminator": 0.0, "generator": 0.0}
    rates[{"discriminator": "generator", "generator": "discriminator"}[frozen]] = 1e-2
    gan.compile(adam(rates["discriminator"]), adam(rates["generator"]))
    networks = {"discriminator": gan.discriminator, "generator": gan.generator}
    before = {name: [w.numpy() for w in net.trainable_weights] for name, net in networks.items()}
    gan.train_step((dark_images(), None, None))
    for name, network in networks.items():
        same = all(
            np.array_equal(b, w.numpy()) for b, w in zip(before[name], network.trainable_weights)
        )
        assert same == (name == frozen)
    assert len(gan.d_optimizer.variables) == 2 + 2 * len(gan.discriminator.trainable_weights)
    assert len(gan.g_optimizer.variables) == 2 + 2 * len(gan.generator.trainable_weights)


def test_hinge_loss_option_starts_at_two():
    gan = tiny_gan()
    gan.compile(adam(), adam(), loss_fn="hinge")
    # Random discriminator logits are about 0: relu(1 - 0) + relu(1 + 0) = 2.
    logs = gan.train_step((dark_images(), None, None))
    assert abs(logs["d_loss"] - 2.0) < 0.2 and abs(logs["g_loss"]) < 0.2


# -- a short run -------------------------------------------------------------------------------
def test_short_run_on_squares_learns_the_data():
    # Stochastic, but seeded (conftest seeds shinsou; data and latents have their own seeds):
    # 160 steps, about 2 s.
    images, _ = square_images(512, np.random.default_rng(0))
    gan = DCGAN(16, (8, 8, 1), generator_filters=16, discriminator_filters=16, seed=0)
    gan.compile(adam(), adam())
    initial = gan.generate(500, seed=1)
    history = gan.fit(images, batch_size=64, epochs=20, verbose=0).history
    d_loss, g_loss = np.array(history["d_loss"]), np.array(history["g_loss"])
    assert np.isfinite(d_loss).all() and np.isfinite(g_loss).all()
    # Binary cross-entropy of a discriminator that cannot tell yet: about ln 2 for both.
    assert abs(d_loss[0] - math.log(2)) < 0.1 and abs(g_loss[0] - math.log(2)) < 0.1
    # Later the discriminator beats chance, and the generator's loss grows against it.
    assert d_loss[-5:].mean() < math.log(2) - 0.03 < g_loss[-5:].mean()
    trained = gan.generate(500, seed=1)
    mean_image = images.mean(axis=0)
    before = np.abs(initial.mean(axis=0) - mean_image).mean()
    after = np.abs(trained.mean(axis=0) - mean_image).mean()
    assert after < before / 2.5, f"the mean image moved from {before:.3f} only to {after:.3f}"
    assert (trained < 0).mean() > 0.75  # mostly dark background: 94% of the data


# -- configs and files ---------------------------------------------------------------------------
def test_config_round_trip():
    gan = tiny_gan(generator_filters=4, label_noise=0.1, seed=7, name="mine")
    config = gan.get_config()
    assert config["image_shape"] == [8, 8, 1] and config["seed"] == 7
    clone = DCGAN.from_config(config)
    assert clone.get_config() == config
    assert [w.shape for w in clone.weights] == [w.shape for w in gan.weights]
    generator = shinsou.Model.from_config(gan.generator.get_config())
    generator.set_weights(gan.generator.get_weights())
    latents = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(generator(latents).numpy(), gan.generator(latents).numpy())


def test_generator_and_gan_keras_files(tmp_path):
    gan = tiny_gan(seed=0)
    gan.compile(adam(), adam())
    gan.fit(dark_images(), batch_size=8, epochs=1, verbose=0)
    latents = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    gan.generator.save(tmp_path / "generator.keras")
    generator = load_model(tmp_path / "generator.keras")
    np.testing.assert_array_equal(generator(latents).numpy(), gan.generator(latents).numpy())
    gan.save(tmp_path / "gan.keras")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "compile\\(\\) was not called", UserWarning)
        loaded = load_model(tmp_path / "gan.keras")
    assert type(loaded) is DCGAN and loaded.get_config() == gan.get_config()
    np.testing.assert_array_equal(loaded.generate(4, seed=2), gan.generate(4, seed=2))

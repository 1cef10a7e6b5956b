"""vision.generation and vision.generation_quality: digits in the GAN's range, the
SampleGrid callback (PNG files at the right epochs, atomically), the digit-quality score
(real held-out digits score high, noise low) and a tiny GAN run through the helper."""

import numpy as np
import pytest

import shinsou
from shinsou.applications import DCGAN, ConditionalGAN
from shinsou.vision.generation import (
    DIGITS_IMAGE_SIZE,
    SampleGrid,
    digit_images,
    resize_images,
    save_tiled_grid,
    tile_images,
    train_digit_gan,
)
from shinsou.vision.generation_quality import (
    FEATURES_LAYER,
    build_digit_classifier,
    digit_quality,
    train_digit_classifier,
)

pytest.importorskip("matplotlib", reason="matplotlib is not installed")
pytest.importorskip("sklearn", reason="scikit-learn (the embedded digits) is not installed")


@pytest.fixture(scope="module")
def digits_8x8():
    """The embedded digits at their own 8×8 size (cheaper than 16×16 for the tests)."""
    return digit_images(image_size=8)


@pytest.fixture(scope="module")
def judge(digits_8x8):
    (x_train, y_train), _ = digits_8x8
    return train_digit_classifier(x_train, y_train, epochs=4, batch_size=64, seed=0)


def check_png(path):
    from matplotlib.image import imread

    assert path.stat().st_size > 1000
    assert imread(path)[..., :3].std() > 0.02  # not blank


def tiny_gan(conditional=False):
    if conditional:
        return ConditionalGAN(4, (8, 8, 1), 10, generator_filters=4, discriminator_filters=4)
    return DCGAN(4, (8, 8, 1), generator_filters=4, discriminator_filters=4)


def test_digit_images_are_in_the_gan_range(digits_8x8):
    (x_train, y_train), (x_test, y_test) = digit_images()
    assert x_train.shape == (1442, DIGITS_IMAGE_SIZE, DIGITS_IMAGE_SIZE, 1)
    assert x_test.shape == (355, 16, 16, 1) and x_train.dtype == np.float32
    assert x_train.min() == -1 and x_train.max() == 1
    assert sorted(set(y_train.tolist())) == list(range(10)) and y_test.dtype == np.int32
    # upsampling keeps the picture: shrinking back by 2×2 means is close to the original
    small = digits_8x8[0][0]
    pooled = x_train[..., 0].reshape(-1, 8, 2, 8, 2).mean(axis=(2, 4))
    assert np.corrcoef(pooled.ravel(), small.ravel())[0, 1] > 0.95
    (x_few, _), _ = digit_images(image_size=8, max_images=5)
    assert x_few.shape == (5, 8, 8, 1)


def test_resize_images_is_bilinear_with_clamped_edges():
    ramp = np.arange(4, dtype="float32")[None, None, :].repeat(4, axis=1)  # (1, 4, 4)
    resized = resize_images(ramp, 8)
    np.testing.assert_allclose(resized[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    assert resize_images(np.ones((2, 8, 8, 1)), 16).shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match=r"resize_images: expected images .* shape \(8,\)"):
        resize_images(np.ones(8), 4)


def test_tile_images_layout_and_saved_grid(tmp_path):
    images = np.stack([np.full((2, 3), value, "float32") for value in (-1.0, 0.0, 0.5)])
    tiled = tile_images(images, rows=2)  # 2 rows of 2 places, the last one empty
    assert tiled.shape == (5, 7)
    np.testing.assert_array_equal(tiled[:2, :3], -1)
    np.testing.assert_array_equal(tiled[:2, 4:], 0)
    np.testing.assert_array_equal(tiled[3:, :3], 0.5)
    assert (tiled[2] == 1).all() and (tiled[:, 3] == 1).all() and (tiled[3:, 4:] == 1).all()
    save_tiled_grid(images[..., None], tmp_path / "grid.png")
    check_png(tmp_path / "grid.png")
    with pytest.raises(ValueError, match=r"tile_images: expected a non-empty batch"):
        tile_images(np.zeros((0, 4, 4)))


def test_mnist_folder_with_only_the_test_split(tmp_path):
    import gzip

    def write_idx(handle, array):  # IDX: 0, 0, type 0x08 (ubyte), ndim; big-endian sizes
        handle.write(bytes([0, 0, 8, array.ndim]))
        handle.write(np.array(array.shape, ">u4").tobytes() + array.tobytes())

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2010, 28, 28), dtype=np.uint8)
    labels = (np.arange(2010) % 10).astype(np.uint8)
    for name, array in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        with gzip.open(tmp_path / f"{name}.gz", "wb") as handle:
            write_idx(handle, array)
    (x_train, _), (x_test, _) = digit_images(tmp_path)
    assert x_train.shape == (10, 28, 28, 1) and x_test.shape == (2000, 28, 28, 1)
    np.testing.assert_allclose(x_train[0, ..., 0], images[0] / 127.5 - 1, atol=1e-6)


def test_sample_grid_writes_pngs_at_the_right_epochs(tmp_path):
    gan = tiny_gan()
    gan.compile(d_optimizer="adam", g_optimizer="adam")
    grid = SampleGrid(tmp_path / "grids", num_samples=6, every=2, rows=2)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype("float32")
    gan.fit(images, batch_size=8, epochs=5, verbose=0, callbacks=[grid])
    names = sorted(path.name for path in (tmp_path / "grids").iterdir())
    assert names == ["samples_epoch_0002.png", "samples_epoch_0004.png"]  # no partial files
    assert [str(tmp_path / "grids" / name) for name in names] == grid.paths
    check_png(tmp_path / "grids" / names[0])
    # the latent vectors are fixed: same weights, same samples
    np.testing.assert_array_equal(grid.samples(), grid.samples())
    expected = gan.generator(grid.latents, training=False).numpy()
    np.testing.assert_allclose(grid.samples(), expected, atol=1e-6)


def test_sample_grid_for_a_conditional_gan_uses_fixed_labels(tmp_path):
    gan = tiny_gan(conditional=True)
    grid = SampleGrid(tmp_path, num_samples=20, labels=np.repeat([3, 5], 10), rows=2)
    grid.set_model(gan)
    latents, labels = grid._inputs()
    assert latents.shape == (20, 4) and labels[:, 0].tolist() == [3] * 10 + [5] * 10
    grid.on_epoch_end(0)
    assert (tmp_path / "samples_epoch_0001.png").exists()
    cycling = SampleGrid(tmp_path, num_samples=12)
    cycling.set_model(gan)
    assert cycling._inputs()[1][:, 0].tolist() == [*range(10), 0, 1]


def test_sample_grid_bad_arguments():
    with pytest.raises(ValueError, match="SampleGrid: every must be a positive int; received 0"):
        SampleGrid(".", every=0)
    with pytest.raises(ValueError, match=r"SampleGrid: labels must be num_samples=4 integer"):
        SampleGrid(".", num_samples=4, labels=[1, 2])
    grid = SampleGrid(".", num_samples=2)
    grid.set_model(build_digit_classifier((8, 8, 1)))
    with pytest.raises(TypeError, match="SampleGrid: the model must be a GAN .* no generator"):
        grid.samples()


def test_real_digits_score_high_and_noise_low(digits_8x8, judge):
    (x_train, _), (x_test, y_test) = digits_8x8
    real = digit_quality(x_test, judge, x_train, target_labels=y_test)
    assert real["confident_share"] > 0.5 and real["class_coverage"] > 0.95
    assert real["classes_present"] == 10 and real["label_accuracy"] > 0.9
    noise = np.random.default_rng(0).uniform(-1, 1, x_test.shape)
    noisy = digit_quality(noise, judge, x_train, target_labels=y_test)
    assert noisy["confident_share"] < real["confident_share"] / 2
    assert noisy["frechet_distance"] > 10 * real["frechet_distance"]
    assert noisy["label_accuracy"] < 0.3
    # one digit only: confident, but no coverage
    sevens = x_test[y_test == 7]
    collapsed = digit_quality(sevens, judge, x_train)
    assert (
        collapsed["class_coverage"] < 0.2
        and collapsed["frechet_distance"] > real["frechet_distance"]
    )
    # identical sets: Fréchet distance 0
    assert digit_quality(x_test, judge, x_test)["frechet_distance"] < 1e-6


def test_classifier_features_and_accuracy(digits_8x8, judge):
    _, (x_test, y_test) = digits_8x8
    assert judge.get_layer(FEATURES_LAYER).units == 64
    assert (judge.predict(x_test, verbose=0).argmax(1) == y_test).mean() > 0.9


def test_quality_bad_inputs(digits_8x8, judge):
    (x_train, _), (x_test, _) = digits_8x8
    with pytest.raises(TypeError, match="digit_quality: classifier must be a shinsou Model"):
        digit_quality(x_test, "judge", x_train)
    with pytest.raises(ValueError, match=r"generated_images must have images of the "):
        digit_quality(np.zeros((4, 16, 16, 1)), judge, x_train)
    with pytest.raises(ValueError, match=r"target_labels must be 355 integer class ids"):
        digit_quality(x_test, judge, x_train, target_labels=[1, 2])
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        digit_quality(x_test, judge, x_train, threshold=1.5)
    with pytest.raises(ValueError, match=r"train_digit_classifier: labels must be digits"):
        train_digit_classifier(x_train[:4], [0, 1, 2, 10])


def test_tiny_gan_runs_through_the_helper(digits_8x8, tmp_path):
    (x_train, y_train), _ = digits_8x8
    grid = SampleGrid(tmp_path, num_samples=10, every=1)
    gan, history = train_digit_gan(
        x_train[:64], y_train[:64], conditional=True, epochs=2, batch_size=32, filters=4,
        latent_dim=8, callbacks=[grid],
    )  # fmt: skip
    assert isinstance(gan, ConditionalGAN) and len(history.history["d_loss"]) == 2
    assert len(grid.paths) == 2
    same, _ = train_digit_gan(x_train[:64], epochs=2, batch_size=32, filters=4, latent_dim=8)
    again, _ = train_digit_gan(x_train[:64], epochs=2, batch_size=32, filters=4, latent_dim=8)
    np.testing.assert_array_equal(same.generate(3, seed=0), again.generate(3, seed=0))


def test_train_digit_gan_bad_inputs():
    images = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="train_digit_gan: the conditional GAN needs labels"):
        train_digit_gan(images, conditional=True)
    with pytest.raises(ValueError, match="train_digit_gan: epochs must be a positive int"):
        train_digit_gan(images, epochs=0)
    with pytest.raises(ValueError, match=r"train_digit_gan: images must be \(N, height"):
        train_digit_gan(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="training images must be scaled to"):
        train_digit_gan(images + 5, epochs=1)
    shinsou.utils.set_random_seed(0)  # leave the global generators as other tests expect

"""GAN image generation on digits: data in the GAN's range, training, and sample grids.

:func:`digit_images` prepares digits as a GAN wants them (``[-1, 1]``, a channel axis, a
size the DCGAN supports); :func:`train_digit_gan` builds and trains
:class:`~shinsou.applications.DCGAN` or :class:`~shinsou.applications.ConditionalGAN` on
them with ``fit``; :class:`SampleGrid` saves a PNG grid of samples from fixed latent
vectors every few epochs, so the pictures show one generator improving. The generated
digits are scored by :mod:`shinsou.vision.generation_quality`.

Why 16×16 for the embedded digits: they are 8×8, which gives the DCGAN a single
upsampling from a 4×4 start — hardly a convolutional generator. Bilinear upsampling to
16×16 gives two (4 → 8 → 16), the same depth as MNIST's 7 → 14 → 28, at a third of the
pixels of 28×28 (which 8×8 does not divide into evenly anyway), so it trains in minutes
on two cores and the digits keep smooth strokes.

Example:
    >>> import numpy as np
    >>> images = np.full((16, 8, 8, 1), -1.0, dtype="float32")
    >>> gan, history = train_digit_gan(images, epochs=1, batch_size=8, filters=4,
    ...                                latent_dim=4)
    >>> gan.generate(2, seed=0).shape, sorted(history.history)
    ((2, 8, 8, 1), ['d_loss', 'g_loss'])
"""

from __future__ import annotations

import numbers
import os
import warnings

import numpy

from .. import optimizers, utils
from ..callbacks import Callback
from ..saving.atomic_files import atomic_write
from ..tensor import no_grad

__all__ = [
    "DIGITS_IMAGE_SIZE",
    "SampleGrid",
    "digit_images",
    "resize_images",
    "save_tiled_grid",
    "tile_images",
    "train_digit_gan",
]

DIGITS_IMAGE_SIZE = 16
"""Side of the embedded 8×8 digits after upsampling for the GAN (see the module text)."""

_MNIST_HELD_OUT = 2000  # test images kept apart when a folder holds only MNIST's t10k split
_GRID_PIXELS = 640  # about how wide a saved grid is drawn, whatever the image size


def _check_positive_int(caller, argument, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{caller}: {argument} must be a positive int; received {value!r}")


def _bilinear_matrix(source, target):
    """``(target, source)`` weights of bilinear resampling along one axis (pixel centres
    aligned, edges clamped, as ``keras.ops.image.resize`` with ``antialias=False``)."""
    positions = (numpy.arange(target) + 0.5) * source / target - 0.5
    positions = numpy.clip(positions, 0, source - 1)
    low = numpy.floor(positions).astype(int)
    high = numpy.minimum(low + 1, source - 1)
    weight = (positions - low).astype(numpy.float32)
    matrix = numpy.zeros((target, source), numpy.float32)
    rows = numpy.arange(target)
    numpy.add.at(matrix, (rows, low), 1 - weight)
    numpy.add.at(matrix, (rows, high), weight)
    return matrix


def resize_images(images, size):
    """Bilinear resize of grey images ``(N, H, W)`` or ``(N, H, W, C)`` to ``size × size``.

    Two small matrix products (rows, then columns), so a whole batch is resized at once.

    Example:
        >>> resize_images(numpy.ones((2, 8, 8)), 16).shape
        (2, 16, 16)
    """
    _check_positive_int("resize_images", "size", size)
    array = numpy.asarray(images, dtype=numpy.float32)
    if array.ndim not in (3, 4):
        raise ValueError(
            f"resize_images: expected images (N, H, W) or (N, H, W, C); received shape "
            f"{array.shape}"
        )
    rows = _bilinear_matrix(array.shape[1], size)
    cols = _bilinear_matrix(array.shape[2], size)
    spec = "ij,njk...,lk->nil..."
    return numpy.einsum(spec, rows, array, cols, optimize=True).astype(numpy.float32)


def tile_images(images, rows=None, padding=1, separator=1.0):
    """Tile a batch ``(N, H, W[, C])`` into one image, ``rows`` rows (default about
    ``sqrt(N)``), panels separated by ``padding`` pixels of ``separator`` (white for both
    ``[0, 1]`` and ``[-1, 1]`` images); empty places in the last row are filled with it too.

    Example:
        >>> tile_images(numpy.zeros((6, 4, 4)), rows=2).shape
        (9, 14)
    """
    array = numpy.asarray(images, dtype=numpy.float32)
    if array.ndim not in (3, 4) or len(array) == 0:
        raise ValueError(
            f"tile_images: expected a non-empty batch (N, H, W) or (N, H, W, C); received "
            f"shape {array.shape}"
        )
    _check_positive_int("tile_images", "rows", rows, allow_none=True)
    count, height, width = array.shape[:3]
    rows = rows or max(1, int(numpy.ceil(numpy.sqrt(count))))
    cols = -(-count // rows)
    filled = numpy.full((rows * cols, *array.shape[1:]), separator, numpy.float32)
    filled[:count] = array
    padded = numpy.pad(
        filled.reshape(rows, cols, *array.shape[1:]),
        [(0, 0), (0, 0), (0, padding), (0, padding)] + [(0, 0)] * (array.ndim - 3),
        constant_values=separator,
    )
    # (rows, cols, H', W', ...) -> (rows, H', cols, W', ...) -> one image
    tiled = padded.swapaxes(1, 2).reshape(
        rows * (height + padding), cols * (width + padding), *array.shape[3:]
    )
    return tiled[: tiled.shape[0] - padding, : tiled.shape[1] - padding]


def save_tiled_grid(images, path, rows=None):
    """Save a batch as one PNG of tiled panels (floats in ``[-1, 1]`` or ``[0, 1]``, or
    uint8; grey or RGB),
    scaled up with sharp pixels to about 640 pixels wide. One image drawn with
    ``imsave`` rather than one axes per panel (``drawing.image_grid``): a hundred small
    digits take milliseconds instead of seconds, which matters once per epoch.

    Example:
        >>> import tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> save_tiled_grid(numpy.zeros((4, 8, 8, 1)), path) == path  # doctest: +SKIP
        True
    """
    try:
        from matplotlib.image import imsave
    except ImportError as error:
        raise ImportError(
            'shinsou.vision.generation needs matplotlib for PNGs: pip install "shinsou[all]"'
        ) from error
    array = numpy.asarray(images)
    if array.dtype == numpy.uint8:
        array = array / numpy.float32(255)
    tiled = tile_images(array, rows)
    if tiled.min() < 0:  # a tanh generator's [-1, 1]
        tiled = (tiled + 1) / 2
    tiled = numpy.clip(tiled, 0, 1)
    if tiled.ndim == 3 and tiled.shape[-1] == 1:
        tiled = tiled[..., 0]
    scale = max(1, _GRID_PIXELS // tiled.shape[1])
    tiled = tiled.repeat(scale, axis=0).repeat(scale, axis=1)
    imsave(path, tiled, cmap="gray", vmin=0, vmax=1, format="png")
    return path


def digit_images(mnist_path=None, image_size=None, max_images=None):
    """Digits for a GAN: ``(x_train, y_train), (x_test, y_test)`` with ``x`` float32
    ``(N, S, S, 1)`` in ``[-1, 1]`` and ``y`` int32 digits.

    Without ``mnist_path``: scikit-learn's embedded 8×8 digits (1,442 training, 355 test),
    upsampled to ``image_size`` (default :data:`DIGITS_IMAGE_SIZE`, 16). With it: real
    MNIST from a folder of IDX files or a ``.npz`` (``shinsou.datasets.mnist.load_data``),
    28×28 unless ``image_size`` says otherwise; when the folder holds only the 10,000-image
    ``t10k`` split, its last 2,000 images are the test set and the rest train.
    ``max_images`` keeps only the first training images (to fit a time budget).

    Example:
        >>> (x, y), (x_test, y_test) = digit_images()  # doctest: +SKIP
        >>> x.shape, float(x.min()), float(x.max())  # doctest: +SKIP
        ((1442, 16, 16, 1), -1.0, 1.0)
    """
    caller = "digit_images"
    _check_positive_int(caller, "image_size", image_size, allow_none=True)
    _check_positive_int(caller, "max_images", max_images, allow_none=True)
    if mnist_path is None:
        from ..datasets import digits

        (x_train, y_train), (x_test, y_test) = digits.load_data()
        default_size = DIGITS_IMAGE_SIZE
    else:
        from ..datasets import mnist

        with warnings.catch_warnings():  # a t10k-only folder: handled below
            warnings.simplefilter("ignore", UserWarning)
            (x_train, y_train), (x_test, y_test) = mnist.load_data(mnist_path)
        if len(x_train) == 0:
            x_train, y_train = x_test[:-_MNIST_HELD_OUT], y_test[:-_MNIST_HELD_OUT]
            x_test, y_test = x_test[-_MNIST_HELD_OUT:], y_test[-_MNIST_HELD_OUT:]
        default_size = 28
    size = default_size if image_size is None else image_size
    if max_images is not None:
        x_train, y_train = x_train[:max_images], y_train[:max_images]

    def prepare(images):
        scaled = images.astype(numpy.float32) / numpy.float32(127.5) - 1
        if scaled.shape[1:] != (size, size):
            scaled = numpy.clip(resize_images(scaled, size), -1, 1)
        return scaled[..., None]

    return (prepare(x_train), y_train.astype(numpy.int32)), (
        prepare(x_test),
        y_test.astype(numpy.int32),
    )


def _gan_optimizers(conditional, learning_rate):
    """``(d_optimizer, g_optimizer)``. DCGAN: the paper's Adam(beta_1=0.5), both at
    ``learning_rate``. Conditional GAN (hinge loss, no spectral norm): Adam(beta_1=0) with
    the generator 4× faster than the discriminator, which otherwise wins too easily."""
    if conditional:
        return (
            optimizers.Adam(learning_rate / 2, beta_1=0.0, beta_2=0.9),
            optimizers.Adam(learning_rate * 2, beta_1=0.0, beta_2=0.9),
        )
    return (
        optimizers.Adam(learning_rate, beta_1=0.5),
        optimizers.Adam(learning_rate, beta_1=0.5),
    )


def train_digit_gan(
    images=None,
    labels=None,
    conditional=False,
    epochs=15,
    batch_size=32,
    latent_dim=32,
    filters=32,
    learning_rate=1e-3,
    seed=0,
    callbacks=None,
    verbose=0,
    mnist_path=None,
    image_size=None,
    max_images=None,
):
    """Build a DCGAN (or, with ``conditional=True``, a ConditionalGAN over the 10 digits)
    and train it with ``fit``; returns ``(gan, history)``.

    ``images`` ``(N, H, W, 1)`` in ``[-1, 1]`` (and ``labels`` for the conditional GAN);
    when ``images`` is None they come from :func:`digit_images` (``mnist_path``,
    ``image_size``, ``max_images``). Both networks get ``filters`` base filters;
    optimizers as :func:`_gan_optimizers` says. ``seed`` fixes weights, latent vectors and
    shuffling. The defaults (15 epochs of the 1,442 embedded digits at 16×16, 690 steps)
    take a few minutes on two cores and give recognisable digits: about 57% of the samples
    are classified with 90% confidence (real digits: 95%), covering all ten classes.

    Example:
        >>> import numpy as np
        >>> x = np.full((8, 8, 8, 1), -1.0, dtype="float32")
        >>> gan, _ = train_digit_gan(x, np.arange(8) % 10, conditional=True, epochs=1,
        ...                          batch_size=4, filters=4, latent_dim=4)
        >>> gan.num_classes, gan.generate(3, labels=7, seed=0).shape
        (10, (3, 8, 8, 1))
    """
    from ..applications.conditional_gan import ConditionalGAN
    from ..applications.gan import DCGAN

    caller = "train_digit_gan"
    for argument, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("latent_dim", latent_dim),
        ("filters", filters),
    ):
        _check_positive_int(caller, argument, value)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise ValueError(
            f"{caller}: learning_rate must be a positive number; got {learning_rate!r}"
        )
    if learning_rate <= 0:
        raise ValueError(f"{caller}: learning_rate must be > 0; received {learning_rate!r}")
    if images is None:
        (images, labels), _ = digit_images(mnist_path, image_size, max_images)
    images = numpy.asarray(images, dtype=numpy.float32)
    if images.ndim != 4:
        raise ValueError(
            f"{caller}: images must be (N, height, width, channels); received shape {images.shape}"
        )
    if conditional and labels is None:
        raise ValueError(f"{caller}: the conditional GAN needs labels (one digit per image)")
    utils.set_random_seed(seed)
    shape = tuple(images.shape[1:])
    if conditional:
        gan = ConditionalGAN(
            latent_dim, shape, num_classes=10, generator_filters=filters,
            discriminator_filters=filters, seed=seed,
        )  # fmt: skip
        data = (images, numpy.asarray(labels))
    else:
        gan = DCGAN(
            latent_dim, shape, generator_filters=filters, discriminator_filters=filters,
            seed=seed,
        )  # fmt: skip
        data = images
    d_optimizer, g_optimizer = _gan_optimizers(conditional, learning_rate)
    gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer)
    history = gan.fit(
        data, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=verbose
    )
    return gan, history


class SampleGrid(Callback):
    """Save a PNG grid of generated samples every ``every`` epochs while a GAN trains.

    The samples come from ``num_samples`` latent vectors drawn once (from ``seed``) and
    kept, and for a conditional GAN (a model with ``num_classes``) from fixed ``labels``
    (default ``0, 1, 2, ...`` cycling over the classes), so successive grids show the same
    "individuals" as the generator learns. Files are ``{folder}/{prefix}_epoch_{N:04d}.png``
    (``N`` counted from 1), written to a temporary file and renamed, so a reader never sees
    half a PNG; :attr:`paths` lists them. The panels are tiled into one picture
    (:func:`save_tiled_grid`), fast enough to draw every epoch. Works with any model that
    has a ``generator`` and a ``latent_dim`` (shinsou's ``DCGAN`` and ``ConditionalGAN``).

    Example:
        >>> import tempfile, numpy as np
        >>> from shinsou.applications import DCGAN
        >>> gan = DCGAN(4, (8, 8, 1), generator_filters=4, discriminator_filters=4)
        >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
        >>> grid = SampleGrid(tempfile.mkdtemp(), num_samples=4, every=2)
        >>> _ = gan.fit(np.zeros((8, 8, 8, 1), "float32"), epochs=3, verbose=0,
        ...             callbacks=[grid])  # doctest: +SKIP
        >>> [os.path.basename(path) for path in grid.paths]  # doctest: +SKIP
        ['samples_epoch_0002.png']
    """

    def __init__(self, folder, num_samples=16, every=1, labels=None, seed=0, rows=None,
                 prefix="samples"):  # fmt: skip
        super().__init__()
        caller = "SampleGrid"
        _check_positive_int(caller, "num_samples", num_samples)
        _check_positive_int(caller, "every", every)
        _check_positive_int(caller, "rows", rows, allow_none=True)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"{caller}: seed must be an int; received {seed!r}")
        if not isinstance(prefix, str) or not prefix or os.sep in prefix:
            raise ValueError(f"{caller}: prefix must be a file name prefix; received {prefix!r}")
        self.labels = None
        if labels is not None:
            ids = numpy.asarray(labels).reshape(-1)
            if ids.dtype.kind not in "iu" or len(ids) != num_samples:
                raise ValueError(
                    f"{caller}: labels must be num_samples={num_samples} integer class ids; "
                    f"received shape {numpy.shape(labels)} and dtype {ids.dtype}"
                )
            self.labels = ids.astype(numpy.int32)
        self.folder = os.fspath(folder)
        self.num_samples = num_samples
        self.every = every
        self.seed = seed
        self.rows = rows
        self.prefix = prefix
        self.latents = None
        self.paths = []

    def _inputs(self):
        model = self.model
        for attribute in ("generator", "latent_dim"):
            if not hasattr(model, attribute):
                raise TypeError(
                    f"SampleGrid: the model must be a GAN with a generator and a latent_dim "
                    f"(DCGAN, ConditionalGAN); {type(model).__name__} has no {attribute}"
                )
        if self.latents is None or self.latents.shape[1] != model.latent_dim:
            rng = numpy.random.default_rng(self.seed)
            shape = (self.num_samples, model.latent_dim)
            self.latents = rng.standard_normal(shape, dtype=numpy.float32)
        num_classes = getattr(model, "num_classes", None)
        if num_classes is None:
            return self.latents
        labels = self.labels
        if labels is None:
            labels = numpy.arange(self.num_samples, dtype=numpy.int32) % num_classes
        return [self.latents, labels[:, None]]

    def samples(self):
        """The current generator's images for the fixed inputs, ``(num_samples, H, W, C)``.

        Example:
            >>> from shinsou.applications import DCGAN
            >>> grid = SampleGrid(".", num_samples=3)
            >>> grid.set_model(DCGAN(4, (8, 8, 1), generator_filters=4,
            ...                      discriminator_filters=4))
            >>> grid.samples().shape
            (3, 8, 8, 1)
        """
        inputs = self._inputs()  # checks that the model is a GAN
        with no_grad():  # inference only: no graph, batch norm in inference mode
            return self.model.generator(inputs, training=False).numpy()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"{self.prefix}_epoch_{epoch + 1:04d}.png")
        with atomic_write(os.path.abspath(path)) as temporary:
            save_tiled_grid(self.samples(), temporary, rows=self.rows)
        self.paths.append(path)

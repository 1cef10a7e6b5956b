"""Generative adversarial networks trained with ``fit``: DCGAN (Radford et al., 2016).

:class:`DCGAN` holds a generator (latent vector → image in ``[-1, 1]``) and a discriminator
(image → one logit), and overrides ``train_step`` as Keras's "GAN overriding
``Model.train_step``" example does: each batch first updates the discriminator on generated
images (label 1) and real ones (label 0), with ``d_optimizer``, then updates the generator,
with ``g_optimizer``, so that the discriminator calls its fresh images real (label 0). The
logs are ``{"d_loss": ..., "g_loss": ...}``, averaged over the epoch.

The two steps never mix gradients: the generator runs without a graph while the
discriminator learns, and the discriminator's variables take no gradient while the
generator learns (the gradient flows *through* the discriminator to the images only), so
neither optimizer ever sees, or leaves behind, the other network's gradients.

Example:
    >>> import numpy as np
    >>> gan = DCGAN(latent_dim=8, image_shape=(8, 8, 1), generator_filters=8,
    ...             discriminator_filters=8)
    >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
    >>> images = np.full((16, 8, 8, 1), -1.0, dtype="float32")
    >>> sorted(gan.fit(images, batch_size=8, epochs=1, verbose=0).history)
    ['d_loss', 'g_loss']
    >>> gan.generate(3, seed=0).shape
    (3, 8, 8, 1)
"""

from __future__ import annotations

import contextlib
import numbers

from .. import backend, initializers, layers, losses, ops, optimizers
from ..backend import xp
from ..layers.core import check_image_shape, check_positive_int
from ..layers.recurrent_cells import check_dropout_rate
from ..metrics import Mean
from ..models import Model
from ..models.data import unpack_x_y_sample_weight
from ..saving import register_keras_serializable
from ..tensor import Tensor, enable_grad, no_grad

__all__ = ["DCGAN"]

# The paper's initialization of the convolution and dense kernels: N(0, 0.02).
_WEIGHT_STDDEV = 0.02
# Generator batch normalization forgets old statistics at PyTorch's pace (its momentum 0.1),
# not Keras's default 0.99, so that the moving averages used by ``generate`` catch up with
# a generator that keeps changing.
_GENERATOR_BN_MOMENTUM = 0.9
_MAX_UPSAMPLINGS = 4


def upsampling_plan(caller, image_shape):
    """``(start_height, start_width, upsamplings)`` for images of ``image_shape``.

    The generator starts from a small feature map and doubles it with each strided
    ``Conv2DTranspose``: the sizes halve as long as both stay whole numbers of at least 4,
    at most 4 times. The discriminator mirrors this with strided convolutions.

    Example:
        >>> upsampling_plan("demo", (28, 28, 1)), upsampling_plan("demo", (32, 32, 3))
        ((7, 7, 2), (4, 4, 3))
    """
    height, width, _ = check_image_shape(caller, "image_shape", image_shape)
    steps = 0
    while (
        steps < _MAX_UPSAMPLINGS
        and height % 2 == 0
        and width % 2 == 0
        and min(height, width) // 2 >= 4
    ):
        height, width, steps = height // 2, width // 2, steps + 1
    if steps == 0:
        raise ValueError(
            f"{caller}: image height and width must be even and at least 8 (the networks "
            f"halve them at least once, to no less than 4); received image_shape="
            f"{tuple(image_shape)}"
        )
    return height, width, steps


def _check_fraction(caller, argument, value):
    """``value`` as a float after checking it lies in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"{caller}: {argument} must be a number in [0, 1); received {argument}={value!r}"
        )
    return float(value)


def _initializer():
    return initializers.RandomNormal(stddev=_WEIGHT_STDDEV)


def _generator_body(x, plan, filters, channels, normalize):
    """Latent features → image: ``Dense`` to the start map, then normalization and ReLU and
    a stride-2 ``Conv2DTranspose`` per upsampling, halving the filters each time, and a
    ``tanh`` output. ``normalize(x, name)`` applies the normalization layer."""
    height, width, steps = plan
    top = filters * 2 ** (steps - 1)
    x = layers.Dense(
        height * width * top, use_bias=False, kernel_initializer=_initializer(), name="project"
    )(x)
    x = layers.Reshape((height, width, top), name="project_reshape")(x)
    x = layers.ReLU(name="project_relu")(normalize(x, "project_bn"))
    for index in range(steps - 1):
        name = f"upsample_{index}"
        x = layers.Conv2DTranspose(
            filters * 2 ** (steps - 2 - index),
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_initializer(),
            name=name,
        )(x)
        x = layers.ReLU(name=f"{name}_relu")(normalize(x, f"{name}_bn"))
    return layers.Conv2DTranspose(
        channels,
        4,
        strides=2,
        padding="same",
        activation="tanh",
        kernel_initializer=_initializer(),
        name="to_image",
    )(x)


def _discriminator_features(image, steps, filters, dropout):
    """Image → flat features: ``steps`` stride-2 ``Conv2D`` + ``LeakyReLU(0.2)`` (+
    ``Dropout``), doubling the filters each time, then ``Flatten``."""
    x = image
    for index in range(steps):
        name = f"downsample_{index}"
        x = layers.Conv2D(
            filters * 2**index,
            4,
            strides=2,
            padding="same",
            kernel_initializer=_initializer(),
            name=name,
        )(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_leaky_relu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Flatten(name="flatten")(x)


@contextlib.contextmanager
def _without_gradients(variables):
    """Let gradients flow *through* ``variables``' layers but not *into* the variables:
    their weight gradients are neither computed (no wasted GEMMs) nor left in ``.grad``."""
    flags = [variable.requires_grad for variable in variables]
    for variable in variables:
        variable.requires_grad = False
    try:
        yield
    finally:
        for variable, flag in zip(variables, flags):
            variable.requires_grad = flag


def _clear_gradients(variables):
    for variable in variables:
        variable.grad = None


class _AdversarialModel(Model):
    """What the GANs share: the compile arguments, the alternating ``train_step``, the loss
    trackers, latent sampling and ``generate``. Subclasses build ``self.generator`` and
    ``self.discriminator`` and say how labels (if any) enter them."""

    _default_loss = "hinge"

    def __init__(self, latent_dim, image_shape, label_noise=0.05, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        check_positive_int(owner, "latent_dim", latent_dim)
        self._plan = upsampling_plan(owner, image_shape)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(f"{owner}: seed must be None or a non-negative int; got {seed!r}")
        self.latent_dim = latent_dim
        self.image_shape = tuple(int(size) for size in image_shape)
        self.label_noise = _check_fraction(owner, "label_noise", label_noise)
        self.seed = seed
        self._rng = None if seed is None else xp.random.default_rng(seed)
        self.d_optimizer = self.g_optimizer = self.loss_fn = None
        self.d_loss_tracker = Mean(name="d_loss")
        self.g_loss_tracker = Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn=None):
        """Set the discriminator's and the generator's optimizers (instances or names) and
        the loss: ``"hinge"``, or a Keras loss ``loss_fn(y_true, logits)`` used with labels
        1 = generated, 0 = real (plus ``label_noise``) as in Keras's example; ``None`` picks
        the model's default."""
        owner = type(self).__name__
        super().compile()
        self.d_optimizer = optimizers.get(d_optimizer)
        self.g_optimizer = optimizers.get(g_optimizer)
        if self.d_optimizer is None or self.g_optimizer is None:
            raise ValueError(f"{owner}.compile: d_optimizer and g_optimizer are both required")
        if self.d_optimizer is self.g_optimizer:
            raise ValueError(
                f"{owner}.compile: d_optimizer and g_optimizer must be two optimizer objects; "
                "one optimizer cannot keep the state of both networks"
            )
        loss_fn = self._default_loss if loss_fn is None else loss_fn
        if loss_fn != "hinge" and not callable(loss_fn):
            raise ValueError(
                f"{owner}.compile: loss_fn must be None, 'hinge' or a callable "
                f"loss_fn(y_true, y_pred) such as keras.losses.BinaryCrossentropy("
                f"from_logits=True); received loss_fn={loss_fn!r}"
            )
        self.loss_fn = loss_fn

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    # -- what subclasses define ------------------------------------------------------------
    def _split_batch(self, data):
        """``(images, labels)`` of a batch; labels are None for an unconditional GAN."""
        raise NotImplementedError

    def _generator_inputs(self, latents, labels):
        return latents

    def _discriminator_inputs(self, images, labels):
        return images

    # -- training --------------------------------------------------------------------------
    def _random(self):
        return self._rng if self._rng is not None else backend.rng()

    def _latents(self, count, generator=None):
        generator = generator or self._random()
        return generator.standard_normal((count, self.latent_dim), dtype=xp.float32)

    def train_step(self, data):
        """One discriminator update, then one generator update; returns the running means
        ``{"d_loss", "g_loss"}``."""
        if self.d_optimizer is None:
            raise RuntimeError(
                f"{type(self).__name__}: call compile(d_optimizer, g_optimizer) before training"
            )
        images, labels = self._split_batch(data)
        with enable_grad():
            d_loss = self._train_discriminator(images, labels)
            g_loss = self._train_generator(labels, len(images))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return self.get_metrics_result()

    def _train_discriminator(self, real_images, labels):
        batch = len(real_images)
        with no_grad():  # the generator is not trained here: no graph through it
            generated = self.generator(
                self._generator_inputs(self._latents(batch), labels), training=True
            )
        images = xp.concatenate([generated.data, real_images])
        both_labels = None if labels is None else xp.concatenate([labels, labels])
        variables = self.discriminator.trainable_weights
        _clear_gradients(variables)
        logits = self.discriminator(self._discriminator_inputs(images, both_labels), training=True)
        loss = self._discriminator_loss(logits, batch)
        loss.backward()
        self.d_optimizer.apply([variable.grad for variable in variables], variables)
        return loss.item()

    def _train_generator(self, labels, batch):
        variables = self.generator.trainable_weights
        _clear_gradients(variables)
        with _without_gradients(self.discriminator.trainable_weights):
            generated = self.generator(
                self._generator_inputs(self._latents(batch), labels), training=True
            )
            logits = self.discriminator(
                self._discriminator_inputs(generated, labels), training=True
            )
            loss = self._generator_loss(logits)
            loss.backward()
        self.g_optimizer.apply([variable.grad for variable in variables], variables)
        return loss.item()

    def _discriminator_loss(self, logits, batch):
        """The loss on the logits of ``[generated; real]`` images."""
        if self.loss_fn == "hinge":
            return ops.mean(ops.relu(1.0 - logits[batch:])) + ops.mean(
                ops.relu(1.0 + logits[:batch])
            )
        targets = xp.concatenate(
            [xp.ones((batch, 1), dtype=xp.float32), xp.zeros((batch, 1), dtype=xp.float32)]
        )
        if self.label_noise:
            # Soft, noisy targets, as in Keras's example: a discriminator that cannot be
            # certain trains more gently, which helps the generator keep up.
            targets += self.label_noise * self._random().random(targets.shape, dtype=xp.float32)
        return self.loss_fn(targets, logits)

    def _generator_loss(self, logits):
        if self.loss_fn == "hinge":
            return -ops.mean(logits)
        return self.loss_fn(xp.zeros((len(logits), 1), dtype=xp.float32), logits)

    # -- sampling --------------------------------------------------------------------------
    def _generate(self, count, labels, seed):
        check_positive_int(f"{type(self).__name__}.generate", "n", count)
        generator = None if seed is None else xp.random.default_rng(seed)
        latents = self._latents(count, generator)
        with no_grad():
            images = self.generator(self._generator_inputs(latents, labels), training=False)
        return images.numpy()

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "label_noise": self.label_noise,
            "seed": self.seed,
        }


@register_keras_serializable(package="shinsou")
class DCGAN(_AdversarialModel):
    """Deep convolutional GAN for images of ``image_shape`` (height, width, channels),
    with pixels scaled to ``[-1, 1]``.

    Generator ``self.generator`` (latent ``(latent_dim,)`` → image): ``Dense`` to a small
    feature map, ``BatchNormalization`` + ``ReLU``, then stride-2 ``Conv2DTranspose`` layers
    (4×4 kernels, halving from ``generator_filters * 2**(k-1)`` to ``generator_filters``
    filters) each with batch normalization and ReLU, and a final ``Conv2DTranspose`` to the
    image channels with ``tanh``. Discriminator ``self.discriminator`` (image → logit): stride-2
    ``Conv2D`` layers (``discriminator_filters``, doubling) with ``LeakyReLU(0.2)`` and
    ``Dropout(dropout)``, then ``Flatten`` and ``Dense(1)``. Kernels start from N(0, 0.02) as
    in the paper.

    Supported shapes: height and width even and at least 8. The number ``k`` of up/down
    samplings is how often both sizes halve to whole numbers of at least 4 (at most 4):
    28×28 (MNIST) starts from 7×7 with 2, 32×32 (CIFAR-10) from 4×4 with 3, 64×64 from 4×4
    with 4; any number of channels.

    ``compile(d_optimizer, g_optimizer, loss_fn=None)``: the default loss is
    ``BinaryCrossentropy(from_logits=True)`` with Keras's labels (generated 1, real 0, plus
    uniform noise up to ``label_noise`` on the discriminator's targets); ``"hinge"`` is
    the alternative. ``fit(images)`` trains; ``generate(n)`` samples. ``seed`` makes the
    latent vectors and label noise repeat from run to run.

    Example:
        >>> gan = DCGAN(latent_dim=100, image_shape=(28, 28, 1))
        >>> gan.generator.output_shape, gan.discriminator.output_shape
        ((None, 28, 28, 1), (None, 1))
    """

    def __init__(
        self,
        latent_dim,
        image_shape,
        generator_filters=64,
        discriminator_filters=64,
        dropout=0.3,
        label_noise=0.05,
        seed=None,
        name="dcgan",
        **kwargs,
    ):
        super().__init__(latent_dim, image_shape, label_noise, seed, name=name, **kwargs)
        check_positive_int("DCGAN", "generator_filters", generator_filters)
        check_positive_int("DCGAN", "discriminator_filters", discriminator_filters)
        self.generator_filters = generator_filters
        self.discriminator_filters = discriminator_filters
        self.dropout = check_dropout_rate("DCGAN", "dropout", dropout)
        self.generator = self._build_generator()
        self.discriminator = self._build_discriminator()
        self.built = True

    def _build_generator(self):
        latent = layers.Input((self.latent_dim,), name="latent")

        def normalize(x, name):
            return layers.BatchNormalization(momentum=_GENERATOR_BN_MOMENTUM, name=name)(x)

        images = _generator_body(
            latent, self._plan, self.generator_filters, self.image_shape[-1], normalize
        )
        return Model(latent, images, name="generator")

    def _build_discriminator(self):
        image = layers.Input(self.image_shape, name="image")
        features = _discriminator_features(
            image, self._plan[2], self.discriminator_filters, self.dropout
        )
        logit = layers.Dense(1, kernel_initializer=_initializer(), name="logit")(features)
        return Model(image, logit, name="discriminator")

    def compile(self, d_optimizer, g_optimizer, loss_fn=None):
        if loss_fn is None:
            loss_fn = losses.BinaryCrossentropy(from_logits=True)
        super().compile(d_optimizer, g_optimizer, loss_fn)

    def _split_batch(self, data):
        images, _, _ = unpack_x_y_sample_weight(data)
        return _checked_images(self, images), None

    def call(self, inputs, training=None):
        """The generator's images for latent vectors ``(batch, latent_dim)``."""
        return self.generator(inputs, training=training)

    def generate(self, n, seed=None):
        """``n`` generated images as a NumPy array ``(n, *image_shape)`` in ``[-1, 1]``
        (batch normalization in inference mode). ``seed`` (an int) repeats the samples.

        Example:
            >>> gan = DCGAN(latent_dim=4, image_shape=(8, 8, 3), generator_filters=4,
            ...             discriminator_filters=4)
            >>> images = gan.generate(2, seed=1)
            >>> images.shape, bool((abs(images) <= 1).all())
            ((2, 8, 8, 3), True)
        """
        return self._generate(n, None, seed)

    def get_config(self):
        return {
            **super().get_config(),
            "generator_filters": self.generator_filters,
            "discriminator_filters": self.discriminator_filters,
            "dropout": self.dropout,
        }


def _checked_images(model, images):
    """The batch's images as a float32 array of the model's image shape, in ``[-1, 1]``."""
    images = xp.asarray(images.data if isinstance(images, Tensor) else images)
    owner = f"{type(model).__name__} '{model.name}'"
    if images.ndim != 4 or tuple(images.shape[1:]) != model.image_shape:
        raise ValueError(
            f"{owner}: training images must have shape (batch, "
            f"{', '.join(map(str, model.image_shape))}); received a batch of shape "
            f"{tuple(images.shape)}"
        )
    images = images.astype(xp.float32, copy=False)
    # The generator's tanh output lies in [-1, 1]; data on another scale (0..255, say)
    # would let the discriminator win by the range alone.
    if images.size and (images.min() < -1.001 or images.max() > 1.001):
        raise ValueError(
            f"{owner}: training images must be scaled to [-1, 1] (e.g. pixels / 127.5 - 1); "
            f"received values from {images.min():.4g} to {images.max():.4g}"
        )
    return images

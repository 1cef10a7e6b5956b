"""A class-conditional GAN in the spirit of BigGAN (Brock et al., 2019): class-conditional
batch normalization in the generator, a projection discriminator (Miyato & Koyama, 2018)
and the hinge loss.

The class enters the generator only through :class:`ConditionalBatchNormalization`: each
feature map is normalized without learned affine parameters, then scaled and shifted by a
per-class ``gamma`` and ``beta``. The discriminator computes features ``φ(x)`` and scores an
image of class ``y`` as ``ψ(φ(x)) + ⟨embed(y), φ(x)⟩``: a class-blind realism score plus
the projection of the features on the class's embedding. Left out of BigGAN: spectral
normalization, self-attention, hierarchical latents and the truncation trick.

Example:
    >>> import numpy as np
    >>> gan = ConditionalGAN(latent_dim=8, image_shape=(8, 8, 1), num_classes=3,
    ...                      generator_filters=8, discriminator_filters=8)
    >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
    >>> images = np.full((12, 8, 8, 1), -1.0, dtype="float32")
    >>> labels = np.arange(12) % 3
    >>> sorted(gan.fit((images, labels), batch_size=6, epochs=1, verbose=0).history)
    ['d_loss', 'g_loss']
    >>> gan.generate(4, labels=[0, 1, 2, 0], seed=0).shape
    (4, 8, 8, 1)
"""

from __future__ import annotations

import numbers

from .. import initializers, layers, ops
from ..backend import xp
from ..layers.base import Layer
from ..layers.core import check_positive_int
from ..layers.embedding import embedding_lookup
from ..layers.recurrent_cells import check_dropout_rate
from ..models import Model
from ..models.data import unpack_x_y_sample_weight
from ..saving import register_keras_serializable
from ..tensor import Tensor
from .gan import (
    _GENERATOR_BN_MOMENTUM,
    _AdversarialModel,
    _checked_images,
    _discriminator_features,
    _generator_body,
    _initializer,
)

__all__ = ["ConditionalBatchNormalization", "ConditionalGAN"]


def _class_ids(owner, labels, num_classes, count=None):
    """``labels`` as a flat int array of class ids in ``[0, num_classes)``."""
    ids = xp.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if ids.dtype.kind == "f" and ids.size and xp.array_equal(ids, xp.round(ids)):
        ids = ids.astype(xp.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{owner}: labels must be integer class ids; received dtype {ids.dtype}")
    ids = ids.reshape(-1) if ids.ndim else ids.reshape(1)
    if count is not None and len(ids) != count:
        raise ValueError(f"{owner}: expected {count} labels (one per image); received {len(ids)}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(
            f"{owner}: labels must be class ids in [0, {num_classes}) (num_classes="
            f"{num_classes}); received ids from {ids.min()} to {ids.max()}"
        )
    return ids


@register_keras_serializable(package="shinsou")
class ConditionalBatchNormalization(Layer):
    """Batch normalization whose scale and shift depend on the class: called on
    ``[x, labels]``, it normalizes ``x`` over all axes but the last (channels) — with the batch's
    statistics in training, their moving averages otherwise — and returns
    ``x_hat * gamma[label] + beta[label]``.

    Weights: ``gamma`` ``(num_classes, channels)`` (ones), ``beta`` ``(num_classes,
    channels)`` (zeros), then the non-trainable ``moving_mean`` and ``moving_variance``
    ``(channels,)``, updated as ``moving * momentum + batch * (1 - momentum)``. ``labels``
    are integer class ids, shape ``(batch,)`` or ``(batch, 1)``.

    Example:
        >>> import numpy as np
        >>> cbn = ConditionalBatchNormalization(num_classes=3)
        >>> x = np.random.default_rng(0).normal(size=(4, 2, 2, 5)).astype("float32")
        >>> cbn([x, np.array([0, 1, 2, 1])], training=True).shape, cbn.gamma.shape
        ((4, 2, 2, 5), (3, 5))
    """

    def __init__(
        self,
        num_classes,
        momentum=0.99,
        epsilon=1e-3,
        gamma_initializer="ones",
        beta_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "ConditionalBatchNormalization"
        check_positive_int(owner, "num_classes", num_classes)
        for argument, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{owner}: {argument} must be a number; received {value!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{owner}: momentum must be in [0, 1]; received {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"{owner}: epsilon must be > 0; received {epsilon!r}")
        self.num_classes = num_classes
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)

    def _split(self, inputs):
        """``[x, labels]`` (values, or their shapes)."""
        if (
            not isinstance(inputs, (list, tuple))
            or len(inputs) != 2
            or isinstance(inputs[0], (int, type(None)))  # one shape, not a pair of them
        ):
            raise ValueError(
                f"ConditionalBatchNormalization '{self.name}' must be called on a list "
                f"[x, labels]; received {type(inputs).__name__}"
            )
        return inputs

    def build(self, input_shape):
        x_shape, _ = self._split(input_shape)
        channels = tuple(x_shape)[-1]
        if len(x_shape) < 2 or channels is None:
            raise ValueError(
                f"ConditionalBatchNormalization '{self.name}': x must have rank >= 2 with a "
                f"known channel axis; received shape {tuple(x_shape)}"
            )
        self.gamma = self.add_weight(
            shape=(self.num_classes, channels), initializer=self.gamma_initializer, name="gamma"
        )
        self.beta = self.add_weight(
            shape=(self.num_classes, channels), initializer=self.beta_initializer, name="beta"
        )
        self.moving_mean = self.add_weight(
            shape=(channels,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(channels,), initializer="ones", trainable=False, name="moving_variance"
        )
        self.built = True

    def call(self, inputs, training=None):
        x, labels = self._split(inputs)
        x = ops.convert_to_tensor(x, dtype=self.dtype)
        ids = _class_ids(
            f"ConditionalBatchNormalization '{self.name}'", labels, self.num_classes, x.shape[0]
        )
        if training and self.trainable:
            normalized, mean, variance = ops.fused_batch_normalization(
                x, axis=-1, epsilon=self.epsilon
            )
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.data *= self.momentum
                moving.data += batch.data * (1.0 - self.momentum)
        else:
            normalized = ops.batch_normalization(
                x, self.moving_mean, self.moving_variance, -1, epsilon=self.epsilon
            )
        # One (gamma, beta) row per sample, broadcast over the positions of its feature maps.
        per_sample = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
        gamma = ops.reshape(embedding_lookup(self.gamma, ids), per_sample)
        beta = ops.reshape(embedding_lookup(self.beta, ids), per_sample)
        return normalized * gamma + beta

    def compute_output_shape(self, input_shape):
        return tuple(self._split(input_shape)[0])

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_initializer": initializers.serialize(self.beta_initializer),
        }


@register_keras_serializable(package="shinsou")
class ConditionalGAN(_AdversarialModel):
    """Class-conditional GAN for images of ``image_shape`` in ``[-1, 1]`` and
    ``num_classes`` classes, trained with ``fit((images, labels))`` (or ``fit(images,
    labels)``); the labels are integer class ids.

    Generator ``self.generator``, inputs ``[latent (latent_dim,), label (1,)]``: as
    :class:`~shinsou.applications.DCGAN`'s, with every BatchNormalization replaced by
    :class:`ConditionalBatchNormalization` (momentum 0.9). Discriminator
    ``self.discriminator``, inputs ``[image, label (1,)]``: DCGAN's convolutional features
    ``φ(x)`` (flattened), a ``Dense(1)`` ``ψ``, an ``Embedding(num_classes, features)`` and
    the logit ``ψ(φ(x)) + ⟨embed(y), φ(x)⟩``. Supported image shapes are DCGAN's.

    Each batch's generated images get the batch's labels. ``compile(d_optimizer,
    g_optimizer, loss_fn=None)``: the hinge loss by default (discriminator ``mean(relu(1 -
    D(real))) + mean(relu(1 + D(generated)))``, generator ``-mean(D(generated))``), or a
    Keras loss as for DCGAN. ``generate(n, labels)`` samples images of the given classes.
    Without spectral normalization the discriminator easily wins; on small tasks
    ``Adam(beta_1=0)`` with a generator learning rate several times the discriminator's
    (``4e-3`` against ``5e-4`` in the tests) learned the classes fastest.

    Example:
        >>> gan = ConditionalGAN(latent_dim=64, image_shape=(28, 28, 1), num_classes=10)
        >>> [t.shape for t in gan.generator.inputs], gan.discriminator.output_shape
        ([(None, 64), (None, 1)], (None, 1))
    """

    def __init__(
        self,
        latent_dim,
        image_shape,
        num_classes,
        generator_filters=64,
        discriminator_filters=64,
        dropout=0.0,
        label_noise=0.05,
        seed=None,
        name="conditional_gan",
        **kwargs,
    ):
        super().__init__(latent_dim, image_shape, label_noise, seed, name=name, **kwargs)
        owner = "ConditionalGAN"
        check_positive_int(owner, "num_classes", num_classes)
        check_positive_int(owner, "generator_filters", generator_filters)
        check_positive_int(owner, "discriminator_filters", discriminator_filters)
        self.num_classes = num_classes
        self.generator_filters = generator_filters
        self.discriminator_filters = discriminator_filters
        self.dropout = check_dropout_rate(owner, "dropout", dropout)
        self.generator = self._build_generator()
        self.discriminator = self._build_discriminator()
        self.built = True

    def _build_generator(self):
        latent = layers.Input((self.latent_dim,), name="latent")
        label = layers.Input((1,), dtype="int32", name="label")

        def normalize(x, name):
            return ConditionalBatchNormalization(
                self.num_classes, momentum=_GENERATOR_BN_MOMENTUM, name=name
            )([x, label])

        images = _generator_body(
            latent, self._plan, self.generator_filters, self.image_shape[-1], normalize
        )
        return Model([latent, label], images, name="generator")

    def _build_discriminator(self):
        image = layers.Input(self.image_shape, name="image")
        label = layers.Input((1,), dtype="int32", name="label")
        features = _discriminator_features(
            image, self._plan[2], self.discriminator_filters, self.dropout
        )
        width = features.shape[-1]
        realism = layers.Dense(1, kernel_initializer=_initializer(), name="psi")(features)
        embedded = layers.Embedding(self.num_classes, width, name="class_embedding")(label)
        embedded = layers.Reshape((width,), name="class_embedding_flat")(embedded)
        projection = layers.Dot(axes=1, name="projection")([embedded, features])
        logit = layers.Add(name="logit")([realism, projection])
        return Model([image, label], logit, name="discriminator")

    def _split_batch(self, data):
        x, y, _ = unpack_x_y_sample_weight(data)
        if y is None and isinstance(x, (list, tuple)) and len(x) == 2:
            x, y = x  # fit((images, labels)) delivers the pair as x
        if y is None:
            raise ValueError(
                f"ConditionalGAN '{self.name}': training needs class labels: fit((images, "
                "labels)) or fit(images, labels)"
            )
        images = _checked_images(self, x)
        labels = _class_ids(f"ConditionalGAN '{self.name}'", y, self.num_classes, len(images))
        return images, labels.astype(xp.int32)[:, None]

    def _generator_inputs(self, latents, labels):
        return [latents, labels]

    def _discriminator_inputs(self, images, labels):
        return [images, labels]

    def call(self, inputs, training=None):
        """The generator's images for ``[latent_vectors, labels]``."""
        return self.generator(inputs, training=training)

    def generate(self, n, labels, seed=None):
        """``n`` generated images ``(n, *image_shape)`` in ``[-1, 1]`` of the classes in
        ``labels`` (one id per image, or one id for all). ``seed`` repeats the samples.

        Example:
            >>> gan = ConditionalGAN(4, (8, 8, 1), num_classes=2, generator_filters=4,
            ...                      discriminator_filters=4)
            >>> gan.generate(3, labels=1, seed=0).shape
            (3, 8, 8, 1)
        """
        check_positive_int("ConditionalGAN.generate", "n", n)
        ids = _class_ids("ConditionalGAN.generate", labels, self.num_classes)
        if len(ids) == 1:
            ids = xp.repeat(ids, n)
        elif len(ids) != n:
            raise ValueError(
                f"ConditionalGAN.generate: labels must hold one class id or n={n} of them; "
                f"received {len(ids)}"
            )
        return self._generate(n, ids.astype(xp.int32)[:, None], seed)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "generator_filters": self.generator_filters,
            "discriminator_filters": self.discriminator_filters,
            "dropout": self.dropout,
        }

"""Feeding data to fit/evaluate/predict: NumPy arrays (nested in lists, tuples or dicts),
Python generators and ``utils.PyDataset``, cut into batches.

Example:
    >>> import numpy as np
    >>> from shinsou.models.data import ArrayBatches
    >>> batches = ArrayBatches(np.arange(10.0), np.arange(10), batch_size=4, shuffle=False)
    >>> [len(x) for x, y, w in batches.epoch()]
    [4, 4, 2]
"""

from __future__ import annotations

import math
import types

import numpy

from .. import backend
from ..tensor import Tensor
from ..utils import tree


def unpack_x_y_sample_weight(data):
    """Split a batch given as ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
    into ``(x, y, sample_weight)``, with None for the parts it lacks (a list counts as a
    tuple), as Keras's ``keras.utils.unpack_x_y_sample_weight`` does.

    Example:
        >>> unpack_x_y_sample_weight((1, 2))
        (1, 2, None)
        >>> unpack_x_y_sample_weight(5)
        (5, None, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        "unpack_x_y_sample_weight: data is expected to be x, (x,), (x, y) or "
        f"(x, y, sample_weight); received a {type(data).__name__} of {len(data)} elements"
    )


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch that ``train_step``/``test_step``/``predict_step`` receive: ``(x, y)`` or
    ``(x, y, sample_weight)``, without trailing Nones; ``x`` alone when there is no ``y``,
    or ``(x,)`` if ``x`` is itself a list or tuple (so several inputs stay one ``x``) — as
    Keras's ``keras.utils.pack_x_y_sample_weight``.

    Example:
        >>> pack_x_y_sample_weight(1, 2)
        (1, 2)
        >>> pack_x_y_sample_weight(1), pack_x_y_sample_weight([1, 2])
        (1, ([1, 2],))
        >>> x, y = pack_x_y_sample_weight("x", "y", None)
    """
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight


def _as_array(value):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.numpy()
    array = numpy.asarray(value)
    if array.dtype == numpy.float64:
        array = array.astype(backend.floatx())  # float64 data must not leak into training
    return array


def as_arrays(structure):
    """Every leaf of ``structure`` as a NumPy array (float64 leaves become floatx)."""
    return tree.map_structure(_as_array, structure)


def _num_samples(structure, what):
    lengths = {len(leaf) for leaf in tree.flatten(structure) if leaf is not None}
    if len(lengths) > 1:
        raise ValueError(
            f"{what}: all arrays must have the same number of samples; got {sorted(lengths)}"
        )
    return lengths.pop() if lengths else 0


def _take(structure, index):
    return tree.map_structure(lambda a: None if a is None else a[index], structure)


def class_weights_to_sample_weights(y, class_weight):
    """Per-sample weights from a ``{class: weight}`` dict (labels or one-hot targets).

    Example:
        >>> class_weights_to_sample_weights(numpy.array([0, 1, 1]), {0: 1.0, 1: 3.0}).tolist()
        [1.0, 3.0, 3.0]
    """
    y = numpy.asarray(y)
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = labels.astype(int)
    lookup = numpy.ones(max(max(class_weight) + 1, labels.max(initial=0) + 1), backend.floatx())
    for label, weight in class_weight.items():
        lookup[int(label)] = weight
    return lookup[labels]


class ArrayBatches:
    """Batches of in-memory arrays, reshuffled every epoch when ``shuffle`` is set."""

    def __init__(
        self,
        x,
        y=None,
        sample_weight=None,
        batch_size=32,
        shuffle=True,
        class_weight=None,
        steps_per_epoch=None,
    ):
        self.x, self.y = as_arrays(x), as_arrays(y)
        self.sample_weight = _as_array(sample_weight)
        self.num_samples = _num_samples((self.x, self.y, self.sample_weight), "fit")
        if y is not None and _num_samples(self.x, "x") != _num_samples(self.y, "y"):
            raise ValueError(
                f"x and y must have the same number of samples; x has "
                f"{_num_samples(self.x, 'x')} and y has {_num_samples(self.y, 'y')}"
            )
        if class_weight is not None:
            if tree.is_nested(self.y):
                raise ValueError("class_weight is supported for models with one output only")
            weights = class_weights_to_sample_weights(self.y, class_weight)
            self.sample_weight = (
                weights if self.sample_weight is None else (self.sample_weight * weights)
            )
        self.batch_size = int(batch_size)
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.shuffle = shuffle
        self.batches_per_pass = max(1, math.ceil(self.num_samples / self.batch_size))
        self.steps = steps_per_epoch or self.batches_per_pass
        self._position = 0
        self._order = None

    def epoch(self):
        """Yield ``(x, y, sample_weight)`` batches for one epoch."""
        for _ in range(self.steps):
            if self._position == 0:
                self._order = backend.rng().permutation(self.num_samples) if self.shuffle else None
            start = self._position * self.batch_size
            stop = min(start + self.batch_size, self.num_samples)
            index = slice(start, stop) if self._order is None else self._order[start:stop]
            self._position = (self._position + 1) % self.batches_per_pass
            yield (
                _take(self.x, index),
                _take(self.y, index),
                (None if self.sample_weight is None else self.sample_weight[index]),
            )


class GeneratorBatches:
    """Batches from a Python generator/iterator or a ``utils.PyDataset``."""

    def __init__(self, source, steps_per_epoch=None, class_weight=None):
        self.source = source
        self.class_weight = class_weight
        self.is_dataset = hasattr(source, "__getitem__") and not hasattr(source, "__next__")
        if self.is_dataset:
            self.batches_per_pass = _dataset_length(source)
            self.steps = steps_per_epoch or self.batches_per_pass
        else:
            self.steps = steps_per_epoch  # None: until the generator is exhausted
            self._iterator = iter(source)

    def epoch(self):
        count = 0
        if self.is_dataset and hasattr(self.source, "on_epoch_begin"):
            self.source.on_epoch_begin()
        while self.steps is None or count < self.steps:
            if self.is_dataset:
                if self.batches_per_pass is not None and count >= self.batches_per_pass:
                    break
                batch = self.source[count]
            else:
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    break
            x, y, sample_weight = unpack_x_y_sample_weight(batch)
            x, y, sample_weight = as_arrays(x), as_arrays(y), _as_array(sample_weight)
            if self.class_weight is not None and y is not None:
                weights = class_weights_to_sample_weights(y, self.class_weight)
                sample_weight = weights if sample_weight is None else sample_weight * weights
            yield x, y, sample_weight
            count += 1
        if self.is_dataset and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()


def _dataset_length(dataset):
    """Batches per epoch of a PyDataset: ``num_batches`` (Keras 3) or ``len()``; None if
    unknown (an endless dataset, which needs steps_per_epoch)."""
    count = getattr(dataset, "num_batches", None)
    if count is None and hasattr(dataset, "__len__"):
        count = len(dataset)
    return count


def is_generator_like(x) -> bool:
    """Whether ``x`` is a generator, iterator or PyDataset rather than arrays."""
    if isinstance(x, (types.GeneratorType,)):
        return True
    if hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end"):
        return True  # a utils.PyDataset (its length may come from num_batches)
    return hasattr(x, "__next__")


def make_batches(
    x,
    y=None,
    sample_weight=None,
    batch_size=None,
    shuffle=False,
    class_weight=None,
    steps_per_epoch=None,
):
    """The right batcher for ``x``; arrays need ``batch_size`` (default 32)."""
    if is_generator_like(x):
        if y is not None:
            raise ValueError(
                "y must not be given when x is a generator or PyDataset: it yields (x, y) pairs"
            )
        return GeneratorBatches(x, steps_per_epoch, class_weight)
    return ArrayBatches(
        x, y, sample_weight, batch_size or 32, shuffle, class_weight, steps_per_epoch
    )


def split_validation(x, y, sample_weight, validation_split):
    """Hold out the last ``validation_split`` fraction (before any shuffling), as Keras does.

    Example:
        >>> (xt, yt, wt), (xv, yv, wv) = split_validation(numpy.arange(10), numpy.arange(10),
        ...                                               None, 0.2)
        >>> xv.tolist()
        [8, 9]
    """
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    if is_generator_like(x):
        raise ValueError("validation_split needs array data; pass validation_data instead")
    x, y, sample_weight = as_arrays(x), as_arrays(y), _as_array(sample_weight)
    total = _num_samples((x, y), "fit")
    split_at = math.floor(total * (1.0 - validation_split))
    if split_at == 0 or split_at == total:
        raise ValueError(
            f"validation_split={validation_split} of {total} samples leaves one side empty"
        )
    first, second = slice(0, split_at), slice(split_at, total)
    weights = (
        (None, None) if sample_weight is None else (sample_weight[first], sample_weight[second])
    )
    return (_take(x, first), _take(y, first), weights[0]), (
        _take(x, second),
        _take(y, second),
        weights[1],
    )

"""Merging layers: combine a list of tensors into one — Add, Subtract, Multiply, Average,
Maximum, Minimum (elementwise), Concatenate and Dot — with Keras's lowercase functional
forms (``add([a, b])``, ``concatenate([a, b], axis=-1)``, ...).

The elementwise layers broadcast as Keras does: inputs of lower rank gain axes right after
the batch axis, so the non-batch axes line up from the right; each pair of sizes must match
or one of them be 1. Output masks are the OR of the input masks (Concatenate joins them).

Example:
    >>> import shinsou
    >>> from shinsou import layers
    >>> a, b = shinsou.Input((3,)), shinsou.Input((3,))
    >>> layers.add([a, b]).shape, layers.Concatenate()([a, b]).shape
    ((None, 3), (None, 6))
"""

from __future__ import annotations

import functools

from .. import ops
from ..backend import xp
from ..tensor import Tensor
from .base import Layer

__all__ = [
    "Add",
    "Average",
    "Concatenate",
    "Dot",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]

# The floor under a norm before dividing by it (Dot(normalize=True)), as in keras.ops.normalize.
_NORM_EPSILON = 1e-12


def _mask_array(mask):
    return xp.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)


def _expand_after_batch(x, rank):
    """``x`` with axes of size 1 inserted after the batch axis up to ``rank`` (Keras's way of
    lining up inputs of different ranks)."""
    if x.ndim == rank:
        return x
    return ops.reshape(x, (x.shape[0],) + (1,) * (rank - x.ndim) + x.shape[1:])


def _describe(shapes) -> str:
    return ", ".join(str(tuple(shape)) for shape in shapes)


class _Merge(Layer):
    """Shared checks of the merging layers: a list of inputs with compatible batch sizes."""

    _exact_inputs = None  # Subtract and Dot take exactly two

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._checked_shapes = None

    def _check_shapes(self, shapes):
        """Raise a clear error unless ``shapes`` is a list of shapes the layer can merge."""
        if not isinstance(shapes, (list, tuple)) or not all(
            isinstance(shape, (list, tuple)) for shape in shapes
        ):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' must be called on a list of tensors, "
                f"received a single input of shape {tuple(shapes)}"
            )
        count = self._exact_inputs
        if (count is not None and len(shapes) != count) or not shapes:
            expected = f"exactly {count}" if count else "at least 1"
            raise ValueError(
                f"{type(self).__name__} '{self.name}' must be called on a list of {expected} "
                f"inputs, received {len(shapes)} (shapes {_describe(shapes)})"
            )
        if any(len(shape) == 0 for shape in shapes):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': inputs need a batch axis, received "
                f"shapes {_describe(shapes)}"
            )
        batch_sizes = {shape[0] for shape in shapes} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' cannot merge inputs with different batch "
                f"sizes: shapes {_describe(shapes)}"
            )
        return [tuple(shape) for shape in shapes]

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # validates the shapes once, before any work
        self.built = True

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            shape = getattr(inputs, "shape", ())
            raise ValueError(
                f"{type(self).__name__} '{self.name}' must be called on a list of tensors, "
                f"received a single input of shape {tuple(shape)}"
            )
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        shapes = [x.shape for x in inputs]
        if shapes != self._checked_shapes:  # checking costs more than merging small tensors
            self.compute_output_shape(shapes)
            self._checked_shapes = shapes
        return inputs


class _ElementwiseMerge(_Merge):
    """Elementwise merges: ``_combine`` folds two tensors into one, left to right."""

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        batch = next((shape[0] for shape in shapes if shape[0] is not None), None)
        merged = ()
        for shape in shapes:
            merged = self._broadcast(merged, shape[1:], shapes)
        return (batch, *merged)

    def _broadcast(self, first, second, shapes):
        if len(first) < len(second):
            first, second = second, first
        second = (1,) * (len(first) - len(second)) + tuple(second)
        result = []
        for a, b in zip(first, second):
            if a == 1 or a == b:
                result.append(b)
            elif b == 1:
                result.append(a)
            elif a is None or b is None:
                result.append(a if b is None else b)
            else:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': inputs of shapes {_describe(shapes)} "
                    "cannot be combined elementwise; past the batch axis each size must match "
                    "or be 1 (shapes aligned from the right)"
                )
        return tuple(result)

    def call(self, inputs):
        inputs = self._check_inputs(inputs)
        rank = max(x.ndim for x in inputs)
        inputs = [_expand_after_batch(x, rank) for x in inputs]
        return self._finish(functools.reduce(self._combine, inputs), len(inputs))

    def _finish(self, merged, count):
        return merged

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        return Tensor._wrap(functools.reduce(xp.logical_or, [_mask_array(m) for m in mask]))


class Add(_ElementwiseMerge):
    """Sums a list of tensors elementwise.

    Example:
        >>> import numpy as np
        >>> Add()([np.ones((1, 2)), np.full((1, 2), 2.0)]).tolist()
        [[3.0, 3.0]]
    """

    _combine = staticmethod(ops.add)

    def call(self, inputs, _then_relu=False):
        # _then_relu=True returns max(sum, 0): a functional model passes it when a ReLU
        # follows that nothing else reads (Functional._relu_fusions); two inputs of one
        # shape then take one pass each way.
        if not _then_relu:
            return super().call(inputs)
        inputs = self._check_inputs(inputs)
        if len(inputs) == 2 and inputs[0].shape == inputs[1].shape:
            return ops.add_relu(*inputs)
        return ops.relu(super().call(inputs))


class Subtract(_ElementwiseMerge):
    """``inputs[0] - inputs[1]`` for a list of exactly two tensors.

    Example:
        >>> import numpy as np
        >>> Subtract()([np.ones((1, 2)), np.full((1, 2), 2.0)]).tolist()
        [[-1.0, -1.0]]
    """

    _exact_inputs = 2
    _combine = staticmethod(ops.subtract)


class Multiply(_ElementwiseMerge):
    """Multiplies a list of tensors elementwise.

    Example:
        >>> import numpy as np
        >>> Multiply()([np.full((1, 2), 3.0), np.full((1, 2), 2.0)]).tolist()
        [[6.0, 6.0]]
    """

    _combine = staticmethod(ops.multiply)


class Average(_ElementwiseMerge):
    """The elementwise mean of a list of tensors.

    Example:
        >>> import numpy as np
        >>> Average()([np.ones((1, 2)), np.full((1, 2), 2.0)]).tolist()
        [[1.5, 1.5]]
    """

    _combine = staticmethod(ops.add)

    def _finish(self, merged, count):
        return merged * (1.0 / count)


class Maximum(_ElementwiseMerge):
    """The elementwise maximum of a list of tensors.

    Example:
        >>> import numpy as np
        >>> Maximum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).tolist()
        [[3.0, 5.0]]
    """

    _combine = staticmethod(ops.maximum)


class Minimum(_ElementwiseMerge):
    """The elementwise minimum of a list of tensors.

    Example:
        >>> import numpy as np
        >>> Minimum()([np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])]).tolist()
        [[1.0, 2.0]]
    """

    _combine = staticmethod(ops.minimum)


class Concatenate(_Merge):
    """Joins a list of tensors along ``axis``; every other axis must match.

    Example:
        >>> import numpy as np
        >>> Concatenate(axis=1)([np.zeros((2, 3)), np.ones((2, 1))]).shape
        (2, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Concatenate: axis must be an int, received axis={axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        rank = len(shapes[0])
        if not -rank <= self.axis < rank or any(len(shape) != rank for shape in shapes):
            raise ValueError(
                f"Concatenate '{self.name}': inputs of shapes {_describe(shapes)} cannot be joined "
                f"along axis {self.axis}; they need the same rank, with that axis in range"
            )
        axis = self.axis % rank
        output = list(shapes[0])
        for position in range(rank):
            sizes = [shape[position] for shape in shapes]
            if position == axis:
                output[position] = None if None in sizes else sum(sizes)
                continue
            known = set(sizes) - {None}
            if len(known) > 1:
                raise ValueError(
                    f"Concatenate '{self.name}': inputs of shapes {_describe(shapes)} must match "
                    f"on every axis except the concatenation axis (axis={self.axis}); axis "
                    f"{position} differs"
                )
            output[position] = known.pop() if known else None
        return tuple(output)

    def call(self, inputs):
        return ops.concatenate(self._check_inputs(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        # A mask covers all but the last axis of its input: widen each to the input's shape
        # (all True where an input has none), join, and keep a position if any value is kept.
        full = []
        for x, m in zip(inputs, mask):
            shape = tuple(x.shape)
            if m is None:
                full.append(xp.ones(shape, dtype=bool))
                continue
            m = _mask_array(m)
            if m.ndim < len(shape):
                m = xp.broadcast_to(m[..., None], shape)
            full.append(m)
        return Tensor._wrap(xp.concatenate(full, axis=self.axis).any(axis=-1))

    def _output_dtype(self, inputs):
        return xp.result_type(*(xp.dtype(x.dtype) for x in inputs)).name

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _as_axis_pair(axes, ranks):
    pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
    return tuple(axis % rank if axis < 0 else axis for axis, rank in zip(pair, ranks))


def _l2_normalize(x, axis):
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(squares, _NORM_EPSILON))


class Dot(_Merge):
    """Dot products of the samples of two tensors along ``axes`` (one axis, or one per input).

    For ``(N, d)`` inputs and ``axes=1`` the output is ``(N, 1)``; for ``(N, T, d)`` and
    ``(N, S, d)`` with ``axes=2``, ``(N, T, S)``. ``normalize=True`` L2-normalizes both inputs
    along the axes first, giving cosine similarities.

    Example:
        >>> import numpy as np
        >>> Dot(axes=1)([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).tolist()
        [[11.0]]
    """

    _exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        valid = (isinstance(axes, int) and not isinstance(axes, bool)) or (
            isinstance(axes, (list, tuple))
            and len(axes) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
        )
        if not valid:
            raise ValueError(
                f"Dot: axes must be an int or a list of two ints, received axes={axes!r}"
            )
        self.axes = axes
        self.normalize = normalize

    def compute_output_shape(self, input_shape):
        shape1, shape2 = self._check_shapes(input_shape)
        axis1, axis2 = self._axes_for(shape1, shape2)
        size1, size2 = shape1[axis1], shape2[axis2]
        if size1 is not None and size2 is not None and size1 != size2:
            raise ValueError(
                f"Dot '{self.name}': inputs of shapes {shape1} and {shape2} differ along the dot "
                f"axes ({size1} at axis {axis1} of the first, {size2} at axis {axis2} of the "
                "second)"
            )
        rest1 = [s for axis, s in enumerate(shape1) if axis != axis1]
        rest2 = [s for axis, s in enumerate(shape2) if axis not in (0, axis2)]
        output = rest1 + rest2
        return tuple(output + [1] if len(output) == 1 else output)

    def _axes_for(self, shape1, shape2):
        ranks = (len(shape1), len(shape2))
        if min(ranks) < 2:
            raise ValueError(
                f"Dot '{self.name}': inputs need rank 2 or more (a batch axis and the dot axis), "
                f"received shapes {shape1} and {shape2}"
            )
        axes = _as_axis_pair(self.axes, ranks)
        if any(not 1 <= axis < rank for axis, rank in zip(axes, ranks)):
            raise ValueError(
                f"Dot '{self.name}': axes={self.axes} is out of range for inputs of shapes "
                f"{shape1} and {shape2} (axis 0, the batch, cannot be summed over)"
            )
        return axes

    def call(self, inputs):
        x, y = self._check_inputs(inputs)
        axis1, axis2 = self._axes_for(x.shape, y.shape)
        if self.normalize:
            x, y = _l2_normalize(x, axis1), _l2_normalize(y, axis2)
        # Batched matrix product: x's dot axis moves last, y's to position 1, the rest of each
        # flattens into one axis, so that (N, Mx, d) @ (N, d, My) does all the work.
        rest1 = [s for axis, s in enumerate(x.shape) if axis not in (0, axis1)]
        rest2 = [s for axis, s in enumerate(y.shape) if axis not in (0, axis2)]
        if axis1 != x.ndim - 1:
            x = ops.transpose(x, [a for a in range(x.ndim) if a != axis1] + [axis1])
        if axis2 != 1:
            y = ops.transpose(y, [0, axis2] + [a for a in range(1, y.ndim) if a != axis2])
        batch, depth = x.shape[0], x.shape[-1]
        product = ops.matmul(ops.reshape(x, (batch, -1, depth)), ops.reshape(y, (batch, depth, -1)))
        output = (batch, *rest1, *rest2)
        return ops.reshape(product, output if len(output) > 1 else (batch, 1))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional form of :class:`Add`: the elementwise sum of ``inputs``.

    Example:
        >>> import numpy as np
        >>> add([np.ones((1, 2)), np.ones((1, 2))]).tolist()
        [[2.0, 2.0]]
    """
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of :class:`Subtract`: ``inputs[0] - inputs[1]``.

    Example:
        >>> import numpy as np
        >>> subtract([np.ones((1, 2)), np.ones((1, 2))]).tolist()
        [[0.0, 0.0]]
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of :class:`Multiply`: the elementwise product of ``inputs``.

    Example:
        >>> import numpy as np
        >>> multiply([np.full((1, 2), 2.0), np.full((1, 2), 3.0)]).tolist()
        [[6.0, 6.0]]
    """
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of :class:`Average`: the elementwise mean of ``inputs``.

    Example:
        >>> import numpy as np
        >>> average([np.zeros((1, 2)), np.ones((1, 2))]).tolist()
        [[0.5, 0.5]]
    """
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of :class:`Maximum`: the elementwise maximum of ``inputs``.

    Example:
        >>> import numpy as np
        >>> maximum([np.zeros((1, 2)), np.ones((1, 2))]).tolist()
        [[1.0, 1.0]]
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of :class:`Minimum`: the elementwise minimum of ``inputs``.

    Example:
        >>> import numpy as np
        >>> minimum([np.zeros((1, 2)), np.ones((1, 2))]).tolist()
        [[0.0, 0.0]]
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of :class:`Concatenate`: ``inputs`` joined along ``axis``.

    Example:
        >>> import numpy as np
        >>> concatenate([np.zeros((1, 2)), np.ones((1, 1))]).tolist()
        [[0.0, 0.0, 1.0]]
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of :class:`Dot`: dot products of the samples of two tensors.

    Example:
        >>> import numpy as np
        >>> dot([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])], axes=1).tolist()
        [[11.0]]
    """
    return Dot(axes=axes, **kwargs)(inputs)

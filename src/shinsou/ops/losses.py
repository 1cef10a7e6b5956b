"""Loss functions with keras.ops / keras.losses semantics, each one fused node.

The cross-entropies take ``(target, output)`` like ``keras.ops`` and return one value per
sample: elementwise for the binary one, reduced over the class axis for the categorical ones.
``mean_squared_error``, ``mean_absolute_error`` and ``huber`` take ``(y_true, y_pred)`` like
``keras.losses`` and average over the last axis. Nothing here reduces over the batch: that is
the loss objects' job.

Unlike Keras, targets and outputs must have exactly the shape the op needs: a silent
broadcast of ``(N,)`` against ``(N, 1)`` into ``(N, N)`` is a classic wrong loss.

Example:
    >>> from shinsou import ops, tensor
    >>> logits = tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> loss = ops.sparse_categorical_crossentropy(tensor([0]), logits, from_logits=True)
    >>> [round(v, 4) for v in loss.tolist()]
    [0.1698]
    >>> loss.sum().backward()
    >>> [round(v, 4) for v in logits.grad[0].tolist()]
    [-0.1562, 0.1142, 0.042]
"""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import normalize_axis
from .activations import _sigmoid_array, _sum_of_products

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "huber",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mse",
    "sparse_categorical_crossentropy",
]

EPSILON = 1e-7
"""Probabilities are clipped to [EPSILON, 1 - EPSILON] before their log (Keras's epsilon)."""


# -- operand handling -----------------------------------------------------------------------


def _float_tensor(x, op_name) -> Tensor:
    """``x`` as a tensor; integer predictions become ``floatx`` constants."""
    x = as_tensor(x)
    if backend.is_floating(x.dtype):
        return x
    if x.dtype.kind not in "biu":
        raise TypeError(f"{op_name}: expected a real-valued numeric tensor, got dtype {x.dtype}")
    return Tensor._wrap(x.data.astype(backend.floatx()))


def _matching_pair(op_name, target, output, names=("target", "output")):
    """Both operands as tensors of the same shape, with the target's values in the output's
    dtype (integer labels become floats; they need no gradient)."""
    output = _float_tensor(output, op_name)
    target = as_tensor(target)
    if target.dtype.kind not in "biuf":
        raise TypeError(
            f"{op_name}: expected a real-valued numeric target, got dtype {target.dtype}"
        )
    if target.shape != output.shape:
        raise ValueError(
            f"{op_name}: {names[0]} shape {target.shape} and {names[1]} shape {output.shape} "
            "must be equal (shinsou does not broadcast them; reshape one of them first)"
        )
    values = target.data
    if values.dtype != output.dtype:
        values = values.astype(output.dtype)
    return target, output, values


def _cast_like(gradient, target):
    """A gradient computed in the output's dtype, in the target's (float64 targets exist)."""
    return gradient if gradient.dtype == target.dtype else gradient.astype(target.dtype)


def _needs_class_axis(op_name, output):
    if output.ndim < 1:
        raise ValueError(
            f"{op_name}: output must have at least one axis (the classes); got a scalar"
        )


# -- binary ---------------------------------------------------------------------------------


def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Elementwise ``-(z log p + (1 - z) log(1 - p))`` for targets ``z`` and outputs ``p``.

    ``output`` holds probabilities, clipped to ``[1e-7, 1 - 1e-7]`` (the gradient stops
    where the clip bites), or logits when ``from_logits=True``, computed stably as
    ``max(x, 0) - x z + log(1 + exp(-|x|))``. ``target`` and ``output`` must have the same
    shape; no reduction is done.

    Example:
        >>> loss = binary_crossentropy(tensor([1.0, 0.0]), tensor([0.9, 0.2]))
        >>> [round(v, 4) for v in loss.tolist()]
        [0.1054, 0.2231]
        >>> binary_crossentropy(tensor([1.0, 0.0]), tensor([1e4, 1e4]), from_logits=True).tolist()
        [0.0, 10000.0]
    """
    target, output, z = _matching_pair("binary_crossentropy", target, output)
    x = output.data
    shape = x.shape
    if x.ndim == 0:
        # NumPy's 0-d maths returns scalars, which the in-place steps cannot write into.
        x, z = x.reshape(1), z.reshape(1)
    compute = _binary_crossentropy_from_logits if from_logits else _binary_crossentropy
    loss, gradients = compute(x, z)

    def backward(g):
        gz, gx = gradients(g.reshape(x.shape), target.requires_grad, output.requires_grad)
        return (
            None if gz is None else _cast_like(gz.reshape(shape), target),
            None if gx is None else gx.reshape(shape),
        )

    return record(loss.reshape(shape), (target, output), backward, "binary_crossentropy")


def _binary_crossentropy_from_logits(x, z):
    loss = xp.abs(x)
    xp.negative(loss, out=loss)
    xp.exp(loss, out=loss)  # exp(-|x|) <= 1: no overflow
    xp.log1p(loss, out=loss)
    loss += xp.maximum(x, 0)
    loss -= x * z

    def gradients(g, for_target, for_output):
        gx = None
        if for_output:
            gx = _sigmoid_array(x)
            gx -= z
            gx *= g
        return (-x * g if for_target else None), gx

    return loss, gradients


def _binary_crossentropy(x, z):
    q = xp.clip(x, EPSILON, 1 - EPSILON)
    log_q = xp.log(q)
    log_not_q = xp.log1p(-q)
    # -(z log q + (1 - z) log(1 - q)) as written: the shorter z (log(1 - q) - log q) -
    # log(1 - q) cancels to 0 for confident, correct predictions.
    loss = 1 - z
    loss *= log_not_q
    loss += z * log_q
    xp.negative(loss, out=loss)

    def gradients(g, for_target, for_output):
        gx = None
        if for_output:
            # d/dq = (q - z) / (q (1 - q)), zero where the clip held q at a bound.
            gx = q - z
            variance = 1 - q  # q (1 - q), not q - q², which cancels near q = 1
            variance *= q
            gx /= variance
            gx *= (x >= EPSILON) & (x <= 1 - EPSILON)
            gx *= g
        return ((log_not_q - log_q) * g if for_target else None), gx

    return loss, gradients


# -- categorical ----------------------------------------------------------------------------


def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """``-sum(target * log(probabilities))`` over the class ``axis``.

    ``output`` holds probabilities (normalised by their sum over ``axis``, then clipped to
    ``[1e-7, 1 - 1e-7]``, as Keras does) or, with ``from_logits=True``, logits, for which
    ``log_softmax`` is computed stably inside the same node. ``target`` is one-hot or any
    distribution of the output's shape; gradients flow to both.

    Example:
        >>> target = tensor([[0.0, 1.0, 0.0]])
        >>> loss = categorical_crossentropy(target, tensor([[0.1, 0.8, 0.1]]))
        >>> [round(v, 4) for v in loss.tolist()]
        [0.2231]
        >>> logits = tensor([[1e30, 0.0, -1e30]])
        >>> categorical_crossentropy(target, logits, from_logits=True).tolist()
        [1.0000000150474662e+30]
    """
    op_name = "categorical_crossentropy"
    target, output, z = _matching_pair(op_name, target, output)
    _needs_class_axis(op_name, output)
    axis = normalize_axis(axis, output.ndim, op_name)
    x = output.data
    if from_logits:
        log_probabilities = x - xp.max(x, axis=axis, keepdims=True)
        exps = xp.exp(log_probabilities)
        total = xp.sum(exps, axis=axis, keepdims=True)
        log_probabilities -= xp.log(total)
    else:
        total = xp.sum(x, axis=axis, keepdims=True)
        probabilities = x / total
        clipped = xp.clip(probabilities, EPSILON, 1 - EPSILON)
        log_probabilities = xp.log(clipped)
    loss = _sum_of_products(z, log_probabilities, (axis,))
    loss = -loss.reshape(_labels_shape(x.shape, axis))

    def backward(g):
        g = xp.expand_dims(g, axis)
        gz = None
        if target.requires_grad:
            gz = _cast_like(log_probabilities * -g, target)
        if not output.requires_grad:
            return gz, None
        if from_logits:
            # softmax · sum(z) - z, with softmax = exps / total folded into one row scale.
            gx = exps * (xp.sum(z, axis=axis, keepdims=True) / total)
            gx -= z
        else:
            # h = dL/dclipped = -z / clipped inside the clip, 0 outside; then through the
            # normalisation p = x / total: dx = (h - sum(h p)) / total.
            gx = z / clipped
            xp.negative(gx, out=gx)
            gx *= (probabilities >= EPSILON) & (probabilities <= 1 - EPSILON)
            gx -= _sum_of_products(gx, probabilities, (axis,))
            gx /= total
        gx *= g
        return gz, gx

    return record(loss, (target, output), backward, op_name)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """Categorical cross-entropy with integer class indices as targets.

    ``target`` has the output's shape without the class ``axis`` (a trailing axis of size 1
    is accepted too, as in Keras); labels must lie in ``[0, classes)``. Float targets holding
    whole numbers are accepted. ``output`` is probabilities or, with ``from_logits=True``,
    logits. The target gets no gradient.

    Example:
        >>> probabilities = tensor([[0.1, 0.8, 0.1], [0.5, 0.25, 0.25]])
        >>> loss = sparse_categorical_crossentropy(tensor([1, 0]), probabilities)
        >>> [round(v, 4) for v in loss.tolist()]
        [0.2231, 0.6931]
    """
    op_name = "sparse_categorical_crossentropy"
    output = _float_tensor(output, op_name)
    _needs_class_axis(op_name, output)
    axis = normalize_axis(axis, output.ndim, op_name)
    labels = _class_labels(op_name, as_tensor(target).data, output.shape, axis)
    x = output.data
    classes = x.shape[axis]
    # Work on (rows, classes): the class axis last, everything else flattened.
    moved = x if axis == x.ndim - 1 else xp.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, classes)
    labels = labels.reshape(-1)
    row_index = xp.arange(rows.shape[0])
    if from_logits:
        exps = rows - xp.max(rows, axis=-1, keepdims=True)
        # log softmax at the label = shifted[label] - log(sum(exp(shifted))): subtracting the
        # max before gathering keeps equal huge logits from cancelling to 0.
        picked = exps[row_index, labels]
        xp.exp(exps, out=exps)
        total = xp.sum(exps, axis=-1)
        loss = xp.log(total)
        loss -= picked
    else:
        total = xp.sum(rows, axis=-1)
        probability = rows[row_index, labels] / total
        clipped = xp.clip(probability, EPSILON, 1 - EPSILON)
        loss = -xp.log(clipped)

    def backward(g):
        g = g.reshape(-1)
        if from_logits:
            # softmax - one_hot(label)
            gx = exps * (g / total)[:, None]
            gx[row_index, labels] -= g
        else:
            # Through p = x[label] / total: every class gets 1/total, the label also
            # -1/(clipped total); nothing where the clip held p at a bound.
            scale = g / total
            scale *= (probability >= EPSILON) & (probability <= 1 - EPSILON)
            gx = xp.empty_like(rows)
            gx[...] = scale[:, None]
            gx[row_index, labels] -= scale / clipped
        gx = gx.reshape(moved.shape)
        return (gx if axis == x.ndim - 1 else xp.moveaxis(gx, -1, axis),)

    return record(loss.reshape(_labels_shape(x.shape, axis)), (output,), backward, op_name)


def _labels_shape(shape, axis) -> tuple:
    """The shape of one label per sample: ``shape`` without the class ``axis``."""
    return shape[:axis] + shape[axis + 1 :]


def _class_labels(op_name, labels, output_shape, axis):
    """Validate class labels against the output; return them as an integer index array."""
    expected = _labels_shape(output_shape, axis)
    given = labels.shape
    if labels.ndim == len(output_shape) and given[-1:] == (1,):
        labels = labels.reshape(given[:-1])  # Keras accepts (N, 1) labels for (N, C)
    if labels.shape != expected:
        raise ValueError(
            f"{op_name}: target shape {given} does not match output shape {output_shape}; "
            f"with the classes on axis {axis} the target must have shape {expected} "
            "(one integer class index per sample)"
        )
    if labels.dtype.kind == "f":
        # Keras users often load labels as floats; whole numbers are fine, anything else
        # (0.5, nan, inf) is a mistake worth stopping on.
        if not (xp.isfinite(labels) & (labels == xp.floor(labels))).all():
            raise ValueError(
                f"{op_name}: target holds non-integer values; it must hold class indices "
                "(use categorical_crossentropy for probability targets)"
            )
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: target must hold integer class indices, got {labels.dtype}")
    classes = output_shape[axis]
    if labels.size:
        low, high = labels.min(), labels.max()
        if low < 0 or high >= classes:
            raise ValueError(
                f"{op_name}: target holds label {int(low if low < 0 else high)}, but the output "
                f"has {classes} classes; labels must lie in [0, {classes - 1}]"
            )
    return labels.astype(xp.intp, copy=False)


# -- regression (keras.losses functions: mean over the last axis) ----------------------------


def _regression_pair(op_name, y_true, y_pred):
    y_true, y_pred, true_values = _matching_pair(
        op_name, y_true, y_pred, names=("y_true", "y_pred")
    )
    if y_pred.ndim < 1:
        raise ValueError(f"{op_name}: y_pred must have at least one axis to average over")
    return y_true, y_pred, y_pred.data - true_values


def _regression_record(op_name, y_true, y_pred, loss, slope_over_count):
    """Record a loss whose gradient w.r.t. y_pred is ``slope_over_count * g`` (and minus
    that for y_true)."""

    def backward(g):
        gp = slope_over_count * g[..., None]
        gt = _cast_like(-gp, y_true) if y_true.requires_grad else None
        return gt, gp

    return record(loss, (y_true, y_pred), backward, op_name)


def mean_squared_error(y_true, y_pred) -> Tensor:
    """``mean((y_pred - y_true)²)`` over the last axis.

    Example:
        >>> mean_squared_error(tensor([[0.0, 1.0]]), tensor([[1.0, 1.0]])).tolist()
        [0.5]
    """
    y_true, y_pred, error = _regression_pair("mean_squared_error", y_true, y_pred)
    count = error.shape[-1]
    loss = xp.einsum("...i,...i->...", error, error) / count
    error *= 2 / count
    return _regression_record("mean_squared_error", y_true, y_pred, loss, error)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """``mean(|y_pred - y_true|)`` over the last axis (gradient 0 where they are equal).

    Example:
        >>> mean_absolute_error(tensor([[0.0, 1.0]]), tensor([[1.0, 3.0]])).tolist()
        [1.5]
    """
    y_true, y_pred, error = _regression_pair("mean_absolute_error", y_true, y_pred)
    count = error.shape[-1]
    loss = xp.mean(xp.abs(error), axis=-1)
    slope = xp.sign(error, out=error)
    slope *= 1 / count
    return _regression_record("mean_absolute_error", y_true, y_pred, loss, slope)


def huber(y_true, y_pred, delta=1.0) -> Tensor:
    """Huber loss over the last axis: quadratic for ``|error| <= delta``, linear beyond.

    Each element is ``0.5 e²`` where ``|e| <= delta`` and ``delta (|e| - 0.5 delta)``
    elsewhere; the result is their mean over the last axis.

    Example:
        >>> huber(tensor([[0.0, 0.0]]), tensor([[0.5, 3.0]])).tolist()
        [1.3125]
    """
    y_true, y_pred, error = _regression_pair("huber", y_true, y_pred)
    delta = float(delta)
    if delta <= 0:
        raise ValueError(f"huber: delta must be positive, got {delta}")
    count = error.shape[-1]
    # 0.5 min(|e|, d)² + d (|e| - min(|e|, d)) is both branches at once, with no where().
    magnitude = xp.abs(error)
    quadratic = xp.minimum(magnitude, delta)
    magnitude -= quadratic
    magnitude *= delta
    magnitude += 0.5 * xp.square(quadratic)
    loss = xp.mean(magnitude, axis=-1)
    slope = xp.clip(error, -delta, delta, out=error)
    slope *= 1 / count
    return _regression_record("huber", y_true, y_pred, loss, slope)


mse = mean_squared_error  # the short names keras.losses accepts
mae = mean_absolute_error

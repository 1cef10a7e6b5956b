"""The ``Loss`` base class and how per-sample losses become one number (Keras 3 semantics).

A loss object maps ``(y_true, y_pred)`` to per-sample values with :meth:`Loss.call`, then
weights them (``sample_weight`` and any Keras mask carried by ``y_pred``) and reduces them:

* ``"sum_over_batch_size"`` (the default) and ``"mean"``: sum of the weighted values divided
  by the number of values,
* ``"sum"``: their sum,
* ``"mean_with_sample_weight"``: their sum divided by the sum of the sample weights,
* ``"none"`` or ``None``: the weighted values themselves.

Everything is done with differentiable ops, so ``loss(y_true, y_pred).backward()`` reaches
the model's weights.

Example:
    >>> from shinsou import tensor
    >>> class Squares(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return ((y_pred - y_true) ** 2).mean(axis=-1)
    >>> y_pred = tensor([[1.0], [3.0]], requires_grad=True)
    >>> loss = Squares(name="squares")(tensor([[0.0], [0.0]]), y_pred)
    >>> loss.item()
    5.0
    >>> loss.backward()
    >>> y_pred.grad.tolist()
    [[1.0], [3.0]]
"""

from __future__ import annotations

from .. import backend, ops
from ..backend import xp
from ..tensor import Tensor, as_tensor
from ..utils.naming import to_snake_case

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
"""The values ``reduction`` may take (``None`` and ``"none"`` both mean no reduction)."""


def standardize_reduction(reduction, caller="Loss"):
    """Return ``reduction`` if Keras accepts it; raise a ValueError that lists the choices.

    Example:
        >>> standardize_reduction("sum")
        'sum'
    """
    if reduction not in REDUCTIONS:
        hint = (
            " ('auto' was tf.keras's name for 'sum_over_batch_size')" if reduction == "auto" else ""
        )
        raise ValueError(
            f"{caller}: invalid reduction={reduction!r}; expected one of {list(REDUCTIONS)}{hint}"
        )
    return reduction


def standardize_loss_dtype(dtype, caller="Loss") -> str:
    """The name of a floating-point dtype (``floatx()`` for None); other dtypes are refused.

    Example:
        >>> standardize_loss_dtype(None)
        'float32'
    """
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get("config", {}).get("name")
    if dtype is None:
        return backend.floatx()
    name = getattr(dtype, "name", dtype) if not isinstance(dtype, str) else dtype
    try:
        resolved = backend.standardize_dtype(name)
    except TypeError:
        resolved = None
    if resolved is None or not backend.is_floating(resolved):
        raise ValueError(
            f"{caller}: dtype must be a floating-point type such as 'float32', got {dtype!r}"
        )
    return resolved.name


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks equal when they differ by one and the longer one ends in an axis of 1.

    With ``expand_rank_1`` a rank-1 operand gains a trailing axis; otherwise the other loses
    its trailing axis. Works on tensors (the graph is kept) and on NumPy arrays alike.

    Example:
        >>> import numpy as np
        >>> a, b = squeeze_or_expand_to_same_rank(np.zeros(4), np.zeros((4, 1)))
        >>> a.shape, b.shape
        ((4, 1), (4, 1))
    """
    rank1, rank2 = x1.ndim, x2.ndim
    if rank1 == rank2 + 1 and x1.shape[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = x2.reshape(x2.shape + (1,))
        else:
            x1 = x1.reshape(x1.shape[:-1])
    elif rank2 == rank1 + 1 and x2.shape[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = x1.reshape(x1.shape + (1,))
        else:
            x2 = x2.reshape(x2.shape[:-1])
    return x1, x2


def to_float_tensor(x, dtype, caller="loss") -> Tensor:
    """``x`` as a tensor of floating ``dtype``; a tensor keeps its graph through the cast.

    Example:
        >>> to_float_tensor([1, 2], "float32").dtype.name
        'float32'
    """
    x = as_tensor(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: expected numbers, got an array of dtype {x.dtype}")
    return x if x.dtype == dtype else ops.cast(x, dtype)


def _weight_array(weights, dtype, caller):
    values = backend.to_numpy(weights.data) if isinstance(weights, Tensor) else weights
    try:
        return xp.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{caller}: sample_weight must be numbers (an array, tensor or scalar), "
            f"got {type(weights).__name__}"
        ) from None


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a Keras mask into the sample weights (masked entries weigh 0).

    For ``"sum_over_batch_size"`` and ``"mean"`` the kept entries are scaled by
    ``total / kept`` so that the mean is taken over the unmasked entries only.

    Example:
        >>> apply_mask(None, xp.array([True, False]), "float32", "mean").tolist()
        [2.0, 0.0]
    """
    if mask is None:
        return sample_weight
    mask = xp.asarray(backend.to_numpy(mask.data) if isinstance(mask, Tensor) else mask)
    mask = mask.astype(dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        kept = mask.sum()
        mask *= mask.size / kept if kept else 0.0
    if sample_weight is None:
        return mask
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    if sample_weight.ndim < mask.ndim:  # one weight per sample, a mask per timestep
        sample_weight = sample_weight.reshape(
            sample_weight.shape + (1,) * (mask.ndim - sample_weight.ndim)
        )
    try:
        return sample_weight * mask
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {sample_weight.shape} does not fit the mask of shape "
            f"{mask.shape}"
        ) from None


def _align_weights(weights, shape, caller):
    """Sample weights shaped to broadcast against losses of ``shape`` without enlarging them.

    Weights with fewer axes than the losses apply along the leading axes (one weight per
    sample for per-timestep losses), as Keras 2 did.
    """
    given = weights.shape
    if weights.ndim < len(shape):
        weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
    try:
        fits = xp.broadcast_shapes(weights.shape, shape) == tuple(shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{caller}: sample_weight of shape {given} does not fit the per-sample "
            f"losses of shape {tuple(shape)}; give one weight per sample (shape "
            f"{tuple(shape[:1])}) or per loss value (shape {tuple(shape)})"
        )
    return weights


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce (already weighted) losses as ``reduction`` says; see the module docstring.

    Example:
        >>> from shinsou import tensor
        >>> reduce_values(tensor([1.0, 2.0, 6.0]), reduction="mean").item()
        3.0
    """
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        # The weights' sum as broadcast over the losses (one weight per sample spread over
        # T timesteps counts T times): a weighted mean. Keras sums the unbroadcast weights,
        # which differs only for weights with fewer entries than losses.
        total_weight = float(sample_weight.sum()) * (values.size / max(sample_weight.size, 1))
        return ops.sum(values) / total_weight if total_weight else ops.sum(values) * 0.0
    if values.size == 0:
        return ops.sum(values)
    return ops.mean(values)


def reduce_weighted_values(
    values,
    sample_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    dtype=None,
    caller="loss",
):
    """Weight per-sample losses by ``sample_weight`` and ``mask``, then reduce them.

    Example:
        >>> from shinsou import tensor
        >>> reduce_weighted_values(tensor([1.0, 3.0]), sample_weight=[1.0, 0.0]).item()
        0.5
    """
    reduction = standardize_reduction(reduction, caller)
    values = to_float_tensor(values, dtype or backend.floatx(), caller)
    weights = None
    if sample_weight is not None:
        weights = _weight_array(sample_weight, values.dtype, caller)
    weights = apply_mask(weights, mask, values.dtype, reduction)
    if weights is not None:
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        weights = _align_weights(weights, values.shape, caller)
        values = values * weights
    return reduce_values(values, weights, reduction)


class Loss:
    """Base class of the losses: subclasses implement ``call(y_true, y_pred)``.

    ``call`` returns one value per sample (or per timestep); ``__call__`` casts the inputs
    to ``dtype``, applies ``sample_weight`` and the mask ``y_pred`` may carry, and reduces
    as ``reduction`` says, returning a tensor that can be differentiated w.r.t. ``y_pred``.

    Example:
        >>> from shinsou import ops
        >>> class AbsoluteError(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ops.mean(ops.abs(y_pred - y_true), axis=-1)
        >>> AbsoluteError(reduction="sum")([[0.0], [1.0]], [[2.0], [2.0]]).item()
        3.0
    """

    # Sparse cross-entropy keeps integer class labels as they are instead of casting them.
    _keeps_integer_targets = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        caller = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{caller}: name must be a string, got {name!r}")
        self.name = name or to_snake_case(caller)
        self.reduction = standardize_reduction(reduction, caller)
        self._dtype = standardize_loss_dtype(dtype, caller)

    @property
    def dtype(self) -> str:
        """The floating-point type the loss computes in (``"float32"`` by default)."""
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = getattr(y_pred, "_keras_mask", None)
        caller = f"{type(self).__name__} '{self.name}'"
        y_pred = to_float_tensor(y_pred, self._dtype, caller)
        y_true = as_tensor(y_true)
        if not (self._keeps_integer_targets and y_true.dtype.kind in "iu"):
            y_true = to_float_tensor(y_true, self._dtype, caller)
        losses = self.call(y_true, y_pred)
        out_mask = getattr(losses, "_keras_mask", None)
        if in_mask is not None and out_mask is not None:
            mask = xp.logical_and(_mask_values(in_mask), _mask_values(out_mask))
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(
            losses, sample_weight, mask, self.reduction, self._dtype, caller
        )

    def call(self, y_true, y_pred):
        """Per-sample losses; subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__}: subclasses of Loss must implement call(y_true, y_pred)"
        )

    def get_config(self) -> dict:
        """The constructor arguments, as Keras saves them."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """Recreate a loss from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _mask_values(mask):
    return backend.to_numpy(mask.data) if isinstance(mask, Tensor) else xp.asarray(mask)


class LossFunctionWrapper(Loss):
    """A :class:`Loss` around a function ``fn(y_true, y_pred, **kwargs)`` of per-sample losses.

    ``y_true`` and ``y_pred`` are brought to the same rank first when they differ by a
    trailing axis of size 1, as Keras does.

    Example:
        >>> from shinsou import ops
        >>> def squared(y_true, y_pred):
        ...     return ops.mean(ops.square(y_pred - y_true), axis=-1)
        >>> LossFunctionWrapper(squared, name="squared")([1.0, 2.0], [[2.0], [2.0]]).item()
        0.5
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        if type(self) is LossFunctionWrapper:
            # The built-in subclasses know their function; a bare wrapper must name it.
            from . import serialize_function

            config["fn"] = serialize_function(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            from . import deserialize_function

            config["fn"] = deserialize_function(config["fn"])
        return cls(**config)

    def __repr__(self) -> str:
        fn_name = getattr(self.fn, "__name__", repr(self.fn))
        return f"<{type(self).__name__}({fn_name}, kwargs={self._fn_kwargs}) name={self.name}>"

"""Check a backward pass against central finite differences, in float64.

Use it on your own ops and layers: if the analytic gradient and the numerical one agree,
the chain rule was applied correctly.

Example:
    >>> import shinsou
    >>> from shinsou import ops
    >>> x = shinsou.tensor([[0.5, -1.0, 2.0]])
    >>> shinsou.utils.gradient_check(lambda t: ops.tanh(t) * t, x) < 1e-6
    True
"""

from __future__ import annotations

import numpy

from . import backend
from .tensor import Tensor, no_grad


def gradient_check(fn, *inputs, eps: float = 1e-6, seed: int = 0) -> float:
    """Return the worst relative error between ``fn``'s backward and finite differences.

    ``fn`` takes tensors (one per entry of ``inputs``) and returns a tensor or a tuple of
    tensors. Floating-point inputs are copied to float64 and differentiated; integer inputs
    are passed through as constants. The outputs are reduced to a scalar with fixed random
    weights, so every output element is checked. For each input the error is
    ``max|analytic - numeric| / max(max|numeric|, 1e-12)``; the worst over inputs is returned.
    A correct backward typically gives 1e-8 or less; above 1e-4 something is wrong. ``fn``
    must be deterministic (seed any randomness inside it).

    Example:
        >>> import shinsou
        >>> gradient_check(lambda a, b: a @ b, numpy.ones((2, 3)), numpy.ones((3, 2))) < 1e-8
        True
    """
    arrays = [_as_float64(value) for value in inputs]
    differentiable = [backend.is_floating(array.dtype) for array in arrays]
    if not any(differentiable):
        raise TypeError("gradient_check: no floating-point input to differentiate")
    weights_rng = numpy.random.default_rng(seed)
    weights = []

    def weighted_sum(tensors):
        outputs = fn(*tensors)
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        total = None
        for position, out in enumerate(outputs):
            if not isinstance(out, Tensor) or not backend.is_floating(out.dtype):
                continue
            if len(weights) <= position:
                weights.append(weights_rng.standard_normal(out.shape))
            term = (out * Tensor._wrap(weights[position])).sum()
            total = term if total is None else total + term
        if total is None:
            raise TypeError("gradient_check: fn returned no floating-point tensor")
        return total

    tensors = [
        Tensor(array, requires_grad=flag, dtype=array.dtype)
        for array, flag in zip(arrays, differentiable)
    ]
    loss = weighted_sum(tensors)
    if not loss.requires_grad:
        raise RuntimeError("gradient_check: the output does not depend on any input")
    loss.backward()

    worst = 0.0
    for tensor, flag in zip(tensors, differentiable):
        if not flag:
            continue
        analytic = tensor.grad if tensor.grad is not None else numpy.zeros_like(tensor.data)
        numeric = _numerical_gradient(weighted_sum, tensors, tensor, eps)
        scale = max(float(numpy.max(numpy.abs(numeric), initial=0.0)), 1e-12)
        error = float(numpy.max(numpy.abs(analytic - numeric), initial=0.0)) / scale
        worst = max(worst, error)
    return worst


def _as_float64(value):
    array = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
    array = numpy.asarray(array)
    if numpy.issubdtype(array.dtype, numpy.floating):
        return array.astype(numpy.float64)  # finite differences need float64 precision
    return array.copy()


def _numerical_gradient(weighted_sum, tensors, target, eps):
    flat = target.data.reshape(-1)  # a view: perturbing it perturbs the input
    gradient = numpy.empty_like(flat)
    with no_grad():
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = weighted_sum(tensors).item()
            flat[i] = original - eps
            minus = weighted_sum(tensors).item()
            flat[i] = original
            gradient[i] = (plus - minus) / (2 * eps)
    return gradient.reshape(target.shape)

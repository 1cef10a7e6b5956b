"""Activation functions with keras.ops names and defaults, each one node with its backward.

Every activation is a single recorded node whose backward reuses what the forward already
computed (``sigmoid' = s(1 - s)``, ``tanh' = 1 - t²``, ...). All of them stay finite for
inputs of any finite magnitude: exponentials only ever see arguments that cannot overflow,
or whose overflow to ``inf`` gives the exact limit (``1 / (1 + inf) = 0``).

Example:
    >>> from shinsou import ops, tensor
    >>> x = tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> ops.relu(x).tolist()
    [0.0, 0.0, 2.0]
    >>> ops.sum(ops.sigmoid(x)).backward()
    >>> [round(v, 4) for v in x.grad.tolist()]
    [0.1966, 0.25, 0.105]
"""

from __future__ import annotations

import math

from .. import backend, native
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import normalize_axes

__all__ = [
    "elu",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "log_softmax",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

# SELU's constants (Klambauer et al., 2017); Keras rounds them to 1.67326324 and 1.05070098.
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
# Beyond |x| = 10 the tanh in GELU's approximation is exactly ±1 (in float32 and float64);
# clipping there keeps x³ from overflowing for huge inputs without changing any result.
_GELU_TANH_CLIP = 10.0
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG_HALF = math.log(0.5)
# exp(-z²) is exactly 0 beyond z = 30 in float64 (and float32); clipping keeps z² finite.
_ERFC_CLIP = 30.0
# Chebyshev fit of erfc(z) = t·exp(-z² + P(t)), t = 1 / (1 + z/2), z >= 0 (Numerical Recipes,
# "erfcc"): relative error below 1.2e-7 for every z, so tails stay accurate, unlike 1 - erf.
_ERFC_COEFFICIENTS = (
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
)


def _float_input(x, op_name) -> Tensor:
    """The input as a floating tensor; integers and booleans become ``floatx`` (the exp of an
    int64 array would be float64)."""
    x = as_tensor(x)
    if backend.is_floating(x.dtype):
        return x
    if x.dtype.kind not in "biu":
        raise TypeError(f"{op_name}: expected a real-valued numeric tensor, got dtype {x.dtype}")
    return Tensor._wrap(x.data.astype(backend.floatx()))


def _sigmoid_array(a):
    """Logistic sigmoid of an array, exact in the tails.

    ``1 / (1 + exp(-a))`` is accurate for both signs; for ``a < -88`` (float32) ``exp(-a)``
    overflows to ``inf`` and the result is the exact limit 0. This is half the passes of the
    two-branch ``where`` form (measured 1.3 ms against 7.5 ms on 10⁶ floats).
    """
    out = xp.negative(a)
    with xp.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def _sum_of_products(a, b, axes):
    """``sum(a * b)`` over ``axes``, keeping them. Over the last axis alone einsum does it in
    one pass without the product temporary (measured 0.4 ms against 1.0 ms on 256x4096)."""
    if axes == (a.ndim - 1,):
        return xp.einsum("...i,...i->...", a, b)[..., None]
    return xp.sum(a * b, axis=axes, keepdims=True)


def _elementwise(x, op_name, forward) -> Tensor:
    """Record one elementwise node. ``forward(a)`` returns the output array and a function
    mapping the output's gradient to the input's."""
    x = _float_input(x, op_name)
    a = x.data
    if a.ndim == 0:
        # NumPy ufuncs return scalars for 0-d arrays, which the in-place steps cannot write
        # into: compute on one element and restore the shape.
        out, gradient = forward(a.reshape(1))
        return record(
            out.reshape(()), (x,), lambda g: (gradient(g.reshape(1)).reshape(()),), op_name
        )
    out, gradient = forward(a)
    return record(out, (x,), lambda g: (gradient(g),), op_name)


# -- piecewise-linear -----------------------------------------------------------------------


def relu(x) -> Tensor:
    """Rectified linear unit ``max(x, 0)``; the gradient at 0 is 0.

    Example:
        >>> relu(tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """

    # The backward pass reads the output (out > 0 exactly where a > 0), as PyTorch's does:
    # the input can then be freed, and in a ResNet it is a batch norm's output nobody else keeps.
    def forward(a):
        if native.supports_rows(a):  # one threaded pass each way
            out = native.relu(a)
            return out, lambda g: native.relu_grad(xp.ascontiguousarray(g, out.dtype), out)
        out = xp.maximum(a, 0)
        return out, lambda g: g * (out > 0)

    return _elementwise(x, "relu", forward)


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)``; the gradient flows strictly inside (0, 6).

    Example:
        >>> relu6(tensor([-1.0, 3.0, 8.0])).tolist()
        [0.0, 3.0, 6.0]
    """

    def forward(a):
        return xp.clip(a, 0, 6), lambda g: g * ((a > 0) & (a < 6))

    return _elementwise(x, "relu6", forward)


def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras's default slope is 0.2).

    Example:
        >>> leaky_relu(tensor([-5.0, 0.0, 1.0])).tolist()
        [-1.0, 0.0, 1.0]
    """
    slope = float(negative_slope)  # a NumPy float64 scalar would promote the result

    def forward(a):
        # max(x, slope·x) when slope <= 1, else min: exact, and no where() (which is ~10x
        # slower on random signs).
        out = a * slope
        (xp.maximum if slope <= 1 else xp.minimum)(a, out, out=out)

        def gradient(g):
            # slope + (1 - slope)·[x > 0], by arithmetic for the same reason.
            gx = g * (a > 0)
            gx *= 1 - slope
            gx += g * slope
            return gx

        return out, gradient

    return _elementwise(x, "leaky_relu", forward)


def hard_sigmoid(x) -> Tensor:
    """Piecewise-linear sigmoid ``relu6(x + 3) / 6`` (Keras 3's definition).

    Example:
        >>> hard_sigmoid(tensor([-4.0, 0.0, 3.0])).tolist()
        [0.0, 0.5, 1.0]
    """

    def forward(a):
        out = a / 6
        out += 0.5
        xp.clip(out, 0, 1, out=out)
        return out, lambda g: g * ((out > 0) & (out < 1)) / 6

    return _elementwise(x, "hard_sigmoid", forward)


# -- exponential family ---------------------------------------------------------------------


def _elu(x, alpha, scale, op_name):
    """``scale * (x if x > 0 else alpha * (exp(x) - 1))`` as one node."""

    def forward(a):
        # relu(x) + alpha·expm1(min(x, 0)): each piece is 0 on the other side, so no where()
        # (slow on random signs) is needed, and exp only sees values <= 0: no overflow.
        negative_part = xp.minimum(a, 0)
        xp.expm1(negative_part, out=negative_part)
        negative_part *= alpha * scale
        out = xp.maximum(a, 0)
        if scale != 1:
            out *= scale
        out += negative_part

        def gradient(g):
            # scale·alpha·exp(min(x, 0)) = negative_part + scale·alpha; on the positive side
            # that is scale·alpha, so add scale·(1 - alpha) there to make it scale.
            slope = (a > 0) * xp.asarray(scale * (1 - alpha), dtype=a.dtype)
            slope += negative_part
            slope += scale * alpha
            slope *= g
            return slope

        return out, gradient

    return _elementwise(x, op_name, forward)


def elu(x, alpha=1.0) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> [round(v, 4) for v in elu(tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    return _elu(x, float(alpha), 1.0, "elu")


def selu(x) -> Tensor:
    """Scaled ELU: ``scale * elu(x, alpha)`` with alpha ≈ 1.6733 and scale ≈ 1.0507.

    Example:
        >>> [round(v, 4) for v in selu(tensor([-1.0, 1.0])).tolist()]
        [-1.1113, 1.0507]
    """
    return _elu(x, SELU_ALPHA, SELU_SCALE, "selu")


def sigmoid(x) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, exact (0 or 1) far in the tails.

    Example:
        >>> sigmoid(tensor([-1e4, 0.0, 1e4])).tolist()
        [0.0, 0.5, 1.0]
    """

    def forward(a):
        out = _sigmoid_array(a)

        def gradient(g):
            slope = 1 - out
            slope *= out
            slope *= g
            return slope

        return out, gradient

    return _elementwise(x, "sigmoid", forward)


def tanh(x) -> Tensor:
    """Hyperbolic tangent.

    Example:
        >>> tanh(tensor([0.0, 1e4])).tolist()
        [0.0, 1.0]
    """

    def forward(a):
        out = xp.tanh(a)

        def gradient(g):
            slope = xp.square(out)
            xp.subtract(1, slope, out=slope)
            slope *= g
            return slope

        return out, gradient

    return _elementwise(x, "tanh", forward)


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, computed as ``max(x, 0) + log1p(exp(-|x|))`` to stay finite.

    Example:
        >>> [round(v, 4) for v in softplus(tensor([-1e4, 0.0, 1e4])).tolist()]
        [0.0, 0.6931, 10000.0]
    """

    def forward(a):
        out = xp.abs(a)
        xp.negative(out, out=out)
        xp.exp(out, out=out)
        xp.log1p(out, out=out)
        out += xp.maximum(a, 0)
        return out, lambda g: g * _sigmoid_array(a)

    return _elementwise(x, "softplus", forward)


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``.

    Example:
        >>> softsign(tensor([-1.0, 3.0])).tolist()
        [-0.5, 0.75]
    """

    def forward(a):
        denominator = xp.abs(a)
        denominator += 1

        def gradient(g):
            # (1 / d)² rather than 1 / d²: d² overflows for |x| > 1e19 in float32.
            slope = xp.reciprocal(denominator)
            slope *= slope
            slope *= g
            return slope

        return a / denominator, gradient

    return _elementwise(x, "softsign", forward)


def silu(x) -> Tensor:
    """Sigmoid-weighted linear unit (swish) ``x * sigmoid(x)``.

    Example:
        >>> [round(v, 4) for v in silu(tensor([-1e4, 1.0])).tolist()]
        [-0.0, 0.7311]
    """

    def forward(a):
        s = _sigmoid_array(a)

        def gradient(g):
            # s + x s (1 - s) = s (1 + x (1 - s)); (1 - s) first so that a huge |x| meets 0.
            slope = 1 - s
            slope *= a
            slope += 1
            slope *= s
            slope *= g
            return slope

        return a * s, gradient

    return _elementwise(x, "silu", forward)


swish = silu


def gelu(x, approximate=True) -> Tensor:
    """Gaussian error linear unit ``x * Φ(x)``; with ``approximate`` Φ uses the tanh form.

    ``approximate=True`` (keras.ops's default) computes
    ``0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))``; ``False`` the exact
    ``0.5 x (1 + erf(x / sqrt(2)))``, with erf from a rational fit good to ~1e-7 relative.

    Example:
        >>> [round(v, 4) for v in gelu(tensor([-1.0, 1.0])).tolist()]
        [-0.1588, 0.8412]
        >>> [round(v, 4) for v in gelu(tensor([-1.0, 1.0]), approximate=False).tolist()]
        [-0.1587, 0.8413]
    """
    return _elementwise(x, "gelu", _gelu_tanh if approximate else _gelu_erf)


def _gelu_tanh(a):
    clipped = xp.clip(a, -_GELU_TANH_CLIP, _GELU_TANH_CLIP)
    square = xp.square(clipped)
    half = square * (_SQRT_2_OVER_PI * _GELU_CUBIC)  # becomes Φ ≈ (1 + tanh(u)) / 2
    half += _SQRT_2_OVER_PI
    half *= clipped
    xp.tanh(half, out=half)
    half += 1
    half *= 0.5

    def gradient(g):
        # d/dx = Φ + x Φ' with Φ' = 2Φ(1 - Φ) u' (since 1 - tanh² = 4Φ(1 - Φ)),
        # u' = sqrt(2/π)(1 + 3·0.044715 x²). The factor (1 - Φ) is 0 where |x| is huge.
        slope = square * (3 * _SQRT_2_OVER_PI * _GELU_CUBIC)
        slope += _SQRT_2_OVER_PI
        slope *= 1 - half
        slope *= half
        slope *= a
        slope *= 2
        slope += half
        slope *= g
        return slope

    return a * half, gradient


def _gelu_erf(a):
    z = xp.abs(a)
    z *= _INV_SQRT_2
    xp.minimum(z, _ERFC_CLIP, out=z)
    gaussian = xp.square(z)  # becomes exp(-x²/2): shared by erfc and the derivative
    xp.negative(gaussian, out=gaussian)
    xp.exp(gaussian, out=gaussian)
    # tail = Φ(-|x|) = erfc(|x|/√2) / 2, accurate however small it gets.
    t = z * 0.5
    t += 1
    xp.reciprocal(t, out=t)
    poly = t * _ERFC_COEFFICIENTS[-1]
    for coefficient in _ERFC_COEFFICIENTS[-2:0:-1]:
        poly += coefficient
        poly *= t
    poly += _ERFC_COEFFICIENTS[0] + _LOG_HALF  # the 1/2 of Φ = erfc/2 rides in the exp
    tail = xp.exp(poly, out=poly)
    tail *= t
    tail *= gaussian
    # Φ(x) = tail for x <= 0 and 1 - tail for x > 0, i.e. tail + [x > 0]·(1 - 2·tail).
    cdf = tail * -2
    cdf += 1
    cdf *= a > 0
    cdf += tail

    def gradient(g):
        slope = gaussian * _INV_SQRT_2PI
        slope *= a
        slope += cdf
        slope *= g
        return slope

    return a * cdf, gradient


# -- normalising over an axis ---------------------------------------------------------------


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a tuple), stable for any magnitude.

    Example:
        >>> softmax(tensor([[1e4, 1e4, -1e4]])).tolist()
        [[0.5, 0.5, 0.0]]
    """
    x = _float_input(x, "softmax")
    axes = normalize_axes(axis, x.ndim, "softmax")
    if axes == (x.ndim - 1,) and native.supports_rows(x.data):  # one pass per row each way
        rows = x.data.reshape(-1, x.shape[-1])
        y = native.softmax(rows)

        def native_backward(g):
            g = xp.ascontiguousarray(g, y.dtype).reshape(y.shape)
            return (native.softmax_grad(g, y).reshape(x.shape),)

        return record(y.reshape(x.shape), (x,), native_backward, "softmax")
    out = x.data - xp.max(x.data, axis=axes, keepdims=True)
    xp.exp(out, out=out)
    out *= 1 / xp.sum(out, axis=axes, keepdims=True)

    def backward(g):
        # dx = y (g - sum(g y)) over the axis.
        gx = g - _sum_of_products(g, out, axes)
        gx *= out
        return (gx,)

    return record(out, (x,), backward, "softmax")


def log_softmax(x, axis=-1) -> Tensor:
    """``x - logsumexp(x)`` over ``axis`` (an int or a tuple), stable for any magnitude.

    Example:
        >>> log_softmax(tensor([0.0, 0.0, 1e30])).numpy()
        array([-1.e+30, -1.e+30,  0.e+00], dtype=float32)
    """
    x = _float_input(x, "log_softmax")
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    out = x.data - xp.max(x.data, axis=axes, keepdims=True)
    exps = xp.exp(out)
    total = xp.sum(exps, axis=axes, keepdims=True)
    out -= xp.log(total)

    def backward(g):
        # dx = g - softmax * sum(g); softmax = exps / total, folded into one row scale.
        scaled = exps * (xp.sum(g, axis=axes, keepdims=True) / total)
        return (xp.subtract(g, scaled, out=scaled),)

    return record(out, (x,), backward, "log_softmax")

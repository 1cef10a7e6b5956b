"""How optimizers move on a 2-D loss: paths of GD, SGD, momentum, RMSprop and Adam over the
contour lines, with the gradient drawn perpendicular to them.

The loss is a function of a shinsou Tensor ``w`` of shape ``(2,)``; gradients come from
shinsou's autograd (``loss.backward()``), and the steps from shinsou's own optimizers, so
the pictures show exactly what training does. Three losses come by name:

- ``"quadratic"``: the elongated bowl ``(w0² + 10·w1²) / 2`` (minimum at (0, 0)), where
  plain gradient descent zig-zags across the narrow direction;
- ``"rosenbrock"``: the valley ``(1 - w0)² + 100·(w1 - w0²)²`` (minimum at (1, 1)), where
  the gradient points across the valley rather than along it;
- ``"logistic"``: the mean cross-entropy of a logistic regression ``sigmoid(w0·x + w1)``
  on real data: the digits "0" and "1" of :mod:`shinsou.datasets.digits` (training split,
  289 images), ``x`` the standardized amount of ink in pixel columns 1–2 (a zero has
  ink on its left, a one in the middle). Needs scikit-learn, which ships the digits.

Stochastic gradients ("sgd", and any name listed in ``stochastic``): on the logistic loss,
the gradient of a random minibatch of ``batch_size`` images (real minibatch noise); on the
other losses, which have no data, the exact gradient plus Gaussian noise of standard
deviation ``gradient_noise`` per coordinate.

Example:
    >>> paths = optimizer_paths("quadratic", ["gd", "adam"], steps=20)
    >>> paths["gd"].points.shape, bool(paths["gd"].losses[-1] < paths["gd"].losses[0])
    ((21, 2), True)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy

from .. import ops, optimizers
from ..tensor import Tensor, no_grad, tensor
from ..variables import Variable
from ._figures import new_figure, save_png

__all__ = ["OptimizerPath", "loss_and_gradient", "optimizer_paths", "plot_optimizer_paths"]

OPTIMIZER_NAMES = ("gd", "sgd", "momentum", "rmsprop", "adam")
_GRID_POINTS = 80
_LOGISTIC_CLASSES = (0, 1)
_LOGISTIC_COLUMNS = slice(1, 3)


class OptimizerPath(NamedTuple):
    """Where one optimizer went: ``points`` ``(steps + 1, 2)`` (the start first) and the
    full (not minibatch) loss at each point, ``losses`` ``(steps + 1,)``."""

    points: numpy.ndarray
    losses: numpy.ndarray


@dataclass
class _Landscape:
    name: str
    loss: object  # Tensor (2, ...) -> Tensor (...): broadcasts over trailing axes
    start: tuple
    bounds: tuple  # (w0 low, w0 high, w1 low, w1 high)
    steps: int
    learning_rates: dict
    gradient_noise: float = 1.0
    minimum: tuple | None = None
    minibatch_loss: object = None  # (w, rng, batch_size) -> Tensor, for real-data losses
    data: dict = field(default_factory=dict)


def _quadratic(w):
    return (w[0] ** 2 + 10.0 * w[1] ** 2) * 0.5


def _rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


@functools.cache
def _logistic_data():
    """Feature ``x`` (standardized ink in columns 1-2) and targets (1 for the digit "1")."""
    from ..datasets import digits

    (images, labels), _ = digits.load_data()
    keep = numpy.isin(labels, _LOGISTIC_CLASSES)
    ink = images[keep][:, :, _LOGISTIC_COLUMNS].astype(numpy.float32).mean(axis=(1, 2))
    feature = (ink - ink.mean()) / ink.std()
    targets = (labels[keep] == _LOGISTIC_CLASSES[1]).astype(numpy.float32)
    return feature.astype(numpy.float32), targets


def _cross_entropy(w, feature, targets):
    """Mean binary cross-entropy of sigmoid(w0·x + w1), written as softplus(-s·z) with
    s = ±1, which stays finite for large |z|; trailing axes of ``w`` broadcast."""
    logits = w[0][..., None] * feature + w[1][..., None]
    signs = 2.0 * targets - 1.0
    return ops.mean(ops.softplus(-(logits * signs)), axis=-1)


def _logistic(w):
    return _cross_entropy(w, *_logistic_data())


def _logistic_minibatch(w, rng, batch_size):
    feature, targets = _logistic_data()
    chosen = rng.choice(len(feature), size=min(batch_size, len(feature)), replace=False)
    return _cross_entropy(w, feature[chosen], targets[chosen])


_LANDSCAPES = {
    "quadratic": lambda: _Landscape(
        "quadratic",
        _quadratic,
        start=(-2.5, 1.2),
        bounds=(-3.0, 3.0, -1.5, 1.5),
        steps=40,
        learning_rates={"gd": 0.17, "sgd": 0.05, "momentum": 0.05, "rmsprop": 0.1, "adam": 0.3},
        gradient_noise=2.0,
        minimum=(0.0, 0.0),
    ),
    "rosenbrock": lambda: _Landscape(
        "rosenbrock",
        _rosenbrock,
        start=(-1.2, 1.0),
        bounds=(-2.0, 2.0, -1.0, 3.0),
        steps=400,
        learning_rates={"gd": 1e-3, "sgd": 1e-3, "momentum": 2e-4, "rmsprop": 1e-2, "adam": 5e-2},
        gradient_noise=20.0,
        minimum=(1.0, 1.0),
    ),
    "logistic": lambda: _Landscape(
        "logistic",
        _logistic,
        start=(3.0, -3.0),
        bounds=(-7.0, 4.0, -4.0, 4.0),
        steps=100,
        learning_rates={"gd": 1.0, "sgd": 1.0, "momentum": 0.2, "rmsprop": 0.1, "adam": 0.2},
        minibatch_loss=_logistic_minibatch,
    ),
}
_CALLABLE_LEARNING_RATES = {"gd": 0.1, "sgd": 0.1, "momentum": 0.02, "rmsprop": 0.05, "adam": 0.1}


def _landscape(caller, loss_fn_2d):
    if isinstance(loss_fn_2d, str):
        if loss_fn_2d not in _LANDSCAPES:
            raise ValueError(
                f"{caller}: unknown loss {loss_fn_2d!r}; choose one of {list(_LANDSCAPES)} or "
                "pass a function of a Tensor of shape (2,)"
            )
        return _LANDSCAPES[loss_fn_2d]()
    if not callable(loss_fn_2d):
        raise TypeError(
            f"{caller}: loss_fn_2d must be a name or a function of a Tensor of shape (2,); "
            f"received {type(loss_fn_2d).__name__}"
        )
    name = getattr(loss_fn_2d, "__name__", "loss")
    return _Landscape(
        name,
        loss_fn_2d,
        start=(-2.0, 2.0),
        bounds=None,
        steps=100,
        learning_rates=_CALLABLE_LEARNING_RATES,
    )


def _scalar_loss(caller, function, w):
    value = function(w)
    if not isinstance(value, Tensor) or value.size != 1:
        raise ValueError(
            f"{caller}: the loss must return a one-element shinsou Tensor; received "
            f"{type(value).__name__} of shape {getattr(value, 'shape', None)}"
        )
    return value.reshape(())


def loss_and_gradient(loss_fn_2d, point):
    """The loss at ``point`` (two numbers) and its gradient there, by shinsou's autograd.

    Example:
        >>> loss, gradient = loss_and_gradient("quadratic", (1.0, 2.0))
        >>> loss, gradient.tolist()
        (20.5, [1.0, 20.0])
    """
    landscape = _landscape("loss_and_gradient", loss_fn_2d)
    w = tensor(_point("loss_and_gradient", "point", point), requires_grad=True)
    value = _scalar_loss("loss_and_gradient", landscape.loss, w)
    value.backward()
    return float(value.item()), numpy.array(w.grad, dtype=numpy.float32)


def _point(caller, name, value):
    array = numpy.asarray(value, dtype=numpy.float32)
    if array.shape != (2,) or not numpy.all(numpy.isfinite(array)):
        raise ValueError(
            f"{caller}: {name} must be two finite numbers (w0, w1); received {value!r}"
        )
    return array


def _resolve_optimizers(caller, spec, landscape):
    """Name → a fresh optimizer, from names or a dict of names → optimizers or names."""
    if isinstance(spec, str):
        spec = [spec]
    pairs = spec.items() if isinstance(spec, dict) else [(name, name) for name in spec]
    resolved = {}
    for name, optimizer in pairs:
        if isinstance(optimizer, optimizers.Optimizer):
            # A copy: the caller's instance keeps no state from this run and can be reused.
            resolved[str(name)] = type(optimizer).from_config(optimizer.get_config())
            continue
        key = str(optimizer).lower()
        if key not in OPTIMIZER_NAMES:
            raise ValueError(
                f"{caller}: unknown optimizer {optimizer!r}; use one of {list(OPTIMIZER_NAMES)} "
                "or a shinsou optimizer instance"
            )
        rate = landscape.learning_rates[key]
        if key in ("gd", "sgd"):
            resolved[str(name)] = optimizers.SGD(learning_rate=rate)
        elif key == "momentum":
            resolved[str(name)] = optimizers.SGD(learning_rate=rate, momentum=0.9)
        elif key == "rmsprop":
            resolved[str(name)] = optimizers.RMSprop(learning_rate=rate)
        else:
            resolved[str(name)] = optimizers.Adam(learning_rate=rate)
    if not resolved:
        raise ValueError(f"{caller}: no optimizers given")
    return resolved


def _evaluate(function, points):
    """The loss at each of ``points`` ``(n, 2)``: in one call when the function broadcasts
    over trailing axes of ``w`` (all the named losses do), else point by point."""
    points = numpy.asarray(points, dtype=numpy.float32)
    with no_grad():
        try:
            values = numpy.asarray(function(tensor(points.T)))
            if values.shape == (len(points),):
                return values.astype(numpy.float32)
        except (ValueError, TypeError, IndexError):
            pass  # a function written for shape (2,) only
        return numpy.array(
            [float(function(tensor(point)).item()) for point in points], dtype=numpy.float32
        )


def optimizer_paths(
    loss_fn_2d="rosenbrock",
    optimizers=OPTIMIZER_NAMES,
    start=None,
    steps=None,
    *,
    stochastic=("sgd",),
    gradient_noise=None,
    batch_size=16,
    seed=0,
):
    """Run each optimizer ``steps`` times from ``start`` on a 2-D loss and return a dict
    name → :class:`OptimizerPath` (points and full losses, the start first).

    ``loss_fn_2d`` is ``"quadratic"``, ``"rosenbrock"``, ``"logistic"`` (see the module
    notes) or a function of a Tensor ``(2,)`` returning a scalar Tensor. ``optimizers`` is a
    list of names among ``"gd"`` (SGD on the exact gradient), ``"sgd"`` (SGD on stochastic
    gradients), ``"momentum"`` (SGD, momentum 0.9), ``"rmsprop"`` and ``"adam"`` — with
    learning rates chosen for each named loss — or a dict name → shinsou optimizer (or
    name). Names in ``stochastic`` get stochastic gradients. ``start`` and ``steps``
    default to the loss's own. A path that diverges stops (NaN) where it left finite values.

    Example:
        >>> paths = optimizer_paths("rosenbrock", ["gd", "adam"], steps=200)
        >>> bool(paths["adam"].losses[-1] < paths["gd"].losses[-1])
        True
    """
    caller = "optimizer_paths"
    landscape = _landscape(caller, loss_fn_2d)
    start = _point(caller, "start", landscape.start if start is None else start)
    steps = landscape.steps if steps is None else steps
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"{caller}: steps must be an integer >= 1; received {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be an integer >= 1; received {batch_size!r}")
    noise = landscape.gradient_noise if gradient_noise is None else float(gradient_noise)
    stochastic = {stochastic} if isinstance(stochastic, str) else set(stochastic)
    paths = {}
    resolved = _resolve_optimizers(caller, optimizers, landscape)
    # Too large a learning rate makes a path diverge; that is a lesson to show, not an error.
    with numpy.errstate(over="ignore", invalid="ignore"):
        for name, optimizer in resolved.items():
            paths[name] = _run_path(
                caller, landscape, optimizer, start, steps,
                numpy.random.default_rng(seed), name in stochastic, noise, batch_size,
            )  # fmt: skip
    return paths


def _run_path(caller, landscape, optimizer, start, steps, rng, noisy, noise, batch_size):
    """One optimizer's path: the points visited and the full loss at each."""
    variable = Variable(start.copy(), name="w")
    points = numpy.full((steps + 1, 2), numpy.nan, dtype=numpy.float32)
    points[0] = start
    for step in range(1, steps + 1):
        if noisy and landscape.minibatch_loss is not None:
            value = landscape.minibatch_loss(variable, rng, batch_size)
        else:
            value = _scalar_loss(caller, landscape.loss, variable)
        value.backward()
        gradient = numpy.array(variable.grad, dtype=numpy.float32)
        variable.grad = None
        if noisy and landscape.minibatch_loss is None:
            gradient += rng.normal(0.0, noise, size=2).astype(numpy.float32)
        optimizer.apply([gradient], [variable])
        position = variable.numpy()
        if not numpy.all(numpy.isfinite(position)):
            break
        points[step] = position
    losses = numpy.full(steps + 1, numpy.nan, dtype=numpy.float32)
    finite = numpy.all(numpy.isfinite(points), axis=1)
    losses[finite] = _evaluate(landscape.loss, points[finite])
    return OptimizerPath(points, losses)


def _bounds(landscape, paths):
    if landscape.bounds is not None:
        return landscape.bounds
    # Frame the paths that stayed finite: a diverging one would stretch the view to 1e19.
    kept = [path.points for path in paths.values() if numpy.isfinite(path.points).all()]
    points = numpy.concatenate(kept or [path.points[:1] for path in paths.values()])
    low, high = points.min(axis=0), points.max(axis=0)
    margin = numpy.maximum((high - low) * 0.15, 0.5)
    return (low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1])


def _contour_levels(values, count=14):
    """Levels spaced geometrically above the minimum: valleys get as many lines as walls."""
    low, high = float(values.min()), float(values.max())
    span = max(high - low, 1e-6)
    return low + numpy.geomspace(span * 1e-3, span, count)


def plot_optimizer_paths(
    loss_fn_2d="rosenbrock",
    optimizers=OPTIMIZER_NAMES,
    start=None,
    steps=None,
    *,
    stochastic=("sgd",),
    gradient_noise=None,
    batch_size=16,
    seed=0,
    arrows=5,
    to_file=None,
):
    """Draw the paths of :func:`optimizer_paths` over the contour lines of the loss and
    return the Figure; save a PNG at ``to_file`` unless None.

    On an ``arrows`` × ``arrows`` grid, grey arrows show the negative gradient (from
    autograd, scaled to one length): each crosses its contour line at a right angle, and
    the axes have equal scales so right angles look right. The legend gives each
    optimizer's final loss. Arguments as in :func:`optimizer_paths`.

    Example:
        >>> figure = plot_optimizer_paths("quadratic", ["gd", "momentum"], steps=10)
        >>> figure.axes[0].get_title()
        'quadratic: 10 steps'
    """
    caller = "plot_optimizer_paths"
    if not isinstance(arrows, int) or isinstance(arrows, bool) or arrows < 0:
        raise ValueError(f"{caller}: arrows must be an integer >= 0; received {arrows!r}")
    landscape = _landscape(caller, loss_fn_2d)
    paths = optimizer_paths(
        loss_fn_2d,
        optimizers,
        start,
        steps,
        stochastic=stochastic,
        gradient_noise=gradient_noise,
        batch_size=batch_size,
        seed=seed,
    )
    left, right, bottom, top = _bounds(landscape, paths)
    grid_w0, grid_w1 = numpy.meshgrid(
        numpy.linspace(left, right, _GRID_POINTS, dtype=numpy.float32),
        numpy.linspace(bottom, top, _GRID_POINTS, dtype=numpy.float32),
    )
    grid = numpy.stack([grid_w0.ravel(), grid_w1.ravel()], axis=1)
    values = _evaluate(landscape.loss, grid).reshape(grid_w0.shape)
    aspect = (top - bottom) / (right - left)
    figure = new_figure((7.0, max(3.0, 7.0 * aspect) + 0.4), caller)
    axes = figure.add_subplot()
    contours = axes.contour(
        grid_w0, grid_w1, values, levels=_contour_levels(values), cmap="viridis", linewidths=0.8
    )
    axes.clabel(contours, fontsize=6, fmt="%.3g")
    if arrows:
        margin_w0, margin_w1 = (right - left) / (2 * arrows), (top - bottom) / (2 * arrows)
        spots = [
            (float(a), float(b))
            for b in numpy.linspace(bottom + margin_w1, top - margin_w1, arrows)
            for a in numpy.linspace(left + margin_w0, right - margin_w0, arrows)
        ]
        gradients = numpy.array([loss_and_gradient(landscape.loss, spot)[1] for spot in spots])
        norms = numpy.linalg.norm(gradients, axis=1, keepdims=True)
        directions = -gradients / numpy.maximum(norms, 1e-12)
        length = 0.6 * min(margin_w0, margin_w1)
        spots = numpy.array(spots)
        axes.quiver(
            spots[:, 0],
            spots[:, 1],
            directions[:, 0] * length,
            directions[:, 1] * length,
            angles="xy",
            scale_units="xy",
            scale=1,
            color="#888888",
            width=0.004,
            label="−gradient (⊥ contour)",
        )
    for name, path in paths.items():
        final = path.losses[numpy.isfinite(path.losses)][-1]
        diverged = not numpy.all(numpy.isfinite(path.points))
        label = f"{name}: loss {final:.3g}" + (" (diverged)" if diverged else "")
        axes.plot(
            path.points[:, 0],
            path.points[:, 1],
            "-",
            linewidth=1.4,
            marker=".",
            markersize=2.5,
            label=label,
        )
    axes.plot(*paths[next(iter(paths))].points[0], "ko", markersize=5, label="start")
    if landscape.minimum is not None:
        axes.plot(*landscape.minimum, "r*", markersize=11, label="minimum")
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    axes.set_aspect("equal")
    axes.set(
        xlabel="w0" if landscape.name != "logistic" else "w (weight)",
        ylabel="w1" if landscape.name != "logistic" else "b (bias)",
    )
    step_count = len(next(iter(paths.values())).points) - 1
    axes.set_title(f"{landscape.name}: {step_count} steps")
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    save_png(figure, to_file, caller=caller)
    return figure

import numpy as np
import pytest

import shinsou
from shinsou import optimizers
from shinsou.viz import loss_and_gradient, optimizer_paths, plot_optimizer_paths

pytest.importorskip("matplotlib")


@pytest.mark.parametrize("point", [(1.0, 2.0), (-0.3, 0.7), (2.5, -1.5)])
def test_gradient_is_the_analytic_one(point):
    w0, w1 = point
    loss, gradient = loss_and_gradient("quadratic", point)
    assert loss == pytest.approx((w0**2 + 10 * w1**2) / 2, rel=1e-6)
    np.testing.assert_allclose(gradient, [w0, 10 * w1], rtol=1e-6)
    _, gradient = loss_and_gradient("rosenbrock", point)
    analytic = [-2 * (1 - w0) - 400 * w0 * (w1 - w0**2), 200 * (w1 - w0**2)]
    np.testing.assert_allclose(gradient, analytic, rtol=1e-5)
    assert gradient.dtype == np.float32


def test_adam_ends_lower_than_gd_on_rosenbrock():
    paths = optimizer_paths("rosenbrock", ["gd", "adam"], steps=300)
    assert paths["adam"].points.shape == (301, 2)
    np.testing.assert_allclose(paths["gd"].points[0], [-1.2, 1.0])
    assert paths["gd"].losses[0] == pytest.approx(24.2, rel=1e-5)
    assert paths["adam"].losses[-1] < paths["gd"].losses[-1] / 2


def test_gd_steps_are_learning_rate_times_gradient():
    optimizer = optimizers.SGD(learning_rate=0.1)
    paths = optimizer_paths("quadratic", {"plain": optimizer}, start=(2.0, 1.0), steps=3)
    points = paths["plain"].points
    expected = [[2.0, 1.0], [1.8, 0.0], [1.62, 0.0], [1.458, 0.0]]
    np.testing.assert_allclose(points, expected, rtol=1e-5, atol=1e-6)
    assert int(optimizer.iterations) == 0  # the caller's optimizer was copied, not used


def test_stochastic_gradients_are_noisy_and_reproducible():
    pytest.importorskip("sklearn")  # the logistic loss uses the digits data set
    kinds = ["gd", "sgd"]
    first = optimizer_paths("logistic", kinds, steps=30, seed=1)
    again = optimizer_paths("logistic", kinds, steps=30, seed=1)
    other = optimizer_paths("logistic", kinds, steps=30, seed=2)
    np.testing.assert_array_equal(first["sgd"].points, again["sgd"].points)
    assert not np.allclose(first["sgd"].points, other["sgd"].points)
    assert not np.allclose(first["sgd"].points, first["gd"].points)
    assert first["gd"].losses[-1] < 0.35 < first["gd"].losses[0]  # it learns: from 2.4
    quadratic = optimizer_paths("quadratic", ["sgd"], steps=5, gradient_noise=0.0)
    exact = optimizer_paths("quadratic", ["sgd"], steps=5, stochastic=())
    np.testing.assert_allclose(quadratic["sgd"].points, exact["sgd"].points)


def test_logistic_gradient_matches_the_formula():
    pytest.importorskip("sklearn")
    from shinsou.viz.optimizer_landscape import _logistic_data

    feature, targets = _logistic_data()
    assert feature.shape == targets.shape and feature.dtype == np.float32
    w, b = -2.0, 0.5
    _, gradient = loss_and_gradient("logistic", (w, b))
    errors = 1 / (1 + np.exp(-(w * feature + b))) - targets
    np.testing.assert_allclose(gradient, [np.mean(errors * feature), np.mean(errors)], rtol=1e-4)


def test_a_custom_loss_and_a_diverging_path(tmp_path, check_png):
    def bowl(w):
        return (w * w).sum()

    paths = optimizer_paths(bowl, {"fast": optimizers.SGD(learning_rate=2.0)}, steps=200)
    assert np.isnan(paths["fast"].points[-1]).all() and np.isfinite(paths["fast"].points[0]).all()
    path = tmp_path / "custom.png"
    chosen = {"gd": "gd", "fast": optimizers.SGD(learning_rate=2.0)}
    figure = plot_optimizer_paths(bowl, chosen, start=(1.5, -1.0), steps=100, to_file=path)
    check_png(path)
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels[1].startswith("gd: loss") and labels[2].endswith("(diverged)")
    assert figure.axes[0].get_xlim()[1] < 10


def test_plot_optimizer_paths_draws_paths_arrows_and_contours(tmp_path, check_png):
    path = tmp_path / "rosenbrock.png"
    figure = plot_optimizer_paths("rosenbrock", steps=100, arrows=3, to_file=path)
    check_png(path)
    axes = figure.axes[0]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert [label.split(":")[0] for label in labels[1:6]] == [
        "gd", "sgd", "momentum", "rmsprop", "adam"]  # fmt: skip
    (arrows,) = [c for c in axes.collections if type(c).__name__ == "Quiver"]
    directions = np.stack([arrows.U, arrows.V], axis=1)
    for (x, y), direction in zip(arrows.get_offsets(), directions):
        _, gradient = loss_and_gradient("rosenbrock", (x, y))
        cosine = -direction @ gradient / np.linalg.norm(direction) / np.linalg.norm(gradient)
        assert cosine == pytest.approx(1.0, abs=1e-4)  # along the negative gradient


def test_optimizer_paths_bad_input():
    with pytest.raises(ValueError, match=r"unknown loss 'himmelblau'; choose one of \['quadr"):
        optimizer_paths("himmelblau")
    with pytest.raises(ValueError, match=r"unknown optimizer 'lbfgs'; use one of \['gd'"):
        optimizer_paths("quadratic", ["lbfgs"])
    with pytest.raises(ValueError, match=r"start must be two finite numbers \(w0, w1\)"):
        optimizer_paths("quadratic", start=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="steps must be an integer >= 1; received 0"):
        optimizer_paths("quadratic", steps=0)
    with pytest.raises(ValueError, match="the loss must return a one-element shinsou Tensor"):
        optimizer_paths(lambda w: w * 2, ["gd"], steps=2)
    with pytest.raises(TypeError, match="loss_fn_2d must be a name or a function"):
        optimizer_paths(3.0)
    with pytest.raises(ValueError, match="arrows must be an integer >= 0"):
        plot_optimizer_paths("quadratic", arrows=-1)
    assert shinsou.viz.optimizer_paths is optimizer_paths

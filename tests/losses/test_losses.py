"""Loss classes and functions: values and gradients against PyTorch (or torch formulas),
label smoothing, integer labels, the from_logits warning, config round trips, bad input."""

import warnings

import numpy as np
import pytest

import shinsou
from shinsou import losses, ops
from support import check_gradient, check_parity, random_array, torch

F = torch.nn.functional if torch else None
EPS = 1e-7


def probabilities(shape, seed):
    return random_array(shape, seed=seed, low=0.05, high=0.95)


def softmax_rows(shape, seed):
    raw = np.exp(random_array(shape, seed=seed, low=-2, high=2))
    return (raw / raw.sum(axis=-1, keepdims=True)).astype("float32")


def one_hot(labels, classes):
    return np.eye(classes, dtype="float32")[labels]


def labels(count, classes, seed):
    return np.random.default_rng(seed).integers(0, classes, size=count)


def parity(loss, y_true, y_pred, theirs, **tolerances):
    """Compare ``loss(y_true, y_pred)`` (value and gradient w.r.t. y_pred) with ``theirs``."""
    t = torch.tensor(y_true) if torch else None
    return check_parity(lambda p: loss(y_true, p), lambda p: theirs(t, p), y_pred, **tolerances)


# -- regression -----------------------------------------------------------------------------


def test_mean_squared_and_absolute_error_match_torch():
    y_true, y_pred = random_array((6, 4), seed=1), random_array((6, 4), seed=2)
    parity(losses.MeanSquaredError(), y_true, y_pred, lambda t, p: F.mse_loss(p, t))
    parity(losses.MeanAbsoluteError(), y_true, y_pred, lambda t, p: F.l1_loss(p, t))


@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_is_torch_huber_loss_with_the_same_delta(delta):
    y_true, y_pred = random_array((6, 4), seed=3), random_array((6, 4), seed=4, low=-2, high=2)
    parity(losses.Huber(delta=delta), y_true, y_pred, lambda t, p: F.huber_loss(p, t, delta=delta))


def test_percentage_and_logarithmic_errors_match_their_formulas():
    y_true = random_array((5, 3), seed=5, low=0.5, high=2.0)
    y_pred = random_array((5, 3), seed=6, low=0.1, high=3.0)
    parity(
        losses.MeanAbsolutePercentageError(),
        y_true,
        y_pred,
        lambda t, p: 100 * ((t - p) / t.abs()).abs().mean(),
    )
    parity(
        losses.MeanSquaredLogarithmicError(),
        y_true,
        y_pred,
        lambda t, p: ((p + 1).log() - (t + 1).log()).square().mean(),
    )


def test_log_cosh_matches_formula_and_survives_large_errors():
    y_true, y_pred = random_array((5, 3), seed=7), random_array((5, 3), seed=8, low=-5, high=5)
    parity(losses.LogCosh(), y_true, y_pred, lambda t, p: (p - t).cosh().log().mean())
    check_gradient(losses.log_cosh, y_true, y_pred)
    huge = losses.log_cosh([[0.0]], [[1e4]])  # cosh(1e4) overflows; log(cosh) does not
    np.testing.assert_allclose(huge.numpy(), [1e4 - np.log(2)], rtol=1e-6)


def test_cosine_similarity_is_minus_torch_cosine_similarity():
    y_true, y_pred = random_array((5, 4), seed=9), random_array((5, 4), seed=10)
    parity(
        losses.CosineSimilarity(),
        y_true,
        y_pred,
        lambda t, p: -F.cosine_similarity(p, t, dim=-1).mean(),
    )
    zero = shinsou.tensor([[0.0, 0.0]], requires_grad=True)
    value = losses.cosine_similarity([[1.0, 2.0]], zero)
    value.sum().backward()
    assert value.item() == 0 and np.isfinite(zero.grad).all()


# -- probabilistic --------------------------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_binary_crossentropy_with_label_smoothing_matches_torch(label_smoothing):
    y_true = (random_array((6, 3), seed=11) > 0).astype("float32")
    smoothed = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    parity(
        losses.BinaryCrossentropy(label_smoothing=label_smoothing),
        y_true,
        probabilities((6, 3), seed=12),
        lambda t, p: F.binary_cross_entropy(p, torch.tensor(smoothed)),
    )
    parity(
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing),
        y_true,
        random_array((6, 3), seed=13, low=-6, high=6),
        lambda t, p: F.binary_cross_entropy_with_logits(p, torch.tensor(smoothed)),
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_categorical_crossentropy_from_logits_smooths_labels_like_torch(label_smoothing):
    classes = labels(8, 5, seed=14)
    parity(
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing),
        one_hot(classes, 5),
        random_array((8, 5), seed=15, low=-4, high=4),
        lambda t, p: F.cross_entropy(p, torch.tensor(classes), label_smoothing=label_smoothing),
    )


def test_categorical_crossentropy_from_probabilities_matches_formula():
    y_true, y_pred = one_hot(labels(8, 5, seed=16), 5), softmax_rows((8, 5), seed=17)
    parity(
        losses.CategoricalCrossentropy(label_smoothing=0.1),
        y_true,
        y_pred,
        lambda t, p: -((t * 0.9 + 0.02) * (p / p.sum(-1, keepdim=True)).log()).sum(-1).mean(),
    )


@pytest.mark.parametrize("label_shape", [(8,), (8, 1)])
@pytest.mark.parametrize("label_dtype", ["int64", "int32", "uint8", "float32"])
def test_sparse_categorical_crossentropy_takes_labels_of_any_int_dtype_and_shape(
    label_shape, label_dtype
):
    classes = labels(8, 5, seed=18)
    y_true = classes.reshape(label_shape).astype(label_dtype)
    parity(
        losses.SparseCategoricalCrossentropy(from_logits=True),
        y_true,
        random_array((8, 5), seed=19, low=-4, high=4),
        lambda t, p: F.cross_entropy(p, torch.tensor(classes)),
    )


def test_sparse_categorical_crossentropy_ignore_class_is_torch_ignore_index():
    classes = labels(10, 4, seed=20)
    classes[[1, 4, 5]] = 255
    parity(
        losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        classes,
        random_array((10, 4), seed=21, low=-3, high=3),
        lambda t, p: F.cross_entropy(p, torch.tensor(classes), ignore_index=255),
    )


def test_sparse_and_categorical_crossentropy_agree_on_probabilities():
    classes, y_pred = labels(6, 4, seed=22), softmax_rows((6, 4), seed=23)
    sparse = losses.SparseCategoricalCrossentropy()(classes, y_pred)
    dense = losses.CategoricalCrossentropy()(one_hot(classes, 4), y_pred)
    np.testing.assert_allclose(sparse.item(), dense.item(), rtol=1e-6)


def test_kl_divergence_is_torch_kl_div_batchmean():
    y_true, y_pred = softmax_rows((6, 4), seed=24), softmax_rows((6, 4), seed=25)
    parity(
        losses.KLDivergence(),
        y_true,
        y_pred,
        lambda t, p: F.kl_div(p.log(), t, reduction="batchmean"),
    )


def test_poisson_matches_keras_formula():
    # torch's PoissonNLLLoss(log_input=False) adds its epsilon differently: use the formula.
    y_true = random_array((6, 3), seed=26, low=0, high=4).round()
    y_pred = random_array((6, 3), seed=27, low=0.2, high=4)
    parity(losses.Poisson(), y_true, y_pred, lambda t, p: (p - t * (p + EPS).log()).mean())


def test_binary_focal_crossentropy_matches_formula_and_reduces_to_bce():
    y_true = (random_array((6, 3), seed=28) > 0).astype("float32")
    y_pred = probabilities((6, 3), seed=29)

    def focal(t, p, gamma=2.0, alpha=0.25):
        bce = F.binary_cross_entropy(p, t, reduction="none")
        p_t = t * p + (1 - t) * (1 - p)
        weight = t * alpha + (1 - t) * (1 - alpha)
        return (weight * (1 - p_t) ** gamma * bce).mean()

    parity(losses.BinaryFocalCrossentropy(apply_class_balancing=True), y_true, y_pred, focal)
    logits = np.log(y_pred / (1 - y_pred))
    from_logits = losses.BinaryFocalCrossentropy(gamma=0.0, from_logits=True)(y_true, logits)
    plain = losses.BinaryCrossentropy()(y_true, y_pred)
    np.testing.assert_allclose(from_logits.item(), plain.item(), rtol=1e-5)


def test_categorical_focal_crossentropy_matches_formula():
    y_true, y_pred = one_hot(labels(6, 4, seed=30), 4), softmax_rows((6, 4), seed=31)
    alpha = [0.1, 0.2, 0.3, 0.4]

    def focal(t, p):
        q = p / p.sum(-1, keepdim=True)  # Keras renormalises the probabilities
        return -(torch.tensor(alpha) * (1 - q) ** 1.5 * t * q.log()).sum(-1).mean()

    parity(losses.CategoricalFocalCrossentropy(alpha=alpha, gamma=1.5), y_true, y_pred, focal)


# -- hinge ----------------------------------------------------------------------------------


def test_hinge_losses_match_formulas_with_binary_labels_converted():
    y_true = (random_array((6, 3), seed=32) > 0).astype("float32")
    signed = 2 * y_true - 1
    y_pred = random_array((6, 3), seed=33, low=-2, high=2)
    parity(losses.Hinge(), y_true, y_pred, lambda t, p: (1 - 2 * (t - 0.5) * p).relu().mean())
    parity(losses.Hinge(), signed, y_pred, lambda t, p: (1 - t * p).relu().mean())
    parity(
        losses.SquaredHinge(),
        y_true,
        y_pred,
        lambda t, p: (1 - (2 * t - 1) * p).relu().square().mean(),
    )
    y_true = one_hot(labels(6, 3, seed=34), 3)
    parity(
        losses.CategoricalHinge(),
        y_true,
        y_pred,
        lambda t, p: ((1 - t) * p).max(-1).values.sub((t * p).sum(-1)).add(1).relu().mean(),
    )


def test_dice_matches_formula():
    y_true = (random_array((2, 4, 4, 1), seed=35) > 0).astype("float32")
    y_pred = probabilities((2, 4, 4, 1), seed=36)
    per_image = losses.Dice(axis=(1, 2, 3), reduction=None)(y_true, y_pred)
    intersection = (y_true * y_pred).sum(axis=(1, 2, 3))
    expected = 1 - 2 * intersection / (y_true.sum(axis=(1, 2, 3)) + y_pred.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(per_image.numpy(), expected, rtol=1e-5)


# -- the functions --------------------------------------------------------------------------


def test_functions_return_one_value_per_sample_in_float32():
    y_true, y_pred = probabilities((4, 3), seed=37), probabilities((4, 3), seed=38)
    for fn in (
        losses.mean_squared_error,
        losses.mean_absolute_error,
        losses.mean_absolute_percentage_error,
        losses.mean_squared_logarithmic_error,
        losses.cosine_similarity,
        losses.huber,
        losses.log_cosh,
        losses.kl_divergence,
        losses.poisson,
        losses.binary_crossentropy,
        losses.categorical_crossentropy,
        losses.hinge,
        losses.squared_hinge,
        losses.categorical_hinge,
    ):
        value = fn(y_true.astype("float64"), y_pred)
        assert value.shape == (4,) and value.dtype == np.float32, fn.__name__
    value = losses.sparse_categorical_crossentropy(np.array([0, 2, 1, 1]), y_pred)
    assert value.shape == (4,) and value.dtype == np.float32


def test_functions_refuse_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true shape \(4,\).*\(4, 3\)"):
        losses.mean_squared_error(np.zeros(4), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"kl_divergence: y_true shape \(2, 3\)"):
        losses.kl_divergence(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        losses.binary_crossentropy([[1.0]], [[0.5]], label_smoothing=1.5)


def test_categorical_crossentropy_warns_about_a_single_class():
    with pytest.warns(SyntaxWarning, match="class axis of size 1"):
        losses.categorical_crossentropy([[1.0]], [[0.7]])


# -- the from_logits warning ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "y_true", "y_pred"),
    [
        (losses.CategoricalCrossentropy, one_hot([0, 2], 3), [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]),
        (losses.SparseCategoricalCrossentropy, [0, 2], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]),
        (losses.BinaryCrossentropy, [[1.0], [0.0]], [[0.9], [0.2]]),
        (losses.BinaryFocalCrossentropy, [[1.0], [0.0]], [[0.9], [0.2]]),
    ],
)
def test_from_logits_on_probabilities_warns_once(loss, y_true, y_pred):
    instance = loss(from_logits=True)
    with pytest.warns(UserWarning, match="looks like probabilities") as caught:
        instance(y_true, y_pred)
    assert "from_logits=False" in str(caught[0].message) and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        instance(y_true, y_pred)  # checked on the first call only
        loss(from_logits=False)(y_true, y_pred)


def test_from_logits_on_logits_or_unnormalised_scores_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses.CategoricalCrossentropy(from_logits=True)(one_hot([0], 3), [[2.0, -1.0, 0.5]])
        losses.CategoricalCrossentropy(from_logits=True)(one_hot([0], 3), [[0.2, 0.3, 0.1]])
        losses.BinaryCrossentropy(from_logits=True)([[1.0], [0.0]], [[1.5], [-0.3]])


# -- objects: dtype, config, gradients through a model's weights -----------------------------


def test_losses_compute_in_float32_and_keep_the_graph():
    y_pred = shinsou.tensor(probabilities((4, 3), seed=39).astype("float64"), dtype="float64")
    y_pred.requires_grad = True
    value = losses.BinaryCrossentropy()(np.ones((4, 3)), y_pred)
    assert value.dtype == np.float32 and value.shape == ()
    value.backward()
    assert y_pred.grad is not None and y_pred.grad.shape == (4, 3)


ALL_CLASSES = [
    losses.MeanSquaredError(),
    losses.MeanAbsoluteError(),
    losses.MeanAbsolutePercentageError(),
    losses.MeanSquaredLogarithmicError(),
    losses.CosineSimilarity(axis=1),
    losses.Huber(delta=0.5),
    losses.LogCosh(),
    losses.Hinge(),
    losses.SquaredHinge(),
    losses.CategoricalHinge(),
    losses.KLDivergence(),
    losses.Poisson(),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.BinaryFocalCrossentropy(apply_class_balancing=True, gamma=3.0),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=1),
    losses.CategoricalFocalCrossentropy(alpha=0.5),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
    losses.Dice(axis=(1,)),
]


@pytest.mark.parametrize("loss", ALL_CLASSES, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    config = loss.get_config()
    assert {"name", "reduction"} <= set(config)
    clone = type(loss).from_config(config)
    assert clone.get_config() == config and clone.name == loss.name


def test_keras_default_names_and_config_keys():
    assert losses.Huber().name == "huber_loss" and losses.LogCosh().name == "log_cosh"
    assert losses.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy",
        "reduction": "sum_over_batch_size",
        "from_logits": False,
        "ignore_class": None,
        "axis": -1,
    }
    assert set(losses.BinaryCrossentropy().get_config()) == {
        "name",
        "reduction",
        "from_logits",
        "label_smoothing",
        "axis",
    }


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), "label_smoothing"),
        (lambda: losses.CategoricalCrossentropy(axis=1.0), "axis must be an int"),
        (lambda: losses.Huber(delta=0), "delta must be a positive number"),
        (lambda: losses.SparseCategoricalCrossentropy(ignore_class="void"), "ignore_class"),
        (lambda: losses.BinaryFocalCrossentropy(gamma=-1), "gamma must be a number >= 0"),
        (lambda: losses.MeanSquaredError(reduction="auto"), "'auto' was tf.keras's name"),
        (lambda: losses.MeanSquaredError(dtype="int32"), "floating-point"),
        (lambda: losses.BinaryCrossentropy(from_logits="yes"), "from_logits must be True"),
    ],
)
def test_bad_constructor_arguments_fail_at_construction(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_sparse_labels_out_of_range_are_reported():
    with pytest.raises(ValueError, match="label 7"):
        losses.SparseCategoricalCrossentropy()([7], [[0.5, 0.5]])


def test_loss_gradient_reaches_model_weights():
    dense = shinsou.layers.Dense(3)
    x = random_array((5, 4), seed=40)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(labels(5, 3, 41), dense(x))
    loss.backward()
    assert dense.kernel.grad is not None and np.abs(dense.kernel.grad).sum() > 0
    assert ops.convert_to_numpy(loss).dtype == np.float32

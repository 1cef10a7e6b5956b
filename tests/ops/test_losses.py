"""Losses: gradient checks, PyTorch parity, float32, huge logits, label handling, errors."""

import re

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

F = torch.nn.functional if torch else None
EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [EPS, 1 - EPS]


def probabilities(shape, seed):
    return random_array(shape, seed=seed, low=0.05, high=0.95)


def labels(shape, classes, seed):
    return np.random.default_rng(seed).integers(0, classes, size=shape)


def distribution(shape, seed, axis=-1):
    """Soft targets: positive, summing to 1 over ``axis``."""
    raw = random_array(shape, seed=seed, low=0.1, high=1.0)
    return (raw / raw.sum(axis=axis, keepdims=True)).astype("float32")


def _torch_normalised_log(o, dim):
    p = o / o.sum(dim, keepdim=True)
    return p.clamp(EPS, 1 - EPS).log()


# -- binary_crossentropy --------------------------------------------------------------------


def test_binary_crossentropy_parity_and_gradient():
    target, output = probabilities((4, 3), seed=1), probabilities((4, 3), seed=2)
    check_parity(
        ops.binary_crossentropy,
        lambda t, o: F.binary_cross_entropy(o, t, reduction="none"),
        target,
        output,
    )
    check_gradient(ops.binary_crossentropy, target, output)


def test_binary_crossentropy_from_logits_parity_and_gradient():
    target, logits = probabilities((4, 3), seed=3), random_array((4, 3), seed=4, low=-6, high=6)

    def ours(t, o):
        return ops.binary_crossentropy(t, o, from_logits=True)

    check_parity(
        ours,
        lambda t, o: F.binary_cross_entropy_with_logits(o, t, reduction="none"),
        target,
        logits,
    )
    check_gradient(ours, target, logits)


def test_binary_crossentropy_huge_logits_match_torch():
    logits = np.array([-1e30, -1e4, -50.0, 0.0, 50.0, 1e4, 1e30] * 3, dtype="float32")
    target = np.repeat(np.array([0.0, 1.0, 0.3], dtype="float32"), 7)
    loss = check_parity(
        lambda t, o: ops.binary_crossentropy(t, o, from_logits=True),
        lambda t, o: F.binary_cross_entropy_with_logits(o, t, reduction="none"),
        target,
        logits,
    )[0]
    assert np.isfinite(loss.numpy()).all()


def test_binary_crossentropy_clips_probabilities_like_keras():
    target = shinsou.tensor([1.0, 0.0, 1.0, 0.0])
    output = shinsou.tensor([0.0, 1.0, 1.0, 0.0], requires_grad=True)
    loss = ops.binary_crossentropy(target, output)
    # Keras's formula on the float32-clipped probabilities: finite, no -log(0) = inf.
    q = np.clip(output.numpy(), np.float32(EPS), np.float32(1 - EPS)).astype("float64")
    t = target.numpy()
    expected = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)
    assert loss.numpy().max() < 16.2
    loss.sum().backward()
    np.testing.assert_array_equal(output.grad, 0)  # the clip holds every output at a bound


def test_binary_crossentropy_integer_targets_get_no_gradient_and_stay_usable():
    labels_array = np.array([[1, 0], [0, 1]])
    target = shinsou.tensor(labels_array)
    output = shinsou.tensor(probabilities((2, 2), seed=5), requires_grad=True)
    for from_logits in (False, True):
        loss = ops.binary_crossentropy(target, output, from_logits=from_logits)
        loss.sum().backward()
        assert loss.dtype == np.float32 and output.grad.dtype == np.float32
    assert target.grad is None and target.dtype == labels_array.dtype
    np.testing.assert_array_equal(target.numpy(), labels_array)


def test_binary_crossentropy_of_scalars():
    output = shinsou.tensor(0.25, requires_grad=True)
    loss = ops.binary_crossentropy(1.0, output)
    loss.backward()
    assert loss.shape == () and output.grad.shape == ()
    np.testing.assert_allclose([loss.item(), output.grad.item()], [-np.log(0.25), -4.0], rtol=1e-6)


# -- categorical_crossentropy ---------------------------------------------------------------


@pytest.mark.parametrize(("shape", "axis"), [((4, 5), -1), ((2, 3, 4), -1), ((2, 4, 3), 1)])
def test_categorical_crossentropy_from_logits_parity_and_gradient(shape, axis):
    target = distribution(shape, seed=6, axis=axis)
    logits = random_array(shape, seed=7, low=-4, high=4)

    def ours(t, o):
        return ops.categorical_crossentropy(t, o, from_logits=True, axis=axis)

    def theirs(t, o):
        return F.cross_entropy(o.movedim(axis, 1), t.movedim(axis, 1), reduction="none")

    check_parity(ours, theirs, target, logits)
    check_gradient(ours, target, logits)


@pytest.mark.parametrize(("shape", "axis"), [((4, 5), -1), ((2, 4, 3), 1)])
def test_categorical_crossentropy_from_probabilities_parity_and_gradient(shape, axis):
    target = distribution(shape, seed=8, axis=axis)
    output = random_array(shape, seed=9, low=0.1, high=1.0)  # unnormalised: the op normalises

    def ours(t, o):
        return ops.categorical_crossentropy(t, o, axis=axis)

    check_parity(ours, lambda t, o: -(t * _torch_normalised_log(o, axis)).sum(axis), target, output)
    check_gradient(ours, target, output)


def test_categorical_crossentropy_huge_logits_match_torch():
    logits = np.array(
        [[1e4, -1e4, 0.0], [1e30, 1e30, -1e30], [-1e30, 0.0, 1e30], [1e30, 1e30, 1e30]],
        dtype="float32",
    )
    target = distribution((4, 3), seed=10)
    target[0] = [0.0, 1.0, 0.0]  # all the weight on the -1e4 logit: loss 2e4
    loss = check_parity(
        lambda t, o: ops.categorical_crossentropy(t, o, from_logits=True),
        lambda t, o: F.cross_entropy(o, t, reduction="none"),
        target,
        logits,
    )[0]
    assert np.isfinite(loss.numpy()).all()


def test_categorical_crossentropy_zero_probability_is_clipped():
    target = shinsou.tensor([[0.0, 1.0]])
    output = shinsou.tensor([[1.0, 0.0]], requires_grad=True)
    loss = ops.categorical_crossentropy(target, output)
    loss.backward(np.ones(1, dtype="float32"))
    np.testing.assert_allclose(loss.numpy(), [-np.log(np.float32(EPS))], rtol=1e-5)
    assert np.isfinite(output.grad).all()


def test_categorical_crossentropy_one_hot_integer_target():
    target = np.eye(4, dtype="int64")[[0, 3, 1]]
    output = shinsou.tensor(random_array((3, 4), seed=11), requires_grad=True)
    loss = ops.categorical_crossentropy(target, output, from_logits=True)
    sparse = ops.sparse_categorical_crossentropy(np.array([0, 3, 1]), output, from_logits=True)
    np.testing.assert_allclose(loss.numpy(), sparse.numpy(), rtol=1e-6)
    loss.sum().backward()
    assert output.grad.dtype == np.float32


# -- sparse_categorical_crossentropy --------------------------------------------------------


@pytest.mark.parametrize(("shape", "axis"), [((5, 4), -1), ((2, 3, 4), -1), ((2, 4, 3), 1)])
def test_sparse_categorical_crossentropy_from_logits_parity_and_gradient(shape, axis):
    logits = random_array(shape, seed=12, low=-4, high=4)
    target = labels(shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :], shape[axis], 13)

    def ours(t, o):
        return ops.sparse_categorical_crossentropy(t, o, from_logits=True, axis=axis)

    def theirs(t, o):
        return F.cross_entropy(o.movedim(axis, 1), t, reduction="none")

    check_parity(ours, theirs, target, logits)
    check_gradient(ours, target, logits)


@pytest.mark.parametrize(("shape", "axis"), [((5, 4), -1), ((2, 4, 3), 1)])
def test_sparse_categorical_crossentropy_from_probabilities_parity_and_gradient(shape, axis):
    output = random_array(shape, seed=14, low=0.1, high=1.0)
    target = labels(shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :], shape[axis], 15)

    def ours(t, o):
        return ops.sparse_categorical_crossentropy(t, o, axis=axis)

    def theirs(t, o):
        log_q = _torch_normalised_log(o, axis)
        return -log_q.gather(axis, t.unsqueeze(axis)).squeeze(axis)

    check_parity(ours, theirs, target, output)
    check_gradient(ours, target, output)


def test_sparse_categorical_crossentropy_huge_logits_match_torch():
    logits = np.array(
        [[1e4, -1e4, 0.0], [1e30, 1e30, -1e30], [-1e30, 0.0, 1e30], [1e30, 1e30, 1e30]],
        dtype="float32",
    )
    loss = check_parity(
        lambda t, o: ops.sparse_categorical_crossentropy(t, o, from_logits=True),
        lambda t, o: F.cross_entropy(o, t, reduction="none"),
        np.array([1, 0, 1, 2]),
        logits,
    )[0]
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(2), 1e30, np.log(3)], rtol=1e-6)


def test_sparse_categorical_crossentropy_label_forms_agree():
    logits = shinsou.tensor(random_array((4, 3), seed=16))
    ints = np.array([2, 0, 1, 2])
    reference = ops.sparse_categorical_crossentropy(ints, logits, from_logits=True).numpy()
    for target in (
        ints[:, None],  # Keras's (N, 1) labels
        ints.astype("int32"),
        ints.astype("uint8"),
        ints.astype("float32"),  # labels loaded as floats
    ):
        loss = ops.sparse_categorical_crossentropy(target, logits, from_logits=True)
        np.testing.assert_array_equal(loss.numpy(), reference)


def test_sparse_categorical_crossentropy_single_sample():
    logits = shinsou.tensor([2.0, 0.0, -1.0], requires_grad=True)
    loss = ops.sparse_categorical_crossentropy(0, logits, from_logits=True)
    loss.backward()
    assert loss.shape == () and logits.grad.shape == (3,)


def test_sparse_categorical_crossentropy_integer_target_stays_usable():
    target = shinsou.tensor(np.array([1, 0, 2]))
    logits = shinsou.tensor(random_array((3, 3), seed=17), requires_grad=True)
    first = ops.sparse_categorical_crossentropy(target, logits, from_logits=True)
    first.sum().backward()
    second = ops.sparse_categorical_crossentropy(target, logits, from_logits=True)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    assert target.grad is None and target.tolist() == [1, 0, 2]


def test_crossentropies_are_one_node_on_their_inputs():
    target = shinsou.tensor(distribution((2, 3), seed=18), requires_grad=True)
    logits = shinsou.tensor(random_array((2, 3), seed=19), requires_grad=True)
    for name in ("binary_crossentropy", "categorical_crossentropy"):
        for from_logits in (False, True):
            node = getattr(ops, name)(target, logits, from_logits=from_logits)._node
            assert node.op_name == name and node.inputs == (target, logits)
    sparse = ops.sparse_categorical_crossentropy([0, 2], logits, from_logits=True)._node
    assert sparse.op_name == "sparse_categorical_crossentropy" and sparse.inputs == (logits,)


# -- regression -----------------------------------------------------------------------------

REGRESSION = {
    "mean_squared_error": (
        ops.mean_squared_error,
        lambda t, p: F.mse_loss(p, t, reduction="none").mean(-1),
    ),
    "mean_absolute_error": (
        ops.mean_absolute_error,
        lambda t, p: F.l1_loss(p, t, reduction="none").mean(-1),
    ),
    "huber": (ops.huber, lambda t, p: F.huber_loss(p, t, reduction="none").mean(-1)),
    "huber_delta": (
        lambda t, p: ops.huber(t, p, delta=0.3),
        lambda t, p: F.huber_loss(p, t, reduction="none", delta=0.3).mean(-1),
    ),
}


@pytest.mark.parametrize("name", REGRESSION)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (6,)])
def test_regression_parity(name, shape):
    ours, theirs = REGRESSION[name]
    y_true = random_array(shape, seed=20, low=-2, high=2)
    y_pred = random_array(shape, seed=21, low=-2, high=2)
    out = check_parity(ours, theirs, y_true, y_pred)[0]
    assert out.shape == shape[:-1]


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_gradient(name):
    ours = REGRESSION[name][0]
    check_gradient(ours, random_array((3, 4), seed=22, low=-2), random_array((3, 4), seed=23))


def test_regression_integer_targets_keep_float32():
    y_pred = shinsou.tensor(random_array((2, 3), seed=24), requires_grad=True)
    for fn in (ops.mean_squared_error, ops.mean_absolute_error, ops.huber):
        loss = fn(np.array([[1, 0, 2], [0, 1, 1]]), y_pred)
        loss.sum().backward()
        assert loss.dtype == np.float32 and y_pred.grad.dtype == np.float32


def test_float64_inputs_stay_float64():
    target = shinsou.tensor(distribution((2, 3), seed=25), dtype="float64")
    logits = shinsou.tensor(random_array((2, 3), seed=26), dtype="float64", requires_grad=True)
    for loss in (
        ops.binary_crossentropy(target, logits, from_logits=True),
        ops.categorical_crossentropy(target, logits, from_logits=True),
        ops.sparse_categorical_crossentropy([1, 2], logits, from_logits=True),
        ops.mean_squared_error(target, logits),
    ):
        logits.grad = None
        loss.sum().backward()
        assert loss.dtype == np.float64 and logits.grad.dtype == np.float64


# -- bad input ------------------------------------------------------------------------------

SAME_SHAPE_OPS = [
    ("binary_crossentropy", "target", "output"),
    ("categorical_crossentropy", "target", "output"),
    ("mean_squared_error", "y_true", "y_pred"),
    ("mean_absolute_error", "y_true", "y_pred"),
    ("huber", "y_true", "y_pred"),
]


@pytest.mark.parametrize(("name", "first", "second"), SAME_SHAPE_OPS)
def test_shape_mismatch_names_op_and_both_shapes(name, first, second):
    with pytest.raises(
        ValueError, match=rf"{name}: {first} shape \(4,\) and {second} shape \(4, 1\) must be equal"
    ):
        getattr(ops, name)(np.zeros(4, dtype="float32"), np.full((4, 1), 0.5, dtype="float32"))


@pytest.mark.parametrize("target_shape", [(3,), (3, 1), (4, 5)])
def test_sparse_target_shape_mismatch_names_both_shapes(target_shape):
    expected = re.escape(f"target shape {target_shape} does not match output shape (4, 5)")
    with pytest.raises(ValueError, match=rf"sparse_categorical_crossentropy: {expected}.*\(4,\)"):
        ops.sparse_categorical_crossentropy(np.zeros(target_shape, dtype="int64"), np.ones((4, 5)))


@pytest.mark.parametrize("bad", [5, -1])
def test_sparse_out_of_range_label_names_number_of_classes(bad):
    with pytest.raises(ValueError, match=rf"label {bad}, but the output has 5 classes.*\[0, 4\]"):
        ops.sparse_categorical_crossentropy(np.array([0, bad]), np.ones((2, 5)))


def test_sparse_non_integer_labels_are_refused():
    with pytest.raises(ValueError, match="non-integer values"):
        ops.sparse_categorical_crossentropy(np.array([0.5, 1.0]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-integer values"):
        ops.sparse_categorical_crossentropy(np.array([np.nan, 1.0]), np.ones((2, 3)))
    with pytest.raises(TypeError, match="integer class indices, got bool"):
        ops.sparse_categorical_crossentropy(np.array([True, False]), np.ones((2, 3)))


def test_scalar_output_has_no_class_axis():
    for fn in (ops.categorical_crossentropy, ops.sparse_categorical_crossentropy):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: output must have at least one axis"):
            fn(np.float32(1.0), np.float32(1.0))
    with pytest.raises(ValueError, match="mean_squared_error: y_pred must have at least one axis"):
        ops.mean_squared_error(1.0, 1.0)


def test_bad_axis_names_op():
    with pytest.raises(ValueError, match="categorical_crossentropy: axis 2 is out of range"):
        ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 3)), axis=2)


def test_non_numeric_operands_are_refused():
    with pytest.raises(TypeError, match="binary_crossentropy: expected a real-valued numeric"):
        ops.binary_crossentropy(np.array(["a"]), np.ones(1))
    with pytest.raises(TypeError, match="mean_squared_error: expected a real-valued numeric"):
        ops.mean_squared_error(np.ones(1), np.array(["a"]))


def test_huber_delta_must_be_positive():
    with pytest.raises(ValueError, match="huber: delta must be positive, got 0.0"):
        ops.huber(np.ones((1, 2)), np.ones((1, 2)), delta=0)

"""Tensor: creation, dtypes, the backward walk, accumulation, no_grad, freeing, errors."""

import gc
import sys
import weakref

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch


def test_tensor_keeps_float32_by_default_and_other_dtypes_when_asked():
    assert shinsou.tensor(1.5).dtype == np.float32
    assert shinsou.tensor([1.0, 2.0]).dtype == np.float32
    assert shinsou.tensor(np.zeros(3)).dtype == np.float32  # float64 arrays come in as float32
    assert shinsou.tensor(np.zeros(3), dtype="float64").dtype == np.float64
    assert shinsou.tensor([1, 2]).dtype.kind == "i"
    assert shinsou.tensor([True]).dtype == np.bool_
    assert shinsou.tensor(np.zeros(2, dtype="float16")).dtype == np.float16


def test_tensor_exposes_data_numpy_array_and_shape():
    t = shinsou.tensor([[1.0, 2.0, 3.0]])
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and len(t) == 1
    assert isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3]])
    np.testing.assert_array_equal(np.asarray(t), [[1, 2, 3]])
    assert np.asarray(t, dtype="float64").dtype == np.float64
    assert "Tensor(" in repr(shinsou.tensor([1.0], requires_grad=True))


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point.*int"):
        shinsou.tensor([1, 2], requires_grad=True)


def test_backward_of_non_scalar_needs_explicit_grad():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    assert x.grad.dtype == np.float32


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        shinsou.tensor([1.0]).sum().backward()


def test_gradients_accumulate_until_cleared():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_reused_tensor_sums_gradients_from_every_path():
    x = shinsou.tensor([2.0], requires_grad=True)
    y = x * x  # used twice below: dz/dx = 2y * 2x + 1 at x=2 -> 33
    z = y * y + x
    z.backward()
    np.testing.assert_allclose(x.grad, [4 * 2.0**3 + 1])


def test_same_tensor_on_both_sides_of_add_gets_both_gradients():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_leaf_grads_do_not_alias_each_other():
    a = shinsou.tensor([1.0], requires_grad=True)
    b = shinsou.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad += 5  # an optimizer updating a grad in place must not touch b's
    np.testing.assert_allclose(b.grad, [1.0])


def test_retain_graph_allows_a_second_backward_and_default_frees():
    x = shinsou.tensor([3.0], requires_grad=True)
    y = ops.exp(x) * 2
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4 * np.exp(3.0)], rtol=1e-6)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_frees_saved_arrays():
    x = shinsou.tensor(random_array((100,)), requires_grad=True)
    hidden = ops.exp(x)
    watcher = weakref.ref(hidden)
    loss = (hidden * 2).sum()
    del hidden
    gc.collect()
    assert watcher() is not None  # the graph still holds it
    loss.backward()
    gc.collect()
    assert watcher() is None  # ...and lets go of it once walked


def test_deep_graph_needs_no_recursion():
    x = shinsou.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y * 1.0 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_no_grad_records_nothing_and_works_as_decorator():
    w = shinsou.tensor([1.0], requires_grad=True)
    with shinsou.no_grad():
        assert not shinsou.is_grad_enabled()
        y = w * 2
    assert shinsou.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @shinsou.no_grad()
    def double(t):
        return t * 2

    assert not double(w).requires_grad


def test_constants_get_no_gradient():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    c = shinsou.tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None


def test_detach_cuts_the_graph():
    x = shinsou.tensor([1.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf


def test_multiple_output_op_with_one_output_unused():
    x = shinsou.tensor(random_array((4, 3)), requires_grad=True)
    first, _ = ops.split(x, 2, axis=0)
    first.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1, 1, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    "index",
    [
        (slice(1, 3),),
        (Ellipsis, 0),
        (slice(None, None, -1), None),
        ([0, 2, 2],),  # advanced index with a repeat: gradients add up
        (np.array([[0, 1], [1, 0]]), slice(1, None)),
        (np.array([True, False, True]),),
        (-1, -2),
    ],
)
def test_indexing_with_gradient(index):
    a = random_array((3, 4))

    def ours(t):
        return t[index]

    def theirs(t):
        converted = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)
        if any(isinstance(i, slice) and i.step == -1 for i in index):
            return torch.flip(t, dims=[0])[(slice(None),) + converted[1:]]
        return t[tuple(torch.tensor(i) if isinstance(i, list) else i for i in converted)]

    check_parity(ours, theirs, a)
    check_gradient(ours, a)


def test_operators_match_ops():
    a, b = random_array((2, 3), seed=1), random_array((2, 3), seed=2, low=0.5)
    check_parity(
        lambda x, y: (x + y, x - y, x * y, x / y, -x, x**2, 2**x, 1 - x, 3 / y, x @ y.T),
        lambda x, y: (x + y, x - y, x * y, x / y, -x, x**2, 2**x, 1 - x, 3 / y, x @ y.T),
        a,
        b,
    )


def test_methods_reshape_transpose_and_reductions():
    a = random_array((2, 3, 4))
    check_parity(
        lambda x: (x.reshape(6, 4), x.transpose(2, 0, 1), x.T, x.sum(axis=1), x.mean(), x.max(-1)),
        lambda x: (
            x.reshape(6, 4),
            x.permute(2, 0, 1),
            x.permute(2, 1, 0),
            x.sum(1),
            x.mean(),
            x.amax(-1),
        ),
        a,
    )


def test_backward_grad_shape_mismatch_is_reported():
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))

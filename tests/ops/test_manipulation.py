"""Shape and gather ops: gradient checks, PyTorch parity, errors that name shapes."""

import numpy as np
import pytest

import shinsou
from shinsou import ops
from support import check_gradient, check_parity, random_array, torch


def test_reshape_transpose_expand_squeeze():
    x = random_array((2, 3, 4))
    check_parity(
        lambda t: (
            ops.reshape(t, (4, -1)),
            ops.transpose(t, (2, 0, 1)),
            ops.transpose(t),
            ops.expand_dims(t, -1),
            ops.squeeze(ops.expand_dims(t, 1), axis=1),
        ),
        lambda t: (t.reshape(4, -1), t.permute(2, 0, 1), t.permute(2, 1, 0), t[..., None], t),
        x,
    )
    check_gradient(lambda t: ops.transpose(ops.reshape(t, (6, 4)), (1, 0)), x)


def test_concatenate_and_stack():
    a, b = random_array((2, 3), seed=1), random_array((2, 5), seed=2)
    check_parity(
        lambda x, y: ops.concatenate([x, y], axis=-1),
        lambda x, y: torch.cat([x, y], dim=-1),
        a,
        b,
    )
    check_gradient(lambda x, y: ops.concatenate([x, y, x], axis=1), a, b)
    c = random_array((2, 3), seed=3)
    check_parity(lambda x, y: ops.stack([x, y], axis=1), lambda x, y: torch.stack([x, y], 1), a, c)
    check_gradient(lambda x, y: ops.stack([x, y, x], axis=-1), a, c)


def test_split_into_sections_and_at_indices():
    x = random_array((6, 4))
    check_parity(lambda t: tuple(ops.split(t, 3)), lambda t: torch.split(t, 2), x)
    check_parity(
        lambda t: tuple(ops.split(t, [1, 3], axis=-1)),
        lambda t: torch.tensor_split(t, [1, 3], dim=-1),
        x,
    )
    check_gradient(lambda t: ops.split(t, [1, 3], axis=1), x)


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
def test_pad_modes(mode):
    x = random_array((3, 4))
    widths = ((1, 2), (2, 1))
    out = ops.pad(x, widths, mode=mode)
    np.testing.assert_array_equal(out.numpy(), np.pad(x, widths, mode=mode))
    check_gradient(lambda t: ops.pad(t, widths, mode=mode), x)


def test_pad_parity_constant():
    x = random_array((2, 3))
    check_parity(
        lambda t: ops.pad(t, ((0, 1), (2, 0)), constant_values=0.5),
        lambda t: torch.nn.functional.pad(t, (2, 0, 0, 1), value=0.5),
        x,
    )


def test_take_along_axes_and_flat():
    x = random_array((3, 4))
    index = np.array([[0, 2], [2, 2]])
    check_parity(
        lambda t: (ops.take(t, index, axis=0), ops.take(t, index, axis=-1), ops.take(t, index)),
        lambda t: (
            t[torch.from_numpy(index)],
            t[:, torch.from_numpy(index)],
            t.reshape(-1)[torch.from_numpy(index)],
        ),
        x,
    )
    check_gradient(lambda t: ops.take(t, index, axis=1), x)


def test_take_along_axis():
    x = random_array((3, 4))
    index = np.array([[0, 3], [1, 1], [2, 0]])
    check_parity(
        lambda t: ops.take_along_axis(t, index, axis=1),
        lambda t: torch.take_along_dim(t, torch.from_numpy(index), dim=1),
        x,
    )
    check_gradient(lambda t: ops.take_along_axis(t, index, axis=-1), x)
    check_gradient(lambda t: ops.take_along_axis(t, np.array([0, 0, 5]), axis=None), x)


def test_broadcast_tile_repeat_flip():
    x = random_array((2, 3))
    check_parity(
        lambda t: (
            ops.broadcast_to(t, (4, 2, 3)),
            ops.tile(t, (2, 1)),
            ops.repeat(t, 2, axis=1),
            ops.repeat(t, 3),
            ops.flip(t, axis=0),
        ),
        lambda t: (
            t.expand(4, 2, 3),
            t.repeat(2, 1),
            t.repeat_interleave(2, dim=1),
            t.reshape(-1).repeat_interleave(3),
            t.flip(0),
        ),
        x,
    )
    check_gradient(lambda t: ops.repeat(t, [1, 0, 2], axis=1), x)
    check_gradient(lambda t: ops.tile(t, (2, 1, 2)), x)


def test_one_hot():
    out = ops.one_hot(np.array([0, 2, -1, 5]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert ops.one_hot(np.array([[1]]), 2, axis=0).shape == (2, 1, 1)
    assert ops.one_hot(np.array([1]), 2, dtype="int32").dtype == np.int32


def test_integer_index_inputs_get_no_gradient():
    x = shinsou.tensor(random_array((3, 2)), requires_grad=True)
    index = shinsou.tensor([2, 0])
    ops.take(x, index, axis=0).sum().backward()
    assert index.grad is None
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [1, 1]])


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 3\) and \(3, 3\) differ"):
        ops.concatenate([np.ones((2, 3)), np.ones((3, 3))], axis=1)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape .*\(2, 3\).*\(4, 2\)"):
        ops.reshape(np.ones((2, 3)), (4, 2))
    with pytest.raises(ValueError, match=r"stack: .*\(2,\) and \(3,\)"):
        ops.stack([np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="split: axis 0 of shape \\(5,\\)"):
        ops.split(np.ones(5), 2)
    with pytest.raises(ValueError, match="pad: unknown mode 'mirror'"):
        ops.pad(np.ones(2), ((1, 1),), mode="mirror")
    with pytest.raises(TypeError, match="take: indices must be integers"):
        ops.take(np.ones(3), np.array([0.5]))
    with pytest.raises(ValueError, match=r"squeeze: axis 0 of shape \(2, 1\) has length 2"):
        ops.squeeze(np.ones((2, 1)), axis=0)

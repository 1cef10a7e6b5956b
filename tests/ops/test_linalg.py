"""einsum, dot, norm: gradient checks, PyTorch parity, errors."""

import numpy as np
import pytest

from shinsou import ops
from support import check_gradient, check_parity, random_array, torch

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->i", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,k->ijk", [(2, 3), (4,)]),
    ("btnh,bsnh->bnts", [(2, 3, 2, 4), (2, 5, 2, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
]


@pytest.mark.parametrize("subscripts, shapes", EINSUM_CASES)
def test_einsum_parity_and_gradient(subscripts, shapes):
    arrays = [random_array(shape, seed=i) for i, shape in enumerate(shapes)]
    check_parity(
        lambda *t: ops.einsum(subscripts, *t),
        lambda *t: torch.einsum(subscripts, *t),
        *arrays,
    )
    check_gradient(lambda *t: ops.einsum(subscripts, *t), *arrays)


@pytest.mark.parametrize(
    "shapes", [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3), (3,)), ((2, 2, 3), (4, 3, 5))]
)
def test_dot_matches_numpy_and_has_gradients(shapes):
    a, b = random_array(shapes[0], seed=1), random_array(shapes[1], seed=2)
    np.testing.assert_allclose(ops.dot(a, b).numpy(), np.dot(a, b), rtol=1e-5)
    check_gradient(ops.dot, a, b)


@pytest.mark.parametrize("ord_, axis", [(None, None), (None, -1), (1, 0), (float("inf"), -1)])
def test_norm(ord_, axis):
    x = random_array((3, 4), seed=3)
    torch_ord = 2 if ord_ is None else ord_
    dims = None if axis is None else axis
    check_parity(
        lambda t: ops.norm(t, ord=ord_, axis=axis),
        lambda t: torch.linalg.vector_norm(t, ord=torch_ord, dim=dims),
        x,
    )
    check_gradient(lambda t: ops.norm(t, ord=ord_, axis=axis), x)


def test_einsum_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"einsum: subscript 'ij' has 2 axes.*\(3,\)"):
        ops.einsum("ij->i", np.ones(3))
    with pytest.raises(ValueError, match="name 2 operands but 1"):
        ops.einsum("ij,jk->ik", np.ones((2, 2)))
    with pytest.raises(ValueError, match="ellipsis"):
        ops.einsum("...i->...", np.ones((2, 2)))
    with pytest.raises(ValueError, match="norm: ord=3"):
        ops.norm(np.ones(3), ord=3)

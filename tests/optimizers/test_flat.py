"""The flat layout: runs, chunks, lanes (threads) and adoption of rebound variables."""

import numpy as np
import pytest

from shinsou import Variable, optimizers
from shinsou.optimizers import flat


def test_runs_merge_neighbouring_variables():
    variables = [Variable(np.zeros(n, "float32"), name=f"v{n}") for n in (2, 3, 4, 5)]
    group = flat.FlatLayout(variables).groups[0]
    assert group.runs([True, True, True, True]) == [[0, 14]]
    assert group.runs([True, False, True, True]) == [[0, 2], [5, 14]]
    assert group.runs([False, False, False, False]) == []


def test_chunks_cut_runs():
    assert list(flat.chunks([(0, 5)])) == [(0, 5)]
    big = flat.CHUNK * 2 + 3
    assert list(flat.chunks([(1, big)])) == [
        (1, flat.CHUNK + 1),
        (flat.CHUNK + 1, 2 * flat.CHUNK + 1),
        (2 * flat.CHUNK + 1, big),
    ]


def test_adopt_rejects_a_changed_shape():
    (w,) = [Variable(np.zeros(3, "float32"), name="w")]
    layout = flat.FlatLayout([w])
    w.data = np.zeros(4, "float32")
    with pytest.raises(ValueError, match=r"'w' changed shape from \(3,\) to \(4,\)"):
        layout.groups[0].adopt(0)


def test_lanes_propagate_errors(monkeypatch):
    monkeypatch.setattr(flat, "LANES", 2)

    def work(part, lane):
        if lane == 1:
            raise RuntimeError("lane 1 failed")

    with pytest.raises(RuntimeError, match="lane 1 failed"):
        flat.run_in_lanes(list(range(4 * flat.JOBS_PER_LANE)), work)


def test_gradient_already_in_the_flat_buffer_is_used_in_place():
    w = Variable(np.ones(3, "float32"), name="w")
    optimizer = optimizers.SGD(learning_rate=1.0)
    optimizer.build([w])
    group = optimizer._layout.groups[0]
    w.grad = group.grad_views[0]
    w.grad[...] = 2.0
    optimizer.apply([w.grad], [w])
    np.testing.assert_array_equal(w.numpy(), -1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.Adam(0.05, amsgrad=True, weight_decay=0.1),
        lambda: optimizers.RMSprop(0.01, momentum=0.9, centered=True),
        lambda: optimizers.Adadelta(1.0),
        lambda: optimizers.Nadam(0.05),
        lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True, use_ema=True),
    ],
    ids=["adam", "rmsprop", "adadelta", "nadam", "sgd"],
)
def test_tiny_chunks_and_many_lanes_change_nothing(problem, trajectory, monkeypatch, make):
    # Chunks of 7 elements cut across variable boundaries and are spread over 3 threads: the
    # update is elementwise, so the result must be bit for bit the same as in one piece.
    whole = trajectory.shinsou(make(), *problem)
    monkeypatch.setattr(flat, "CHUNK", 7)
    monkeypatch.setattr(flat, "LANES", 3)
    monkeypatch.setattr(flat, "JOBS_PER_LANE", 1)
    pieces = trajectory.shinsou(make(), *problem)
    for a, b in zip(whole, pieces):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)

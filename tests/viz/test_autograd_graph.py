import numpy as np
import pytest

import shinsou
from shinsou.viz import computation_graph, plot_computation_graph

pytest.importorskip("matplotlib")


def _titles(boxes):
    return [box.text.splitlines()[0] for box in boxes]


def test_graph_of_a_small_expression(tmp_path, check_png):
    x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    w = shinsou.Variable(np.array(0.5, "float32"), name="weight")
    hidden = shinsou.ops.sigmoid(x * w + 1.0)
    loss = (hidden**2).mean()
    boxes, edges = computation_graph(loss, names={"x": x, "h": hidden})
    titles = _titles(boxes)
    assert titles == ["x", "weight", "multiply", "constant", "add", "h = sigmoid",
                      "constant", "power", "mean"]  # fmt: skip
    assert len(edges) == 8
    assert (titles.index("h = sigmoid"), titles.index("power")) in edges
    assert boxes[0].shape == "round" and boxes[2].shape == "box"
    loss.backward(retain_graph=True)
    boxes, _ = computation_graph(loss, names={"x": x})
    sigmoid = 1 / (1 + np.exp(-(np.array([1.0, 2.0]) * 0.5 + 1)))
    expected = (2 * sigmoid * sigmoid * (1 - sigmoid) * 0.5 / 2).tolist()
    assert boxes[0].text.splitlines()[-1] == f"grad [{expected[0]:.4g}, {expected[1]:.4g}]"
    path = tmp_path / "graph.png"
    plot_computation_graph(loss, to_file=path, names={"x": x})
    check_png(path)


def test_a_tensor_used_twice_is_one_node():
    x = shinsou.tensor(3.0, requires_grad=True)
    y = x * x + x
    boxes, edges = computation_graph(y, show_values=False)
    assert _titles(boxes) == ["parameter", "multiply", "add"]
    assert edges == [(0, 1), (1, 2), (0, 2)]
    assert boxes[1].text.splitlines() == ["multiply", "scalar"]


def test_plot_computation_graph_bad_input():
    with pytest.raises(TypeError, match="expected a shinsou Tensor; received list"):
        plot_computation_graph([1.0])
    with pytest.raises(ValueError, match="this tensor has no recorded graph"):
        plot_computation_graph(shinsou.tensor([1.0]) * 2)
    x = shinsou.tensor([1.0], requires_grad=True)
    loss = (x * 3).sum()
    with pytest.raises(TypeError, match="names must map labels to tensors; 'x' maps to float"):
        plot_computation_graph(loss, names={"x": 1.0})
    loss.backward()
    with pytest.raises(ValueError, match="was freed by backward\\(\\)"):
        plot_computation_graph(loss)

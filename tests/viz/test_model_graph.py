import os
import stat

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.viz import model_graph, plot_model

pytest.importorskip("matplotlib")


def _first_lines(boxes):
    return [box.text.splitlines()[0] for box in boxes]


def _residual_model(head=None):
    inputs = shinsou.Input((8, 8, 3), name="image")
    stem = layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = layers.Conv2D(4, 3, padding="same", name="conv_a")(stem)
    x = layers.BatchNormalization(name="bn_a")(x)
    x = layers.ReLU(name="relu_a")(x)
    x = layers.Conv2D(4, 3, padding="same", name="conv_b")(x)
    merged = layers.Add(name="skip_add")([stem, x])
    outputs = layers.GlobalAveragePooling2D(name="pool")(merged)
    if head is not None:
        outputs = head(outputs)
    return shinsou.Model(inputs, outputs, name="residual")


def test_sequential_graph_is_a_chain_with_shapes_and_params(tmp_path, check_png):
    model = shinsou.Sequential(
        [shinsou.Input((16,)), layers.Dense(8, name="hidden"), layers.Dense(3, name="out")]
    )
    boxes, edges = model_graph(model)
    assert _first_lines(boxes)[1:] == ["hidden (Dense)", "out (Dense)"]
    assert edges == [(0, 1), (1, 2)]
    assert boxes[1].text.splitlines()[1:] == ["output: (None, 8)", "params: 136"]
    path = tmp_path / "sequential.png"
    figure = plot_model(model, to_file=path, dpi=60)
    check_png(path)
    assert type(figure).__name__ == "Figure"


def test_functional_branches_and_merges(tmp_path, check_png):
    model = _residual_model()
    boxes, edges = model_graph(model)
    index = {name.split(" ")[0]: i for i, name in enumerate(_first_lines(boxes))}
    assert (index["stem"], index["skip_add"]) in edges  # the skip connection
    assert (index["conv_b"], index["skip_add"]) in edges
    assert sum(target == index["stem"] for _, target in edges) == 1
    assert len(edges) == 8
    params = {name: int(box.text.splitlines()[-1].split()[-1]) for name, box in
              zip(index, boxes) if name != "image"}  # fmt: skip
    assert params == {layer.name: layer.count_params() for layer in model.layers[1:]}
    path = tmp_path / "residual.png"
    plot_model(model, to_file=path, dpi=60, rankdir="LR")
    check_png(path)


def test_nested_model_collapsed_and_expanded(tmp_path, check_png):
    head = shinsou.Sequential(
        [shinsou.Input((4,)), layers.Dense(5, name="d1"), layers.Dense(2, name="d2")],
        name="head",
    )
    model = _residual_model(head)
    boxes, edges = model_graph(model)
    assert _first_lines(boxes)[-1] == "head (Sequential)"
    assert edges[-1] == (len(boxes) - 2, len(boxes) - 1)  # pool -> head
    assert boxes[-1].text.splitlines()[-1] == f"params: {head.count_params()}"
    expanded, expanded_edges = model_graph(model, expand_nested=True)
    names = _first_lines(expanded)
    assert names[-2:] == ["d1 (Dense)", "d2 (Dense)"]
    assert [box.group for box in expanded[-2:]] == ["head", "head"]
    assert (names.index("pool (GlobalAveragePooling2D)"), len(names) - 2) in expanded_edges
    path = tmp_path / "nested.png"
    plot_model(model, to_file=path, expand_nested=True, dpi=60)
    check_png(path)


def test_multiple_inputs_and_a_shared_layer():
    first, second = shinsou.Input((3,), name="a"), shinsou.Input((3,), name="b")
    shared = layers.Dense(2, name="shared")
    joined = layers.Concatenate(name="join")([shared(first), shared(second)])
    model = shinsou.Model([first, second], joined)
    boxes, edges = model_graph(model, show_trainable=True, show_dtype=True)
    names = _first_lines(boxes)
    assert names.count("shared (Dense)") == 1  # one box per layer, as Keras draws it
    shared_box = boxes[names.index("shared (Dense)")]
    assert "dtype: float32" in shared_box.text and "trainable: yes" in shared_box.text
    feeding = sorted(names[source] for source, target in edges if target == names.index(
        "shared (Dense)"))  # fmt: skip
    assert feeding == ["a (InputLayer)", "b (InputLayer)"]
    assert len(edges) == 3


def test_default_file_name_and_options(tmp_path, monkeypatch, check_png):
    monkeypatch.chdir(tmp_path)
    model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2, activation="relu")])
    plot_model(model, dpi=50)
    check_png(os.path.join(tmp_path, "model.png"), min_side=40)
    boxes, _ = model_graph(model, show_shapes=False, show_layer_names=False,
                           show_layer_activations=True)  # fmt: skip
    assert boxes[1].text.splitlines() == ["Dense", "activation: relu", "params: 10"]


def _fake_dot(folder, body):
    path = folder / "dot"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_graphviz_is_used_when_found_and_skipped_when_broken(tmp_path, monkeypatch):
    import shutil

    from shinsou.viz import model_plot as module

    model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2)])
    broken = _fake_dot(tmp_path, "exit 1")
    monkeypatch.setattr(shutil, "which", lambda name: broken if name == "dot" else None)
    figure = plot_model(model, to_file=None)
    assert not figure.axes[0].images  # drawn with matplotlib boxes instead

    picture = tmp_path / "graph.png"
    plot_model(model, to_file=picture, dpi=50)  # any PNG will do as graphviz's output
    working = _fake_dot(tmp_path, f"cat > /dev/null; cat '{picture}'")
    monkeypatch.setattr(shutil, "which", lambda name: working if name == "dot" else None)
    figure = plot_model(model, to_file=None)
    assert len(figure.axes[0].images) == 1
    source = module._dot_source(*model_graph(model), "TB", 96)
    assert source.startswith("digraph model {") and "n0 -> n1;" in source


def test_plot_model_bad_input():
    with pytest.raises(TypeError, match="plot_model: expected a shinsou Model; received Dense"):
        plot_model(layers.Dense(2))
    with pytest.raises(ValueError, match="plot_model: model 'unbuilt' has no recorded graph"):
        plot_model(shinsou.Sequential([layers.Dense(2)], name="unbuilt"))
    model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"rankdir must be one of \('TB', 'LR'\); received 'BT'"):
        plot_model(model, rankdir="BT")
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        plot_model(model, dpi=0)


def test_plots_a_model_called_on_data_too():
    model = shinsou.Sequential([layers.Dense(3, name="late")])
    model(np.zeros((2, 5), "float32"))
    boxes, edges = model_graph(model)
    assert _first_lines(boxes)[-1] == "late (Dense)" and edges == [(0, 1)]

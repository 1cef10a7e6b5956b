"""model.summary(): the exact text Keras 3 prints, for Sequential (built or not), functional
(chains and graphs with merges), subclassed and nested models."""

import re

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.models.summary import print_summary, readable_memory_size

Dropout = layers.Dropout


def _summary(model, **kwargs) -> str:
    lines = []
    print_summary(model, print_fn=lines.append, **kwargs)
    return "\n".join(lines)


def _lecture_mlp():
    return shinsou.Sequential(
        [
            shinsou.Input((784,)),
            layers.Dense(512, activation="relu", name="dense"),
            Dropout(0.2, name="dropout"),
            layers.Dense(512, activation="relu", name="dense_1"),
            Dropout(0.2, name="dropout_1"),
            layers.Dense(10, activation="softmax", name="dense_2"),
        ],
        name="sequential",
    )


# What Keras 3 prints for the lecture's MLP in an 80-column terminal (line length 76).
LECTURE_MLP_76 = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 512)            │       401,920 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 512)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 512)            │       262,656 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout_1 (Dropout)             │ (None, 512)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 10)             │         5,130 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 669,706 (2.55 MB)
 Trainable params: 669,706 (2.55 MB)
 Non-trainable params: 0 (0.00 B)"""


def test_the_lecture_mlp_as_keras_prints_it():
    assert _summary(_lecture_mlp(), line_length=76) == LECTURE_MLP_76


def test_default_width_follows_the_terminal_as_keras_does(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert _summary(_lecture_mlp()) == LECTURE_MLP_76
    monkeypatch.setenv("COLUMNS", "200")
    lines = _summary(_lecture_mlp()).splitlines()
    assert {len(line) for line in lines[1:12]} == {88}  # Keras's default line length
    # The 88-column row layout, as Keras prints it:
    assert lines[6] == (
        "│ dropout (Dropout)                    │ (None, 512)                 │               0 │"
    )


def test_optimizer_params_are_counted_once_the_optimizer_is_built():
    # Keras 3's output for this model after training with Adam (2 slots per weight, plus
    # the int64 iteration count and the float32 learning rate).
    expected = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 64)             │         1,216 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 64)             │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 32)             │         2,080 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout_1 (Dropout)             │ (None, 32)             │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 1)              │            33 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 9,989 (39.02 KB)
 Trainable params: 3,329 (13.00 KB)
 Non-trainable params: 0 (0.00 B)
 Optimizer params: 6,660 (26.02 KB)"""
    model = shinsou.Sequential(
        [
            shinsou.Input((18,)),
            layers.Dense(64, name="dense"),
            Dropout(0.2, name="dropout"),
            layers.Dense(32, name="dense_1"),
            Dropout(0.2, name="dropout_1"),
            layers.Dense(1, name="dense_2"),
        ],
        name="sequential",
    )
    slots = [np.zeros(w.shape, "float32") for w in model.trainable_weights for _ in range(2)]
    state = [np.zeros((), "int64"), np.zeros((), "float32"), *slots]
    model.optimizer = type("Adam", (), {"built": True, "variables": state})()
    model.compiled = True
    assert _summary(model, line_length=76) == expected


def test_an_unbuilt_sequential_shows_question_marks_and_zero_params():
    model = shinsou.Sequential([layers.Dense(8, name="a"), layers.Dense(2, name="b")], name="s")
    text = _summary(model, line_length=76)
    assert "│ a (Dense)                       │ ?                      │   0 (unbuilt) │" in text
    assert text.splitlines()[-3:] == [
        " Total params: 0 (0.00 B)",
        " Trainable params: 0 (0.00 B)",
        " Non-trainable params: 0 (0.00 B)",
    ]


def test_a_functional_chain_lists_its_input_layer_without_connections():
    inputs = shinsou.Input((28, 28, 1), name="input_layer")
    outputs = layers.Dense(10, name="dense")(layers.Flatten(name="flatten")(inputs))
    text = _summary(shinsou.Model(inputs, outputs, name="functional"), line_length=76)
    assert text.splitlines()[2] == (
        "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃"
    )
    assert "│ input_layer (InputLayer)        │ (None, 28, 28, 1)      │             0 │" in text
    assert "│ flatten (Flatten)               │ (None, 784)            │             0 │" in text
    assert "│ dense (Dense)                   │ (None, 10)             │         7,850 │" in text


class Merge(layers.Layer):
    def call(self, inputs):
        first, second = inputs
        return first + second

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def test_a_functional_graph_with_a_merge_has_a_connected_to_column():
    inputs = shinsou.Input((32, 32, 3), name="img")
    left = layers.Dense(4, name="left")(inputs)
    right = layers.Dense(4, name="right")(inputs)
    merged = Merge(name="merge")([left, right])
    model = shinsou.Model(inputs, layers.Dense(2, name="head")(merged), name="toy")
    lines = _summary(model, line_length=76).splitlines()
    # Header and first row as Keras prints them for a graph model (toy ResNet of the guide).
    assert lines[1:5] == [
        "┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓",
        "┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩",
        "│ img (InputLayer)    │ (None, 32, 32, 3) │          0 │ -                 │",
    ]
    text = "\n".join(lines)
    assert "│ left (Dense)        │ (None, 32, 32, 4) │         16 │ img[0][0]         │" in text
    assert "│ merge (Merge)       │ (None, 32, 32, 4) │          0 │ left[0][0],       │" in text
    assert "│                     │                   │            │ right[0][0]       │" in text


class TwoLayers(shinsou.Model):
    def __init__(self):
        super().__init__(name="two_layers")
        self.hidden = layers.Dense(4, name="hidden")
        self.out = layers.Dense(1, name="out")

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_subclassed_model_before_and_after_its_first_call():
    model = TwoLayers()
    assert "│ hidden (Dense)                  │ ?                      │   0 (unbuilt) │" in (
        _summary(model, line_length=76)
    )
    model(np.ones((2, 3), "float32"))
    text = _summary(model, line_length=76)
    assert "│ hidden (Dense)                  │ (2, 4)                 │            16 │" in text
    assert " Total params: 21 (84.00 B)" in text


def test_nested_models_and_expand_nested():
    inner = shinsou.Sequential([layers.Dense(3, name="inner_dense")], name="inner")
    outer = shinsou.Sequential([shinsou.Input((5,)), inner, layers.Dense(1, name="top")])
    text = _summary(outer, line_length=76)
    assert "│ inner (Sequential)              │ (None, 3)              │            18 │" in text
    assert "inner_dense" not in text
    expanded = _summary(outer, line_length=76, expand_nested=True)
    assert (
        "│    └ inner_dense (Dense)        │ (None, 3)              │            18 │" in expanded
    )


def test_show_trainable_marks_frozen_layers():
    model = _lecture_mlp()
    model.get_layer("dense").trainable = False
    text = _summary(model, line_length=100, show_trainable=True)
    rows = [line for line in text.splitlines() if line.startswith("│ d")]
    assert [row.split("│")[4].strip() for row in rows] == ["N", "-", "Y", "-", "Y"]
    assert " Non-trainable params: 401,920 (1.53 MB)" in text


def test_multiple_outputs_are_listed_together():
    class Split(layers.Layer):
        def call(self, x):
            return [x[:, :2], x[:, 2:]]

        def compute_output_shape(self, input_shape):
            return [(input_shape[0], 2), (input_shape[0], input_shape[1] - 2)]

    inputs = shinsou.Input((5,), name="x")
    model = shinsou.Model(inputs, Split(name="split")(inputs), name="m")
    assert "│ split (Split)                   │ [(None, 2), (None, 3)] │" in _summary(
        model, line_length=76
    )


def test_layer_range_selects_rows():
    text = _summary(_lecture_mlp(), line_length=76, layer_range=["dense_1", "dropout_1"])
    assert re.findall(r"│ (\w+) \(", text) == ["dense_1", "dropout_1"]


def test_printing_to_a_pipe_has_no_control_characters(capsys):
    _lecture_mlp().summary(line_length=76)
    assert capsys.readouterr().out == LECTURE_MLP_76 + "\n"


def test_printing_to_a_terminal_uses_colours(monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    _lecture_mlp().summary(line_length=76)
    out = terminal.getvalue()
    assert "\x1b[" in out
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == LECTURE_MLP_76 + "\n"


def test_readable_memory_size():
    sizes = [0, 1023, 1024, 900_000, 3 * 1024**3]
    assert [readable_memory_size(s) for s in sizes] == [
        "0.00 B",
        "1023.00 B",
        "1.00 KB",
        "878.91 KB",
        "3.00 GB",
    ]


def test_bad_arguments_are_reported():
    model = _lecture_mlp()
    with pytest.raises(ValueError, match=r"line_length=8 is too narrow"):
        _summary(model, line_length=8)
    with pytest.raises(ValueError, match=r"positions must give 3 column edges"):
        _summary(model, positions=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"matches no layer names; the layers are \['dense'"):
        _summary(model, layer_range=["conv.*", "dense"])
    with pytest.raises(ValueError, match=r"two layer names"):
        _summary(model, layer_range=["dense"])

"""Sequential: building from Input / input_shape / first call, add, pop, errors."""

import numpy as np
import pytest

import shinsou
from shinsou import layers


def test_built_from_input_shape_argument_like_the_lecture():
    model = shinsou.Sequential(
        [
            layers.Dense(512, activation="relu", input_shape=(784,)),
            layers.Dense(10, activation="softmax"),
        ]
    )
    assert model.built and model.output_shape == (None, 10)
    assert model.count_params() == 784 * 512 + 512 + 512 * 10 + 10


def test_deferred_build_on_first_call():
    model = shinsou.Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.built
    out = model(np.ones((2, 5)))
    assert out.shape == (2, 1) and model.built and model.input_shape == (None, 5)


def test_add_and_pop():
    model = shinsou.Sequential()
    model.add(shinsou.Input((4,)))
    model.add(layers.Dense(2))
    model.add(layers.Dense(3))
    assert model.output_shape == (None, 3)
    model.pop()
    assert model.output_shape == (None, 2) and len(model.layers) == 1


def test_incompatible_layer_is_reported_at_add_time():
    model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2, name="first")])
    dense = layers.Dense(1, name="late")
    dense.build((None, 7))
    with pytest.raises(ValueError, match=r"'late'.*\(None, 2\).*axis -1 of size 7"):
        model.add(dense)


def test_add_rejects_non_layers_and_duplicate_names():
    model = shinsou.Sequential()
    with pytest.raises(TypeError, match="expected a Layer"):
        model.add("dense")
    model.add(layers.Dense(1, name="same"))
    with pytest.raises(ValueError, match="unique names.*'same'"):
        model.add(layers.Dense(1, name="same"))


def test_sequential_inside_functional_model():
    block = shinsou.Sequential([layers.Dense(3), layers.Dense(2)])
    x = shinsou.Input((5,))
    model = shinsou.Model(x, block(x))
    assert model(np.ones((4, 5))).shape == (4, 2)

"""Merging layers: values and gradients against PyTorch, Keras broadcasting of ranks, shape
inference and its errors, masks, functional forms and configs."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from support import check_parity, random_array, torch

ELEMENTWISE = {
    "Add": (layers.Add, lambda a, b, c: a + b + c),
    "Multiply": (layers.Multiply, lambda a, b, c: a * b * c),
    "Average": (layers.Average, lambda a, b, c: (a + b + c) / 3),
    "Maximum": (layers.Maximum, lambda a, b, c: torch.maximum(torch.maximum(a, b), c)),
    "Minimum": (layers.Minimum, lambda a, b, c: torch.minimum(torch.minimum(a, b), c)),
}


def arrays(*shapes):
    return [random_array(shape, seed=i) for i, shape in enumerate(shapes)]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_merges_match_torch(name):
    cls, reference = ELEMENTWISE[name]
    layer = cls()
    check_parity(lambda a, b, c: layer([a, b, c]), reference, *arrays((2, 3), (2, 3), (2, 3)))


def test_subtract_matches_torch():
    layer = layers.Subtract()
    check_parity(lambda a, b: layer([a, b]), lambda a, b: a - b, *arrays((2, 4), (2, 4)))


def test_lower_rank_inputs_gain_axes_after_the_batch_axis():
    layer = layers.Add()
    check_parity(
        lambda a, b: layer([a, b]), lambda a, b: a.unsqueeze(1) + b, *arrays((2, 3), (2, 4, 3))
    )
    assert layer.compute_output_shape([(2, 3), (2, 4, 3)]) == (2, 4, 3)
    assert layers.Multiply()([shinsou.Input((1, 3)), shinsou.Input((5, 1))]).shape == (
        None,
        5,
        3,
    )


def test_elementwise_shape_errors_name_every_shape():
    a, b = shinsou.Input((3,)), shinsou.Input((4,))
    with pytest.raises(ValueError, match=r"Add 'add.*': inputs of shapes \(None, 3\), \(None, 4\)"):
        layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"\(2, 3\), \(2, 4\) cannot be combined elementwise"):
        layers.Maximum()([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match=r"different batch sizes: shapes \(2, 3\), \(5, 3\)"):
        layers.Add()([np.ones((2, 3)), np.ones((5, 3))])


def test_merges_need_a_list_of_the_right_length():
    with pytest.raises(ValueError, match=r"Add '.*' must be called on a list of tensors.*\(2, 3\)"):
        layers.Add()(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Subtract '.*' must be called on a list of exactly 2"):
        layers.Subtract()([np.ones((1, 2))] * 3)
    with pytest.raises(ValueError, match=r"Dot '.*' must be called on a list of exactly 2"):
        layers.Dot(1)([shinsou.Input((2,))])


@pytest.mark.parametrize("axis", [1, -1, 2])
def test_concatenate_matches_torch(axis):
    shapes = {1: ((2, 3, 4), (2, 1, 4)), -1: ((2, 3, 4), (2, 3, 2)), 2: ((2, 3, 1), (2, 3, 5))}
    layer = layers.Concatenate(axis=axis)
    check_parity(
        lambda a, b: layer([a, b]), lambda a, b: torch.cat([a, b], dim=axis), *arrays(*shapes[axis])
    )


def test_concatenate_shapes_and_errors():
    a, b = shinsou.Input((3, 4)), shinsou.Input((None, 4))
    assert layers.Concatenate(axis=1)([a, b]).shape == (None, None, 4)
    assert layers.Concatenate()([a, shinsou.Input((3, 2))]).shape == (None, 3, 6)
    with pytest.raises(ValueError, match=r"\(None, 3, 4\), \(None, 5, 4\) must match on every"):
        layers.Concatenate()([a, shinsou.Input((5, 4))])
    with pytest.raises(ValueError, match=r"need the same rank"):
        layers.Concatenate()([np.ones((2, 3)), np.ones((2, 3, 1))])
    ints = layers.Concatenate()([shinsou.Input((2,), dtype="int64")] * 2)
    assert ints.dtype == "int64"


def test_dot_of_vectors_and_of_sequences_matches_torch():
    pairwise = layers.Dot(axes=1)
    check_parity(
        lambda a, b: pairwise([a, b]),
        lambda a, b: (a * b).sum(dim=1, keepdim=True),
        *arrays((3, 5), (3, 5)),
    )
    scores = layers.Dot(axes=2)
    check_parity(
        lambda a, b: scores([a, b]),
        lambda a, b: torch.bmm(a, b.transpose(1, 2)),
        *arrays((2, 3, 4), (2, 5, 4)),
    )
    mixed = layers.Dot(axes=(1, 2))
    check_parity(
        lambda a, b: mixed([a, b]),
        lambda a, b: torch.einsum("nkt,nsk->nts", a, b),
        *arrays((2, 4, 3), (2, 5, 4)),
    )


def test_dot_normalize_gives_cosine_similarity():
    layer = layers.Dot(axes=-1, normalize=True)
    check_parity(
        lambda a, b: layer([a, b]),
        lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim=-1).unsqueeze(-1),
        *arrays((4, 6), (4, 6)),
    )


@pytest.mark.parametrize(
    ("axes", "shapes", "expected"),
    [
        (1, ((None, 5), (None, 5)), (None, 1)),
        (2, ((None, 3, 4), (None, 6, 4)), (None, 3, 6)),
        ((1, 2), ((None, 4, 3), (None, 5, 4)), (None, 3, 5)),
        (-1, ((None, 2, 3, 4), (None, 4)), (None, 2, 3)),
    ],
)
def test_dot_output_shapes_agree_with_the_values(axes, shapes, expected):
    layer = layers.Dot(axes=axes)
    assert layer([shinsou.Input(s[1:]) for s in shapes]).shape == expected
    out = layer([random_array((2, *s[1:])) for s in shapes])
    assert out.shape == (2, *expected[1:])


def test_dot_errors():
    with pytest.raises(ValueError, match=r"differ along the dot axes \(3 at axis 1.*4 at axis 1"):
        layers.Dot(axes=1)([shinsou.Input((3,)), shinsou.Input((4,))])
    with pytest.raises(ValueError, match=r"axes=0 is out of range .*batch"):
        layers.Dot(axes=0)([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"Dot: axes must be an int or a list of two ints"):
        layers.Dot(axes=(1, 2, 3))


def test_functional_forms_build_the_layers():
    a, b = random_array((2, 3), seed=1), random_array((2, 3), seed=2)
    np.testing.assert_allclose(layers.add([a, b]).numpy(), a + b)
    np.testing.assert_allclose(layers.subtract([a, b]).numpy(), a - b)
    np.testing.assert_allclose(layers.multiply([a, b]).numpy(), a * b)
    np.testing.assert_allclose(layers.average([a, b]).numpy(), (a + b) / 2)
    np.testing.assert_allclose(layers.maximum([a, b]).numpy(), np.maximum(a, b))
    np.testing.assert_allclose(layers.minimum([a, b]).numpy(), np.minimum(a, b))
    np.testing.assert_allclose(layers.concatenate([a, b], axis=0).numpy(), np.vstack([a, b]))
    np.testing.assert_allclose(layers.dot([a, b], axes=1).numpy(), (a * b).sum(1, keepdims=True))
    named = layers.add([shinsou.Input((3,)), shinsou.Input((3,))], name="total")
    assert named._keras_history.operation.name == "total"


def test_merged_masks():
    ids_a, ids_b = np.array([[1, 2, 0, 0]]), np.array([[3, 0, 4, 0]])
    embed = layers.Embedding(5, 2, mask_zero=True)
    a, b = embed(ids_a), embed(ids_b)
    assert layers.Add()([a, b])._keras_mask.tolist() == [[True, True, True, False]]
    assert layers.Add()([a, random_array((1, 4, 2))])._keras_mask is None
    joined = layers.Concatenate(axis=1)([a, b])._keras_mask
    assert joined.tolist() == [[True, True, False, False, True, False, True, False]]
    assert layers.Concatenate()([a, random_array((1, 4, 3))])._keras_mask.tolist() == [[True] * 4]
    assert layers.Dot(axes=2)([a, b])._keras_mask is None


def test_merging_in_a_functional_model_trains_both_branches():
    left, right = shinsou.Input((3,)), shinsou.Input((3,))
    merged = layers.Concatenate()([layers.Dense(2)(left), layers.Dense(2)(right)])
    model = shinsou.Model([left, right], layers.Dense(1)(merged))
    out = model([random_array((4, 3), seed=1), random_array((4, 3), seed=2)], training=True)
    out.sum().backward()
    assert out.shape == (4, 1)
    assert all(w.grad is not None for w in model.trainable_weights)


@pytest.mark.parametrize(
    "layer",
    [layers.Add(), layers.Average(), layers.Concatenate(axis=1), layers.Dot((1, 2), True)],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    config = layer.get_config()
    json.dumps(config)
    assert type(layer).from_config(config).get_config() == config


def test_config_keys():
    assert layers.Concatenate(axis=2).get_config()["axis"] == 2
    config = layers.Dot(axes=(1, 2), normalize=True).get_config()
    assert (config["axes"], config["normalize"]) == ((1, 2), True)
    assert set(layers.Add().get_config()) == {"name", "trainable", "dtype"}

"""Embedding: lookup values and the scatter-add gradient against PyTorch and finite
differences, masks, id checks, the weight, configs and shape inference."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.layers.embedding import embedding_lookup
from support import check_gradient, check_parity, random_array, torch


def test_lookup_matches_torch_including_repeated_ids():
    table = random_array((10, 4), seed=1)
    ids = np.array([[1, 3, 3, 0], [9, 1, 1, 1]])  # repeats must add up in the gradient
    check_parity(
        lambda w: embedding_lookup(w, ids),
        lambda w: torch.nn.functional.embedding(torch.from_numpy(ids), w),
        table,
    )


def test_lookup_gradient_matches_finite_differences():
    ids = np.array([[2, 2, 0], [4, 1, 2]])
    check_gradient(lambda w: embedding_lookup(w, ids), random_array((5, 3), seed=2))


def test_layer_output_is_the_rows_of_its_weight():
    layer = layers.Embedding(7, 3)
    ids = np.array([[6, 0, 2]])
    out = layer(ids)
    np.testing.assert_array_equal(out.numpy(), layer.embeddings.numpy()[ids])
    assert out.shape == (1, 3, 3) and out.dtype == np.float32
    assert [w.path for w in layer.weights] == [f"{layer.name}/embeddings"]
    assert layer.count_params() == 21


def test_gradient_reaches_only_the_rows_used():
    layer = layers.Embedding(6, 2)
    layer(np.array([[1, 1, 4]])).sum().backward()
    grad = layer.embeddings.grad
    np.testing.assert_array_equal(grad[[1, 4]], [[2.0, 2.0], [1.0, 1.0]])
    assert not grad[[0, 2, 3, 5]].any() and grad.dtype == np.float32


def test_default_initializer_is_keras_s_uniform():
    layer = layers.Embedding(500, 40)
    layer.build()
    values = layer.embeddings.numpy()
    assert values.min() >= -0.05 and values.max() <= 0.05 and values.std() > 0.02
    config = layer.get_config()["embeddings_initializer"]
    assert config["class_name"] == "RandomUniform"
    assert (config["config"]["minval"], config["config"]["maxval"]) == (-0.05, 0.05)


def test_mask_zero_marks_padding():
    layer = layers.Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 1, 0, 0]])
    out = layer(ids)
    assert layer.supports_masking
    assert out._keras_mask.tolist() == [[True, True, False, False]]
    assert layer.compute_mask(ids).tolist() == [[True, True, False, False]]
    assert layers.Embedding(5, 2)(ids)._keras_mask is None


def test_mask_reaches_the_output_of_a_functional_model():
    inputs = shinsou.Input((4,), dtype="int64")
    model = shinsou.Model(inputs, layers.Embedding(5, 2, mask_zero=True)(inputs))
    assert model(np.array([[2, 0, 1, 0]]))._keras_mask.tolist() == [[True, False, True, False]]


def test_float_ids_holding_integers_are_accepted():
    layer = layers.Embedding(5, 2)
    np.testing.assert_array_equal(
        layer(np.array([[1.0, 4.0]])).numpy(), layer(np.array([[1, 4]])).numpy()
    )
    with pytest.raises(ValueError, match=r"not whole numbers"):
        layer(np.array([[1.5]]))
    with pytest.raises(TypeError, match=r"integer ids, received dtype <U1"):
        layer(np.array([["a"]]))


@pytest.mark.parametrize("bad", [[[0, 5]], [[-1, 2]]])
def test_out_of_range_ids_name_the_valid_range(bad):
    with pytest.raises(ValueError, match=r"Embedding '.*': ids must lie in \[0, 5\).*received ids"):
        layers.Embedding(5, 2)(np.array(bad))


def test_symbolic_shapes_and_compute_output_shape():
    layer = layers.Embedding(100, 8)
    assert layer(shinsou.Input((10,), dtype="int32")).shape == (None, 10, 8)
    assert layer(shinsou.Input((None,))).shape == (None, None, 8)
    assert layer.compute_output_shape((2, 10)) == layer(np.zeros((2, 10), "int64")).shape


def test_weights_argument_and_legacy_input_length():
    table = random_array((4, 2), seed=3)
    layer = layers.Embedding(4, 2, weights=table, input_length=3)
    np.testing.assert_array_equal(layer.embeddings.numpy(), table)
    np.testing.assert_array_equal(layer(np.array([[3]])).numpy()[0, 0], table[3])


def test_config_has_keras_s_keys_and_round_trips():
    layer = layers.Embedding(10, 3, mask_zero=True, embeddings_regularizer="l2")
    config = layer.get_config()
    json.dumps(config)
    assert {
        "input_dim",
        "output_dim",
        "embeddings_initializer",
        "embeddings_regularizer",
        "activity_regularizer",
        "embeddings_constraint",
        "mask_zero",
    } <= set(config)
    assert config["embeddings_regularizer"]["class_name"] == "L2"
    assert layers.Embedding.from_config(config).get_config() == config


def test_a_model_learns_through_the_embedding():
    inputs = shinsou.Input((3,), dtype="int64")
    pooled = layers.Flatten()(layers.Embedding(4, 2)(inputs))
    model = shinsou.Model(inputs, layers.Dense(1)(pooled))
    model.compile(optimizer="sgd", loss="mse")
    x = np.array([[0, 1, 2], [3, 2, 1]] * 8)
    y = np.array([[1.0], [-1.0]] * 8, "float32")
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_dim": 0, "output_dim": 2}, r"Embedding: input_dim must be a positive integer"),
        ({"input_dim": 3, "output_dim": 2.5}, r"output_dim must be a positive integer.*2.5"),
        ({"input_dim": 3, "output_dim": 2, "lora_rank": 4}, r"LoRA are not supported"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.Embedding(**kwargs)

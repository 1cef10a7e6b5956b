"""Layer base: building, weights, freezing, training flag, masks, input checks, naming."""

import numpy as np
import pytest

import shinsou
from shinsou import layers, ops
from shinsou.utils.naming import clear_session


class Scale(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen_training = []

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="factor")
        self.offset = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", trainable=False, name="offset"
        )

    def call(self, inputs, training=None):
        self.seen_training.append(training)
        return inputs * self.factor + self.offset


class Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(3)
        self.inner = [Scale(), Scale()]

    def call(self, inputs):
        x = self.first(inputs)
        for layer in self.inner:
            x = layer(x)
        return x


def test_builds_on_first_call_from_the_input_shape():
    layer = Scale()
    assert not layer.built and layer.weights == []
    out = layer(np.ones((2, 5), dtype="float32"))
    assert layer.built and out.shape == (2, 5) and out.dtype == np.float32
    assert layer.factor.shape == (5,) and layer.factor.dtype == np.float32


def test_weights_order_trainable_split_and_paths():
    block = Block(name="block")
    block(np.ones((4, 2)))
    names = [w.path for w in block.weights]
    assert names[:2] == [f"{block.first.name}/kernel", f"{block.first.name}/bias"]
    assert len(block.weights) == 6
    assert len(block.trainable_weights) == 4
    assert len(block.non_trainable_weights) == 2
    assert all(not w.trainable for w in block.non_trainable_weights)


def test_freezing_a_layer_freezes_its_sublayers_and_unfreezing_restores():
    block = Block()
    block(np.ones((1, 2)))
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 6
    assert not block.first.kernel.requires_grad
    block.trainable = True
    assert len(block.trainable_weights) == 4
    assert not block.inner[0].offset.trainable  # created non-trainable, stays so


def test_get_and_set_weights_round_trip_and_check_shapes():
    dense = layers.Dense(2)
    dense(np.ones((1, 3)))
    values = [np.full((3, 2), 0.5, "float32"), np.array([1.0, -1.0], "float32")]
    dense.set_weights(values)
    got = dense.get_weights()
    np.testing.assert_array_equal(got[0], values[0])
    got[0][0, 0] = 99.0  # a copy: changing it leaves the layer alone
    assert dense.kernel.numpy()[0, 0] == 0.5
    with pytest.raises(ValueError, match=r"expects 2 weights.*has 1"):
        dense.set_weights(values[:1])
    with pytest.raises(ValueError, match=r"kernel' has shape \(3, 2\).*\(2, 2\)"):
        dense.set_weights([np.ones((2, 2)), np.ones(2)])


def test_training_flag_flows_from_outer_call_to_inner_layers():
    scale = Scale()

    class Outer(layers.Layer):
        def __init__(self):
            super().__init__()
            self.scale = scale

        def call(self, inputs):
            return self.scale(inputs)  # no training argument passed on purpose

    outer = Outer()
    outer(np.ones((1, 2)), training=True)
    outer(np.ones((1, 2)), training=False)
    outer(np.ones((1, 2)))
    assert scale.seen_training == [True, False, None]


def test_gradients_reach_layer_weights():
    dense = layers.Dense(1, kernel_initializer="ones")
    out = dense(np.array([[1.0, 2.0]], "float32"))
    out.sum().backward()
    np.testing.assert_allclose(dense.kernel.grad, [[1.0], [2.0]])
    np.testing.assert_allclose(dense.bias.grad, [1.0])


def test_input_spec_error_names_layer_and_shapes():
    dense = layers.Dense(2, name="classifier")
    dense(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"'classifier' \(Dense\).*\(1, 4\).*axis -1 of size 3"):
        dense(np.ones((1, 4)))


def test_constructor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="units must be a positive integer.*-1"):
        layers.Dense(-1)
    with pytest.raises(TypeError, match="unrecognized keyword arguments.*unitz"):
        layers.Dense(3, unitz=4)
    with pytest.raises(ValueError, match="unknown activation 'relux'.*relu"):
        layers.Dense(3, activation="relux")


def test_default_names_are_unique_snake_case():
    clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1).name == "dense_1"
    assert Scale().name == "scale"


def test_count_params_needs_a_built_layer():
    dense = layers.Dense(4)
    with pytest.raises(ValueError, match="not built"):
        dense.count_params()
    dense(np.ones((1, 3)))
    assert dense.count_params() == 16


def test_regularization_losses_are_collected():
    dense = layers.Dense(
        2, kernel_initializer="ones", kernel_regularizer=shinsou.regularizers.L2(0.5)
    )
    dense(np.ones((1, 3)))
    (penalty,) = dense.losses
    assert penalty.item() == pytest.approx(0.5 * 6)


def test_masks_propagate_to_layers_that_accept_them():
    class MakeMask(layers.Layer):
        def call(self, inputs):
            return inputs

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)[..., 0]

    class ReadMask(layers.Layer):
        def call(self, inputs, mask=None):
            self.mask = mask
            return inputs

    reader = ReadMask()
    reader(MakeMask()(np.array([[[1.0], [0.0]]])))
    assert reader.mask.tolist() == [[True, False]]


def test_get_config_from_config_round_trip():
    dense = layers.Dense(5, activation="tanh", use_bias=False, name="d")
    clone = layers.Dense.from_config(dense.get_config())
    assert clone.get_config() == dense.get_config()


def test_built_in_layers_that_hold_layers_say_so():
    """Built-in layers skip the search for inner layers unless they declare them; a
    subclass defined elsewhere is always searched."""
    cases = [
        (layers.Dense(3), (2, 5)),
        (layers.Conv2D(4, 3), (2, 6, 6, 1)),
        (layers.BatchNormalization(), (2, 3)),
        (layers.Add(), None),
        (layers.LSTM(3), (2, 4, 3)),
        (layers.Bidirectional(layers.GRU(2)), (2, 4, 3)),
        (layers.TimeDistributed(layers.Dense(2)), (2, 4, 3)),
        (layers.MultiHeadAttention(2, 4), None),
        (layers.Embedding(5, 2), None),
        (layers.LayerNormalization(), (2, 3)),
    ]
    for layer, shape in cases:
        if shape is not None:
            layer(np.zeros(shape, "float32"))
        assert layer._sublayers() == layer._scan_sublayers(), type(layer).__name__

    class DenseWithHelper(layers.Dense):
        def __init__(self, units):
            super().__init__(units)
            self.helper = layers.Dense(2)

    outer = DenseWithHelper(3)
    assert outer._sublayers() == [outer.helper]

    patched = layers.Dense(3)
    patched.extra = [layers.Dense(2)]  # a layer given to a built-in one later
    patched(np.zeros((1, 4), "float32"))
    patched.extra[0](np.zeros((1, 3), "float32"))
    assert patched._sublayers() == patched.extra
    assert len(patched.weights) == 4

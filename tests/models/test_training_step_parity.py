"""One training step through the public Keras API equals PyTorch's step on the same weights.

Each test builds a model with shinsou's Keras API, copies its weights into the equivalent
PyTorch module, runs one ``train_on_batch`` and one ``optimizer.step()``, and compares the
loss and every updated weight (in Keras's layout).
"""

import numpy as np
import pytest

import shinsou as keras
from support import torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

RTOL, ATOL = 1e-4, 1e-6


def _rng(seed=0):
    return np.random.default_rng(seed)


def _torch_optimizer(name, parameters, lr):
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    # Keras adds epsilon to sqrt(v) before bias correction, PyTorch after: with a tiny epsilon
    # on both sides the two formulas agree.
    return torch.optim.Adam(parameters, lr=lr, eps=1e-12)


def _keras_optimizer(name, lr):
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-12)


def _step_both(model, torch_model, torch_params, to_keras_layout, x, y, optimizer, x_torch):
    keras_loss = model.train_on_batch(x, y)
    torch_opt = _torch_optimizer(optimizer, torch_params, lr=0.05)
    torch_opt.zero_grad()
    logits = torch_model(x_torch)
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).long())
    torch_loss.backward()
    torch_opt.step()
    np.testing.assert_allclose(keras_loss, torch_loss.item(), rtol=RTOL)
    for ours, theirs in zip(model.get_weights(), to_keras_layout()):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_dense_step(optimizer):
    rng = _rng()
    x = rng.standard_normal((16, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(
        optimizer=_keras_optimizer(optimizer, 0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    torch_model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for layer, (kernel, bias) in zip(
            [torch_model[0], torch_model[2]],
            zip(model.get_weights()[::2], model.get_weights()[1::2]),
        ):
            layer.weight.copy_(torch.from_numpy(kernel.T))
            layer.bias.copy_(torch.from_numpy(bias))

    def to_keras():
        out = []
        for layer in (torch_model[0], torch_model[2]):
            out += [layer.weight.detach().numpy().T, layer.bias.detach().numpy()]
        return out

    _step_both(
        model,
        torch_model,
        torch_model.parameters(),
        to_keras,
        x,
        y,
        optimizer,
        torch.from_numpy(x),
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_conv_pool_step(optimizer):
    rng = _rng(1)
    x = rng.standard_normal((8, 10, 10, 2)).astype("float32")
    y = rng.integers(0, 4, 8)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 2)),
            keras.layers.Conv2D(3, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    model.compile(
        optimizer=_keras_optimizer(optimizer, 0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    conv, dense = torch.nn.Conv2d(2, 3, 3), torch.nn.Linear(48, 4)
    kernel, conv_bias, dense_kernel, dense_bias = model.get_weights()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
        conv.bias.copy_(torch.from_numpy(conv_bias))
        dense.weight.copy_(torch.from_numpy(dense_kernel.T.copy()))
        dense.bias.copy_(torch.from_numpy(dense_bias))

    def torch_model(images):  # NHWC in, flattened in Keras's (H, W, C) order
        h = torch.nn.functional.max_pool2d(torch.relu(conv(images.permute(0, 3, 1, 2))), 2)
        return dense(h.permute(0, 2, 3, 1).reshape(len(images), -1))

    def to_keras():
        return [
            conv.weight.detach().numpy().transpose(2, 3, 1, 0),
            conv.bias.detach().numpy(),
            dense.weight.detach().numpy().T,
            dense.bias.detach().numpy(),
        ]

    params = [conv.weight, conv.bias, dense.weight, dense.bias]
    _step_both(model, torch_model, params, to_keras, x, y, optimizer, torch.from_numpy(x))


def test_batch_norm_step_updates_weights_and_moving_statistics():
    rng = _rng(2)
    x = (rng.standard_normal((8, 6, 6, 3)) * 2 + 1).astype("float32")
    y = rng.integers(0, 2, 8)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.Conv2D(4, 3, use_bias=False),
            keras.layers.BatchNormalization(momentum=0.9),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        optimizer=_keras_optimizer("sgd", 0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    kernel, gamma, beta, _, _, dense_kernel, dense_bias = model.get_weights()
    conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    # Keras: moving = moving * m + batch * (1 - m), biased batch variance; torch's momentum is
    # 1 - m and its running variance uses the unbiased batch variance (compared separately).
    bn = torch.nn.BatchNorm2d(4, eps=1e-3, momentum=0.1)
    dense = torch.nn.Linear(4, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
        dense.weight.copy_(torch.from_numpy(dense_kernel.T.copy()))
        dense.bias.copy_(torch.from_numpy(dense_bias))
    keras_loss = model.train_on_batch(x, y)

    params = [conv.weight, bn.weight, bn.bias, dense.weight, dense.bias]
    opt = _torch_optimizer("sgd", params, 0.05)
    features = conv(torch.from_numpy(x).permute(0, 3, 1, 2))
    logits = dense(torch.relu(bn(features)).mean(dim=(2, 3)))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).long())
    loss.backward()
    opt.step()
    np.testing.assert_allclose(keras_loss, loss.item(), rtol=RTOL)

    ours = model.get_weights()
    theirs_trainable = [
        conv.weight.detach().numpy().transpose(2, 3, 1, 0),
        bn.weight.detach().numpy(),
        bn.bias.detach().numpy(),
    ]
    for got, want in zip(ours[:3], theirs_trainable):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours[3], bn.running_mean.numpy(), rtol=RTOL, atol=ATOL)
    count = features.shape[0] * features.shape[2] * features.shape[3]
    batch_var = features.detach().var(dim=(0, 2, 3), unbiased=False).numpy()
    np.testing.assert_allclose(ours[4], 0.9 * 1.0 + 0.1 * batch_var, rtol=RTOL, atol=ATOL)
    unbiased = bn.running_var.numpy()
    np.testing.assert_allclose(unbiased, 0.9 + 0.1 * batch_var * count / (count - 1), rtol=RTOL)
    np.testing.assert_allclose(ours[5], dense.weight.detach().numpy().T, rtol=RTOL, atol=ATOL)


def test_lstm_step_with_adam():
    rng = _rng(3)
    x = rng.standard_normal((6, 7, 5)).astype("float32")
    y = rng.integers(0, 3, 6)
    model = keras.Sequential([keras.Input((7, 5)), keras.layers.LSTM(4), keras.layers.Dense(3)])
    model.compile(
        optimizer=_keras_optimizer("adam", 0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    kernel, recurrent, bias, dense_kernel, dense_bias = model.get_weights()
    lstm = torch.nn.LSTM(5, 4, batch_first=True)
    dense = torch.nn.Linear(4, 3)
    with torch.no_grad():
        # Keras and PyTorch share the gate order i, f, c(g), o.
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        lstm.bias_hh_l0.zero_()
        dense.weight.copy_(torch.from_numpy(dense_kernel.T.copy()))
        dense.bias.copy_(torch.from_numpy(dense_bias))

    def torch_model(sequences):
        _, (h, _) = lstm(sequences)
        return dense(h[0])

    def to_keras():
        return [
            lstm.weight_ih_l0.detach().numpy().T,
            lstm.weight_hh_l0.detach().numpy().T,
            # torch keeps two biases; the step moves both, Keras's single bias equals their sum
            (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy(),
            dense.weight.detach().numpy().T,
            dense.bias.detach().numpy(),
        ]

    params = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, dense.weight, dense.bias]
    _step_both(model, torch_model, params, to_keras, x, y, "adam", torch.from_numpy(x))

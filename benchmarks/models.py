"""The five reference models, built the way users write them: shinsou through its Keras API,
PyTorch as plain ``nn.Module``s. Same architectures, batch sizes, losses and Adam.

Each entry of :data:`MODELS` gives the batch size, a function making one batch of random
data (NumPy), the shinsou builder (a compiled Keras model) and the PyTorch builder (a
module, its optimizer and a function running one training step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

NUM_WORDS = 10_000


@dataclasses.dataclass(frozen=True)
class Reference:
    name: str
    batch_size: int
    make_batch: Callable  # (rng, batch_size) -> (x, y) NumPy arrays
    build_shinsou: Callable  # () -> compiled shinsou model
    build_torch: Callable  # (torch) -> step(x, y) running one optimizer step


def _images(shape, classes):
    def make(rng, batch):
        x = rng.random((batch, *shape), dtype=np.float32)
        return x, rng.integers(0, classes, batch)

    return make


def _tokens(length, classes):
    def make(rng, batch):
        return rng.integers(1, NUM_WORDS, (batch, length)), rng.integers(0, classes, batch)

    return make


def _compile(model):
    import shinsou as keras

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _torch_step(torch, module, layout=None):
    """A training step for ``module``: Adam, cross-entropy on logits."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    module.train()

    def step(x, y):
        inputs = torch.from_numpy(x)
        if layout is not None:
            inputs = layout(inputs)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(module(inputs), torch.from_numpy(y))
        loss.backward()
        optimizer.step()

    return step


# -- mlp ----------------------------------------------------------------------------------
def mlp_shinsou():
    import shinsou as keras
    from shinsou import layers

    return _compile(
        keras.Sequential(
            [
                keras.Input((784,)),
                layers.Dense(512, activation="relu"),
                layers.Dropout(0.2),
                layers.Dense(512, activation="relu"),
                layers.Dropout(0.2),
                layers.Dense(10),
            ]
        )
    )


def mlp_torch(torch):
    nn = torch.nn
    module = nn.Sequential(
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(512, 512),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(512, 10),
    )
    return _torch_step(torch, module)


# -- convnet ------------------------------------------------------------------------------
def convnet_shinsou():
    import shinsou as keras
    from shinsou import layers

    return _compile(
        keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(2),
                layers.Flatten(),
                layers.Dropout(0.5),
                layers.Dense(10),
            ]
        )
    )


def convnet_torch(torch):
    nn = torch.nn
    module = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(64 * 5 * 5, 10),
    )
    return _torch_step(torch, module, layout=lambda x: x.permute(0, 3, 1, 2))


# -- resnet20 -----------------------------------------------------------------------------
def resnet20_shinsou():
    import shinsou as keras
    from shinsou import layers

    def conv_bn(x, filters, kernel, strides=1):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        return layers.BatchNormalization()(x)

    inputs = keras.Input((32, 32, 3))
    x = layers.ReLU()(conv_bn(inputs, 16, 3))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            y = layers.ReLU()(conv_bn(x, filters, 3, strides))
            y = conv_bn(y, filters, 3)
            if strides != 1 or shortcut.shape[-1] != filters:
                shortcut = conv_bn(shortcut, filters, 1, strides)
            x = layers.ReLU()(layers.Add()([y, shortcut]))
    outputs = layers.Dense(10)(layers.GlobalAveragePooling2D()(x))
    return _compile(keras.Model(inputs, outputs))


def resnet20_torch(torch):
    nn = torch.nn

    def conv_bn(cin, cout, kernel, stride=1):
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
        )

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.first = conv_bn(cin, cout, 3, stride)
            self.second = conv_bn(cout, cout, 3)
            self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

        def forward(self, x):
            y = self.second(torch.relu(self.first(x)))
            return torch.relu(y + (x if self.shortcut is None else self.shortcut(x)))

    blocks, cin = [], 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(3):
            blocks.append(Block(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    module = nn.Sequential(
        conv_bn(3, 16, 3),
        nn.ReLU(),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    return _torch_step(torch, module, layout=lambda x: x.permute(0, 3, 1, 2))


# -- lstm ---------------------------------------------------------------------------------
def lstm_shinsou():
    import shinsou as keras
    from shinsou import layers

    return _compile(
        keras.Sequential(
            [
                keras.Input((80,), dtype="int32"),
                layers.Embedding(NUM_WORDS, 64),
                layers.LSTM(128),
                layers.Dense(2),
            ]
        )
    )


def lstm_torch(torch):
    nn = torch.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(NUM_WORDS, 64)
            self.lstm = nn.LSTM(64, 128, batch_first=True)
            self.out = nn.Linear(128, 2)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.out(h[0])

    return _torch_step(torch, Classifier())


# -- transformer --------------------------------------------------------------------------
def transformer_shinsou():
    import shinsou as keras
    from shinsou import layers

    inputs = keras.Input((64,), dtype="int32")
    x = layers.Embedding(NUM_WORDS, 128)(inputs)
    for _ in range(2):
        attention = layers.MultiHeadAttention(num_heads=4, key_dim=32, dropout=0.1)(x, x)
        x = layers.LayerNormalization()(x + layers.Dropout(0.1)(attention))
        hidden = layers.Dense(256, activation="relu")(x)
        hidden = layers.Dropout(0.1)(layers.Dense(128)(hidden))
        x = layers.LayerNormalization()(x + hidden)
    outputs = layers.Dense(2)(layers.GlobalAveragePooling1D()(x))
    return _compile(keras.Model(inputs, outputs))


def transformer_torch(torch):
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(NUM_WORDS, 128)
            layer = nn.TransformerEncoderLayer(
                128,
                4,
                dim_feedforward=256,
                dropout=0.1,
                batch_first=True,
                norm_first=False,
                layer_norm_eps=1e-3,
            )
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.out = nn.Linear(128, 2)

        def forward(self, tokens):
            return self.out(self.encoder(self.embedding(tokens)).mean(dim=1))

    return _torch_step(torch, Encoder())


MODELS = {
    "mlp": Reference("mlp", 128, _images((784,), 10), mlp_shinsou, mlp_torch),
    "convnet": Reference("convnet", 128, _images((28, 28, 1), 10), convnet_shinsou, convnet_torch),
    "resnet20": Reference(
        "resnet20", 64, _images((32, 32, 3), 10), resnet20_shinsou, resnet20_torch
    ),
    "lstm": Reference("lstm", 64, _tokens(80, 2), lstm_shinsou, lstm_torch),
    "transformer": Reference(
        "transformer", 32, _tokens(64, 2), transformer_shinsou, transformer_torch
    ),
}

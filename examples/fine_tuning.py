"""Transfer learning as the Keras guide does it, on a backbone shinsou itself pretrained.

Task A: recognise the handwritten digits 0-4 (all their training images). Task B: recognise
5-9 from only a few labelled images per class. The convolutional backbone trained on task A
is frozen, a new head is trained on task B, then everything is fine-tuned at a low learning
rate — and compared with the same network trained on task B from scratch.

    python examples/fine_tuning.py                    # the embedded digits (needs [all])
    python examples/fine_tuning.py --per-class 5 --epochs 40

Prints the task-B test accuracy of both ways.
"""

import argparse

import numpy as np

import shinsou as keras
from shinsou import layers

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--per-class", type=int, default=10, help="labelled task-B images per class")
parser.add_argument("--epochs", type=int, default=30, help="epochs for each training stage")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
keras.utils.set_random_seed(args.seed)

(x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
x_train = x_train[..., None].astype("float32") / 255
x_test = x_test[..., None].astype("float32") / 255
task_a = y_train < 5
task_b_test = y_test >= 5

# A few labelled images of each of the digits 5-9 for task B.
rng = np.random.default_rng(args.seed)
few = np.concatenate(
    [
        rng.choice(np.flatnonzero(y_train == digit), args.per_class, replace=False)
        for digit in range(5, 10)
    ]
)
x_few, y_few = x_train[few], y_train[few] - 5
x_b_test, y_b_test = x_test[task_b_test], y_test[task_b_test] - 5


def backbone():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.GlobalAveragePooling2D(),
        ],
        name="backbone",
    )


def classifier(base, training=None):
    inputs = keras.Input((8, 8, 1))
    features = base(inputs, training=training)
    outputs = layers.Dense(5, activation="softmax")(layers.Dropout(0.2)(features))
    return keras.Model(inputs, outputs)


def compile_model(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


# 1. Pretrain the backbone on task A.
base = backbone()
pretrain = classifier(base)
compile_model(pretrain, 1e-3)
pretrain.fit(x_train[task_a], y_train[task_a], epochs=args.epochs, batch_size=32, verbose=0)

# 2. Freeze it and train a new head on the few task-B images. Calling the base with
#    training=False keeps its batch-norm statistics fixed, also after unfreezing.
base.trainable = False
transfer = classifier(base, training=False)
compile_model(transfer, 1e-3)
transfer.fit(x_few, y_few, epochs=args.epochs, batch_size=16, verbose=0)

# 3. Unfreeze and fine-tune everything at a low learning rate (recompile to take effect).
base.trainable = True
compile_model(transfer, 1e-4)
transfer.fit(x_few, y_few, epochs=args.epochs, batch_size=16, verbose=0)
_, fine_tuned = transfer.evaluate(x_b_test, y_b_test, verbose=0)

# The same network trained on the few task-B images only.
scratch = classifier(backbone())
compile_model(scratch, 1e-3)
scratch.fit(x_few, y_few, epochs=2 * args.epochs, batch_size=16, verbose=0)
_, from_scratch = scratch.evaluate(x_b_test, y_b_test, verbose=0)

print(f"task B with {len(x_few)} labelled images, test accuracy on {len(x_b_test)} digits:")
print(f"  fine-tuned from the task-A backbone: {fine_tuned:.3f}")
print(f"  trained from scratch:                {from_scratch:.3f}")

"""keras.io's "Simple MNIST convnet", run by shinsou: about 99% test accuracy after 15 epochs.

    python examples/convnet_mnist.py                # MNIST from the cache (downloaded once)
    python examples/convnet_mnist.py --data ../shared/data/mnist-t10k --epochs 3

``--data`` takes a local mnist.npz or a folder of IDX files. A folder that holds only the
10,000 test digits (t10k) is split: the first 8,000 train, the last 2,000 test.
"""

import argparse

import numpy as np

import shinsou as keras  # the one line that differs from the Keras program

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--data", default=None, help="a local mnist.npz or folder of IDX files")
parser.add_argument("--limit", type=int, default=None, help="use only this many images")
args = parser.parse_args()

num_classes = 10
input_shape = (28, 28, 1)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(args.data)
if len(x_train) == 0:  # only the t10k set is there: train on 80% of it, test on the rest
    split = len(x_test) * 4 // 5
    x_train, y_train = x_test[:split], y_test[:split]
    x_test, y_test = x_test[split:], y_test[split:]
if args.limit:
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_test, y_test = x_test[: args.limit], y_test[: args.limit]

# Scale images to the [0, 1] range and give them a channel axis: (28, 28) -> (28, 28, 1).
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 128
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=args.epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

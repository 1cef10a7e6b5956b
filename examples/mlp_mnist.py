"""The lecture's multilayer perceptron on MNIST (Keras's mnist_mlp): 784-512-512-10 with
ReLU and dropout 0.2, trained with RMSprop; about 98% test accuracy after 20 epochs.

    python examples/mlp_mnist.py                    # MNIST from the cache (downloaded once)
    python examples/mlp_mnist.py --data ../shared/data/mnist-t10k --epochs 5

``--data`` takes a local mnist.npz or a folder of IDX files. A folder that holds only the
10,000 test digits (t10k) is split: the first 8,000 train, the last 2,000 test.
"""

import argparse

import shinsou as keras  # the one line that differs from the Keras program

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--data", default=None, help="a local mnist.npz or folder of IDX files")
parser.add_argument("--limit", type=int, default=None, help="use only this many images")
args = parser.parse_args()

batch_size = 128
num_classes = 10

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(args.data)
if len(x_train) == 0:  # only the t10k set is there: train on 80% of it, test on the rest
    split = len(x_test) * 4 // 5
    x_train, y_train = x_test[:split], y_test[:split]
    x_test, y_test = x_test[split:], y_test[split:]
if args.limit:
    x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    x_test, y_test = x_test[: args.limit], y_test[: args.limit]

# Each 28x28 image becomes a vector of 784 grey levels in [0, 1].
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Class labels become one-hot vectors for categorical_crossentropy.
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

model.compile(
    loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"]
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=args.epochs,
    verbose=1,
    validation_data=(x_test, y_test),
)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

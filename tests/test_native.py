"""The compiled kernels (shinsou.native) give the numbers of shinsou's NumPy code paths
(themselves checked against PyTorch and finite differences in tests/ops), with the work
split across threads. The convolution kernels are tested in tests/ops/test_conv.py."""

import os

import numpy as np
import pytest

import shinsou
from shinsou import layers, native, ops
from shinsou.layers.embedding import embedding_lookup
from support import check_parity, random_array, torch

pytestmark = pytest.mark.skipif(not native.available(), reason="compiled kernels not built")


@pytest.fixture(autouse=True)
def split_small_arrays(monkeypatch):
    """Split even small arrays across threads, so that every test covers the split."""
    monkeypatch.setattr(native, "SPLIT_BYTES", 1 << 12)


def both_paths(run):
    """``run()`` with the compiled kernels and without them."""
    ours = run()
    with native.disabled():
        reference = run()
    return ours, reference


def assert_same(ours, reference, rtol=1e-5, atol=1e-5):
    for a, b in zip(ours, reference):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(32, 16, 16, 24), (5, 3), (4096, 70)])
def test_batch_normalization_matches_the_numpy_path(shape):
    channels = shape[-1]

    def run():
        x = shinsou.tensor(random_array(shape, seed=1, low=-2, high=3), requires_grad=True)
        scale = shinsou.tensor(
            random_array((channels,), seed=2, low=0.5, high=1.5), requires_grad=True
        )
        offset = shinsou.tensor(random_array((channels,), seed=3), requires_grad=True)
        y, mean, variance = ops.fused_batch_normalization(x, scale, offset)
        (y * random_array(shape, seed=4)).sum().backward()
        return y.numpy(), mean.numpy(), variance.numpy(), x.grad, scale.grad, offset.grad

    assert_same(*both_paths(run), rtol=1e-4, atol=1e-4)


def test_batch_normalization_far_from_zero_takes_the_centred_path_too():
    x = random_array((64, 8, 8, 32), seed=5, low=0.0, high=0.01) + 300.0
    y, _, variance = ops.fused_batch_normalization(x, epsilon=0.0)
    reference = x.astype(np.float64)
    np.testing.assert_allclose(variance.numpy(), reference.var(axis=(0, 1, 2)), rtol=1e-3)
    expected = (reference - reference.mean(axis=(0, 1, 2))) / reference.std(axis=(0, 1, 2))
    np.testing.assert_allclose(y.numpy(), expected, atol=2e-3)


@pytest.mark.parametrize("activation", ["relu", None])
def test_dense_bias_and_relu_match_the_numpy_path(activation):
    def run():
        shinsou.utils.set_random_seed(0)
        layer = layers.Dense(300, activation=activation)
        x = shinsou.tensor(random_array((400, 50), seed=6), requires_grad=True)
        y = layer(x)
        (y * random_array(y.shape, seed=7)).sum().backward()
        return y.numpy(), x.grad, layer.bias.grad, layer.kernel.grad

    assert_same(*both_paths(run))


@pytest.mark.parametrize(
    ("shape", "pool", "strides", "padding"),
    [
        ((16, 26, 26, 32), 2, None, "valid"),
        ((3, 13, 11, 16), 2, None, "valid"),  # tiling windows, an uncovered last row/column
        ((3, 9, 7, 16), 2, None, "same"),  # windows past the end: not tiling
        ((4, 9, 11, 20), 3, 2, "same"),  # overlapping windows, padding at both ends
        ((3, 30, 17), 4, 1, "same"),  # 1-D
    ],
)
def test_max_pool_matches_the_numpy_path(shape, pool, strides, padding):
    def run():
        values = np.round(random_array(shape, seed=8) * 4) / 4  # many ties
        x = shinsou.tensor(values, requires_grad=True)
        y = ops.max_pool(x, pool, strides, padding)
        (y * random_array(y.shape, seed=9)).sum().backward()
        return y.numpy(), x.grad

    assert_same(*both_paths(run))


def test_max_pool_ties_go_to_the_first_position_like_torch():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    x = np.repeat(np.round(random_array((2, 6, 8, 16), seed=10) * 2) / 2, 2, axis=1)
    check_parity(
        lambda a: ops.max_pool(a, 2, 1),
        lambda a: torch.nn.functional.max_pool2d(a.permute(0, 3, 1, 2), 2, 1).permute(0, 2, 3, 1),
        x,
    )


def test_without_the_kernels_shinsou_still_trains_the_same_model():
    def run():
        shinsou.utils.set_random_seed(1)
        model = shinsou.Sequential(
            [
                shinsou.Input((8, 8, 3)),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.BatchNormalization(),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(2),
            ]
        )
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = random_array((32, 8, 8, 3), seed=11)
        y = np.arange(32) % 2
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        return np.array(losses, np.float32), model.layers[0].kernel.numpy()

    assert_same(*both_paths(run), rtol=1e-4, atol=1e-5)


def test_relu_matches_the_numpy_path_including_zero():
    def run():
        values = random_array((64, 32, 32, 8), seed=12)
        values[0, 0, 0, :4] = 0.0  # the gradient at 0 is 0
        x = shinsou.tensor(values, requires_grad=True)
        y = ops.relu(x)
        (y * random_array(y.shape, seed=13)).sum().backward()
        return y.numpy(), x.grad

    assert_same(*both_paths(run))


def test_recycled_memory_is_never_handed_out_while_an_array_uses_it():
    first = native.empty((600, 1024))
    view = first[10:20]  # a view keeps the buffer in use too
    del first
    second = native.empty((600, 1024))
    assert not np.shares_memory(second, view)
    address = second.ctypes.data
    del second
    third = native.empty((1024, 600))  # same size, any shape
    assert third.ctypes.data == address and third.dtype == np.float32
    del view, third
    native.release_recycled()


def test_small_arrays_are_not_recycled():
    a = native.empty((4, 4))
    assert a.shape == (4, 4) and a.base is None


@pytest.mark.parametrize(
    ("shape", "kernel_shape", "strides", "padding", "dilation"),
    [
        ((8, 17, 16, 5), (3, 3, 5, 7), 2, "same", 1),
        ((8, 17, 16, 5), (4, 2, 5, 3), (2, 3), "valid", 1),
        ((4, 15, 15, 3), (3, 3, 3, 4), 1, "same", 2),  # more filters than 2x channels
        ((8, 30, 6), (5, 6, 4), 3, "same", 1),  # 1-D
    ],
)
def test_strided_conv_input_gradient_matches_the_numpy_path(
    shape, kernel_shape, strides, padding, dilation
):
    def run():
        x = shinsou.tensor(random_array(shape, seed=14), requires_grad=True)
        w = random_array(kernel_shape, seed=15)
        y = ops.conv(x, w, strides, padding, dilation_rate=dilation)
        (y * random_array(y.shape, seed=16)).sum().backward()
        return (x.grad,)

    assert_same(*both_paths(run))


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize(
    ("units", "batch"),
    [(32, 6), (48, 37), (20, 6)],  # the steps do the recurrent GEMM, except for 20 units
)
def test_lstm_steps_match_the_numpy_path(return_sequences, units, batch):
    def run():
        shinsou.utils.set_random_seed(2)
        layer = layers.LSTM(units, return_sequences=return_sequences, return_state=True)
        x = shinsou.tensor(random_array((batch, 9, 5), seed=17), requires_grad=True)
        outputs, h, c = layer(x)
        loss = (outputs * random_array(outputs.shape, seed=18)).sum() + (h * c).sum()
        loss.backward()
        return (outputs.numpy(), h.numpy(), c.numpy(), x.grad, *(w.grad for w in layer.weights))

    assert_same(*both_paths(run), rtol=1e-4, atol=1e-5)


def test_lstm_output_gradient_with_gaps_between_rows():
    # A sliced output gradient reaches the compiled step with rows that are not contiguous.
    def run():
        shinsou.utils.set_random_seed(3)
        layer = layers.LSTM(16, return_sequences=True)
        x = shinsou.tensor(random_array((4, 7, 3), seed=19), requires_grad=True)
        y = layer(x)
        y[:, :, ::2].sum().backward()
        return x.grad, layer.weights[0].grad

    assert_same(*both_paths(run), rtol=1e-4, atol=1e-5)


def test_dropout_keeps_the_right_share_and_its_gradient_uses_the_same_mask():
    x = shinsou.tensor(np.ones((256, 1024), np.float32), requires_grad=True)
    y = ops.dropout(x, rate=0.3)
    y.sum().backward()
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(x.grad, y.numpy())  # d(sum y)/dx is the scaled mask
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_dropout_repeats_under_a_seed_whatever_the_thread_split(monkeypatch):
    x = random_array((64, 4096), seed=20)
    shinsou.utils.set_random_seed(5)
    first = ops.dropout(x, rate=0.5).numpy()  # split across the cores (fixture)
    shinsou.utils.set_random_seed(5)
    monkeypatch.setattr(native, "SPLIT_BYTES", x.nbytes + 1)  # one part
    second = ops.dropout(x, rate=0.5).numpy()
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    ("shape", "axis", "parameters"),
    [
        ((32, 64, 128), -1, "both"),
        ((16, 10, 24), (1, 2), "both"),  # two axes
        ((300, 40), -1, "gamma"),
        ((300, 40), -1, "none"),
    ],
)
def test_layer_normalization_matches_the_numpy_path(shape, axis, parameters):
    normalised = tuple(shape[a] for a in np.atleast_1d(axis))

    def run():
        x = shinsou.tensor(random_array(shape, seed=21, low=-3, high=2), requires_grad=True)
        gamma = beta = None
        if parameters in ("both", "gamma"):
            gamma = shinsou.tensor(random_array(normalised, seed=22), requires_grad=True)
        if parameters == "both":
            beta = shinsou.tensor(random_array(normalised, seed=23), requires_grad=True)
        y = ops.layer_normalization(x, gamma, beta, axis=axis, epsilon=1e-3)
        (y * random_array(shape, seed=24)).sum().backward()
        grads = [t.grad for t in (gamma, beta) if t is not None]
        return (y.numpy(), x.grad, *grads)

    assert_same(*both_paths(run), rtol=1e-4, atol=1e-5)


def test_a_stale_build_falls_back_to_numpy_with_a_warning(monkeypatch):
    def missing_kernel(library):
        raise AttributeError("undefined symbol: a_kernel_added_later")

    monkeypatch.setattr(native, "_declare", missing_kernel)
    with pytest.warns(RuntimeWarning, match=r"cannot be used .*a_kernel_added_later.*pip install"):
        assert native._load() is None


def test_adam_steps_equal_the_numpy_path_bit_for_bit():
    def run():
        weights = shinsou.Variable(random_array((600, 500), seed=25))
        optimizer = shinsou.optimizers.Adam(learning_rate=0.01)
        for step in range(4):
            optimizer.apply([random_array((600, 500), seed=26 + step)], [weights])
        return (weights.numpy(),)

    ours, reference = both_paths(run)
    np.testing.assert_array_equal(ours[0], reference[0])


@pytest.mark.parametrize("shape", [(32, 4, 64, 64), (7, 33), (5, 1)])
def test_softmax_matches_the_numpy_path(shape):
    def run():
        x = shinsou.tensor(random_array(shape, seed=27, low=-30, high=30), requires_grad=True)
        y = ops.softmax(x)
        (y * random_array(shape, seed=28)).sum().backward()
        return y.numpy(), x.grad

    assert_same(*both_paths(run), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("compiled", [True, False])
def test_batch_norm_with_relu_in_one_op_equals_the_two_ops(compiled):
    def run(fused):
        x = shinsou.tensor(random_array((8, 6, 6, 16), seed=29, low=-2, high=2), requires_grad=True)
        scale = shinsou.tensor(random_array((16,), seed=30, low=0.5, high=1.5), requires_grad=True)
        offset = shinsou.tensor(random_array((16,), seed=31), requires_grad=True)
        if fused:
            y, _, _ = ops.fused_batch_normalization(x, scale, offset, relu=True)
        else:
            y = ops.relu(ops.fused_batch_normalization(x, scale, offset)[0])
        (y * random_array(y.shape, seed=32)).sum().backward()
        return y.numpy(), x.grad, scale.grad, offset.grad

    if compiled:
        assert_same(run(True), run(False))
    else:
        with native.disabled():
            assert_same(run(True), run(False))


def _residual_block_models():
    """Conv → BN → ReLU → Conv → BN → add → ReLU on the same layers twice: as a functional
    model (which fuses) and as a subclassed one calling them in turn (which cannot)."""
    shinsou.utils.set_random_seed(4)
    conv1, bn1 = layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization()
    conv2, bn2, relu1 = (
        layers.Conv2D(16, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(),
    )
    head = [layers.Activation("relu"), layers.GlobalAveragePooling2D(), layers.Dense(3)]
    inputs = shinsou.Input((8, 8, 16))
    y = relu1(bn1(conv1(inputs)))
    y = layers.Add()([bn2(conv2(y)), inputs])
    for layer in head:
        y = layer(y)
    functional = shinsou.Model(inputs, y)

    class Unfused(shinsou.Model):
        def __init__(self):
            super().__init__()
            self.parts = [conv1, bn1, relu1, conv2, bn2, *head]

        def call(self, x, training=None):
            y = relu1(bn1(conv1(x), training=training))
            y = bn2(conv2(y), training=training) + x
            for layer in head:
                y = layer(y)
            return y

    return functional, Unfused()


def test_a_functional_model_fuses_batch_norm_and_relu_with_the_same_training():
    fused, plain = _residual_block_models()
    roles = sorted(str(role) for role in fused._relu_fusions().values())
    # bn1 and its ReLU, the add and the ReLU after it (bn2 feeds the add: not fused)
    assert roles == ["relu", "relu", "{'_then_relu': True}", "{'_then_relu': True}"]
    start = fused.get_weights()
    # 64 x 8 x 8 x 16: enough elements for the compiled add + ReLU
    x, y = random_array((64, 8, 8, 16), seed=33), np.arange(64) % 3
    results = []
    for model in (fused, plain):
        model.set_weights(start)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        results.append((losses, model.get_weights(), model.predict(x, verbose=0)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(results[0][2], results[1][2], atol=1e-5)


def test_batch_norm_is_not_fused_when_its_output_is_read_elsewhere():
    inputs = shinsou.Input((4, 4, 16))
    normalised = layers.BatchNormalization()(inputs)
    capped = layers.ReLU(max_value=6.0)(layers.BatchNormalization()(inputs))
    branches = layers.Add()([layers.ReLU()(normalised), normalised, capped])
    model = shinsou.Model(inputs, [branches, layers.ReLU()(layers.BatchNormalization()(inputs))])
    assert len(model._relu_fusions()) == 2  # only the last pair: a plain ReLU, sole reader
    model_out = shinsou.Model(inputs, [normalised, layers.ReLU()(normalised)])
    assert model_out._relu_fusions() == {}  # the batch norm's output is a model output


def test_embedding_gradient_matches_the_numpy_path():
    ids = np.random.default_rng(39).integers(0, 50, size=(64, 80))  # many repeats

    def run():
        table = shinsou.tensor(random_array((50, 24), seed=40), requires_grad=True)
        rows = embedding_lookup(table, ids)
        (rows * random_array(rows.shape, seed=41)).sum().backward()
        return rows.numpy(), table.grad

    assert_same(*both_paths(run))


# -- the kernels' threads -------------------------------------------------------------------


def test_add_matches_numpy_with_and_without_relu():
    a, b = random_array((300, 257), seed=30), random_array((300, 257), seed=31)
    a[0, :3] = [np.nan, -np.inf, 0.0]
    for relu in (False, True):
        out = native.add(a, b, relu=relu)
        expected = a + b
        if relu:
            expected = np.where(expected <= 0, np.float32(0), expected)  # NaN kept
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)


def test_residual_sums_and_their_gradients_match_the_numpy_path():
    shape = (8, 32, 32, 16)  # above the size where add and gradient sums run compiled

    def run():
        x = shinsou.tensor(random_array(shape, seed=32), requires_grad=True)
        branch = ops.relu(x * 2.0)
        y = ops.add(branch, x)  # x reaches y twice: its gradients are summed
        (y * random_array(shape, seed=33)).sum().backward()
        return y.numpy(), x.grad

    assert_same(*both_paths(run), rtol=1e-6, atol=1e-6)


def test_more_parts_than_threads_each_run_once():
    a, b = random_array((1001,), seed=34), random_array((1001,), seed=35)
    out = np.full_like(a, np.nan)
    native._run(native._library.add_forward, a, b, out, 0, a.size, 7)
    np.testing.assert_array_equal(out, a + b)


def test_kernels_called_from_several_python_threads_at_once():
    """One job runs on the kernels' threads at a time; other callers run theirs alone."""
    from concurrent.futures import ThreadPoolExecutor

    w = random_array((3, 3, 8, 16), seed=36)
    inputs = [random_array((6, 12, 12, 8), seed=40 + k) for k in range(6)]
    expected = [native.conv2d_forward(x, w, (1, 1), (1, 1), (1, 1), (12, 12)) for x in inputs]

    def run(k):
        return [native.conv2d_forward(inputs[k], w, (1, 1), (1, 1), (1, 1), (12, 12)).copy()
                for _ in range(20)]  # fmt: skip

    with ThreadPoolExecutor(4) as threads:
        results = list(threads.map(run, range(6)))
    for outs, reference in zip(results, expected):
        for out in outs:
            np.testing.assert_array_equal(out, reference)


def _add_in_child(queue):
    a = random_array((1 << 18,), seed=37)
    queue.put(bool(np.array_equal(native.add(a, a), a + a)))


def test_a_forked_child_starts_threads_of_its_own():
    import multiprocessing

    native.add(*[random_array((1 << 18,), seed=38)] * 2)  # the parent's threads are up
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_add_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5)


def test_threads_that_sleep_after_every_job_still_take_every_job():
    """SHINSOU_SPIN_NS=0: the workers sleep right after each job, so every job wakes them."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from shinsou import native\n"
        "a = np.arange(1 << 20, dtype=np.float32)  # above SPLIT_BYTES: two parts or more\n"
        "ok = all(np.array_equal(native.add(a, a), a + a) for _ in range(300))\n"
        "print(ok)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SHINSOU_SPIN_NS": "0"},
    )
    assert done.stdout.strip() == "True", done.stderr

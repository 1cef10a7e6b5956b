import itertools

import numpy as np
import pytest

import shinsou
from shinsou.applications.seq2seq import Transformer
from shinsou.applications.seq2seq_decoding import beam_search_decode, greedy_decode
from shinsou.tensor import Tensor

PAD, START, END = 0, 1, 2
VOCABULARY = 10  # symbols 3..9
LENGTH = 5


def reversal_data(count, rng):
    """Sources of 3..LENGTH symbols (0-padded); targets are the reversed sources + END."""
    lengths = rng.integers(3, LENGTH + 1, count)
    source = np.zeros((count, LENGTH), np.int32)
    target = np.zeros((count, LENGTH + 1), np.int32)
    for row, length in enumerate(lengths):
        symbols = rng.integers(3, VOCABULARY, length)
        source[row, :length] = symbols
        target[row, :length] = symbols[::-1]
        target[row, length] = END
    decoder_inputs = np.zeros_like(target)
    decoder_inputs[:, 0] = START
    decoder_inputs[:, 1:] = target[:, :-1]
    return source, decoder_inputs, target


@pytest.fixture(scope="module")
def reversal_model():
    """A Transformer trained to reverse sequences (72 steps, about 2 s on two cores)."""
    shinsou.backend.set_seed(0)
    rng = np.random.default_rng(0)
    source, decoder_inputs, target = reversal_data(768, rng)
    model = Transformer(1, 32, 4, 64, VOCABULARY, VOCABULARY, LENGTH + 2, dropout=0.0)
    model.compile(
        optimizer=shinsou.optimizers.Adam(5e-3),
        loss=shinsou.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit([source, decoder_inputs], target, batch_size=64, epochs=6, verbose=0)
    return model, history.history["loss"], reversal_data(100, rng)


def test_reversal_trains_and_greedy_decoding_reproduces_the_targets(reversal_model):
    model, losses, (source, _, target) = reversal_model
    assert losses[-1] < 0.1 < 1.5 < losses[0]
    decoded = greedy_decode(model, source, START, END, LENGTH + 2)
    assert decoded.dtype == np.int32 and (decoded[:, 0] == START).all()
    width = min(decoded.shape[1] - 1, target.shape[1])
    expected = np.zeros((len(source), decoded.shape[1] - 1), np.int32)
    expected[:, :width] = target[:, :width]
    exact = (decoded[:, 1:] == expected).all(axis=1).mean()
    assert exact >= 0.95, f"only {exact:.0%} of the reversals decoded exactly"


def test_beam_width_one_is_greedy(reversal_model):
    model, _, (source, _, _) = reversal_model
    greedy = greedy_decode(model, source[:40], START, END, LENGTH + 2)
    beam = beam_search_decode(model, source[:40], START, END, LENGTH + 2, beam_width=1)
    np.testing.assert_array_equal(beam, greedy)
    wide = beam_search_decode(model, source[:40], START, END, LENGTH + 2, beam_width=3)
    assert wide.shape[0] == 40 and (wide[:, 0] == START).all()


class BigramModel(shinsou.Model):
    """A fixed "model" whose next-token distribution depends on the previous token only:
    ``probabilities[previous]``. It ignores the source."""

    def __init__(self, probabilities):
        super().__init__()
        probabilities = np.asarray(probabilities, np.float64)
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        self.log_table = np.log(probabilities).astype(np.float32)

    def call(self, inputs):
        _, decoder_tokens = inputs
        return Tensor._wrap(self.log_table[np.asarray(decoder_tokens.data)])


def sequence_log_probability(model, tokens):
    table = model.log_table
    return sum(table[a, b] for a, b in itertools.pairwise(tokens) if b != PAD)


TINY = 1e-9  # stands for "impossible" without log(0)


def test_beam_search_beats_greedy_on_a_crafted_model():
    # Tokens: 0 pad, 1 start, 2 end, 3 A, 4 B, 5 C. Greedy takes A (0.6) but A's best
    # continuation is weak (C: 0.34); B (0.4) is followed by END for sure.
    probabilities = np.full((6, 6), TINY)
    probabilities[START, [3, 4]] = [0.6, 0.4]
    probabilities[3, [2, 3, 4, 5]] = [0.33, TINY, 0.33, 0.34]
    probabilities[4, END] = 1.0
    probabilities[5, END] = 1.0
    probabilities[[PAD, END]] = 1.0  # never used: rows of padding and ended sequences
    model = BigramModel(probabilities)
    source = np.ones((2, 3), np.int32)
    greedy = greedy_decode(model, source, START, END, max_length=6)
    beam = beam_search_decode(model, source, START, END, max_length=6, beam_width=2)
    assert greedy[0].tolist() == [START, 3, 5, END]
    assert beam[0][beam[0] != PAD].tolist() == [START, 4, END]
    assert sequence_log_probability(model, beam[0]) > sequence_log_probability(model, greedy[0])
    np.testing.assert_array_equal(beam[0], beam[1])  # every source is decoded alike


def test_length_penalty_favours_longer_hypotheses():
    # Tokens: 0 pad, 1 start, 2 end, 3 A. END at once has probability 0.5; the run of As
    # left unfinished at max_length has 0.5 * 0.9 * 0.9 = 0.405 over three tokens.
    probabilities = np.full((4, 4), TINY)
    probabilities[START, [END, 3]] = [0.5, 0.5]
    probabilities[3, [END, 3]] = [0.1, 0.9]
    probabilities[[PAD, END]] = 1.0
    model = BigramModel(probabilities)
    source = np.ones((1, 2), np.int32)
    by_probability = beam_search_decode(model, source, START, END, 4, beam_width=3)
    per_token = beam_search_decode(model, source, START, END, 4, beam_width=3, length_penalty=1.0)
    assert by_probability[0][by_probability[0] != PAD].tolist() == [START, END]
    assert per_token[0].tolist() == [START, 3, 3, 3]


def test_bad_arguments_are_reported():
    model = BigramModel(np.ones((4, 4)))
    source = np.ones((1, 3), np.int32)
    with pytest.raises(ValueError, match=r"greedy_decode: source_tokens must be .*shape \(3,\)"):
        greedy_decode(model, np.ones(3, np.int32), START, END, 5)
    with pytest.raises(TypeError, match="integer token ids; received dtype float32"):
        greedy_decode(model, source.astype("float32"), START, END, 5)
    with pytest.raises(ValueError, match=r"start_token must be a positive integer id.*=0"):
        greedy_decode(model, source, 0, END, 5)
    with pytest.raises(ValueError, match="max_length counts the start token"):
        beam_search_decode(model, source, START, END, 1)
    with pytest.raises(ValueError, match="beam_width must be a positive integer; got 0"):
        beam_search_decode(model, source, START, END, 5, beam_width=0)
    with pytest.raises(ValueError, match="length_penalty must be a number >= 0"):
        beam_search_decode(model, source, START, END, 5, length_penalty=-1)
    with pytest.raises(ValueError, match=r"logits \(batch, decoder_length, vocabulary\)"):
        greedy_decode(lambda inputs, training: np.zeros((1, 4)), source, START, END, 5)

"""Decoding a sequence-to-sequence model one token at a time: greedy and beam search.

Both work with any model called as ``model([source_tokens, decoder_tokens])`` that returns
logits ``(batch, decoder_length, vocabulary)`` — :func:`~shinsou.applications.Transformer`
builds one. Id 0 is padding: a sequence that has produced ``end_token`` continues with 0s
while the others finish. Every step runs the model on the whole prefix (no key/value cache),
so a step costs a forward pass of the prefix length; fine for the short sequences of teaching
examples.

Example:
    >>> import numpy as np
    >>> from shinsou.applications import Transformer
    >>> model = Transformer(1, 16, 2, 32, input_vocab_size=10, target_vocab_size=10,
    ...                     max_length=6)
    >>> out = greedy_decode(model, np.array([[3, 4, 5]]), start_token=1, end_token=2,
    ...                     max_length=6)
    >>> out.shape[0], int(out[0, 0]), out.shape[1] <= 6
    (1, 1, True)
"""

from __future__ import annotations

import numbers

import numpy

from ..tensor import Tensor, no_grad

__all__ = ["beam_search_decode", "greedy_decode"]


def _check_token(caller, argument, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{caller}: {argument} must be a positive integer id (0 is padding); received "
            f"{argument}={value!r}"
        )
    return int(value)


def _check_arguments(caller, source_tokens, start_token, end_token, max_length):
    source = numpy.asarray(source_tokens)
    if source.ndim != 2 or source.shape[0] == 0 or source.shape[1] == 0:
        raise ValueError(
            f"{caller}: source_tokens must be a non-empty 2-D array of token ids (batch, "
            f"length); received shape {source.shape}"
        )
    if source.dtype.kind not in "iu":
        raise TypeError(
            f"{caller}: source_tokens must hold integer token ids; received dtype {source.dtype}"
        )
    _check_token(caller, "start_token", start_token)
    _check_token(caller, "end_token", end_token)
    if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral):
        raise ValueError(f"{caller}: max_length must be an integer; received {max_length!r}")
    if max_length < 2:
        raise ValueError(
            f"{caller}: max_length counts the start token and must be at least 2; received "
            f"max_length={max_length}"
        )
    return source.astype(numpy.int32, copy=False)


def _last_logits(model, source, prefix):
    """The model's logits for the token after ``prefix``: ``(batch, vocabulary)`` float32."""
    with no_grad():
        logits = model([source, prefix], training=False)
    logits = logits.numpy() if isinstance(logits, Tensor) else numpy.asarray(logits)
    if logits.ndim != 3 or logits.shape[:2] != prefix.shape:
        raise ValueError(
            "decoding: the model must return logits (batch, decoder_length, vocabulary) for "
            f"decoder tokens of shape {prefix.shape}; it returned shape {logits.shape}"
        )
    return logits[:, -1].astype(numpy.float32, copy=False)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=-1, keepdims=True))


def greedy_decode(model, source_tokens, start_token, end_token, max_length):
    """Decode each source by picking the most likely next token until ``end_token``.

    ``source_tokens`` is ``(batch, source_length)`` integer ids (0 = padding). Returns an
    int32 array ``(batch, length)`` with ``length <= max_length``: each row starts with
    ``start_token``, then the chosen tokens up to and including ``end_token``, then 0s.
    Stops when every row has ended or ``max_length`` tokens are there.

    Example:
        >>> import numpy as np
        >>> from shinsou.applications import Transformer
        >>> model = Transformer(1, 8, 2, 16, 10, 10, max_length=5)
        >>> greedy_decode(model, np.array([[3, 4], [5, 0]]), 1, 2, max_length=5).shape[0]
        2
    """
    source = _check_arguments("greedy_decode", source_tokens, start_token, end_token, max_length)
    batch = source.shape[0]
    sequences = numpy.full((batch, 1), start_token, dtype=numpy.int32)
    finished = numpy.zeros(batch, dtype=bool)
    for _ in range(max_length - 1):
        next_tokens = _last_logits(model, source, sequences).argmax(axis=-1).astype(numpy.int32)
        next_tokens[finished] = 0
        sequences = numpy.concatenate([sequences, next_tokens[:, None]], axis=1)
        finished |= next_tokens == end_token
        if finished.all():
            break
    return sequences


def beam_search_decode(
    model, source_tokens, start_token, end_token, max_length, beam_width=4, length_penalty=0.0
):
    """Decode each source with beam search: keep the ``beam_width`` best hypotheses by
    cumulative log-probability, extend each by every token, keep the best again.

    A hypothesis that has produced ``end_token`` is finished: it stays in the beam with its
    score frozen (it continues with padding at no cost) and competes with the unfinished
    ones, which can only lose probability as they grow. The search stops when every
    hypothesis of every source is finished, or at ``max_length`` tokens (counting the start
    token). The answer per source is the final hypothesis with the best
    ``log_probability / length ** length_penalty`` (``length`` = tokens after the start):
    ``0`` (the default) ranks by probability alone, ``1`` by the mean log-probability per
    token, which favours longer outputs. ``beam_width=1`` is greedy decoding.

    Returns an int32 array ``(batch, length)`` laid out as :func:`greedy_decode`'s. All
    sources are decoded together: each step runs the model once on ``batch * beam_width``
    prefixes.

    Example:
        >>> import numpy as np
        >>> from shinsou.applications import Transformer
        >>> model = Transformer(1, 8, 2, 16, 10, 10, max_length=5)
        >>> out = beam_search_decode(model, np.array([[3, 4]]), 1, 2, 5, beam_width=3)
        >>> out.dtype.name, int(out[0, 0])
        ('int32', 1)
    """
    caller = "beam_search_decode"
    source = _check_arguments(caller, source_tokens, start_token, end_token, max_length)
    if isinstance(beam_width, bool) or not isinstance(beam_width, numbers.Integral):
        raise ValueError(f"{caller}: beam_width must be a positive integer; got {beam_width!r}")
    if beam_width < 1:
        raise ValueError(f"{caller}: beam_width must be a positive integer; got {beam_width}")
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, numbers.Real)
        or not length_penalty >= 0
    ):
        raise ValueError(
            f"{caller}: length_penalty must be a number >= 0; received {length_penalty!r}"
        )
    batch, width = source.shape[0], int(beam_width)
    beams_source = numpy.repeat(source, width, axis=0)  # source b serves rows b*width...
    sequences = numpy.full((batch, width, 1), start_token, dtype=numpy.int32)
    # Only the first beam is live at the start: the others would repeat its hypotheses.
    scores = numpy.full((batch, width), -numpy.inf, dtype=numpy.float32)
    scores[:, 0] = 0.0
    finished = numpy.zeros((batch, width), dtype=bool)
    for _ in range(max_length - 1):
        logits = _last_logits(model, beams_source, sequences.reshape(batch * width, -1))
        log_probs = _log_softmax(logits).reshape(batch, width, -1)
        vocabulary = log_probs.shape[-1]
        # A finished hypothesis has one continuation, padding, with log-probability 0.
        log_probs[finished] = -numpy.inf
        log_probs[finished, 0] = 0.0
        candidates = (scores[:, :, None] + log_probs).reshape(batch, width * vocabulary)
        # A stable sort keeps the lowest index among equal scores, as argmax does, so that
        # beam_width=1 reproduces greedy decoding exactly.
        best = numpy.argsort(-candidates, axis=1, kind="stable")[:, :width]
        parents, tokens = best // vocabulary, (best % vocabulary).astype(numpy.int32)
        scores = numpy.take_along_axis(candidates, best, axis=1)
        sequences = numpy.concatenate(
            [numpy.take_along_axis(sequences, parents[:, :, None], axis=1), tokens[:, :, None]],
            axis=2,
        )
        finished = numpy.take_along_axis(finished, parents, axis=1) | (tokens == end_token)
        if finished.all():
            break
    lengths = numpy.maximum((sequences[:, :, 1:] != 0).sum(axis=2), 1).astype(numpy.float32)
    ranked = scores / lengths ** numpy.float32(length_penalty)
    choice = ranked.argmax(axis=1)
    return sequences[numpy.arange(batch), choice]

"""Flat buffers: an optimizer's variables laid end to end, and the whole-step passes over them.

:class:`FlatLayout` groups the variables by dtype. In each :class:`FlatGroup` every variable's
``.data`` is a view into one flat parameter buffer, and the gradients, the update rule's
slots and the EMA / accumulation buffers share that layout. The passes here (gathering
gradients, unscaling, clipping, accumulating, averaging) then work on a few long arrays
instead of one small array per variable. A step touches only the variables that received a
gradient: the "runs" are the merged element ranges of those variables (one range per group
in the common case where every variable takes part).

Example:
    >>> import numpy as np
    >>> from shinsou import Variable
    >>> a, b = Variable(np.ones((2, 2), "float32")), Variable(np.zeros(3, "float32"))
    >>> layout = FlatLayout([a, b])
    >>> group = layout.groups[0]
    >>> group.params.shape, np.shares_memory(a.data, group.params)
    ((7,), True)
"""

from __future__ import annotations

import bisect
import math
import os
from concurrent.futures import ThreadPoolExecutor

from ..backend import xp
from ..tensor import Tensor

# Elements per pass: a chunk of each buffer (256 KiB in float32) stays in the L2 cache across
# the dozen passes of an update rule, where whole-buffer passes would stream from memory.
CHUNK = 1 << 16

# NumPy releases the GIL inside its loops, so chunks handed to helper threads run on other
# cores: LANES threads in all (this one and LANES - 1 helpers) share a step's chunks. Handing
# work to a thread costs tens of microseconds, a chunk's update a hundred or more, so each
# lane gets at least JOBS_PER_LANE chunks (small models stay on one thread).
LANES = max(1, min(4, os.cpu_count() or 1))
JOBS_PER_LANE = 4
_helpers = None
_helpers_pid = None


def run_in_lanes(jobs, work):
    """Call ``work(part, lane)`` on up to :data:`LANES` consecutive parts of ``jobs`` (of at
    least :data:`JOBS_PER_LANE` jobs each), one per thread (lane 0 is this thread), and wait
    for all of them.

    Example:
        >>> done = []
        >>> run_in_lanes(list(range(6)), lambda part, lane: done.extend(part))
        >>> sorted(done)
        [0, 1, 2, 3, 4, 5]
    """
    global _helpers, _helpers_pid
    lanes = min(LANES, len(jobs) // JOBS_PER_LANE)
    if lanes < 2:
        work(jobs, 0)
        return
    if _helpers is None or _helpers_pid != os.getpid():  # threads do not survive a fork
        _helpers = ThreadPoolExecutor(LANES - 1, thread_name_prefix="shinsou-optimizer")
        _helpers_pid = os.getpid()
    bounds = [len(jobs) * lane // lanes for lane in range(lanes + 1)]
    parts = [jobs[bounds[lane] : bounds[lane + 1]] for lane in range(lanes)]
    futures = [_helpers.submit(work, part, lane) for lane, part in enumerate(parts) if lane]
    try:
        work(parts[0], 0)
    finally:
        for future in futures:
            future.result()


def chunks(runs):
    """Cut element ranges into ``(start, stop)`` pieces of at most :data:`CHUNK` elements.

    Example:
        >>> list(chunks([(0, 3)]))
        [(0, 3)]
    """
    for start, stop in runs:
        for low in range(start, stop, CHUNK):
            yield low, min(low + CHUNK, stop)


class FlatGroup:
    """The variables of one dtype, laid end to end in flat buffers.

    Variable ``i`` owns elements ``bounds[i]:bounds[i + 1]`` of ``params`` (its ``.data`` is a
    view of them), of ``grads`` (the gradients gathered for a step) and of every buffer in
    ``slots`` (the update rule's state) and ``extra`` (EMA averages, gradient accumulators).
    ``pending[i]`` is variable ``i``'s gradient (flattened) while it waits to be copied into
    ``grads``: the update copies each chunk's part just before using it, while it is hot in
    the cache, instead of in a separate pass over everything.

    Example:
        >>> import numpy as np
        >>> from shinsou import Variable
        >>> group = FlatGroup([Variable(np.arange(3, dtype="float32"))], np.dtype("float32"))
        >>> group.runs([True])
        [[0, 3]]
    """

    def __init__(self, variables, dtype):
        self.variables = variables
        self.dtype = dtype
        self.bounds = [0]
        for variable in variables:
            self.bounds.append(self.bounds[-1] + variable.size)
        size = self.bounds[-1]
        self.params = xp.empty(size, dtype)
        self.grads = xp.zeros(size, dtype)
        self.scratch = xp.empty((LANES, min(size, CHUNK)), dtype)  # one row per lane
        self.views = [self.view(self.params, i) for i in range(len(variables))]
        self.grad_views = [self.view(self.grads, i) for i in range(len(variables))]
        for index in range(len(variables)):
            self.adopt(index)
        self.pending = [None] * len(variables)
        self.slots = {}
        self.extra = {}
        self.decayed = None  # per variable, whether weight decay applies; computed when needed

    def view(self, flat, index):
        """Variable ``index``'s part of a flat buffer, in the variable's shape."""
        return flat[self.bounds[index] : self.bounds[index + 1]].reshape(
            self.variables[index].shape
        )

    def adopt(self, index):
        """Copy the variable's value into the flat buffer and make its storage the view."""
        variable, view = self.variables[index], self.views[index]
        if variable.data.shape != view.shape:
            raise ValueError(
                f"variable '{variable.path}' changed shape from {view.shape} to "
                f"{variable.data.shape} after the optimizer was built; create a new optimizer"
            )
        view[...] = variable.data
        variable.data = view

    def fill(self, start, stop):
        """Copy the pending gradients' elements ``[start, stop)`` into ``grads``."""
        index = bisect.bisect_right(self.bounds, start) - 1
        while index < len(self.variables) and self.bounds[index] < stop:
            source = self.pending[index]
            if source is not None:
                offset = self.bounds[index]
                low, high = max(start, offset), min(stop, self.bounds[index + 1])
                self.grads[low:high] = source[low - offset : high - offset]
            index += 1

    def runs(self, mask):
        """Element ranges ``[start, stop)`` covering the variables where ``mask`` is true,
        neighbours merged: one range when every variable takes part."""
        runs = []
        for index, selected in enumerate(mask):
            if not selected:
                continue
            start, stop = self.bounds[index], self.bounds[index + 1]
            if runs and runs[-1][1] == start:
                runs[-1][1] = stop
            else:
                runs.append([start, stop])
        return runs


class FlatLayout:
    """All of an optimizer's variables, one :class:`FlatGroup` per dtype.

    ``locations`` maps ``id(variable)`` to ``(group index, index in the group)``.

    Example:
        >>> import numpy as np
        >>> from shinsou import Variable
        >>> a = Variable(np.zeros(2, "float32"))
        >>> b = Variable(np.zeros(2, "float64"), dtype="float64")
        >>> layout = FlatLayout([a, b])
        >>> len(layout.groups), layout.locate(b)[1]
        (2, 0)
    """

    def __init__(self, variables):
        by_dtype = {}
        for variable in variables:
            by_dtype.setdefault(variable.dtype, []).append(variable)
        self.groups = [FlatGroup(members, dtype) for dtype, members in by_dtype.items()]
        self.locations = {
            id(variable): (group_index, index)
            for group_index, group in enumerate(self.groups)
            for index, variable in enumerate(group.variables)
        }

    def locate(self, variable):
        """``(group, index)`` of a variable, or ``None`` if it is not laid out here."""
        location = self.locations.get(id(variable))
        if location is None:
            return None
        return self.groups[location[0]], location[1]

    def gather(self, grads, variables, owner):
        """Check the gradients and make them each variable's pending gradient.

        Returns the per-group masks of variables that received a gradient, the list of those
        variables, and the names of those given ``None``.
        """
        masks = [[False] * len(group.variables) for group in self.groups]
        updated, missing = [], []
        for grad, variable in zip(grads, variables):
            if grad is None:
                missing.append(variable.name)
                continue
            location = self.locations.get(id(variable))
            if location is None:
                raise ValueError(
                    f"{owner}.apply: unknown variable '{variable.path}': this optimizer was "
                    "built for other variables. Create a new optimizer for a new set of "
                    "variables (compile the model again, for example)."
                )
            group_index, index = location
            group = self.groups[group_index]
            if type(grad) is not xp.ndarray:
                grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad)
            target = group.grad_views[index]
            if grad is target:  # written straight into the buffer: nothing to copy
                group.pending[index] = None
            elif grad.shape != target.shape:
                raise ValueError(
                    f"{owner}.apply: the gradient for '{variable.path}' has shape "
                    f"{grad.shape}; the variable has shape {target.shape}"
                )
            else:
                group.pending[index] = grad.reshape(-1)
            if variable.data is not group.views[index]:
                group.adopt(index)  # something rebound .data: take the new value in
            masks[group_index][index] = True
            updated.append(variable)
        return masks, updated, missing

    def runs(self, masks):
        return [group.runs(mask) for group, mask in zip(self.groups, masks)]

    def fill(self, runs):
        """Copy all pending gradients into ``grads`` now (for passes that need them all)."""
        for group, group_runs in zip(self.groups, runs):
            for start, stop in group_runs:
                group.fill(start, stop)
            group.pending = [None] * len(group.variables)

    def grad_pieces(self, runs):
        """The gathered gradients of a step, as one flat view per run."""
        return [
            group.grads[start:stop]
            for group, group_runs in zip(self.groups, runs)
            for start, stop in group_runs
        ]

    def divide_gradients(self, runs, divisor):
        for piece in self.grad_pieces(runs):
            xp.divide(piece, divisor, out=piece)

    def accumulate(self, runs, steps, ready):
        """Add the gradients to the accumulators; when ``ready``, replace them by the mean
        over the ``steps`` calls instead and reset the accumulators."""
        for group, group_runs in zip(self.groups, runs):
            accumulated = group.extra["gradient_accumulator"]
            for start, stop in group_runs:
                grad, total = group.grads[start:stop], accumulated[start:stop]
                if ready:
                    xp.add(grad, total, out=grad)
                    xp.divide(grad, steps, out=grad)
                else:
                    xp.add(total, grad, out=total)
            if ready:
                accumulated[...] = 0

    def clip_each_norm(self, masks, clipnorm):
        """Scale each variable's gradient down to an L2 norm of at most ``clipnorm``."""
        for group, mask in zip(self.groups, masks):
            for index, selected in enumerate(mask):
                if selected:
                    grad = group.grads[group.bounds[index] : group.bounds[index + 1]]
                    norm = math.sqrt(float(xp.dot(grad, grad)))
                    if norm > clipnorm:
                        xp.multiply(grad, clipnorm / norm, out=grad)

    def clip_global_norm(self, runs, clipnorm):
        """Scale all gradients together down to a global L2 norm of at most ``clipnorm``; a
        non-finite norm makes them NaN (as in Keras), so the step visibly fails."""
        pieces = self.grad_pieces(runs)
        norm = math.sqrt(sum(float(xp.dot(piece, piece)) for piece in pieces))
        if norm <= clipnorm:
            return
        scale = clipnorm / norm if math.isfinite(norm) else math.nan
        for piece in pieces:
            xp.multiply(piece, scale, out=piece)

    def clip_value(self, runs, clipvalue):
        for piece in self.grad_pieces(runs):
            xp.clip(piece, -clipvalue, clipvalue, out=piece)

    def update_average(self, momentum, overwrite):
        """``average = momentum * average + (1 - momentum) * weights`` for every variable;
        with ``overwrite``, then copy the averages into the weights."""
        for group in self.groups:
            average = group.extra["average"]
            for start, stop in chunks([(0, group.bounds[-1])]):
                part, scratch = average[start:stop], group.scratch[0, : stop - start]
                xp.multiply(group.params[start:stop], 1.0 - momentum, out=scratch)
                xp.multiply(part, momentum, out=part)
                xp.add(part, scratch, out=part)
            if overwrite:
                group.params[...] = average

"""Fused recurrences: a whole LSTM, GRU or SimpleRNN sequence is one graph node.

Weights use Keras's layouts and gate orders, so Keras weight files load unchanged:
``kernel`` is ``(features, gates * units)``, ``recurrent_kernel`` is
``(units, gates * units)``; LSTM gates are ``i, f, c, o`` and GRU gates ``z, r, h``. Inputs are
batch-major ``(batch, timesteps, features)``.

How it is fast: the input projection of every time step (bias included) is one GEMM before
the loop; each step then does only ``h @ recurrent_kernel`` plus in-place elementwise work on
preallocated, time-major buffers whose per-step slices are contiguous. Backpropagation
through time runs inside the node's backward: the gate gradients of all steps land in one
``(T, B, gates * U)`` buffer, so that the kernel, bias and recurrent-kernel gradients come from
one GEMM after the loop and the input gradient from one more. The large buffers are recycled
from one call to the next (see ``_BufferPool``).

Masks follow Keras's TensorFlow backend: at a masked step the states are carried over
unchanged and the output repeats the previous step's output, which is zero before the first
unmasked step whatever the initial state. (Keras's JAX and NumPy backends repeat the initial
state there instead; the two agree when the initial state is zero, the default.) With
``zero_output_for_mask=True`` (what Keras's ``Bidirectional`` sets when it returns sequences)
masked steps output zeros. ``go_backwards=True`` reads the sequence from its end and returns
the outputs in that processing order, reversed, as Keras does.

Example:
    >>> import numpy as np
    >>> from shinsou import ops, tensor
    >>> x = tensor(np.ones((2, 5, 3)), requires_grad=True)
    >>> kernel = tensor(np.full((3, 8), 0.1))
    >>> recurrent = tensor(np.full((2, 8), 0.1))
    >>> outputs, h, c = ops.lstm(x, kernel, recurrent)
    >>> outputs.shape, h.shape, c.shape
    ((2, 5, 2), (2, 2), (2, 2))
    >>> outputs.sum().backward()
    >>> x.grad.shape
    (2, 5, 3)
"""

from __future__ import annotations

import weakref

from ..backend import xp
from ..tensor import Tensor, as_tensor, record_many, tensor  # noqa: F401 - tensor for examples
from ._helpers import require_float

__all__ = ["gru", "lstm", "simple_rnn"]


# -- activations on preallocated buffers ----------------------------------------------------
# Each activation is a pair: ``forward(x, out)`` writes f(x) into ``out`` (which may be ``x``);
# ``derivative(y, out)`` writes f'(x) computed from the saved output y = f(x) (``out`` not
# ``y``), so backward needs no pre-activations.


def _tanh(x, out):
    xp.tanh(x, out=out)


def _tanh_derivative(y, out):
    xp.multiply(y, y, out=out)
    xp.subtract(1, out, out=out)


def _sigmoid(x, out):
    # 0.5 * tanh(x / 2) + 0.5 equals 1 / (1 + exp(-x)) but never overflows, and NumPy's
    # float32 tanh is as fast as its exp.
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5


def _sigmoid_derivative(y, out):
    xp.subtract(1, y, out=out)
    out *= y


def _hard_sigmoid(x, out):
    # Keras 3: relu6(x + 3) / 6.
    xp.add(x, 3, out=out)
    xp.clip(out, 0, 6, out=out)
    out /= 6


def _hard_sigmoid_derivative(y, out):
    xp.logical_and(y > 0, y < 1, out=out)
    out /= 6


def _relu(x, out):
    xp.maximum(x, 0, out=out)


def _relu_derivative(y, out):
    xp.greater(y, 0, out=out)


def _linear(x, out):
    if out is not x:
        xp.copyto(out, x)


def _linear_derivative(y, out):
    out.fill(1)


_ACTIVATIONS = {
    "tanh": (_tanh, _tanh_derivative),
    "sigmoid": (_sigmoid, _sigmoid_derivative),
    "relu": (_relu, _relu_derivative),
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_derivative),
    "linear": (_linear, _linear_derivative),
}


def _activation(op_name, argument, name):
    """The (forward, derivative) pair for an activation name; ``None`` means linear, as Keras."""
    if name is None:
        name = "linear"
    pair = _ACTIVATIONS.get(name) if isinstance(name, str) else None
    if pair is None:
        valid = ", ".join(repr(n) for n in sorted(_ACTIVATIONS))
        raise ValueError(f"{op_name}: unknown {argument} {name!r}; valid names are {valid}")
    return pair


def _backprop(derivative, y, dy, out):
    """``out = dy * f'(x)`` for the activation whose output was ``y``."""
    derivative(y, out)
    out *= dy


# -- what the three recurrences share -------------------------------------------------------
class _BufferPool:
    """Large work buffers of finished recurrences, kept for the next call of the same shape.

    A fresh large array is a fresh mapping whose pages fault in on first touch; measured here,
    that cost an LSTM training step (B=64, T=80, U=128) about a fifth of its time. Training
    repeats the same shapes every step, so one step's buffers serve the next. Only arrays
    that never escape an op go back; past ``max_bytes`` the pool forgets what it holds.
    """

    def __init__(self, max_bytes=256 << 20):
        self.max_bytes = max_bytes
        self._free = {}
        self._bytes = 0

    def empty(self, shape, dtype):
        stack = self._free.get((shape, dtype))
        if not stack:
            return xp.empty(shape, dtype)
        array = stack.pop()
        self._bytes -= array.nbytes
        return array

    def give_back(self, *arrays):
        for array in arrays:
            if self._bytes + array.nbytes > self.max_bytes:
                self._free.clear()  # the shapes in use changed (or too many): start afresh
                self._bytes = 0
            if array.nbytes <= self.max_bytes:
                self._free.setdefault((array.shape, array.dtype), []).append(array)
                self._bytes += array.nbytes


_POOL = _BufferPool()


class _Sequence:
    """Checked operands of one recurrence, time-major, plus the gradient bookkeeping.

    One buffer ``xh`` holds for every step t the row ``[x_t, 1, h_t]``: the inputs in
    processing order (reversed for ``go_backwards``), a one when there is a bias, and the
    state entering the step, which the recurrence writes there (``hs`` is that part, with
    one more row for the final state). The projection GEMM reads ``[x, 1]`` and so adds the
    bias; backward gets the kernel, bias and recurrent-kernel gradients from one GEMM over
    the rows. ``masked`` is ``(T, B, 1)``, True where a step is skipped, ``step_keep`` its
    float complement, and ``output_keep`` ``(B, T, 1)`` says which outputs survive (see the
    module notes).
    """

    def __init__(
        self,
        op_name,
        num_gates,
        inputs,
        kernel,
        recurrent_kernel,
        bias,
        bias_shape,
        initial_state,
        state_names,
        mask,
        go_backwards,
        zero_output_for_mask,
    ):
        self.op_name = op_name
        inputs = as_tensor(inputs)
        if inputs.ndim != 3:
            raise ValueError(
                f"{op_name}: inputs must have rank 3 (batch, timesteps, features); "
                f"got shape {inputs.shape}"
            )
        batch, steps, features = inputs.shape
        if steps == 0:
            raise ValueError(
                f"{op_name}: inputs must have at least one timestep; got shape {inputs.shape}"
            )
        recurrent_kernel = as_tensor(recurrent_kernel)
        shape = recurrent_kernel.shape
        if len(shape) != 2 or shape[1] != num_gates * shape[0] or shape[0] == 0:
            expected = f"({shape[0]}, {num_gates * shape[0]})" if len(shape) == 2 else "(U, ...)"
            raise ValueError(
                f"{op_name}: recurrent_kernel must have shape (U, {num_gates}*U) = {expected}; "
                f"got {shape}"
            )
        units = shape[0]
        kernel = as_tensor(kernel)
        if kernel.shape != (features, num_gates * units):
            raise ValueError(
                f"{op_name}: kernel must have shape (F, {num_gates}*U) = "
                f"({features}, {num_gates * units}); got {kernel.shape}"
            )
        self.tensors = {"inputs": inputs, "kernel": kernel, "recurrent_kernel": recurrent_kernel}
        if bias is not None:
            bias = as_tensor(bias)
            description, expected = bias_shape(units)
            if bias.shape != expected:
                raise ValueError(
                    f"{op_name}: bias must have shape {description} = {expected}; got {bias.shape}"
                )
            self.tensors["bias"] = bias
        for name, state in zip(state_names, _state_list(op_name, initial_state, state_names)):
            if state is None:
                continue
            state = as_tensor(state)
            if state.shape != (batch, units):
                raise ValueError(
                    f"{op_name}: initial state {name} must have shape (B, U) = "
                    f"({batch}, {units}); got {state.shape}"
                )
            self.tensors[name] = state
        for name, t in self.tensors.items():
            require_float(t, f"{op_name} ({name})")
        self.dtype = xp.result_type(*(t.dtype for t in self.tensors.values()))
        self.batch, self.steps, self.features, self.units = batch, steps, features, units
        self.go_backwards = go_backwards

        self.saved = []  # the buffers that live as long as the backward closure
        x = self.array("inputs").transpose(1, 0, 2)
        width = features + (bias is not None)
        self.xh = self.buffer((steps + 1, batch, width + units))
        self.xh[:steps, :, :features] = x[::-1] if go_backwards else x
        self.xh[:, :, features:width] = 1
        self.x_rows = self.xh[:steps, :, :width].reshape(steps * batch, width)
        self.hs = self.xh[:, :, width:]
        self.masked = self.step_keep = self.output_keep = None
        if mask is not None:
            self._set_mask(mask, zero_output_for_mask)

    def _set_mask(self, mask, zero_output_for_mask):
        mask = xp.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
        if mask.shape != (self.batch, self.steps):
            raise ValueError(
                f"{self.op_name}: mask must have shape (B, T) = ({self.batch}, {self.steps}); "
                f"got {mask.shape}"
            )
        if self.go_backwards:
            mask = mask[:, ::-1]
        keep = mask if zero_output_for_mask else xp.logical_or.accumulate(mask, axis=1)
        self.output_keep = keep[:, :, None].astype(self.dtype)
        mask = xp.ascontiguousarray(mask.T)[:, :, None]
        self.masked = ~mask
        self.step_keep = mask.astype(self.dtype)

    def buffer(self, shape):
        """An uninitialised work array that goes back to the pool after the op's backward."""
        array = _POOL.empty(shape, self.dtype)
        self.saved.append(array)
        return array

    def record(self, outputs, backward):
        """Record the op's node; its buffers return to the pool once ``backward`` is gone
        (after the backward pass, or at once when no graph is recorded)."""
        weakref.finalize(backward, _POOL.give_back, *self.saved)
        return record_many(outputs, tuple(self.tensors.values()), backward, self.op_name)

    def array(self, name):
        t = self.tensors.get(name)
        return None if t is None else t.data.astype(self.dtype, copy=False)

    def initial(self, name, out):
        """Write the initial state ``name`` (zeros when not given) into ``out``."""
        state = self.array(name)
        if state is None:
            out.fill(0)
        else:
            xp.copyto(out, state)

    def project(self, kernel, bias, out):
        """``x W + b`` of every step into ``out`` (``T*B`` rows): one GEMM.

        ``kernel`` is ``(..., F, N)`` and ``bias`` ``(..., N)`` or None (leading axes batch
        several GEMMs); ``out`` is ``(..., T*B, N)``.
        """
        if bias is not None:
            kernel = xp.concatenate([kernel, bias[..., None, :]], axis=-2)
        xp.matmul(self.x_rows, kernel, out=out)

    def outputs(self, hs):
        """Batch-major outputs from the time-major states ``hs[1:]``, masked outputs applied."""
        outputs = xp.empty((self.batch, self.steps, self.units), self.dtype)
        states = hs[1:].transpose(1, 0, 2)
        if self.output_keep is None:
            xp.copyto(outputs, states)
        else:
            xp.multiply(states, self.output_keep, out=outputs)
        return outputs

    def output_grad(self, grad):
        """The gradient of the outputs as a time-major view, or None when none arrived."""
        if grad is None:
            return None
        if self.output_keep is not None:
            grad = grad * self.output_keep
        return grad.astype(self.dtype, copy=False).transpose(1, 0, 2)

    def needs(self, name):
        t = self.tensors.get(name)
        return t is not None and t.requires_grad

    def gradients(
        self, grads, gate_grads, kernel, order=None, recurrent_bias_grad=None, scratch_buffers=()
    ):
        """Complete ``grads`` (state gradients by name) with the GEMMs over all steps.

        ``gate_grads`` ``(T, B, gates * U)`` holds d(loss)/d(pre-activation) of every step,
        its columns in the order of ``kernel``'s; ``order`` (if given) maps them back to
        Keras's. One GEMM over the rows ``[x, 1, h]`` gives the kernel, bias and (unless
        ``grads`` has it already) recurrent-kernel gradients, one more the input gradient.
        ``gate_grads`` and ``scratch_buffers`` go back to the pool. Returns one gradient per
        tensor of :attr:`tensors`, in the dtype of that tensor.
        """
        flat = gate_grads.reshape(-1, gate_grads.shape[-1])
        with_recurrent = "recurrent_kernel" not in grads and self.needs("recurrent_kernel")
        if with_recurrent or self.needs("kernel") or self.needs("bias"):
            rows = self.xh[:-1] if with_recurrent else self.xh[:-1, :, : self.x_rows.shape[1]]
            d_weights = rows.reshape(flat.shape[0], -1).T @ flat
            if order is not None:
                d_weights = d_weights[:, order]
            width = self.x_rows.shape[1]
            grads["kernel"] = d_weights[: self.features]
            grads["bias"] = d_weights[self.features : width].reshape(-1)
            if with_recurrent:
                grads["recurrent_kernel"] = d_weights[width:]
            if recurrent_bias_grad is not None:
                grads["bias"] = xp.stack([grads["bias"], recurrent_bias_grad])
        if self.needs("inputs"):
            d_inputs = _POOL.empty((self.steps, self.batch, self.features), self.dtype)
            xp.matmul(flat, kernel.T, out=d_inputs.reshape(flat.shape[0], -1))
            ordered = d_inputs[::-1] if self.go_backwards else d_inputs
            grads["inputs"] = xp.ascontiguousarray(ordered.transpose(1, 0, 2))
            _POOL.give_back(d_inputs)
        _POOL.give_back(gate_grads, *scratch_buffers)
        return tuple(
            grads[name].astype(t.dtype, copy=False)
            if t.requires_grad and grads.get(name) is not None
            else None
            for name, t in self.tensors.items()
        )


def _state_list(op_name, initial_state, state_names):
    if initial_state is None:
        return [None] * len(state_names)
    several = isinstance(initial_state, (list, tuple))
    states = list(initial_state) if several else [initial_state]
    if len(states) != len(state_names):
        names = ", ".join(state_names)
        raise ValueError(
            f"{op_name}: initial_state must hold {len(state_names)} tensor(s) ({names}); "
            f"got {len(states)}"
        )
    return states


# -- LSTM -----------------------------------------------------------------------------------
def lstm(
    inputs,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    mask=None,
    go_backwards=False,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
):
    """Run an LSTM over a whole sequence; returns ``(outputs, final_h, final_c)``.

    ``inputs`` ``(B, T, F)``; ``kernel`` ``(F, 4U)``, ``recurrent_kernel`` ``(U, 4U)`` and
    ``bias`` ``(4U,)`` in Keras's gate order i, f, c, o. ``initial_state`` is ``None`` (zeros)
    or a pair ``(h0, c0)`` of ``(B, U)``. ``mask`` is an optional boolean ``(B, T)``; see the
    module notes for masks and ``go_backwards``. ``outputs`` is ``(B, T, U)``, the final states
    ``(B, U)``::

        i, f, o = recurrent_activation(x W + h R + b)   (their slices)
        c' = f * c + i * activation(x W_c + h R_c + b_c)
        h' = o * activation(c')

    Example:
        >>> import numpy as np
        >>> x = tensor(np.zeros((1, 3, 2)))
        >>> outputs, h, c = lstm(x, np.ones((2, 4)), np.ones((1, 4)), bias=np.ones(4))
        >>> round(h.item(), 4)
        0.7888
    """
    seq = _Sequence(
        "lstm", 4, inputs, kernel, recurrent_kernel, bias, lambda u: ("(4*U,)", (4 * u,)),
        initial_state, ("h0", "c0"), mask, go_backwards, zero_output_for_mask,
    )  # fmt: skip
    act, act_derivative = _activation("lstm", "activation", activation)
    rec_act, rec_act_derivative = _activation("lstm", "recurrent_activation", recurrent_activation)
    steps, batch, u, dtype, masked = seq.steps, seq.batch, seq.units, seq.dtype, seq.masked
    # Inside, the gates run in the order i, f, o, c~, so that the three recurrent_activation
    # gates form one block; the weight gradients are put back in Keras's order at the end.
    order = xp.concatenate([xp.arange(k * u, (k + 1) * u) for k in (0, 1, 3, 2)])
    kernel = seq.array("kernel")[:, order]
    recurrent = seq.array("recurrent_kernel")[:, order]
    bias = seq.array("bias")
    kernel_gates = kernel.reshape(-1, 4, u).swapaxes(0, 1)
    bias_gates = None if bias is None else bias[order].reshape(4, u)
    # With the default activations one tanh over all four gates does the work of both:
    # sigmoid(x) = 0.5 * tanh(x / 2) + 0.5, the halving folded into copies of the weights.
    fused = act is _tanh and rec_act is _sigmoid
    recurrent_forward = recurrent
    if fused:
        halving = xp.asarray([0.5, 0.5, 0.5, 1], dtype)[:, None]  # per slot, over the units
        kernel_gates = kernel_gates * halving[:, None]
        bias_gates = None if bias is None else bias_gates * halving
        recurrent_forward = recurrent.copy()
        recurrent_forward[:, : 3 * u] *= 0.5

    # gates[k, t] is the contiguous (B, U) block of slot k at step t: i, f, o, c~ (x W + b
    # before the loop, activated after step t), then activation(c).
    gates = seq.buffer((5, steps, batch, u))
    seq.project(kernel_gates, bias_gates, out=gates[:4].reshape(4, steps * batch, u))
    in_gate, forget_gate, out_gate, candidate, cell_act = gates
    sigmoid_gates, tanh_slots = gates[:3], gates[3:]
    hs = seq.hs  # hs[t] is the h entering step t
    cs = seq.buffer((steps + 1, batch, u))
    seq.initial("h0", hs[0])
    seq.initial("c0", cs[0])
    recurrent_part = xp.empty((batch, 4 * u), dtype)
    recurrent_gates = recurrent_part.reshape(batch, 4, u).swapaxes(0, 1)
    scratch = xp.empty((batch, u), dtype)
    for t in range(steps):
        step_gates = gates[:4, t]
        xp.matmul(hs[t], recurrent_forward, out=recurrent_part)
        step_gates += recurrent_gates
        if fused:
            xp.tanh(step_gates, out=step_gates)
            step_sigmoid = sigmoid_gates[:, t]
            step_sigmoid *= 0.5
            step_sigmoid += 0.5
        else:
            rec_act(sigmoid_gates[:, t], sigmoid_gates[:, t])
            act(candidate[t], candidate[t])
        xp.multiply(forget_gate[t], cs[t], out=cs[t + 1])
        xp.multiply(in_gate[t], candidate[t], out=scratch)
        cs[t + 1] += scratch
        act(cs[t + 1], cell_act[t])
        xp.multiply(out_gate[t], cell_act[t], out=hs[t + 1])
        if masked is not None:
            xp.copyto(hs[t + 1], hs[t], where=masked[t])
            xp.copyto(cs[t + 1], cs[t], where=masked[t])

    def backward(grads):
        d_outputs = seq.output_grad(grads[0])
        dh, dc, dh_next, dc_carried, scratch = xp.zeros((5, batch, u), dtype)
        if grads[1] is not None:
            dh += grads[1]
        if grads[2] is not None:
            dc += grads[2]
        # Per step: `derivatives` holds f'(x) of i, f, o, c~ and activation(c), `upstream`
        # d(loss)/d(activated i, f, o, c~); their product, d(loss)/d(pre-activation), is
        # stored interleaved (T, B, 4U) so that each product with a weight is one GEMM.
        d_gates = _POOL.empty((steps, batch, 4 * u), dtype)
        d_gates_by_slot = d_gates.reshape(steps, batch, 4, u).swapaxes(1, 2)
        derivatives = xp.empty((5, batch, u), dtype)
        upstream = xp.empty((4, batch, u), dtype)
        recurrent_t = xp.ascontiguousarray(recurrent.T)
        for t in range(steps - 1, -1, -1):
            if d_outputs is not None:
                dh += d_outputs[t]
            rec_act_derivative(sigmoid_gates[:, t], derivatives[:3])
            act_derivative(tanh_slots[:, t], derivatives[3:])
            if masked is not None:
                xp.copyto(dc_carried, dc)
            xp.multiply(dh, out_gate[t], out=scratch)
            scratch *= derivatives[4]
            dc += scratch  # now d(loss)/d(c of step t)
            xp.multiply(dc, candidate[t], out=upstream[0])
            xp.multiply(dc, cs[t], out=upstream[1])
            xp.multiply(dh, cell_act[t], out=upstream[2])
            xp.multiply(dc, in_gate[t], out=upstream[3])
            xp.multiply(upstream, derivatives[:4], out=d_gates_by_slot[t])
            dc *= forget_gate[t]
            if masked is not None:
                # A skipped step passes its state gradients straight through, and its gates
                # (computed but discarded in forward) get none.
                d_gates[t] *= seq.step_keep[t]
                xp.copyto(dc, dc_carried, where=masked[t])
            xp.matmul(d_gates[t], recurrent_t, out=dh_next)
            if masked is not None:
                xp.copyto(dh_next, dh, where=masked[t])
            dh, dh_next = dh_next, dh
        return seq.gradients({"h0": dh, "c0": dc}, d_gates, kernel, order)

    return seq.record((seq.outputs(hs), hs[steps].copy(), cs[steps].copy()), backward)


# -- GRU ------------------------------------------------------------------------------------
def gru(
    inputs,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    mask=None,
    go_backwards=False,
    reset_after=True,
    activation="tanh",
    recurrent_activation="sigmoid",
    zero_output_for_mask=False,
):
    """Run a GRU over a whole sequence; returns ``(outputs, final_h)``.

    Keras's gate order z, r, h (update, reset, candidate): ``kernel`` ``(F, 3U)``,
    ``recurrent_kernel`` ``(U, 3U)``; ``bias`` is ``(2, 3U)`` (input bias, recurrent bias)
    when ``reset_after`` (Keras's default, and PyTorch's GRU), ``(3U,)`` otherwise.
    ``initial_state`` is ``None`` (zeros) or ``h0`` ``(B, U)``::

        z, r = recurrent_activation(x W + b + h R + rb)      (their slices)
        hh = activation(x W_h + b_h + r * (h R_h + rb_h))    reset_after=True
        hh = activation(x W_h + b_h + (r * h) R_h)           reset_after=False
        h' = z * h + (1 - z) * hh

    Example:
        >>> import numpy as np
        >>> x = tensor(np.ones((1, 2, 1)))
        >>> outputs, h = gru(x, np.ones((1, 3)), np.zeros((1, 3)))
        >>> round(h.item(), 4)
        0.3546
    """
    if reset_after:
        bias_shape = lambda u: ("(2, 3*U)", (2, 3 * u))  # noqa: E731
    else:
        bias_shape = lambda u: ("(3*U,)", (3 * u,))  # noqa: E731
    seq = _Sequence(
        "gru", 3, inputs, kernel, recurrent_kernel, bias, bias_shape,
        initial_state, ("h0",), mask, go_backwards, zero_output_for_mask,
    )  # fmt: skip
    act, act_derivative = _activation("gru", "activation", activation)
    rec_act, rec_act_derivative = _activation("gru", "recurrent_activation", recurrent_activation)
    steps, batch, u, dtype = seq.steps, seq.batch, seq.units, seq.dtype
    recurrent, bias = seq.array("recurrent_kernel"), seq.array("bias")
    masked = seq.masked

    # gates: x W + b for z, r, h, turned in place into the activated z, r, hh of every step.
    gates = seq.buffer((steps, batch, 3 * u))
    input_bias = None if bias is None else (bias[0] if reset_after else bias)
    seq.project(seq.array("kernel"), input_bias, out=gates.reshape(-1, 3 * u))
    update, reset, candidate = (gates[..., k * u : (k + 1) * u] for k in range(3))
    update_reset = gates[..., : 2 * u]
    hs = seq.hs
    seq.initial("h0", hs[0])
    scratch = xp.empty((batch, u), dtype)
    recurrent_zr = xp.ascontiguousarray(recurrent[:, : 2 * u])
    recurrent_h = xp.ascontiguousarray(recurrent[:, 2 * u :])
    if reset_after:
        recurrent_parts = seq.buffer(gates.shape)  # h R + rb of every step
    else:
        reset_h = seq.buffer((steps, batch, u))  # r * h of every step
        zr_part = xp.empty((batch, 2 * u), dtype)
    for t in range(steps):
        if reset_after:
            part = recurrent_parts[t]
            xp.matmul(hs[t], recurrent, out=part)
            if bias is not None:
                part += bias[1]
            update_reset[t] += part[:, : 2 * u]
            rec_act(update_reset[t], update_reset[t])
            xp.multiply(reset[t], part[:, 2 * u :], out=scratch)
        else:
            xp.matmul(hs[t], recurrent_zr, out=zr_part)
            update_reset[t] += zr_part
            rec_act(update_reset[t], update_reset[t])
            xp.multiply(reset[t], hs[t], out=reset_h[t])
            xp.matmul(reset_h[t], recurrent_h, out=scratch)
        candidate[t] += scratch
        act(candidate[t], candidate[t])
        xp.subtract(hs[t], candidate[t], out=scratch)  # h' = hh + z * (h - hh)
        scratch *= update[t]
        xp.add(candidate[t], scratch, out=hs[t + 1])
        if masked is not None:
            xp.copyto(hs[t + 1], hs[t], where=masked[t])

    def backward(grads):
        d_outputs = seq.output_grad(grads[0])
        dh = xp.zeros((batch, u), dtype)
        if grads[1] is not None:
            dh += grads[1]
        scratch = xp.empty_like(dh)
        d_gates = _POOL.empty(gates.shape, dtype)  # d(pre-activation), input side: z, r, h
        d_update, d_reset, d_candidate = (d_gates[..., k * u : (k + 1) * u] for k in range(3))
        if reset_after:
            # The recurrent side differs from the input side only in the candidate's slice.
            d_parts = _POOL.empty(gates.shape, dtype)
            recurrent_t = xp.ascontiguousarray(recurrent.T)
        else:
            d_reset_h = xp.empty_like(dh)
            recurrent_zr_t = xp.ascontiguousarray(recurrent_zr.T)
            recurrent_h_t = xp.ascontiguousarray(recurrent_h.T)
        dh_next = xp.empty_like(dh)
        for t in range(steps - 1, -1, -1):
            if d_outputs is not None:
                dh += d_outputs[t]
            xp.subtract(1, update[t], out=scratch)
            scratch *= dh
            _backprop(act_derivative, candidate[t], scratch, d_candidate[t])
            xp.subtract(hs[t], candidate[t], out=scratch)
            scratch *= dh
            _backprop(rec_act_derivative, update[t], scratch, d_update[t])
            if reset_after:
                xp.multiply(d_candidate[t], recurrent_parts[t][:, 2 * u :], out=scratch)
                _backprop(rec_act_derivative, reset[t], scratch, d_reset[t])
                if masked is not None:
                    d_gates[t] *= seq.step_keep[t]
                xp.copyto(d_parts[t][:, : 2 * u], d_gates[t][:, : 2 * u])
                xp.multiply(d_candidate[t], reset[t], out=d_parts[t][:, 2 * u :])
                xp.matmul(d_parts[t], recurrent_t, out=dh_next)
            else:
                xp.matmul(d_candidate[t], recurrent_h_t, out=d_reset_h)
                xp.multiply(d_reset_h, hs[t], out=scratch)
                _backprop(rec_act_derivative, reset[t], scratch, d_reset[t])
                if masked is not None:
                    d_gates[t] *= seq.step_keep[t]
                xp.matmul(d_gates[t][:, : 2 * u], recurrent_zr_t, out=dh_next)
                d_reset_h *= reset[t]
                dh_next += d_reset_h
            xp.multiply(dh, update[t], out=scratch)
            dh_next += scratch
            if masked is not None:
                xp.copyto(dh_next, dh, where=masked[t])
            dh, dh_next = dh_next, dh
        result, recurrent_bias_grad = {"h0": dh}, None
        h_prev = hs[:-1].reshape(-1, u)
        if reset_after:
            d_parts_flat = d_parts.reshape(-1, 3 * u)
            if seq.needs("recurrent_kernel"):
                result["recurrent_kernel"] = h_prev.T @ d_parts_flat
            if seq.needs("bias"):
                # A matrix-vector product sums over B*T rows much faster than .sum(axis=0).
                recurrent_bias_grad = xp.ones(d_parts_flat.shape[0], dtype) @ d_parts_flat
        elif seq.needs("recurrent_kernel"):
            flat = d_gates.reshape(-1, 3 * u)
            result["recurrent_kernel"] = xp.concatenate(
                [h_prev.T @ flat[:, : 2 * u], reset_h.reshape(-1, u).T @ flat[:, 2 * u :]], axis=1
            )
        return seq.gradients(
            result, d_gates, seq.array("kernel"), recurrent_bias_grad=recurrent_bias_grad,
            scratch_buffers=(d_parts,) if reset_after else (),
        )  # fmt: skip

    return seq.record((seq.outputs(hs), hs[steps].copy()), backward)


# -- SimpleRNN ------------------------------------------------------------------------------
def simple_rnn(
    inputs,
    kernel,
    recurrent_kernel,
    bias=None,
    initial_state=None,
    mask=None,
    go_backwards=False,
    activation="tanh",
    zero_output_for_mask=False,
):
    """Run a fully-connected RNN over a whole sequence; returns ``(outputs, final_h)``.

    ``h' = activation(x W + h R + b)`` with ``kernel`` ``(F, U)``, ``recurrent_kernel``
    ``(U, U)``, ``bias`` ``(U,)``; ``initial_state`` is ``None`` (zeros) or ``h0`` ``(B, U)``.

    Example:
        >>> import numpy as np
        >>> x = tensor(np.ones((1, 2, 1)))
        >>> outputs, h = simple_rnn(x, np.ones((1, 1)), np.ones((1, 1)), activation="relu")
        >>> outputs.tolist()
        [[[1.0], [2.0]]]
    """
    seq = _Sequence(
        "simple_rnn", 1, inputs, kernel, recurrent_kernel, bias, lambda u: ("(U,)", (u,)),
        initial_state, ("h0",), mask, go_backwards, zero_output_for_mask,
    )  # fmt: skip
    act, act_derivative = _activation("simple_rnn", "activation", activation)
    steps, batch, u, dtype = seq.steps, seq.batch, seq.units, seq.dtype
    recurrent, masked = seq.array("recurrent_kernel"), seq.masked

    # hs[t + 1] starts as x W + b of step t and becomes the state after it.
    hs = seq.hs
    seq.project(seq.array("kernel"), seq.array("bias"), out=hs[1:].reshape(-1, u))
    seq.initial("h0", hs[0])
    scratch = xp.empty((batch, u), dtype)
    for t in range(steps):
        xp.matmul(hs[t], recurrent, out=scratch)
        hs[t + 1] += scratch
        act(hs[t + 1], hs[t + 1])
        if masked is not None:
            xp.copyto(hs[t + 1], hs[t], where=masked[t])

    def backward(grads):
        d_outputs = seq.output_grad(grads[0])
        dh = xp.zeros((batch, u), dtype)
        if grads[1] is not None:
            dh += grads[1]
        d_pre = _POOL.empty((steps, batch, u), dtype)
        recurrent_t = xp.ascontiguousarray(recurrent.T)
        dh_next = xp.empty_like(dh)
        for t in range(steps - 1, -1, -1):
            if d_outputs is not None:
                dh += d_outputs[t]
            _backprop(act_derivative, hs[t + 1], dh, d_pre[t])
            xp.matmul(d_pre[t], recurrent_t, out=dh_next)
            if masked is not None:
                d_pre[t] *= seq.step_keep[t]
                xp.copyto(dh_next, dh, where=masked[t])
            dh, dh_next = dh_next, dh
        return seq.gradients({"h0": dh}, d_pre, seq.array("kernel"))

    return seq.record((seq.outputs(hs), hs[steps].copy()), backward)

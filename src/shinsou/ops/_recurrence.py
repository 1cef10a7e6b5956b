"""What the fused recurrences of :mod:`shinsou.ops.rnn` share: activations that work on
preallocated buffers (with derivatives from their outputs), a pool that recycles the large
work buffers between calls, and the time loop's bookkeeping (``_Sequence``).
"""

from __future__ import annotations

import weakref

from ..backend import xp
from ..tensor import Tensor, as_tensor, record_many
from ._helpers import require_float

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

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

from .. import native
from ..backend import xp
from ..tensor import Tensor, as_tensor, tensor  # noqa: F401 - tensor for examples
from ._recurrence import _POOL, _activation, _backprop, _Sequence, _sigmoid, _tanh

__all__ = ["gru", "lstm", "simple_rnn"]


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
    # The default activations without a mask, in float32: each step's gate arithmetic is
    # one compiled pass (shinsou.native) instead of ten NumPy calls.
    compiled = fused and masked is None and dtype == xp.float32 and native.available()
    # ... and with 16k units the kernels do the recurrent GEMMs too, on all cores.
    gemm = compiled and native.supports_step_gemm(u)
    recurrent_t = xp.ascontiguousarray(recurrent.T) if gemm else None  # Rᵀ: dh = d_gates Rᵀ
    if compiled:
        kernels = (recurrent_forward, recurrent_t) if gemm else ()
        compiled_steps = native.LSTMSteps(gates, hs, cs, recurrent_part, *kernels)
    for t in range(steps):
        step_gates = gates[:4, t]
        if compiled:
            if not gemm:
                xp.matmul(hs[t], recurrent_forward, out=recurrent_part)
            compiled_steps.forward(t)
            continue
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
        transposed = xp.ascontiguousarray(recurrent.T) if recurrent_t is None else recurrent_t
        if compiled:
            compiled_steps.start_backward(dh, dh_next, dc, d_gates, d_outputs)
            for t in range(steps - 1, -1, -1):
                compiled_steps.backward(t)
                if not gemm:
                    xp.matmul(d_gates[t], transposed, out=compiled_steps.dh_next)
                compiled_steps.swap()
            return seq.gradients({"h0": compiled_steps.dh, "c0": dc}, d_gates, kernel, order)
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
            xp.matmul(d_gates[t], transposed, out=dh_next)
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

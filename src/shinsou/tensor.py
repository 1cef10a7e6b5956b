"""Tensor, the graph it records, and reverse-mode differentiation over that graph.

Every differentiable op computes its result with the backend's arrays and, when a gradient
may be needed, records a :class:`Node`: the input tensors and a ``backward`` function that
maps the gradient of the output to the gradients of the inputs (the chain rule, one op at a
time). :meth:`Tensor.backward` walks those nodes from the output back to the leaves in
reverse topological order, iteratively, and frees each node's saved arrays once it is done.

Example:
    >>> import shinsou
    >>> x = shinsou.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
"""

from __future__ import annotations

import functools

from . import backend, native
from .backend import xp

_grad_enabled = True
_recording_models = False  # set by enable_grad(): models called now record their graph


class no_grad:
    """Context manager (and decorator) under which ops record no graph.

    Example:
        >>> import shinsou
        >>> w = shinsou.tensor([1.0], requires_grad=True)
        >>> with shinsou.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with no_grad():
                return function(*args, **kwargs)

        return wrapper


class enable_grad:
    """Context manager (and decorator) that records graphs, also for whole-model calls.

    Ops record a graph whenever an input requires a gradient. Calling a *model* on data
    (``model(x)``) records none, for speed, unless it is called with ``training=True``, on
    inputs that require gradients, or inside ``enable_grad()`` — which ``fit`` uses around
    ``train_step``, so a custom ``train_step`` needs nothing more. It also switches
    recording back on inside :class:`no_grad`.

    Example:
        >>> import shinsou
        >>> w = shinsou.tensor([1.0], requires_grad=True)
        >>> with shinsou.no_grad(), shinsou.enable_grad():
        ...     (w * 2).requires_grad
        True
    """

    def __enter__(self):
        global _grad_enabled, _recording_models
        self._previous = (_grad_enabled, _recording_models)
        _grad_enabled = _recording_models = True
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled, _recording_models
        _grad_enabled, _recording_models = self._previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with enable_grad():
                return function(*args, **kwargs)

        return wrapper


def is_recording_models() -> bool:
    """Whether model calls record a graph even without ``training=True`` (inside
    :class:`enable_grad`)."""
    return _recording_models


def is_grad_enabled() -> bool:
    """Whether ops currently record a graph (False inside :class:`no_grad`).

    Example:
        >>> is_grad_enabled()
        True
    """
    return _grad_enabled


class Node:
    """One recorded op: its inputs and the function that back-propagates through it.

    ``backward`` takes the gradient of the output (a tuple of gradients, ``None`` for
    outputs that received none, when the op has several outputs) and returns one gradient
    per input, ``None`` where an input needs none.

    ``inputs`` holds leaf tensors and small tensors as they are, and every other input as an
    :class:`Edge` to the node that made it: the graph then keeps no large intermediate array
    alive by itself — only what the ops' backward functions need (a ReLU its output, a
    convolution its input), as in PyTorch. That is a third less memory for a ResNet step.
    """

    __slots__ = ("backward", "inputs", "num_outputs", "op_name")

    def __init__(self, inputs, backward, num_outputs, op_name):
        self.inputs = tuple(
            t if t._node is None or t.data.size <= _KEPT_WHOLE else Edge(t) for t in inputs
        )
        self.backward = backward
        self.num_outputs = num_outputs
        self.op_name = op_name


# Inputs of at most this many values stay whole in the graph (cheap, and drawings of small
# graphs show their values).
_KEPT_WHOLE = 16


class Edge:
    """What the graph keeps of a large intermediate tensor: who made it, which of that op's
    outputs it is, its shape and dtype — not its values."""

    __slots__ = ("_index", "_node", "dtype", "grad", "requires_grad", "shape")

    def __init__(self, tensor):
        self._node, self._index = tensor._node, tensor._index
        self.requires_grad = tensor.requires_grad
        self.shape, self.dtype, self.grad = tensor.shape, tensor.dtype, None


class Tensor:
    """An array with an optional gradient and the record of the op that made it.

    Create tensors with :func:`tensor`. Operators broadcast like NumPy; comparisons return
    boolean tensors without gradient.

    Example:
        >>> import shinsou
        >>> a = shinsou.tensor([[1.0, 2.0]], requires_grad=True)
        >>> b = shinsou.tensor([[3.0], [4.0]])
        >>> c = a @ b
        >>> c.backward()
        >>> a.grad.tolist()
        [[3.0, 4.0]]
    """

    __slots__ = ("__weakref__", "_index", "_keras_mask", "_node", "data", "grad", "requires_grad")
    # ndarray (op) Tensor must defer to Tensor's reflected operator instead of turning the
    # tensor into an array and dropping the graph.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None):
        data = _to_array(data, dtype)
        if requires_grad and not backend.is_floating(data.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {data.dtype}. "
                "Pass dtype='float32' (or cast the tensor) to differentiate it."
            )
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._index = 0
        self._keras_mask = None  # set by layers that produce a mask (Embedding(mask_zero=True))

    # -- what it holds -------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self._node is None

    def numpy(self):
        """The values as a NumPy array (shares memory with the tensor on the CPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        array = backend.to_numpy(self.data)
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return self.data.__index__()

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = repr(backend.to_numpy(self.data))
        body = body[body.index("(") + 1 : body.rindex(")")] if body.startswith("array(") else body
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({body}{grad})"

    def detach(self) -> Tensor:
        """A tensor with the same data and no graph behind it."""
        return Tensor._wrap(self.data)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (same as ``t.grad = None``)."""
        self.grad = None

    # -- differentiation -----------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires it.

        ``grad`` is the gradient flowing into this tensor (ones for a one-element tensor
        when omitted). Gradients add up across calls until cleared. The graph's saved
        arrays are freed as it is walked unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad; no input that requires grad was "
                "used to compute it, or it was computed under no_grad(). A model called on data "
                "records a graph only with model(x, training=True) or inside "
                "shinsou.enable_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: the gradient can be implied only for a one-element tensor; this "
                    f"one has shape {self.shape}. Pass grad= of that shape, or reduce it first "
                    "(for example with .sum())."
                )
            grad = xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                grad = _broadcast_seed(grad, self.shape)
        if self._node is None:
            _accumulate_leaf(self, grad)
            return
        _run_backward(self, grad, retain_graph)

    # -- operators (the ops module holds the maths) ---------------------------------------
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops().abs(self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    def __eq__(self, other):
        return _ops().equal(self, other)

    def __ne__(self, other):
        return _ops().not_equal(self, other)

    def __lt__(self, other):
        return _ops().less(self, other)

    def __le__(self, other):
        return _ops().less_equal(self, other)

    def __gt__(self, other):
        return _ops().greater(self, other)

    def __ge__(self, other):
        return _ops().greater_equal(self, other)

    # -- NumPy-style methods ---------------------------------------------------------------
    @property
    def T(self):
        return _ops().transpose(self)

    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _ops().transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    def sum(self, axis=None, keepdims=False):
        return _ops().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops().min(self, axis=axis, keepdims=keepdims)

    def astype(self, dtype):
        return _ops().cast(self, dtype)


@functools.cache
def _ops():
    # Tensor operators call into shinsou.ops, which itself builds on this module.
    from . import ops

    return ops


# -- making tensors -------------------------------------------------------------------------
def _to_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return xp.asarray(data, dtype=backend.standardize_dtype(dtype))
    array = xp.asarray(data)
    if array.dtype == xp.float64:
        # Floats default to floatx: a float64 array or Python float must not leak in.
        array = array.astype(backend.floatx(), copy=False)
    return array


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a tensor from a number, nested list, NumPy array or tensor.

    Floating-point data becomes ``floatx()`` (float32) unless ``dtype`` says otherwise;
    integer and boolean data keep their type.

    Example:
        >>> import shinsou
        >>> t = shinsou.tensor([[1, 2], [3, 4]], dtype="float32", requires_grad=True)
        >>> t.shape, t.dtype.name
        ((2, 2), 'float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(value) -> Tensor:
    """Return ``value`` if it is a Tensor, else a constant tensor holding it.

    Example:
        >>> as_tensor(2.0).dtype.name
        'float32'
    """
    return value if isinstance(value, Tensor) else Tensor._wrap(_to_array(value, None))


def _wrap(cls, data, requires_grad=False):
    """Fast constructor for op results: ``data`` is already a backend array."""
    result = object.__new__(cls)
    result.data = data
    result.grad = None
    result.requires_grad = requires_grad
    result._node = None
    result._index = 0
    result._keras_mask = None
    return result


Tensor._wrap = classmethod(_wrap)


def record(data, inputs, backward, op_name=""):
    """Wrap an op's output array as a Tensor, recording the graph when a gradient may flow.

    ``inputs`` are the op's tensor inputs; ``backward(grad)`` returns one gradient per input
    (or ``None`` for an input that needs none). Ops check ``t.requires_grad`` of each input
    inside ``backward`` to skip gradients nobody asked for.

    Example:
        >>> x = tensor([1.0, 2.0], requires_grad=True)
        >>> doubled = record(x.data * 2, (x,), lambda g: (g * 2,), "double")
        >>> doubled.sum().backward()
        >>> x.grad.tolist()
        [2.0, 2.0]
    """
    if type(data) is not xp.ndarray:
        data = xp.asarray(data)  # NumPy returns scalars from 0-d maths; keep arrays
    if _grad_enabled and any(t.requires_grad for t in inputs):
        out = Tensor._wrap(data, True)
        out._node = Node(inputs, backward, 1, op_name)
        return out
    return Tensor._wrap(data)


def record_many(datas, inputs, backward, op_name=""):
    """Like :func:`record` for an op with several outputs; returns a tuple of tensors.

    ``backward`` receives a tuple with one gradient per output, ``None`` for outputs that
    received no gradient.
    """
    if _grad_enabled and any(t.requires_grad for t in inputs):
        node = Node(inputs, backward, len(datas), op_name)
        outs = []
        for index, data in enumerate(datas):
            out = Tensor._wrap(data, True)
            out._node = node
            out._index = index
            outs.append(out)
        return tuple(outs)
    return tuple(Tensor._wrap(data) for data in datas)


# -- the backward walk ----------------------------------------------------------------------
def _broadcast_seed(grad, shape):
    try:
        return xp.broadcast_to(grad, shape)
    except ValueError:
        raise ValueError(
            f"backward: grad has shape {grad.shape} but the tensor has shape {shape}"
        ) from None


def _accumulate_leaf(leaf, grad):
    if grad.dtype != leaf.data.dtype:
        grad = grad.astype(leaf.data.dtype)
    if leaf.grad is None:
        # A copy the leaf owns: the same array may also flow to other inputs, and owning it
        # lets later gradients (and optimizers) update it in place. A Variable an optimizer
        # has built gets it written straight into the optimizer's flat gradient buffer.
        buffer = getattr(leaf, "_grad_buffer", None)
        if buffer is not None and buffer.shape == grad.shape:
            xp.copyto(buffer, grad)
            leaf.grad = buffer
        else:
            leaf.grad = xp.array(grad, copy=True)
    else:
        xp.add(leaf.grad, grad, out=leaf.grad)


def _sum(a, b):
    """Two gradients of one tensor added, out of place: one array may be handed to several
    inputs (add's backward passes its gradient to both)."""
    if native.supports_add(a, b):
        return native.add(a, b)  # one threaded pass into a recycled buffer
    return a + b


def _topological_order(root):
    """Nodes reachable from ``root``, each after every node that consumes its outputs."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for tensor_input in node.inputs:
            parent = tensor_input._node
            if parent is not None and parent not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def _run_backward(root, grad, retain_graph):
    pending = {root._node: [None] * root._node.num_outputs}
    pending[root._node][root._index] = grad
    for node in _topological_order(root._node):
        grads = pending.pop(node, None)
        if grads is None:
            continue  # no gradient reached this node
        if node.backward is None:
            raise RuntimeError(
                f"backward: the graph through '{node.op_name}' was already freed by an earlier "
                "backward(); call backward(retain_graph=True) the first time to go through it twice"
            )
        input_grads = node.backward(grads[0] if node.num_outputs == 1 else tuple(grads))
        for tensor_input, input_grad in zip(node.inputs, input_grads):
            if input_grad is None or not tensor_input.requires_grad:
                continue
            parent = tensor_input._node
            if parent is None:
                _accumulate_leaf(tensor_input, input_grad)
                continue
            slots = pending.get(parent)
            if slots is None:
                slots = pending[parent] = [None] * parent.num_outputs
            index = tensor_input._index
            slots[index] = input_grad if slots[index] is None else _sum(slots[index], input_grad)
        if not retain_graph:
            node.backward = None
            node.inputs = ()

"""Function: the base class of every differentiable operation.

An op is a subclass with two methods written in NumPy:

    forward(*arrays)  -> array or tuple of arrays          the value
    backward(*grads)  -> one gradient per input, in order   the vector-Jacobian product

Calling a Function on tensors runs `forward` and, when grad mode is on and some input
requires grad, records the call in the graph:

    output.creator = the Function          (strong: the output keeps its history alive)
    function.inputs = the input tensors    (strong: backward needs them)
    function.outputs = weakrefs to outputs (weak: no reference cycle output <-> creator)
    generation = max(input generations)    (the order in which backward visits Functions)

Because the only edges pointing "forward" in time are weak, the graph is a tree of strong
references hanging from the outputs: `del loss` frees it at once by reference counting.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import mode
from .checks import check_callable
from .tensor import Tensor, scalar_array


class Function:
    """Base class of every op: subclass it and write `forward` and `backward`.

    `backward` receives one gradient Tensor per output and returns one gradient per input
    (a Tensor, or None for an input that needs none), each already reduced to its input's
    shape. Written with Tensor operations, a backward can itself be differentiated
    (`create_graph=True`); see `once_differentiable` for backward passes written in NumPy.
    """

    inputs: tuple[Tensor, ...] = ()
    outputs: tuple[weakref.ref, ...] = ()
    generation: int = 0
    # One flag per input: does backward have to compute that input's gradient?
    needs_input_grad: tuple[bool, ...] = ()

    def __call__(self, *inputs: Any) -> Any:
        try:
            tensors = _as_tensors(inputs)
        except (ValueError, TypeError) as e:  # `x + "a"`: name the op, not only Tensor()
            got = ", ".join(f"{x.shape} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__ for x in inputs)
            raise type(e)(f"{self.name}: {e} (inputs: {got})") from e
        record = mode.is_grad_enabled() and any(t.requires_grad for t in tensors)
        self.needs_input_grad = tuple(t.requires_grad for t in tensors) if record else ()
        try:
            ys = self.forward(*[t.data for t in tensors])
        except (ValueError, TypeError, IndexError) as e:
            raise _forward_error(self, tensors, e) from e
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = tuple(Tensor(y) for y in ys)
        if record:
            self.generation = max(t.generation for t in tensors)
            self.inputs = tensors
            self.outputs = tuple(weakref.ref(o) for o in outputs)
            self.output_meta = tuple((o.shape, o.dtype) for o in outputs)
            for o in outputs:
                o.creator = self
                o.generation = self.generation + 1
                o.requires_grad = True
        return outputs[0] if len(outputs) == 1 else outputs

    # NOTE: `*xs: Any` and `*grads: Any` because each op declares its own inputs (`forward(self, a, b)`):
    # a type checker accepts such a narrower override only of a method that takes `*args: Any`.
    # forward receives ndarrays and backward Tensors (arrays under `once_differentiable`).
    def forward(self, *xs: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, *grads: Any) -> Tensor | None | tuple[Tensor | None, ...]:
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    def output(self) -> Tensor:
        """The single output, for backward formulas written in terms of y (exp, tanh, ...).

        During backward it is alive: either it is the tensor backward started from, or a
        later Function holds it as an input.
        """
        y = self.outputs[0]()
        assert y is not None, f"{self.name}: the output was freed before backward"
        return y

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name} generation={self.generation}>"


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a `backward` written on raw NumPy arrays instead of Tensors.

    The fused layer ops of later stages compute their gradients in a few NumPy lines: faster
    than composing Tensor ops, but invisible to autograd, so their backward cannot itself be
    differentiated. The decorated method receives arrays (None for an output that got no
    gradient) and returns arrays (or None); `create_graph=True` through it is a clear error.
    (PyTorch: torch.autograd.function.once_differentiable.)
    """

    check_callable("once_differentiable", "backward", backward)

    @functools.wraps(backward)
    def wrapper(self: Function, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        if mode.is_grad_enabled():
            raise RuntimeError(
                f"{self.name}.backward is written in NumPy (once_differentiable) and cannot be "
                f"differentiated again: create_graph=True cannot pass through {self.name}"
            )
        gxs = backward(self, *[None if g is None else g.data for g in grads])
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        return tuple(None if g is None else Tensor(g) for g in gxs)

    return wrapper


def _as_tensors(inputs: tuple[Any, ...]) -> tuple[Tensor, ...]:
    """Inputs as Tensors; a Python number takes the dtype of the Tensor it meets."""
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    return tuple(x if isinstance(x, Tensor) else Tensor(scalar_array(x, like)) for x in inputs)


def _forward_error(f: Function, tensors: tuple[Tensor, ...], e: Exception) -> Exception:
    """The same kind of error, now naming the op and the shapes and dtypes it was given."""
    got = ", ".join(f"{t.shape} {t.dtype}" for t in tensors)
    msg = f"{f.name}: {e} (inputs: {got})"
    try:
        return type(e)(msg)
    except Exception:  # an exception type whose constructor wants more than a message
        return RuntimeError(msg)


def creation_chain(f: Function, depth: int = 6) -> str:
    """`MatMul <- Add <- Tanh`: f, the Function that made f's first non-leaf input, and so on."""
    names = [f.name]
    while len(names) < depth:
        creator = next((t.creator for t in f.inputs if t.creator is not None), None)
        if creator is None:
            break
        f = creator
        names.append(f.name)
    return " <- ".join(names)

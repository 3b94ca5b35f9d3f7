"""Reverse-mode backward: visit Functions from the newest generation to the oldest.

A tensor used by several Functions receives one gradient from each. It may pass its total
on to its own creator only after all of them have arrived. Generations guarantee it: every
user of a tensor has a higher generation than the tensor's creator, so popping Functions
from a max-heap on generation processes all users first. Each Function is visited once.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from . import mode
from .checks import check_bool, show
from .function import Function, creation_chain
from .tensor import Tensor, is_operand


def backward(root: Tensor, gradient: Any = None, create_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf), times `gradient`, into the .grad of every leaf."""
    create_graph = check_bool("backward", "create_graph", create_graph)
    if not root.requires_grad:
        raise RuntimeError(
            f"backward: this tensor (shape {root.shape}) does not require grad and was not made "
            f"from one that does; set requires_grad=True on the inputs, outside no_grad()"
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: a gradient can be implied only for a one-element output (a loss); "
                f"this tensor has shape {root.shape}: pass backward(gradient) of that shape"
            )
        grad = Tensor(np.ones_like(root.data))
    else:
        if not isinstance(gradient, Tensor) and not is_operand(gradient):
            raise TypeError(f"backward: gradient must be a Tensor, an array or a number, got {show(gradient)}")
        try:
            grad = gradient if isinstance(gradient, Tensor) else Tensor(np.asarray(gradient))
        except (ValueError, TypeError) as e:  # a ragged list, strings or complex numbers
            raise type(e)(f"backward: gradient must hold numbers: {e}") from None
        if grad.dtype != root.dtype:
            grad = Tensor(grad.data.astype(root.dtype))
        if grad.shape != root.shape:
            raise ValueError(f"backward: gradient shape {grad.shape} does not match the tensor's shape {root.shape}")

    with mode.set_grad_enabled(create_graph):
        if root.creator is None:
            _accumulate(root, grad, (grad,), create_graph)
            return
        # exercise 1.4: the backward loop: visit the graph's Functions in the right order and deliver every gradient to its input
        # Gradients on their way, keyed by tensor id: the tensors are alive while their
        # users' Functions hold them as inputs.
        pending: dict[int, Tensor] = {id(root): grad}
        heap: list[tuple[int, int, Function]] = []
        seen: set[int] = set()

        def schedule(f: Function) -> None:
            if id(f) not in seen:
                seen.add(id(f))
                # NOTE: -generation makes Python's min-heap pop the newest Function first; the
                # id breaks ties so Functions themselves are never compared.
                heapq.heappush(heap, (-f.generation, id(f), f))

        schedule(root.creator)
        while heap:
            f = heapq.heappop(heap)[2]
            gys = _output_grads(f, pending)
            try:
                gxs = f.backward(*gys)
            except Exception as e:
                raise _backward_error(f, e) from e
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            if len(gxs) != len(f.inputs):
                raise RuntimeError(f"{f.name}.backward returned {len(gxs)} gradients for {len(f.inputs)} inputs")
            for x, gx, needed in zip(f.inputs, gxs, f.needs_input_grad, strict=True):
                if not needed or gx is None:
                    continue
                if gx.shape != x.shape:
                    raise RuntimeError(
                        f"{f.name}.backward returned a gradient of shape {gx.shape} for an input of "
                        f"shape {x.shape}: did backward undo broadcasting (sum_to)?"
                    )
                if x.creator is None:
                    _accumulate(x, gx, gys, create_graph)
                else:
                    prev = pending.get(id(x))
                    pending[id(x)] = gx if prev is None else prev + gx
                    schedule(x.creator)
        # end exercise 1.4


def _output_grads(f: Function, pending: dict[int, Tensor]) -> list[Tensor]:
    """The gradient of each of f's outputs: the sum that arrived, or zeros if none did."""
    gys = []
    for ref, (shape, dtype) in zip(f.outputs, f.output_meta, strict=True):
        y = ref()
        g = pending.pop(id(y), None) if y is not None else None
        if g is None:  # an output nobody used (or already freed) contributes nothing
            g = Tensor(np.zeros(shape, dtype=dtype))
        elif y is not None and y._retain_grad:
            _accumulate(y, g, (g,), mode.is_grad_enabled())
        gys.append(g)
    return gys


def _accumulate(x: Tensor, gx: Tensor, gys: Any, create_graph: bool) -> None:
    """x.grad += gx, as PyTorch's AccumulateGrad: gradients add up until they are zeroed."""
    if gx.dtype != x.dtype:  # a gradient always has its tensor's dtype
        gx = gx.astype(x.dtype)
    if x.grad is None:
        # NOTE: a backward may pass its incoming gradient straight through (Add does) or return
        # a view of it (Reshape does). Stored as .grad, such an array would be shared with
        # another tensor's .grad, and an in-place update of one (clip_grad_norm_) would change
        # both. Copy only then: a freshly computed gradient is stored without a copy.
        if not create_graph and (not gx.data.flags.owndata or any(gx is g for g in gys)):
            gx = Tensor(gx.data.copy())
        x.grad = gx
    elif create_graph or x.grad.creator is not None:
        x.grad = x.grad + gx
    else:
        x.grad.data += gx.data


def _backward_error(f: Function, e: Exception) -> Exception:
    """The same kind of error, naming the Function whose backward failed and its history."""
    msg = f"in {f.name}.backward (its output was made by {creation_chain(f)}): {e}"
    try:
        return type(e)(msg)
    except Exception:
        return RuntimeError(msg)

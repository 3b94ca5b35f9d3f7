"""Scalar: automatic differentiation on single numbers, the whole idea in one small class.

Each Scalar remembers the Scalars it was made from (`_prev`) and a closure (`_backward`)
that pushes its gradient to them by the chain rule. `backward()` orders the graph
topologically and runs the closures from the output back to the inputs.
Tensor (tensor.py) is the same idea with arrays, Function classes and generations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Number = int | float


class Scalar:
    """A number with a gradient: supports + - * / **, unary -, exp, log, tanh, relu, sigmoid."""

    def __init__(self, data: Number, _prev: tuple[Scalar, ...] = (), _op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev
        self._op = _op
        self._backward: Callable[[], None] = lambda: None

    @staticmethod
    def _wrap(x: Scalar | Number) -> Scalar:
        if isinstance(x, Scalar):
            return x
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return Scalar(x)
        raise TypeError(f"Scalar: cannot combine with {type(x).__name__}")

    def __add__(self, other: Scalar | Number) -> Scalar:
        other = self._wrap(other)
        out = Scalar(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Scalar | Number) -> Scalar:
        other = self._wrap(other)
        out = Scalar(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            # exercise 1.2: Scalar a * b: add each input's local derivative times out.grad to its .grad (+=, never =)
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
            # end exercise 1.2

        out._backward = _backward
        return out

    def __pow__(self, k: Number) -> Scalar:
        if not isinstance(k, (int, float)):
            raise TypeError("Scalar ** only takes a number exponent")
        out = Scalar(self.data**k, (self,), f"**{k}")

        def _backward() -> None:
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, base: Number) -> Scalar:
        if not isinstance(base, (int, float)) or base <= 0:
            raise ValueError(f"number ** Scalar needs a positive base, got {base!r}")
        out = Scalar(base**self.data, (self,), f"{base}**")

        def _backward() -> None:
            self.grad += out.data * math.log(base) * out.grad

        out._backward = _backward
        return out

    def _unary(self, value: float, local_grad: float, op: str) -> Scalar:
        """A one-input op whose derivative at this point is `local_grad`."""
        out = Scalar(value, (self,), op)

        def _backward() -> None:
            self.grad += local_grad * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Scalar:
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self) -> Scalar:
        if self.data <= 0:
            raise ValueError(f"Scalar.log: needs a positive number, got {self.data}")
        return self._unary(math.log(self.data), 1 / self.data, "log")

    def tanh(self) -> Scalar:
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def relu(self) -> Scalar:
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def sigmoid(self) -> Scalar:
        s = 0.5 * (1 + math.tanh(self.data / 2))
        return self._unary(s, s * (1 - s), "sigmoid")

    def backward(self) -> None:
        """Set d(self)/d(node) in every node's .grad (accumulating, as the closures use +=)."""
        # exercise 1.1: Scalar.backward: order the nodes topologically, seed self.grad = 1, run each _backward from the output down
        topo: list[Scalar] = []
        visited: set[int] = set()
        stack: list[tuple[Scalar, bool]] = [(self, False)]
        # Iterative depth-first search: a long chain would overflow Python's recursion limit.
        while stack:
            node, expanded = stack.pop()
            if expanded:
                topo.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._prev if id(p) not in visited)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
        # end exercise 1.1

    def __neg__(self) -> Scalar:
        return self * -1

    def __radd__(self, other: Number) -> Scalar:
        return self + other

    def __sub__(self, other: Scalar | Number) -> Scalar:
        return self + (-self._wrap(other))

    def __rsub__(self, other: Number) -> Scalar:
        return self._wrap(other) + (-self)

    def __rmul__(self, other: Number) -> Scalar:
        return self * other

    def __truediv__(self, other: Scalar | Number) -> Scalar:
        return self * self._wrap(other) ** -1

    def __rtruediv__(self, other: Number) -> Scalar:
        return self._wrap(other) * self**-1

    def __repr__(self) -> str:
        return f"Scalar(data={self.data:.6g}, grad={self.grad:.6g})"

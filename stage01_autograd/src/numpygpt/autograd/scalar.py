"""Scalar: automatic differentiation on single numbers, the whole idea in one small class.

Each Scalar remembers the Scalars it was made from (`_prev`) and a closure (`_backward`)
that pushes its gradient to them by the chain rule. `backward()` orders the graph
topologically and runs the closures from the output back to the inputs.
Tensor (tensor.py) is the same idea with arrays, Function classes and generations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .checks import is_real, show

Number = int | float


def _pow(a: float, k: float) -> float:
    """a ** k as floating point gives it (PyTorch too): inf where it overflows, nan for a negative
    base and a fractional k. Python's own a ** k would raise OverflowError or ZeroDivisionError,
    or return a complex number."""
    with np.errstate(all="ignore"):
        return float(np.float64(a) ** k)


def _exp(x: float) -> float:
    """e ** x, inf where it overflows (math.exp would raise OverflowError)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


class Scalar:
    """A number with a gradient: supports + - * / **, unary -, exp, log, tanh, relu, sigmoid."""

    # NumPy must hand `ndarray + Scalar` to Scalar.__radd__ (which refuses it), not apply it
    # to every element and return an array of Scalars.
    __array_ufunc__ = None

    def __init__(self, data: Number, _prev: tuple[Scalar, ...] = (), _op: str = "") -> None:
        if not is_real(data):
            raise TypeError(f"Scalar: data must be a number (int or float), got {show(data)}")
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev
        self._op = _op
        self._backward: Callable[[], None] = lambda: None

    @staticmethod
    def _wrap(x: Scalar | Number) -> Scalar:
        if isinstance(x, Scalar):
            return x
        if is_real(x):  # Python and NumPy numbers, not bools
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
            # exercise 1.2: Scalar a * b: the closure that passes out.grad on to both factors by the chain rule
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
            # end exercise 1.2

        out._backward = _backward
        return out

    def __pow__(self, k: Number) -> Scalar:
        if not is_real(k):
            raise TypeError("Scalar ** only takes a number exponent")
        k = float(k)
        out = Scalar(_pow(self.data, k), (self,), f"**{k:g}")

        def _backward() -> None:
            self.grad += k * _pow(self.data, k - 1) * out.grad

        out._backward = _backward
        return out

    def __rpow__(self, base: Number) -> Scalar:
        if not is_real(base) or not base > 0:
            raise ValueError(f"number ** Scalar needs a positive base, got {base!r}")
        base = float(base)
        out = Scalar(_pow(base, self.data), (self,), f"{base:g}**")

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
        e = _exp(self.data)
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
        # exercise 1.1: Scalar.backward: give every Scalar this one was computed from its gradient d(self)/d(node)
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

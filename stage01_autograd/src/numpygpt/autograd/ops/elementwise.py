"""Elementwise ops. Each backward is the local derivative times the upstream gradient gy,
written with Tensor ops so that it can itself be differentiated (create_graph=True).

Binary ops broadcast like NumPy; their backward sums each gradient back to its input's
shape with sum_to (an input broadcast along an axis was used once per position there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..checks import check_dtype, is_bool, is_real
from ..function import Function
from ..tensor import Tensor, scalar_array
from .shape import sum_to


class Add(Function):
    """y = a + b.  dy/da = 1, dy/db = 1."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(Function):
    """y = a - b.  dy/da = 1, dy/db = -1."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(-gy, b.shape)


class Mul(Function):
    """y = a * b.  dy/da = b, dy/db = a."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        # exercise 1.5: Mul.backward: the gradients of a * b with respect to a and to b
        a, b = self.inputs
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # end exercise 1.5


class Div(Function):
    """y = a / b.  dy/da = 1/b, dy/db = -a/b**2."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.inputs
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x.  dy/dx = -1."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


class PowConst(Function):
    """y = x ** c for a number c.  dy/dx = c * x ** (c - 1)."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x ** np.asarray(self.c, dtype=x.dtype) if x.dtype.kind == "f" else x**self.c

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * self.c * x ** (self.c - 1)


class RPowConst(Function):
    """y = c ** x for a number c > 0.  dy/dx = c ** x * ln(c) = y * ln(c)."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.c, dtype=x.dtype) ** x

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output() * float(np.log(self.c))


class Exp(Function):
    """y = exp(x).  dy/dx = exp(x) = y: the output is reused, not recomputed."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output()


class Log(Function):
    """y = ln(x).  dy/dx = 1/x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]


class Tanh(Function):
    """y = tanh(x).  dy/dx = 1 - tanh(x)**2 = 1 - y**2."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output()
        return gy * (1 - y * y)


class Sqrt(Function):
    """y = sqrt(x).  dy/dx = 1 / (2 sqrt(x)) = 1 / (2y)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (2 * self.output())


class Abs(Function):
    """y = |x|.  dy/dx = sign(x) (0 at x = 0, as in PyTorch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * Tensor(np.sign(self.inputs[0].data))


class ReLU(Function):
    """y = max(x, 0).  dy/dx = 1 where x > 0, else 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * Tensor(self.inputs[0].data > 0).astype(gy.dtype)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).  dy/dx = y (1 - y)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        # NOTE: written with tanh, sigmoid never overflows: 1/(1+exp(-x)) = (1 + tanh(x/2)) / 2.
        # An integer tensor gives float64, as np.exp would (0.5 cast to an int would be 0).
        half = np.asarray(0.5, x.dtype if x.dtype.kind == "f" else np.float64)
        return (np.tanh(x * half) + 1) * half

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output()
        return gy * y * (1 - y)


class Maximum(Function):
    """y = max(a, b) elementwise.  The gradient goes to the larger input; ties share it evenly."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        wa = (a.data > b.data) + 0.5 * (a.data == b.data)
        return _split_grad(gy, wa, a.shape, b.shape)


class Minimum(Function):
    """y = min(a, b) elementwise.  The gradient goes to the smaller input; ties share it evenly."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.inputs
        wa = (a.data < b.data) + 0.5 * (a.data == b.data)
        return _split_grad(gy, wa, a.shape, b.shape)


def _split_grad(gy: Tensor, wa: np.ndarray, sa: tuple, sb: tuple) -> tuple[Tensor, Tensor]:
    wa_t = Tensor(wa.astype(gy.dtype))
    return sum_to(gy * wa_t, sa), sum_to(gy * (1 - wa_t), sb)


class Where(Function):
    """y = x where condition else other.  The gradient goes to whichever input was chosen."""

    def __init__(self, condition: np.ndarray) -> None:
        self.condition = condition

    def forward(self, x: np.ndarray, other: np.ndarray) -> np.ndarray:
        return np.where(self.condition, x, other)

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        x, other = self.inputs
        c = Tensor(np.broadcast_to(self.condition, gy.shape).astype(gy.dtype))
        return sum_to(gy * c, x.shape), sum_to(gy * (1 - c), other.shape)


class Cast(Function):
    """y = x converted to `dtype`.  Backward: gy converted back to x's dtype."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return cast(gy, self.inputs[0].dtype)


def add(a: Any, b: Any) -> Tensor:
    return Add()(a, b)


def sub(a: Any, b: Any) -> Tensor:
    return Sub()(a, b)


def mul(a: Any, b: Any) -> Tensor:
    return Mul()(a, b)


def div(a: Any, b: Any) -> Tensor:
    return Div()(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg()(x)


def pow(base: Any, exponent: Any) -> Tensor:
    """Tensor ** number or number ** Tensor (a Tensor exponent with a Tensor base is not supported).

    The number may be a Python or a NumPy scalar; either way it is used as the Python number
    it holds, so it never changes the tensor's dtype.
    """
    if isinstance(base, Tensor) and not isinstance(exponent, Tensor):
        if not (is_real(exponent) or is_bool(exponent)):
            raise TypeError(f"pow: the exponent must be a Python number, got {type(exponent).__name__}")
        return PowConst(exponent.item() if isinstance(exponent, np.generic) else exponent)(base)
    if isinstance(exponent, Tensor) and not isinstance(base, Tensor):
        if not is_real(base):
            raise TypeError(f"pow: number ** Tensor needs a number base, got {type(base).__name__}")
        if not base > 0:
            raise ValueError(f"pow: number ** Tensor needs a positive number base, got {base!r}")
        return RPowConst(float(base))(exponent)
    raise TypeError("pow: Tensor ** Tensor is not supported; use a Python number on one side")


def exp(x: Tensor) -> Tensor:
    return Exp()(x)


def log(x: Tensor) -> Tensor:
    return Log()(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh()(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt()(x)


def abs(x: Tensor) -> Tensor:
    return Abs()(x)


def relu(x: Tensor) -> Tensor:
    return ReLU()(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid()(x)


def maximum(a: Any, b: Any) -> Tensor:
    return Maximum()(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    return Minimum()(a, b)


def where(condition: Any, x: Any, other: Any) -> Tensor:
    """Elementwise `x if condition else other` (PyTorch: torch.where); condition gets no gradient."""
    try:
        cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    except ValueError as e:  # a ragged list
        raise ValueError(f"where: condition must be a bool tensor: {e}") from None
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    try:  # x against other, and what x and other are made of, is Where's to report (below)
        shapes = [np.shape(v.data if isinstance(v, Tensor) else v) for v in (x, other)]
        np.broadcast_shapes(*shapes)
    except ValueError:
        shapes = []
    if shapes:
        try:
            np.broadcast_shapes(cond.shape, *shapes)
        except ValueError:
            raise ValueError(
                f"where: condition of shape {cond.shape} does not broadcast with x {shapes[0]} and other {shapes[1]}"
            ) from None
    return Where(cond)(x, other)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """x converted to `dtype`, a bool, int or float dtype (PyTorch: tensor.to(dtype))."""
    dt = check_dtype("astype", "dtype", dtype)
    if x.dtype == dt:
        return x
    return Cast(dt)(x)


def compare(a: Tensor, b: Any, op: Callable[..., np.ndarray]) -> Tensor:
    """A comparison such as a < b: a bool tensor, outside the graph (it has no gradient)."""
    try:
        bd = b.data if isinstance(b, Tensor) else scalar_array(b, a)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{op.__name__}: {e}") from None
    try:
        return Tensor(op(a.data, bd))
    except ValueError as e:
        raise ValueError(f"{op.__name__}: {e} (shapes {a.shape} and {np.shape(bd)})") from e

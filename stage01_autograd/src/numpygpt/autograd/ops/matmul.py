"""Matrix product, 2-D and batched, with NumPy's broadcasting of the batch dimensions."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor
from .shape import as_tensor, reshape, sum_to


def _mT(x: Tensor) -> Tensor:
    """Swap the last two dimensions (the matrix transpose of every matrix in a batch)."""
    return x.transpose(-1, -2)


class MatMul(Function):
    """y = a @ b with a (..., n, k), b (..., k, m) -> y (..., n, m).

    Backward: ga = gy @ b^T  (..., n, k) and gb = a^T @ gy  (..., k, m), each summed over the
    batch dimensions that broadcasting added to its input.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        # exercise 1.7: MatMul.backward: the gradients of a @ b with respect to a and to b, batches included
        a, b = self.inputs
        ga = sum_to(gy @ _mT(b), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(_mT(a) @ gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # end exercise 1.7


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b. 1-D operands are treated as a row (left) or column (right) vector, as in NumPy."""
    a, b = as_tensor("matmul", a), as_tensor("matmul", b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
            f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast "
            f"(shapes {a.shape} @ {b.shape})"
        ) from None
    if a.dtype != b.dtype:  # NOTE: NumPy would promote float32 @ float64 to float64 silently; PyTorch refuses
        raise TypeError(
            f"matmul: both operands must have the same dtype, got {a.dtype} and {b.dtype} "
            f"(shapes {a.shape} @ {b.shape}); convert one with .astype()"
        )
    if a.ndim > 1 and b.ndim > 1:
        return MatMul()(a, b)
    # A vector becomes a one-row (left) or one-column (right) matrix, then loses that dimension.
    y = MatMul()(reshape(a, 1, -1) if a.ndim == 1 else a, reshape(b, -1, 1) if b.ndim == 1 else b)
    shape = list(y.shape)
    if b.ndim == 1:
        del shape[-1]
    if a.ndim == 1:
        del shape[-1 if b.ndim == 1 else -2]
    return reshape(y, *shape)

"""linear: y = x W^T + b, one fused Function."""

from __future__ import annotations

import math

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable

from ._checks import check_float, check_optional_tensor, check_same_dtype, check_tensor
from ._sums import col_sums


class Linear(Function):
    """y = x @ W^T + b for x (..., in), W (out, in), b (out,) -> y (..., out).

    Backward, with the leading dimensions flattened to N rows (x: (N, in), gy: (N, out)):
        gx = gy @ W          (N, in)
        gW = gy^T @ x        (out, in)   every row's outer product, summed over the rows
        gb = sum_rows(gy)    (out,)      b was broadcast over the rows
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        # NOTE: N spelled out, not -1: with in_features = 0, NumPy could not infer it.
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # (N, in), a view for contiguous x
        y = x2 @ weight.T  # NOTE: W.T is a view; BLAS reads it transposed, no copy
        if bias is not None:
            y += bias
        self.x2 = x2
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        x, weight = self.inputs[0], self.inputs[1]
        gy2 = gy.reshape(math.prod(gy.shape[:-1]), gy.shape[-1])  # (N, out)
        needs = self.needs_input_grad
        gx = (gy2 @ weight.data).reshape(x.shape) if needs[0] else None
        gw = gy2.T @ self.x2 if needs[1] else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = col_sums(gy2) if needs[2] else None
        return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b (PyTorch: F.linear). x (..., in), weight (out, in), bias (out,) -> (..., out)."""
    check_tensor("linear", input=x, weight=weight)
    check_optional_tensor("linear", bias=bias)
    check_float("linear", input=x, weight=weight, bias=bias)
    check_same_dtype("linear", input=x, weight=weight, bias=bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 0} features in its last dimension (shape {x.shape}), "
            f"but the weight {weight.shape} expects {weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias shape {bias.shape} should be ({weight.shape[0]},)")
    if bias is None:
        return Linear()(x, weight)
    return Linear()(x, weight, bias)

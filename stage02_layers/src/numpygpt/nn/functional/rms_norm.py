"""rms_norm: divide each row by its root mean square, then scale (Zhang & Sennrich, 2019)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import is_real

from ._checks import check_float, check_normalized_shape, check_optional_tensor, check_same_dtype, check_tensor
from ._sums import col_sums, row_mean


class RMSNorm(Function):
    """y = x / sqrt(mean(x^2) + eps) * w, the mean over the last D numbers of each row.

    With x flattened to (N, D), r = 1 / sqrt(mean_row(x^2) + eps) (N,) and xhat = x * r (N, D):
        gw = sum_rows(gy * xhat)                         (D,)
        g  = gy * w                                      (N, D)  gradient at xhat
        gx = r * (g - xhat * mean_row(g * xhat))         (N, D)
    From dr/dx_i = -r^3 x_i / D: dxhat_j/dx_i = r (delta_ij - xhat_i xhat_j / D). It is layer
    norm's backward without the mean(g) term: nothing is subtracted, so there is no path
    through a mean, only the one through the mean square.
    """

    def __init__(self, d: int, eps: float, has_weight: bool) -> None:
        self.d, self.eps, self.has_weight = d, eps, has_weight

    def forward(self, x: np.ndarray, *params: np.ndarray) -> np.ndarray:
        x2 = x.reshape(-1 if self.d else 0, self.d)  # (N, D); a zero-size row leaves N to be anything
        r = 1.0 / np.sqrt(row_mean(x2 * x2) + np.asarray(self.eps, dtype=x.dtype))  # (N,)
        xhat = x2 * r[:, None]
        self.xhat, self.r = xhat, r
        if self.has_weight:
            xhat = xhat * params[0].reshape(-1)
        return xhat.reshape(x.shape)

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, ...]:
        xhat, r = self.xhat, self.r
        gy2 = gy.reshape(xhat.shape)  # (N, D)
        gyx = gy2 * xhat  # (N, D); its column sums are gw
        if self.has_weight:
            w = self.inputs[1].data.reshape(-1)
            gx = gy2 * w
        else:
            w = np.ones(xhat.shape[1], dtype=gy.dtype)
            gx = gy2.copy()
        # NOTE: mean_row(g * xhat) with g = gy * w is the matrix-vector product (gy * xhat) @ (w / D).
        m = gyx @ (w / np.asarray(xhat.shape[1], dtype=w.dtype))  # (N,)
        gx -= xhat * m[:, None]
        gx *= r[:, None]
        gx = gx.reshape(self.inputs[0].shape)
        if self.has_weight:
            return gx, col_sums(gyx).reshape(self.inputs[1].shape)
        return (gx,)


def rms_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Root mean square normalisation over the trailing `normalized_shape` dimensions (PyTorch: F.rms_norm).

    y = x / sqrt(mean(x^2) + eps) * weight; eps=None means np.finfo(input.dtype).eps, as PyTorch's
    torch.finfo(input.dtype).eps. input (..., *normalized_shape), weight normalized_shape -> y like input.
    """
    check_tensor("rms_norm", input=input)
    check_optional_tensor("rms_norm", weight=weight)
    check_float("rms_norm", input=input, weight=weight)
    check_same_dtype("rms_norm", input=input, weight=weight)
    shape = check_normalized_shape("rms_norm", input, normalized_shape, weight=weight)
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    elif is_real(eps) and 0 <= eps < np.inf:
        eps = float(eps)
    else:
        raise ValueError(f"rms_norm: eps must be a finite number >= 0 or None, got {eps!r}")
    f = RMSNorm(int(np.prod(shape)), eps, weight is not None)
    return f(input) if weight is None else f(input, weight)

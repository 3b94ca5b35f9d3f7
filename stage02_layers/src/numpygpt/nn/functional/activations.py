"""Elementwise activations as fused Functions: gelu and relu."""

from __future__ import annotations

import math

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable

from ._checks import check_float, check_tensor

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
# Numerical Recipes' Chebyshev fit of erfc (fractional error below 1.2e-7 everywhere).
_ERFC_COEFFS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)


def erfc(x: np.ndarray) -> np.ndarray:
    """The complementary error function 1 - erf(x), vectorised, in x's dtype.

    NumPy has no erf. This fit is accurate to 1.2e-7 relative, the resolution of float32,
    and keeps its relative accuracy in the tails, where 1 - erf(x) would cancel.
    """
    dt = x.dtype
    z = np.abs(x)
    t = 1.0 / (1.0 + np.asarray(0.5, dt) * z)
    poly = np.full_like(z, _ERFC_COEFFS[-1])
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly *= t
        poly += np.asarray(c, dt)
    ans = t * np.exp(poly - z * z)
    return np.where(x >= 0, ans, 2 - ans)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x), the standard normal CDF: 0.5 * erfc(-x / sqrt 2)."""
    return np.asarray(0.5, x.dtype) * erfc(x * np.asarray(-_INV_SQRT_2, x.dtype))


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    'none':  dy/dx = Phi(x) + x * phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    'tanh':  y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
             dy/dx = (1 + tanh(u))/2 + x/2 (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    Forward computes dy/dx too and keeps only it: backward is then one multiply, gx = gy * dy/dx.
    """

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x: np.ndarray) -> np.ndarray:
        dt = x.dtype
        half = np.asarray(0.5, dt)
        if self.approximate == "tanh":
            x2 = x * x
            th = np.tanh(np.asarray(_SQRT_2_OVER_PI, dt) * x * (1 + np.asarray(0.044715, dt) * x2))
            y = half * x * (1 + th)
            if self.needs_input_grad:
                du = np.asarray(_SQRT_2_OVER_PI, dt) * (1 + np.asarray(3 * 0.044715, dt) * x2)
                self.dydx = half * (1 + th) + half * x * (1 - th * th) * du
        else:
            cdf = normal_cdf(x)
            y = x * cdf
            if self.needs_input_grad:
                pdf = np.exp(-half * x * x) * np.asarray(_INV_SQRT_2PI, dt)
                self.dydx = cdf + x * pdf
        return y

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * self.dydx


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, exact (approximate='none') or the tanh approximation GPT-2 used (PyTorch: F.gelu)."""
    check_tensor("gelu", input=x)
    check_float("gelu", input=x)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(x)


class ReLU(Function):
    """y = max(x, 0).  gx = gy where x > 0, else 0 (the mask is all backward keeps)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, 0)

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * self.mask


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise (PyTorch: F.relu)."""
    check_tensor("relu", input=x)
    check_float("relu", input=x)
    return ReLU()(x)

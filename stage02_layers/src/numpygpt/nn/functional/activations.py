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
    -1.26551223,
    1.00002368,
    0.37409196,
    0.09678418,
    -0.18628806,
    0.27886807,
    -1.13520398,
    1.48851587,
    -0.82215223,
    0.17087277,
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
    'tanh':  y = x s,  s = (1 + tanh(u)) / 2,  u = k (x + 0.044715 x^3),  k = sqrt(2/pi)
             dy/dx = s + x * 2 s (1 - s) * k (1 + 3 * 0.044715 x^2)     [(1 - tanh^2)/2 = 2 s (1 - s)]
    Forward computes dy/dx too and keeps only it: backward is then one multiply, gx = gy * dy/dx.
    Each formula is a dozen NumPy passes, done in place so that only two temporaries exist.
    (Processing the array in cache-sized chunks of rows was measured too: at GPT sizes here
    the extra Python calls cost more than the cache saved.)
    """

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.empty_like(x)
        d = np.empty_like(x) if self.needs_input_grad else None
        with np.errstate(over="ignore"):
            (_gelu_tanh if self.approximate == "tanh" else _gelu_erf)(x, y, d)
        self.dydx = d
        return y

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * self.dydx


def _gelu_tanh(x: np.ndarray, y: np.ndarray, d: np.ndarray | None) -> None:
    """y = x s and, if d is given, d = dy/dx (see GELU), with two temporaries.

    NOTE: s = (1 + tanh u) / 2 is computed as the sigmoid 1 / (1 + exp(-2u)), the same
    number: NumPy's float32 exp is about 1.5x faster than its tanh, and transcendental
    functions are most of GELU's time. exp overflows to inf for x below about -10; then
    s = 1 / inf = 0, as it should be (GELU.forward silences that warning).
    """
    dt = x.dtype
    k, c = np.asarray(_SQRT_2_OVER_PI, dt), np.asarray(0.044715, dt)
    x2 = x * x
    s = x2 * (-2 * c * k)
    s -= 2 * k  # -2k (1 + 0.044715 x^2)
    s *= x  # -2u
    np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)  # s = 1 / (1 + exp(-2u)) = (1 + tanh u) / 2
    np.multiply(x, s, out=y)
    if d is None:
        return
    t = x2
    t *= 6 * c * k
    t += 2 * k
    t *= x  # 2 x k (1 + 3 * 0.044715 x^2)
    np.subtract(1, s, out=d)
    d *= s  # s (1 - s)
    d *= t
    d += s


def _gelu_erf(x: np.ndarray, y: np.ndarray, d: np.ndarray | None) -> None:
    """y = x Phi(x) and, if d is given, d = Phi(x) + x phi(x) (see GELU)."""
    dt = x.dtype
    cdf = normal_cdf(x)
    np.multiply(x, cdf, out=y)
    if d is not None:
        pdf = x * x
        pdf *= np.asarray(-0.5, dt)
        np.exp(pdf, out=pdf)
        pdf *= np.asarray(_INV_SQRT_2PI, dt)
        pdf *= x
        np.add(cdf, pdf, out=d)


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

"""Elementwise activations as fused Functions: gelu, relu, silu, and the gated swiglu."""

from __future__ import annotations

import math

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable

from ._checks import check_float, check_same_dtype, check_tensor
from ._chunks import chunks

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
    Each formula is a dozen NumPy passes, done in place so that only two temporaries exist,
    over one cache-sized chunk of the array at a time (see _chunks.py: 40-50% off the forward).
    """

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.empty(x.shape, dtype=x.dtype)
        d = np.empty(x.shape, dtype=x.dtype) if self.needs_input_grad else None
        formula = _gelu_tanh if self.approximate == "tanh" else _gelu_erf
        xf, yf = x.reshape(-1), y.reshape(-1)  # flat views (a copy of x only if x is not contiguous)
        df = d.reshape(-1) if d is not None else None
        with np.errstate(over="ignore"):
            for c in chunks(xf.size):
                formula(xf[c], yf[c], df[c] if df is not None else None)
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
    return GELU(approximate_arg("gelu", approximate))(x)


def approximate_arg(op: str, approximate: object) -> str:
    """GELU's approximate argument: 'none' or 'tanh'."""
    if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
        raise ValueError(f"{op}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in x's dtype, in one new array.

    NOTE: exp(-x) overflows to inf for x below about -88 (float32); then 1 / inf = 0, the
    right limit, so the overflow warning is silenced rather than avoided.
    """
    s = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)
    return s


def _silu_derivative(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """d silu(x)/dx = s + x s (1 - s) = s (1 + x (1 - s)) with s = sigmoid(x), in one new array."""
    d = 1 - s
    d *= x
    d += 1
    d *= s
    return d


class SiLU(Function):
    """y = x * sigmoid(x), the sigmoid-weighted linear unit (Elfwing et al., 2018; "swish").

    dy/dx = s + x s (1 - s) = s (1 + x (1 - s)),  s = sigmoid(x)
    Forward computes dy/dx too (only when a gradient will be needed) and keeps only it:
    backward is one multiply, gx = gy * dy/dx.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = _sigmoid(x)
        self.dydx = _silu_derivative(x, s) if self.needs_input_grad else None
        s *= x
        return s

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * self.dydx


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x) elementwise (PyTorch: F.silu)."""
    check_tensor("silu", input=input)
    check_float("silu", input=input)
    return SiLU()(input)


class SwiGLU(Function):
    """y = silu(gate) * up, elementwise over two arrays of one shape (Shazeer, 2020).

    The gated unit of LLaMA's MLP: down(silu(gate(x)) * up(x)). With s = sigmoid(gate):
        g_up   = gy * silu(gate)                              (...)
        g_gate = gy * up * s (1 + gate (1 - s))               (...)   silu's derivative
    Forward keeps silu(gate) for the first and silu's derivative for the second, each only
    if that input needs a gradient: backward is then two multiplies.
    """

    def forward(self, gate: np.ndarray, up: np.ndarray) -> np.ndarray:
        needs = self.needs_input_grad or (False, False)
        s = _sigmoid(gate)
        self.dsilu = _silu_derivative(gate, s) if needs[0] else None
        s *= gate  # silu(gate)
        self.silu = s if needs[1] else None
        return s * up

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        g_gate = None
        if self.dsilu is not None:
            g_gate = gy * self.inputs[1].data
            g_gate *= self.dsilu
        g_up = gy * self.silu if self.silu is not None else None
        return g_gate, g_up


def swiglu(gate: Tensor, up: Tensor) -> Tensor:
    """silu(gate) * up, the gate of LLaMA's MLP, as one op; gate and up of one shape (..., H).

    PyTorch has no such op: it is F.silu(gate) * up, which is the composed reference.
    """
    check_tensor("swiglu", gate=gate, up=up)
    check_float("swiglu", gate=gate, up=up)
    check_same_dtype("swiglu", gate=gate, up=up)
    if gate.shape != up.shape:
        raise ValueError(f"swiglu: gate and up must have the same shape, got {gate.shape} and {up.shape}")
    return SwiGLU()(gate, up)

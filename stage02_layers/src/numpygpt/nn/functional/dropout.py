"""dropout: zero each element with probability p in training, scaling the rest by 1/(1-p)."""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import check_bool, is_bool, is_real, show

from ..random import check_generator, resolve
from ._checks import check_float, check_tensor


class Dropout(Function):
    """y = x * mask, mask = keep / (1 - p) with keep ~ Bernoulli(1 - p).  gx = gy * mask."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * self.mask

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * self.mask


def check_probability(op: str, p: float, name: str = "p") -> float:
    """p as a float in [0, 1], refused in PyTorch's words otherwise (a bool counts as 0 or 1, as there)."""
    if not (is_real(p) or is_bool(p)):
        raise TypeError(f"{op}: dropout probability {name} has to be a number between 0 and 1, but got {show(p)}")
    if not 0.0 <= p <= 1.0:  # NOTE: written so that NaN fails it
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def dropout_mask(
    shape: tuple[int, ...], p: float, dtype: np.dtype, generator: np.random.Generator | None = None
) -> np.ndarray:
    """keep / (1 - p) with keep ~ Bernoulli(1 - p): the expected value of x * mask is x."""
    keep = resolve(generator).random(shape, dtype=dtype) >= p
    return keep * np.asarray(1.0 / (1.0 - p), dtype=dtype) if p < 1 else np.zeros(shape, dtype)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout (PyTorch: F.dropout). In eval mode, or with p = 0, x is returned as is."""
    check_tensor("dropout", input=x)
    check_float("dropout", input=x)
    p = check_probability("dropout", p)
    training = check_bool("dropout", "training", training)
    check_generator("dropout", generator)
    if not training or p == 0.0:
        return x
    return Dropout(dropout_mask(x.shape, p, x.dtype, generator))(x)

"""Reductions over a tuple of dimensions. Backward spreads gy back over what was reduced:
reshape gy to the kept-dims shape, then broadcast it to the input's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..function import Function
from ..tensor import Shape, Tensor
from .dims import normalize_dims
from .shape import broadcast_to, reshape

Dims = int | Sequence[int] | None


def _kept_shape(shape: Shape, axes: tuple[int, ...] | None) -> Shape:
    """The shape of the reduction with keepdim=True: reduced dimensions become 1."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(gy: Tensor, x: Tensor, axes: tuple[int, ...] | None) -> Tensor:
    """gy of the reduced shape, broadcast back over the reduced dimensions of x."""
    return broadcast_to(reshape(gy, _kept_shape(x.shape, axes)), x.shape)


class Sum(Function):
    """y = sum of x over `axes`.  dy/dx = 1 for every summed element: gx = gy spread back."""

    def __init__(self, axes: tuple[int, ...] | None, keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy: Tensor) -> Tensor:
        return _spread(gy, self.inputs[0], self.axes)


class AMax(Function):
    """y = max of x over `axes`.  The gradient goes to the maximal elements, ties share it."""

    def __init__(self, axes: tuple[int, ...] | None, keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x.max(axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        y = x.max(axis=self.axes, keepdims=True)
        is_max = (x == y).astype(gy.dtype)
        share = Tensor(is_max / is_max.sum(axis=self.axes, keepdims=True))
        return _spread(gy, self.inputs[0], self.axes) * share


def sum(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Sum over `dim` (an int, a tuple of ints, or None for all)."""
    return Sum(normalize_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Mean over `dim`: the sum divided by the number of elements reduced."""
    axes = normalize_dims(dim, x.ndim, "mean")
    n = x.data.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    return Sum(axes, keepdim)(x) / n


def amax(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Maximum over `dim` (PyTorch: torch.amax; unlike torch.max(dim) it returns values only)."""
    axes = normalize_dims(dim, x.ndim, "max")
    if x.data.size == 0:
        raise ValueError(f"max: cannot take the maximum of an empty tensor of shape {x.shape}")
    return AMax(axes, keepdim)(x)


def var(x: Tensor, dim: Dims = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Variance over `dim`: sum((x - mean)**2) / (N - correction); correction=1 is unbiased.

    Composed from sub, mul, sum and div, so its gradient 2 (x - mean) / (N - correction)
    comes out of the graph (and its second derivative too).
    """
    axes = normalize_dims(dim, x.ndim, "var")
    n = x.data.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    if n - correction <= 0:
        raise ValueError(f"var: {n} elements with correction={correction} leave no degrees of freedom")
    d = x - mean(x, axes, keepdim=True)
    return sum(d * d, axes, keepdim) / (n - correction)

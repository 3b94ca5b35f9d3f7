"""Reductions over a tuple of dimensions. Backward spreads gy back over what was reduced:
reshape gy to the kept-dims shape, then broadcast it to the input's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checks import check_bool, check_real
from ..function import Function
from ..tensor import Shape, Tensor
from .dims import normalize_dims
from .shape import as_tensor, broadcast_to, reshape

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


def _reduction(op: str, x: Tensor, dim: Dims, keepdim: bool) -> tuple[Tensor, tuple[int, ...] | None]:
    """The checked arguments of a reduction: x as a Tensor, and its axes (None for all)."""
    x = as_tensor(op, x)
    return x, normalize_dims(dim, x.ndim, op)


def _floating(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}; convert it first with .float()")


def _count(x: Tensor, axes: tuple[int, ...] | None) -> int:
    """The number of elements each output of a reduction over `axes` summarises."""
    return x.data.size if axes is None else int(np.prod([x.shape[a] for a in axes]))


def sum(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Sum over `dim` (an int, a tuple of ints, or None for all)."""
    x, axes = _reduction("sum", x, dim, keepdim)
    return Sum(axes, check_bool("sum", "keepdim", keepdim))(x)


def mean(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Mean over `dim`: the sum divided by the number of elements reduced (nan for none)."""
    x, axes = _reduction("mean", x, dim, keepdim)
    _floating("mean", x)
    with np.errstate(invalid="ignore"):  # 0 / 0 elements is nan, as in PyTorch, without a warning
        return Sum(axes, check_bool("mean", "keepdim", keepdim))(x) / _count(x, axes)


def amax(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Maximum over `dim` (PyTorch: torch.amax; unlike torch.max(dim) it returns values only)."""
    x, axes = _reduction("max", x, dim, keepdim)
    if x.data.size == 0 and _count(x, axes) == 0:
        raise ValueError(f"max: cannot take the maximum over an empty dimension of a tensor of shape {x.shape}")
    return AMax(axes, check_bool("max", "keepdim", keepdim))(x)


def var(x: Tensor, dim: Dims = None, keepdim: bool = False, correction: int = 1) -> Tensor:
    """Variance over `dim`: sum((x - mean)**2) / (N - correction); correction=1 is unbiased.

    Composed from sub, mul, sum and div, so its gradient 2 (x - mean) / (N - correction)
    comes out of the graph (and its second derivative too).
    """
    x, axes = _reduction("var", x, dim, keepdim)
    keepdim = check_bool("var", "keepdim", keepdim)
    _floating("var", x)
    # NOTE: as a Python float: np.uint8(200) would wrap around in `n - correction`.
    c = check_real("var", "correction", correction)
    n = _count(x, axes)
    if n - c <= 0:
        raise ValueError(f"var: {n} elements with correction={correction} leave no degrees of freedom")
    d = x - mean(x, axes, keepdim=True)
    return sum(d * d, axes, keepdim) / (n - c)

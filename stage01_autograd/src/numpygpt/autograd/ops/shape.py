"""Ops that move values around without changing them: their gradients move them back.

sum_to is the helper behind broadcasting: an input of shape (3, 1) that NumPy broadcast to
(3, 4) received each of its values 4 times, so its gradient is the sum over that axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..checks import check_shape, show
from ..function import Function
from ..tensor import Shape, Tensor
from .dims import normalize_dim, normalize_dims


def _sum_to_array(x: np.ndarray, shape: Shape) -> np.ndarray:
    """Sum `x` down to `shape`, the reverse of broadcasting `shape` up to x.shape."""
    # exercise 1.6: _sum_to_array: undo broadcasting, reducing x to `shape`
    lead = x.ndim - len(shape)
    # Broadcasting added `lead` dimensions in front and stretched every size-1 dimension.
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead or y.shape != shape else y
    # end exercise 1.6


def _same_shape(x: Any, shape: Any) -> bool:
    """x.shape == shape: cheap for the usual call (a Tensor and a tuple of ints), safe for any other."""
    # NOTE: (2.0, 3) == (2, 3) in Python: only ints may take the fast path.
    return isinstance(x, Tensor) and type(shape) is tuple and all(type(n) is int for n in shape) and x.shape == shape


class SumTo(Function):
    """y = x summed down to `shape`.  Backward: broadcast gy back to x's shape."""

    def __init__(self, shape: Shape) -> None:
        self.shape = tuple(shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _sum_to_array(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)


def sum_to(x: Tensor, shape: Shape) -> Tensor:
    """x summed down to `shape` (a no-op when the shape already matches)."""
    if not _same_shape(x, shape):  # NOTE: equal shapes, the usual case in a backward, skip the checks
        x, shape = as_tensor("sum_to", x), check_shape("sum_to", "shape", shape)
        try:
            fits = np.broadcast_shapes(shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"sum_to: shape {shape} does not broadcast to the tensor's shape {x.shape}")
    if x.shape == tuple(shape):
        return x
    return SumTo(shape)(x)


class BroadcastTo(Function):
    """y = x broadcast to `shape` (a read-only view).  Backward: sum_to(gy, x.shape)."""

    def __init__(self, shape: Shape) -> None:
        self.shape = tuple(shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(x, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x broadcast to `shape` (PyTorch: torch.broadcast_to); -1 keeps that dimension's size."""
    if _same_shape(x, shape):  # NOTE: the usual case in every backward, checked before anything else
        return x
    return expand(x, shape, op="broadcast_to")


def expand(x: Tensor, *sizes: Any, op: str = "expand") -> Tensor:
    """PyTorch's expand: broadcast to `sizes`, where -1 keeps that dimension's size."""
    x = as_tensor(op, x)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = check_shape(op, "size", sizes, allow_minus_one=True)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"{op}: {len(sizes)} sizes given for a tensor of shape {x.shape}")
    if -1 in sizes[:lead]:
        raise ValueError(f"{op}: the size -1 is not allowed in a leading, new dimension (sizes {sizes})")
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    for i in range(lead, len(shape)):
        if x.shape[i - lead] not in (1, shape[i]):
            raise ValueError(
                f"{op}: the expanded size {shape[i]} must match the existing size {x.shape[i - lead]} at "
                f"non-singleton dimension {i} (sizes {sizes}, tensor shape {x.shape})"
            )
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


class Reshape(Function):
    """y = x with a new shape, same values in the same order.  Backward: gy.reshape(x.shape)."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return reshape(gy, self.inputs[0].shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """x with a new shape of the same size; one size may be -1, inferred (PyTorch: reshape)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if _same_shape(x, shape):
        return x
    x = as_tensor("reshape", x)
    shape = check_shape("reshape", "shape", shape, allow_minus_one=True)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be inferred (-1), got shape {shape}")
    return Reshape(shape)(x)


class Permute(Function):
    """y = x with its dimensions reordered.  Backward: gy permuted by the inverse order."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.transpose(self.dims)

    def backward(self, gy: Tensor) -> Tensor:
        return permute(gy, *np.argsort(self.dims).tolist())


def permute(x: Tensor, *dims: Any) -> Tensor:
    """x with its dimensions in the order `dims` (PyTorch: tensor.permute)."""
    x = as_tensor("permute", x)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    nd = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(nd) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not an ordering of the {x.ndim} dimensions of shape {x.shape}")
    return Permute(nd)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (PyTorch: tensor.transpose(dim0, dim1))."""
    x = as_tensor("transpose", x)
    dims = list(range(x.ndim))
    a, b = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if x.ndim == 0:  # as in PyTorch, a 0-d tensor transposes to itself
        return x
    dims[a], dims[b] = dims[b], dims[a]
    return Permute(tuple(dims))(x)


def _is_advanced(index: Any) -> bool:
    """Does this index use integer or boolean arrays (which may repeat or select positions)?"""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


def _unwrap_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(p.data if isinstance(p, Tensor) else p for p in index)
    return index


class GetItem(Function):
    """y = x[index].  Backward: a zero array of x's shape with gy added at `index`.

    NOTE: with integer arrays an index may repeat (x[[0, 0]]); each use adds its gradient,
    so backward scatters with np.add.at, which accumulates, not `g[index] = gy`, which
    would keep only the last.
    """

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: np.ndarray) -> np.ndarray:
        try:
            return x[self.index]
        except (IndexError, ValueError, TypeError, OverflowError) as e:  # NumPy's message does not show the index
            kind = IndexError if isinstance(e, OverflowError) else type(e)
            raise kind(f"invalid index {show(self.index)}: {e}") from None

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return GetItemGrad(self.index, x.shape)(gy)


class GetItemGrad(Function):
    """Scatter-add gy into zeros of `shape` at `index`.  Backward: gather again, gx = g[index]."""

    def __init__(self, index: Any, shape: Shape) -> None:
        self.index, self.shape = index, shape

    def forward(self, gy: np.ndarray) -> np.ndarray:
        gx = np.zeros(self.shape, dtype=gy.dtype)
        if _is_advanced(self.index):
            np.add.at(gx, self.index, gy)
        else:  # basic slicing never selects an element twice: a plain assignment is exact
            gx[self.index] = gy
        return gx

    def backward(self, ggx: Tensor) -> Tensor:
        return getitem(ggx, self.index)


def as_tensor(op: str, x: Any) -> Tensor:
    """x if it is a Tensor, else Tensor(x), with an error naming `op` if x is not numbers."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except (ValueError, TypeError) as e:
        raise type(e)(f"{op}: {e}") from None


def getitem(x: Tensor, index: Any) -> Tensor:
    return GetItem(_unwrap_index(index))(x)


class Cat(Function):
    """y = the inputs joined along `dim`.  Backward: gy cut back into the inputs' sizes."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        return np.concatenate(xs, axis=self.dim)

    def backward(self, gy: Tensor) -> tuple[Tensor, ...]:
        grads, start = [], 0
        for x in self.inputs:
            index = [slice(None)] * gy.ndim
            index[self.dim] = slice(start, start + x.shape[self.dim])
            grads.append(gy[tuple(index)])
            start += x.shape[self.dim]
        return tuple(grads)


def _tensor_list(op: str, tensors: Any) -> list[Any]:
    """The `tensors` argument of cat and stack: a list or tuple, not one Tensor (its rows)."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: tensors must be a list or tuple of Tensors, got {show(tensors)}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    return list(tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension (PyTorch: torch.cat)."""
    tensors = [as_tensor("cat", t) for t in _tensor_list("cat", tensors)]
    d = normalize_dim(dim, tensors[0].ndim, "cat")
    if tensors[0].ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; stack them instead")
    return Cat(d)(*tensors)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension (PyTorch: torch.stack)."""
    tensors = [as_tensor("stack", t) for t in _tensor_list("stack", tensors)]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    ndim = len(shapes.pop()) + 1
    d = normalize_dim(dim, ndim, "stack")
    return cat([reshape(t, *t.shape[:d], 1, *t.shape[d:]) for t in tensors], dim=d)


__all__ = [
    "sum_to",
    "broadcast_to",
    "expand",
    "reshape",
    "permute",
    "transpose",
    "getitem",
    "cat",
    "concat",
    "stack",
    "normalize_dims",
]

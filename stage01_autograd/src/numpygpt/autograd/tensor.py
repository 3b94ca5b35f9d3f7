"""Tensor: an np.ndarray that remembers how it was made.

    x.data          the values (an np.ndarray; float32 by default)
    x.grad          the gradient, a Tensor of x's shape and dtype (None until backward)
    x.requires_grad does backward compute a gradient for x?
    x.creator       the Function whose output x is (None for a leaf you made yourself)
    x.generation    1 + the creator's generation: the order backward visits Functions in

Every operator and method below is a thin wrapper that calls one Function from `ops/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import check_bool, check_dtype, check_shape, show

if TYPE_CHECKING:
    from .function import Function

DEFAULT_DTYPE = np.float32
Shape = tuple[int, ...]


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """`data` as an ndarray; a Python float list becomes float32, as in PyTorch."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = check_dtype("Tensor", "dtype", dtype)
    try:
        arr = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as e:  # [1, [2, 3]], "abc" as float, 2**70
        kind = TypeError if isinstance(e, TypeError) else ValueError
        raise kind(
            f"Tensor: data must be numbers in a (nested) sequence of regular shape, got {show(data)}: {e}"
        ) from None
    if dtype is None and arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        arr = arr.astype(DEFAULT_DTYPE)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numbers (bool, int or float), got dtype {arr.dtype} from {type(data).__name__}"
        )
    return arr


def scalar_array(x: Any, like: Tensor | None) -> np.ndarray:
    """A Python number as a 0-d array that does not upcast the Tensor it meets.

    NOTE: `float32_tensor * 2.0` must stay float32; converting 2.0 on its own would give a
    float64 array and NumPy would then promote the result to float64. A NumPy scalar counts
    as the Python number it holds (as in PyTorch): `float32_tensor * np.float64(2)` is float32.
    """
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        x = x.item()
    if like is None or not isinstance(x, (bool, int, float)):
        return _to_array(x)
    if like.dtype.kind == "f":
        return np.asarray(x, dtype=like.dtype)
    if isinstance(x, float):
        return np.asarray(x, dtype=DEFAULT_DTYPE)
    return np.asarray(x, dtype=like.dtype if not isinstance(x, bool) else np.bool_)


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: array-like numbers. Python floats become float32; an ndarray keeps its dtype
            and is wrapped without a copy.
        requires_grad: compute `.grad` for this tensor in `backward()` (floats only).
        dtype: optional NumPy dtype to convert to.
        name: optional label shown in graph pictures.
    """

    # NumPy must hand `ndarray * Tensor` to Tensor.__rmul__ instead of looping over elements.
    __array_ufunc__ = None

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.creator: Function | None = None
        self.generation = 0
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a str or None, got {show(name)}")
        self.name = name
        self._retain_grad = False
        self.requires_grad = False
        if requires_grad is not False:  # NOTE: the common case costs one identity test
            self.requires_grad_(check_bool("Tensor", "requires_grad", requires_grad))

    # ----- properties ---------------------------------------------------------------------
    @property
    def shape(self) -> Shape:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def is_leaf(self) -> bool:
        """True for a tensor not made by a recorded Function: its gradient is kept in .grad."""
        return self.creator is None

    def size(self, dim: int | None = None) -> Shape | int:
        if dim is None:
            return self.shape
        d = ops.dims.normalize_dim(dim, self.ndim, "size")
        if self.ndim == 0:
            raise IndexError(f"size: a 0-d tensor has no dimensions, got dim {dim}")
        return self.shape[d]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # ----- autograd -----------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place (leaves only, floating point only); returns self."""
        requires_grad = check_bool("requires_grad_", "requires_grad", requires_grad)
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self.creator is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in .grad after backward (dropped by default)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retain_grad = True

    def backward(self, gradient: Any = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad, visiting Functions by generation.

        Args:
            gradient: the upstream gradient, of self's shape. May be omitted only for a
                tensor of one element (a loss), where it is 1.
            create_graph: record the backward pass itself, so the gradients can be
                differentiated again (second derivatives).
        The graph is kept until you drop the output, so backward can be called again.
        """
        engine.backward(self, gradient, create_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    # ----- conversion ---------------------------------------------------------------------
    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a number, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def astype(self, dtype: Any) -> Tensor:
        """A differentiable cast to `dtype` (PyTorch: tensor.to(dtype))."""
        return ops.cast(self, dtype)

    to = astype

    def float(self) -> Tensor:
        return ops.cast(self, np.float32)

    def double(self) -> Tensor:
        return ops.cast(self, np.float64)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.dtype}")
        if self.creator is not None:
            extras.append(f"creator={self.creator.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----- arithmetic: each operator is one Function (see ops/) -----------------------------
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return ops.pow(base, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)

    # Comparisons return bool tensors that carry no gradient. With anything that is not numbers
    # (None, a str, a Module) they return NotImplemented, so that Python answers as it does for
    # PyTorch: `t == None` is False and `t < "a"` a TypeError naming both types.
    def __lt__(self, other: Any) -> Tensor:
        return ops.compare(self, other, np.less) if is_operand(other) else NotImplemented

    def __le__(self, other: Any) -> Tensor:
        return ops.compare(self, other, np.less_equal) if is_operand(other) else NotImplemented

    def __gt__(self, other: Any) -> Tensor:
        return ops.compare(self, other, np.greater) if is_operand(other) else NotImplemented

    def __ge__(self, other: Any) -> Tensor:
        return ops.compare(self, other, np.greater_equal) if is_operand(other) else NotImplemented

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]  # elementwise (NumPy, PyTorch): a Tensor, not a bool
        return ops.compare(self, other, np.equal) if is_operand(other) else NotImplemented

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]  # elementwise (NumPy, PyTorch): a Tensor, not a bool
        return ops.compare(self, other, np.not_equal) if is_operand(other) else NotImplemented

    # Tensors are compared with ==, so hashing must be by identity (sets of parameters).
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous; "
                f"use (t).all() or (t).any() on .data"
            )
        return bool(self.data)

    # ----- elementwise functions ----------------------------------------------------------
    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    # ----- reductions ---------------------------------------------------------------------
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.mean(self, dim, keepdim)

    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.amax(self, dim, keepdim)

    def amax(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return ops.amax(self, dim, keepdim)

    def var(self, dim: int | Sequence[int] | None = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        return ops.var(self, dim, keepdim, correction)

    # ----- shapes -------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    view = reshape

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        return ops.permute(self, *dims)

    def expand(self, *sizes: Any) -> Tensor:
        return ops.expand(self, *sizes)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)


def is_operand(x: Any) -> bool:
    """Could `x` be the other side of an arithmetic or comparison operator (numbers, arrays)?"""
    return isinstance(x, (Tensor, np.ndarray, np.generic, int, float, list, tuple))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a leaf Tensor (PyTorch: torch.tensor)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*size: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: zeros(2, 3) or zeros((2, 3)) (PyTorch: torch.zeros)."""
    return _filled("zeros", np.zeros, size, dtype, requires_grad)


def ones(*size: Any, dtype: Any = DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ones(2, 3) or ones((2, 3)) (PyTorch: torch.ones)."""
    return _filled("ones", np.ones, size, dtype, requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Zeros of t's shape and dtype (PyTorch: torch.zeros_like)."""
    t = _tensor_arg("zeros_like", t)
    return _filled("zeros_like", np.zeros, t.shape, t.dtype, requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    """Ones of t's shape and dtype (PyTorch: torch.ones_like)."""
    t = _tensor_arg("ones_like", t)
    return _filled("ones_like", np.ones, t.shape, t.dtype, requires_grad)


def _filled(op: str, fill: Any, size: tuple[Any, ...], dtype: Any, requires_grad: bool) -> Tensor:
    """A new tensor from np.zeros or np.ones, every argument checked and named after `op`."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):  # f(2, 3) or f((2, 3)), as PyTorch
        size = tuple(size[0])
    shape, dt = check_shape(op, "size", size), check_dtype(op, "dtype", dtype)
    return Tensor(fill(shape, dtype=dt), requires_grad=check_bool(op, "requires_grad", requires_grad))


def _tensor_arg(op: str, t: Any) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {show(t)}")
    return t


# Imported last: ops and engine need the Tensor class defined above.
from . import engine, ops  # noqa: E402

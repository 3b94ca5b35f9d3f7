"""softmax and log_softmax along one dimension, each one fused Function."""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import is_int, show

from ._checks import check_float, check_tensor


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)) along `dim`.

    Subtracting the max changes nothing mathematically (it cancels) but keeps exp from
    overflowing. Backward, with s = sum(gy * y) along dim:
        gx = y * (gy - s)
    (the Jacobian is diag(y) - y y^T, applied to gy without ever forming it).
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = x - x.max(axis=self.dim, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=self.dim, keepdims=True)
        return y

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        # exercise 2.3: Softmax.backward: the gradient of x, from the saved output
        y = self.output().data
        return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))
        # end exercise 2.3


class LogSoftmax(Function):
    """y = x - max - log(sum(exp(x - max))) along `dim`.

    Backward: gx = gy - softmax(x) * sum(gy), and softmax(x) = exp(y).
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        shifted = x - x.max(axis=self.dim, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        y = self.output().data
        return gy - np.exp(y) * gy.sum(axis=self.dim, keepdims=True)


def _along(op: str, fused: type[Softmax | LogSoftmax], x: Tensor, dim: int) -> Tensor:
    """The checked call of softmax or log_softmax along `dim` (a 0-d tensor takes dim 0 or -1)."""
    check_tensor(op, input=x)
    check_float(op, input=x)
    if not is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {show(dim)}")
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {x.shape}")
    if x.ndim == 0:  # as in PyTorch, one number is its own row
        return fused(0)(x.reshape(1)).reshape(())
    if x.data.size == 0:  # no row to normalise (NumPy's max of an empty row would fail): empty in, empty out
        return x * 1
    return fused(int(dim) % x.ndim)(x)


def softmax(x: Tensor, dim: int) -> Tensor:
    """Softmax along `dim` (PyTorch: F.softmax)."""
    return _along("softmax", Softmax, x, dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)) along `dim`, computed stably (PyTorch: F.log_softmax)."""
    return _along("log_softmax", LogSoftmax, x, dim)

"""Checking `dim` arguments, so a bad axis is caught when the op is called, by name."""

from __future__ import annotations

from collections.abc import Sequence

from ..checks import is_int, show


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """`dim` as a non-negative axis of an `ndim`-dimensional tensor (negative counts from the end).

    A 0-d tensor accepts dim 0 and -1, as in PyTorch; the caller decides what they mean.
    """
    if not is_int(dim):
        raise TypeError(f"{op}: dim must be an int, got {show(dim)}")
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dim {dim} is out of range for a {ndim}-d tensor (expected {lo}..{hi})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...] | None:
    """None (all dimensions) or a sorted tuple of distinct non-negative axes.

    As in PyTorch, an empty sequence of dims means all of them, and a 0-d tensor's dim 0
    (or -1) means its only element: both give None.
    """
    if dim is None:
        return None
    # NOTE: anything but a tuple or list is one dim, so `sum(1.0)` gets normalize_dim's message.
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    out = tuple(sorted(normalize_dim(d, ndim, op) for d in dims))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dim} repeats a dimension")
    return out if out and ndim > 0 else None

"""Input checks shared by the functional ops: raised when the op is called, naming it.

NOTE: every check here looks at types, dtypes and shapes only, never at the values of an
array, so it costs the same for a (2, 3) input as for a GPT's activations: nothing next to
the op. (The two exceptions scan integer ids, which are small: embedding's and
cross_entropy's range checks, each with its own NOTE.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_shape, show


def check_tensor(op: str, **tensors: object) -> None:
    """Each argument is a Tensor (None is refused: use check_optional_tensor for optional ones)."""
    for name, v in tensors.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {show(v)}")


def check_optional_tensor(op: str, **tensors: object) -> None:
    for name, v in tensors.items():
        if v is not None and not isinstance(v, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {show(v)}")


def check_float(op: str, **tensors: Tensor | None) -> None:
    for name, t in tensors.items():
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor, got dtype {t.dtype} (shape {t.shape})")


def check_same_dtype(op: str, **tensors: Tensor | None) -> None:
    """All the tensors share one dtype: NumPy would silently compute float32 with float64 in float64.

    PyTorch refuses such a mix in its fused ops too ("expected m1 and m2 to have the same dtype").
    """
    given = {name: t.dtype for name, t in tensors.items() if t is not None}
    if len(set(given.values())) > 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in given.items())
        raise TypeError(f"{op}: expected all tensors to have the same dtype, got {listed}; convert with .astype()")


def check_normalized_shape(
    op: str, x: Tensor, normalized_shape: int | Sequence[int], **params: Tensor | None
) -> tuple[int, ...]:
    """normalized_shape as a tuple, after checking that x ends in it and each parameter has it."""
    shape = normalized_shape_arg(op, normalized_shape)
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or x.ndim < len(shape):
        raise ValueError(f"{op}: input of shape {x.shape} does not end in normalized_shape {shape}")
    for name, p in params.items():
        if p is not None and p.shape != shape:
            raise ValueError(f"{op}: {name} has shape {p.shape}, expected {shape}")
    return shape


def normalized_shape_arg(op: str, normalized_shape: Any) -> tuple[int, ...]:
    """An int or a non-empty sequence of ints >= 0, as a tuple (PyTorch refuses an empty one)."""
    shape = check_shape(op, "normalized_shape", normalized_shape)
    if not shape:
        raise ValueError(
            f"{op}: normalized_shape must have at least one dimension (the ones to normalise over), got ()"
        )
    return shape

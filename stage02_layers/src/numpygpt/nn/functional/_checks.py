"""Input checks shared by the functional ops: raised when the op is called, naming it."""

from __future__ import annotations

from collections.abc import Sequence

from numpygpt.autograd import Tensor


def check_float(op: str, **tensors: Tensor | None) -> None:
    for name, t in tensors.items():
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor, got dtype {t.dtype} (shape {t.shape})")


def check_tensor(op: str, **values: object) -> None:
    for name, v in values.items():
        if v is not None and not isinstance(v, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(v).__name__}")


def check_normalized_shape(
    op: str, x: Tensor, normalized_shape: int | Sequence[int], **params: Tensor | None
) -> tuple[int, ...]:
    """normalized_shape as a tuple, after checking that x ends in it and each parameter has it."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or x.ndim < len(shape):
        raise ValueError(f"{op}: input of shape {x.shape} does not end in normalized_shape {shape}")
    for name, p in params.items():
        if p is not None and p.shape != shape:
            raise ValueError(f"{op}: {name} has shape {p.shape}, expected {shape}")
    return shape

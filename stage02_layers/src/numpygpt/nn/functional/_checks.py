"""Input checks shared by the functional ops: raised when the op is called, naming it."""

from __future__ import annotations

from numpygpt.autograd import Tensor


def check_float(op: str, **tensors: Tensor | None) -> None:
    for name, t in tensors.items():
        if t is not None and t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating point tensor, got dtype {t.dtype} (shape {t.shape})")


def check_tensor(op: str, **values: object) -> None:
    for name, v in values.items():
        if v is not None and not isinstance(v, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(v).__name__}")

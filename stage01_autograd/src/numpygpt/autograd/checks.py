"""Argument checks for public functions: a mistake is caught at the call, by name.

Each check raises a TypeError (wrong kind of value) or ValueError (right kind, wrong value)
whose message names the function, the argument, the value received and what is allowed:

    Linear: in_features must be an int >= 0, got -1
    LayerNorm: eps must be a finite number >= 0, got nan

NumPy scalars count as the Python numbers they hold (np.int64(3) is an int, np.float32(0.5)
a float), as in PyTorch. A bool is not a number here: `Linear(True, 3)` is a slip, not a size.
Later stages use these checks too. Each costs a few isinstance calls, never a pass over an
array, so they are cheap enough for every call of an op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def is_int(v: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    """A Python or NumPy int or float, not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def show(v: Any) -> str:
    """A value as an error message shows it: numbers and strings by repr, anything else by type."""
    if v is None or isinstance(v, (bool, int, float, str, np.generic)):
        text = repr(v)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(v, (tuple, list, slice, range)) and len(text := repr(v)) <= 60:
        return text
    name, shape = type(v).__name__, getattr(v, "shape", None)
    article = "an" if name[0].lower() in "aeiou" or name == "ndarray" else "a"
    return f"{article} {name}" + (f" of shape {tuple(shape)}" if isinstance(shape, tuple) else "")


def check_int(op: str, name: str, v: Any, min: int | None = None) -> int:
    """`v` as a Python int; raises unless it is an int (>= min, if given)."""
    what = "an int" if min is None else f"an int >= {min}"
    if not is_int(v):
        raise TypeError(f"{op}: {name} must be {what}, got {show(v)}")
    if min is not None and v < min:
        raise ValueError(f"{op}: {name} must be {what}, got {show(v)}")
    return int(v)


def check_real(
    op: str, name: str, v: Any, *, min: float | None = None, max: float | None = None, finite: bool = True
) -> float:
    """`v` as a Python float; raises unless it is a number (finite, and in [min, max], if asked)."""
    parts = ["a finite number" if finite else "a number"]
    if min is not None:
        parts.append(f">= {min}")
    if max is not None:
        parts.append(f"<= {max}")
    what = " ".join(parts)
    if not is_real(v):
        raise TypeError(f"{op}: {name} must be {what}, got {show(v)}")
    x = float(v)
    # NOTE: NaN fails every comparison, so the range test is written to reject it, not pass it.
    if (finite and not math.isfinite(x)) or (min is not None and not x >= min) or (max is not None and not x <= max):
        raise ValueError(f"{op}: {name} must be {what}, got {show(v)}")
    return x


def check_bool(op: str, name: str, v: Any) -> bool:
    # NOTE: identity tests first: this runs on every call of some ops, and True/False are the usual values.
    if v is True or v is False:
        return v
    if not is_bool(v):
        raise TypeError(f"{op}: {name} must be a bool (True or False), got {show(v)}")
    return bool(v)


# More elements than any array could hold: NumPy refuses such a shape with a message naming
# neither the function nor the argument, so the check below refuses it first.
MAX_ELEMENTS = 2**60


def check_shape(op: str, name: str, shape: Any, allow_minus_one: bool = False) -> tuple[int, ...]:
    """A sequence of ints >= 0 (or -1 where a size is inferred) as a tuple of Python ints."""
    what = "a tuple of ints >= 0" + (" (or -1)" if allow_minus_one else "")
    if is_int(shape):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{op}: {name} must be {what}, got {show(shape)}")
    for i, n in enumerate(shape):
        if not is_int(n):
            raise TypeError(f"{op}: {name} must be {what}, got {show(shape)} (element {i} is {show(n)})")
        if n < (-1 if allow_minus_one else 0):
            raise ValueError(f"{op}: {name} must be {what}, got {show(shape)} (element {i} is {n})")
    out = tuple(int(n) for n in shape)
    check_size(op, name, out)
    return out


def check_size(op: str, name: str, shape: tuple[int, ...]) -> None:
    """Refuse a shape with more elements than an array can hold (NumPy's own error names neither)."""
    if max(shape, default=0) > MAX_ELEMENTS or math.prod(abs(n) for n in shape) > MAX_ELEMENTS:
        raise ValueError(f"{op}: {name} {shape} is too large: more than 2**60 elements")


def check_dtype(op: str, name: str, dtype: Any, kinds: str = "biuf") -> np.dtype:
    """`dtype` as an np.dtype of one of `kinds` ('f' floating point, 'i'/'u' integer, 'b' bool)."""
    allowed = "a floating point dtype" if kinds == "f" else "a numeric dtype (bool, int or float)"
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {name} must be {allowed} such as np.float32, got {show(dtype)}") from None
    if dt.kind not in kinds:
        raise TypeError(f"{op}: {name} must be {allowed} such as np.float32, got {dt}")
    return dt


def check_callable(op: str, name: str, v: Any) -> Callable[..., Any]:
    if not callable(v):
        raise TypeError(f"{op}: {name} must be callable, got {show(v)}")
    return v

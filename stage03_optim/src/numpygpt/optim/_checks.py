"""Argument checks shared by the optimizers, the schedules and clipping: one style of message.

Every message names the argument, shows the value received and says what is allowed:

    Invalid learning rate: nan (lr must be a finite number >= 0)
    WarmupCosineLR: max_iters must be an int > warmup_iters (100), got 50.0 (float)

Where PyTorch checks the same thing, its words come first (`Invalid learning rate: nan`),
so searching for PyTorch's message finds ours too. Numbers may be Python or NumPy scalars
(np.float32(1e-3) is 1e-3 in float32, exactly as PyTorch reads it); bool is refused where a
number is meant (lr=True is a slip, not a learning rate).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np


def typename(obj: Any) -> str:
    """A type's name as torch.typename spells it: `int`, `numpy.ndarray`."""
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def show(value: Any) -> str:
    """A value for a message: numbers as PyTorch prints them (nan, 0.1), anything else by repr, cut short."""
    text = str(value) if isinstance(value, (numbers.Real, np.bool_)) else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def _fail(error: type[Exception], value: Any, name: str, allowed: str, where: str, invalid: str) -> Exception:
    """The exception to raise: PyTorch's words first when it has them, else `where: name must be ...`."""
    if error is ValueError:
        return error(
            f"{invalid}: {show(value)} ({name} must be {allowed})"
            if invalid
            else f"{where}: {name} must be {allowed}, got {show(value)}"
        )
    if invalid:
        return error(f"{invalid}: {show(value)} ({name} must be {allowed}, got {typename(value)})")
    return error(f"{where}: {name} must be {allowed}, got {typename(value)} {show(value)}")


def is_number(value: Any) -> bool:
    """A real number that is not a bool: int, float, Fraction, NumPy integer or floating scalar."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_real(
    value: Any,
    name: str,
    allowed: str,
    ok: Callable[[float], bool] = lambda x: True,
    *,
    where: str = "",
    invalid: str = "",
    finite: bool = True,
    nan: bool = False,
) -> float:
    """`value` as a Python float if it is a real number for which `ok` holds, else a clear error.

    Args:
        value: what the caller passed.
        name: the argument's name, as the caller spells it (lr, betas[0]).
        allowed: what is allowed, ending the sentence "`name` must be ...".
        ok: the range test on the float value (NaN never passes; inf only without `finite`).
        where: the function or class, as the message's prefix (when `invalid` is empty).
        invalid: PyTorch's message for this argument ("Invalid learning rate"), if it has one.
        finite: refuse inf and -inf.
        nan: accept NaN (where a NaN is information to pass on, never a setting).

    Raises:
        TypeError: `value` is not a real number (a str, None, a bool, an array).
        ValueError: it is NaN, infinite (with `finite`), or outside the range.
    """
    if not is_number(value):
        raise _fail(TypeError, value, name, allowed, where, invalid)
    try:
        x = float(value)
    except OverflowError:  # an int beyond float's range: 10**400
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x):
        if nan:
            return x
        raise _fail(ValueError, value, name, allowed, where, invalid)
    if (finite and math.isinf(x)) or not ok(x):
        raise _fail(ValueError, value, name, allowed, where, invalid)
    return x


def check_nonnegative(value: Any, name: str, *, where: str = "", invalid: str = "") -> float:
    """`value` as a Python float if it is a finite number >= 0: an lr, a weight decay, a momentum."""
    return check_real(value, name, "a finite number >= 0", lambda x: x >= 0, where=where, invalid=invalid)


def check_int(value: Any, name: str, allowed: str, ok: Callable[[int], bool], *, where: str) -> int:
    """`value` as a Python int if it is an integer (Python or NumPy, not bool) for which `ok` holds.

    Counts beyond int64 (|value| >= 2**63) are refused too: no float can hold them exactly and
    they are never a real number of steps (PyTorch stores counts as int64).
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise _fail(TypeError, value, name, allowed, where, "")
    if not (-(2**63) <= int(value) < 2**63 and ok(int(value))):
        raise _fail(ValueError, value, name, allowed, where, "")
    return int(value)


def check_iterable(value: Any, name: str, allowed: str, *, where: str) -> list[Any]:
    """`value`'s items as a list if it is an iterable (not a str, bytes or 0-d array), else a TypeError."""
    if not isinstance(value, (str, bytes)):
        try:
            return list(value)
        except TypeError:  # not iterable (None, a number, a 0-d array)
            pass
    raise _fail(TypeError, value, name, allowed, where, "")


def check_bool(value: Any, name: str, *, where: str) -> bool:
    """`value` as a Python bool if it is True or False (NumPy's np.True_ too), else a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(TypeError, value, name, "True or False", where, "")
    return bool(value)

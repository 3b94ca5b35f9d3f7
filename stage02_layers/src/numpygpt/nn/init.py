"""In-place initialisers with PyTorch's names and formulas (torch.nn.init).

Each fills `tensor.data` in place, in the tensor's own dtype, from `generator` (default:
numpygpt.nn.random's seedable generator), and returns the tensor. A tensor with no elements
(the weight of a Linear(0, 3)) is returned as it is: there is nothing to fill, and its fans
of 0 would divide by zero (PyTorch warns and does the same).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_real, is_real, show

from .random import check_generator, resolve

_M = TypeVar("_M")
_skipping = False  # True only while skip_init builds a module


def skip_init(module_cls: type[_M], *args: Any, **kwargs: Any) -> _M:
    """module_cls(*args, **kwargs) with every initialiser a no-op while it is built (PyTorch:
    torch.nn.utils.skip_init): the parameters hold whatever memory held, for a module whose
    weights are loaded next (load_state_dict checks that every one of them is given).

    NOTE: building GPT-2 124M draws 124 M random numbers twice (each layer's own init, then
    GPT-2's): 3-4 s on the project's build machine when it is quiet, 7-9 s with other jobs
    running, all spent on numbers that loading the pretrained weights overwrites. Nothing is
    drawn here, so the default generator is left where it was. The switch is module state
    for the duration of the call only; build in one thread at a time.
    """
    global _skipping
    if not isinstance(module_cls, type):
        raise TypeError(f"skip_init: module_cls must be a class (such as nn.Linear), got {show(module_cls)}")
    before, _skipping = _skipping, True
    try:
        return module_cls(*args, **kwargs)
    finally:
        _skipping = before


def _fans(op: str, tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: a Linear weight (out, in) has fan_in = in."""
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan in/out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    dtype = _float_dtype("uniform_", tensor)
    a, b = check_real("uniform_", "a", a), check_real("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: expects a [from, to) range with a <= b, but found a={a} > b={b}")
    check_generator("uniform_", generator)
    if _skipping:
        return tensor
    u = resolve(generator).random(tensor.shape, dtype=_drawn(dtype))
    tensor.data[...] = u * (b - a) + a
    return tensor


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with N(mean, std**2)."""
    dtype = _float_dtype("normal_", tensor)
    mean, std = check_real("normal_", "mean", mean), check_real("normal_", "std", std, min=0.0)
    check_generator("normal_", generator)
    if _skipping:
        return tensor
    z = resolve(generator).standard_normal(tensor.shape, dtype=_drawn(dtype))
    tensor.data[...] = z * std + mean
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    _tensor_arg("zeros_", tensor)
    if not _skipping:
        tensor.data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    _tensor_arg("ones_", tensor)
    if not _skipping:
        tensor.data[...] = 1
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table, for the ones used here)."""
    if not isinstance(nonlinearity, str):
        raise ValueError(f"calculate_gain: unsupported nonlinearity {show(nonlinearity)}")
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is not None and not (is_real(param) and math.isfinite(param)):  # PyTorch's words
            raise ValueError(f"calculate_gain: negative_slope {show(param)} not a valid number")
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope * slope))  # NOTE: slope**2 would raise OverflowError for 1e200
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _float_dtype("xavier_uniform_", tensor)
    gain = check_real("xavier_uniform_", "gain", gain, min=0.0)
    check_generator("xavier_uniform_", generator)
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    if tensor.data.size == 0:
        return tensor
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015).

    nn.Linear uses a = sqrt(5), which makes bound = 1 / sqrt(fan_in).
    """
    _float_dtype("kaiming_uniform_", tensor)
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = calculate_gain(nonlinearity, a)
    check_generator("kaiming_uniform_", generator)
    fan_in, fan_out = _fans("kaiming_uniform_", tensor)
    if tensor.data.size == 0:
        return tensor
    bound = gain * math.sqrt(3.0 / (fan_in if mode == "fan_in" else fan_out))
    return uniform_(tensor, -bound, bound, generator)


def _drawn(dtype: np.dtype) -> np.dtype:
    """The dtype to draw random numbers in: NumPy's generators draw float32 or float64 only, so
    a float16 tensor is filled from float32 numbers."""
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _tensor_arg(op: str, tensor: object) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: tensor must be a Tensor, got {show(tensor)}")


def _float_dtype(op: str, tensor: Tensor) -> np.dtype:
    _tensor_arg(op, tensor)
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: can only fill floating point tensors, got dtype {tensor.dtype}")
    return tensor.dtype

"""Gradient clipping by the total norm (PyTorch: torch.nn.utils.clip_grad_norm_).

One bad batch can produce a gradient hundreds of times larger than usual, and one step along
it can undo hours of training. Clipping rescales all gradients together, keeping their
direction, whenever their joint norm exceeds `max_norm`:

    total = ‖(‖g_1‖, ‖g_2‖, ..., ‖g_n‖)‖     the norm of all gradients as one long vector
    g_i ← g_i · min(max_norm / (total + 1e-6), 1)

The 1e-6 keeps the division finite when every gradient is zero; the min with 1 means small
gradients are never scaled up.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Iterable

import numpy as np

from numpygpt.autograd import Tensor

from ._checks import check_bool, check_iterable, check_real, typename

TensorOrTensors = Tensor | Iterable[Tensor]


def _tensor_list(tensors: TensorOrTensors, name: str, where: str) -> list[Tensor]:
    """`tensors` (one Tensor or an iterable of them) as a list, each checked to be a Tensor."""
    if isinstance(tensors, Tensor):
        return [tensors]
    items = check_iterable(tensors, name, "a Tensor or an iterable of Tensors", where=where)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: {name} must be Tensors, but item {i} is {typename(t)}")
    return items


def _grads(parameters: list[Tensor], where: str) -> list[Tensor]:
    """The gradients of `parameters` that are not None, each a floating point Tensor of its parameter's shape."""
    grads = []
    for i, p in enumerate(parameters):
        g = p.grad
        if g is None:
            continue
        if not isinstance(g, Tensor) or g.dtype.kind != "f" or g.shape != p.shape:
            got = f"dtype {g.dtype} and shape {g.shape}" if isinstance(g, Tensor) else f"type {typename(g)}"
            raise TypeError(
                f"{where}: parameters[{i}].grad must be a floating point Tensor of the parameter's shape "
                f"{p.shape}, got {got}"
            )
        grads.append(g)
    return grads


def _norm_type(norm_type: float | str, where: str) -> float:
    """p of the p-norm: a number or a string float() reads ('inf', as PyTorch allows); never NaN."""
    value: object = norm_type
    if isinstance(norm_type, str):
        try:
            value = float(norm_type)
        except ValueError:
            value = norm_type
    return check_real(
        value, "norm_type", "a number (float('inf') or 'inf' for the max norm)", where=where, finite=False
    )


def _max_norm(max_norm: float, where: str) -> float:
    """The largest total norm allowed: >= 0 (a negative one would flip every gradient), inf for none."""
    return check_real(
        max_norm, "max_norm", "a number >= 0 (float('inf') never clips)", lambda x: x >= 0, where=where, finite=False
    )


def get_total_norm(tensors: TensorOrTensors, norm_type: float | str = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The p-norm of several tensors taken together, as if flattened into one vector.

    Args:
        tensors: a Tensor or an iterable of Tensors (usually the gradients), any shapes.
        norm_type: p of the p-norm; float("inf") (or "inf") for the largest absolute value (default: 2).
        error_if_nonfinite: raise RuntimeError if the norm is nan or inf (default: False).

    Returns:
        a 0-d Tensor in the tensors' dtype (0.0 for no tensors).
    """
    where = "get_total_norm"
    tensors = _tensor_list(tensors, "tensors", where)
    p = _norm_type(norm_type, where)
    error_if_nonfinite = check_bool(error_if_nonfinite, "error_if_nonfinite", where=where)
    for i, t in enumerate(tensors):
        if t.dtype.kind != "f":
            raise TypeError(
                f"{where}: tensors must be floating point (gradients are), but tensor {i} has dtype {t.dtype}"
            )
    # NOTE: an empty tensor adds nothing to the norm; dropping it also keeps the max norm of
    # an empty tensor (a max over nothing, an error in NumPy and PyTorch) out of the way.
    tensors = [t for t in tensors if t.data.size]
    if len(tensors) == 0:
        return Tensor(np.float32(0.0))
    # The norm of the per-tensor norms equals the norm of everything concatenated (for every
    # p, including inf), without building the concatenation.
    norms = np.array([np.linalg.norm(t.data.reshape(-1), ord=p) for t in tensors])
    total_norm = np.linalg.norm(norms, ord=p)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(np.asarray(total_norm))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float) -> None:
    """Scale every gradient in place by min(max_norm / (total_norm + 1e-6), 1).

    Args:
        parameters: a Tensor or an iterable of Tensors whose `.grad` is scaled (None skipped).
        max_norm: the largest total norm allowed, >= 0 (float("inf") never clips).
        total_norm: the gradients' total norm, e.g. from `get_total_norm` (a one-element Tensor
            or a number): >= 0, or inf or nan, which scale every gradient as clip_grad_norm_ says.
    """
    where = "clip_grads_with_norm_"
    parameters = _tensor_list(parameters, "parameters", where)
    max_norm = _max_norm(max_norm, where)
    total_norm = _total_norm_tensor(total_norm, where)
    grads = _grads(parameters, where)
    if len(grads) == 0:
        return
    # exercise 3.4: clip_grads_with_norm_: scale every gradient in place so that their total norm is at most max_norm
    total = np.asarray(total_norm.data)
    one = total.dtype.type(1.0)
    # NOTE: computed in the norm's dtype, as PyTorch does in float32; a NaN norm gives a NaN
    # coefficient (np.minimum propagates NaN), so a NaN gradient is never silently hidden.
    clip_coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), one)
    if clip_coef == one:
        return  # multiplying by exactly 1 would change no bit: skip a pass over every gradient
    for g in grads:
        g.data *= clip_coef.astype(g.dtype)
    # end exercise 3.4


def _total_norm_tensor(total_norm: Tensor | float, where: str) -> Tensor:
    """The total norm as a one-element Tensor: >= 0, or inf or nan (which clipping passes on)."""
    value = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind != "f":
            raise ValueError(
                f"{where}: total_norm must be one floating point number, got an array of shape {value.shape} "
                f"and dtype {value.dtype}"
            )
        value = value.reshape(()).item()
    norm = check_real(
        value, "total_norm", "a number >= 0 (or nan/inf)", lambda x: x >= 0, where=where, finite=False, nan=True
    )
    return total_norm if isinstance(total_norm, Tensor) else Tensor(np.asarray(norm))


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float | str = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Clip the gradients of `parameters` in place so that their total norm is at most max_norm.

    Args:
        parameters: a Tensor or an iterable of Tensors (`model.parameters()`); grads that are
            None are ignored.
        max_norm: the largest total norm allowed (nanoGPT uses 1.0): a number >= 0, or
            float("inf") for no clipping. A negative max_norm is an error (it would flip the
            sign of every gradient; PyTorch accepts it).
        norm_type: p of the p-norm, float("inf") (or "inf") for the max norm (default: 2).
        error_if_nonfinite: raise RuntimeError if the total norm is nan or inf. With the
            default False, a non-finite norm is returned and the gradients are scaled by it
            (an inf norm zeroes finite gradients, a nan norm makes every gradient nan), as in
            PyTorch: log the returned norm to see it.

    Returns:
        the total norm of the gradients before clipping, a 0-d Tensor (`.item()` for a float).
    """
    where = "clip_grad_norm_"
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _tensor_list(parameters, "parameters", where)
    if is_generator and len(parameters) == 0:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    max_norm = _max_norm(max_norm, where)
    _norm_type(norm_type, where)
    check_bool(error_if_nonfinite, "error_if_nonfinite", where=where)
    grads = _grads(parameters, where)
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm

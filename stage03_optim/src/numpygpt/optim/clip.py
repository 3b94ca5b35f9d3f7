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

TensorOrTensors = Tensor | Iterable[Tensor]


def get_total_norm(tensors: TensorOrTensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The p-norm of several tensors taken together, as if flattened into one vector.

    Args:
        tensors: a Tensor or an iterable of Tensors (usually the gradients), any shapes.
        norm_type: p of the p-norm; float("inf") for the largest absolute value (default: 2).
        error_if_nonfinite: raise RuntimeError if the norm is nan or inf (default: False).

    Returns:
        a 0-d Tensor in the tensors' dtype (0.0 for no tensors).
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return Tensor(np.float32(0.0))
    # The norm of the per-tensor norms equals the norm of everything concatenated (for every
    # p, including inf), without building the concatenation.
    norms = np.array([np.linalg.norm(t.data.reshape(-1), ord=norm_type) for t in tensors])
    total_norm = np.linalg.norm(norms, ord=norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(np.asarray(total_norm))


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor) -> None:
    """Scale every gradient in place by min(max_norm / (total_norm + 1e-6), 1).

    Args:
        parameters: a Tensor or an iterable of Tensors whose `.grad` is scaled (None skipped).
        max_norm: the largest total norm allowed.
        total_norm: the gradients' total norm, e.g. from `get_total_norm`.
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    if len(grads) == 0:
        return
    # exercise 3.4: clip_grads_with_norm_: scale every gradient in place by min(max_norm / (total_norm + 1e-6), 1)
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


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Clip the gradients of `parameters` in place so that their total norm is at most max_norm.

    Args:
        parameters: a Tensor or an iterable of Tensors (`model.parameters()`); grads that are
            None are ignored.
        max_norm: the largest total norm allowed (nanoGPT uses 1.0).
        norm_type: p of the p-norm, float("inf") for the max norm (default: 2).
        error_if_nonfinite: raise RuntimeError if the total norm is nan or inf. With the
            default False, a non-finite norm is returned and the gradients are scaled by it
            (an inf norm zeroes finite gradients, a nan norm makes every gradient nan), as in
            PyTorch: log the returned norm to see it.

    Returns:
        the total norm of the gradients before clipping, a 0-d Tensor (`.item()` for a float).
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm

"""cross_entropy: log-softmax and negative log-likelihood fused into one Function."""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import check_int, show

from ._checks import check_float, check_tensor
from ._sums import row_sums


class CrossEntropy(Function):
    """loss_i = logsumexp(x_i) - x_i[t_i] for rows x_i (M, C) with targets t_i (M,).

    Rows whose target is `ignore_index` contribute 0 and are not counted. With
    p_i = softmax(x_i) and n = the number of counted rows:
        'mean': loss = sum_i loss_i / n    gx_i = (p_i - onehot(t_i)) * gy / n
        'sum':  loss = sum_i loss_i        gx_i = (p_i - onehot(t_i)) * gy
        'none': loss = (loss_i)            gx_i = (p_i - onehot(t_i)) * gy_i
    The softmax computed in forward is kept; backward scales it and subtracts the one-hot.
    """

    def __init__(self, targets: np.ndarray, ignore_index: int, reduction: str) -> None:
        self.targets, self.ignore_index, self.reduction = targets, ignore_index, reduction

    def forward(self, x: np.ndarray) -> np.ndarray:
        t = self.targets
        valid = t != self.ignore_index
        self.all_valid = bool(valid.all())
        self.valid = valid
        self.safe_t = t if self.all_valid else np.where(valid, t, 0)
        rows = np.arange(x.shape[0])
        shifted = x - x.max(axis=1, keepdims=True)  # NOTE: exp of the shifted row never overflows
        e = np.exp(shifted)
        s = row_sums(e)  # (M,)
        nll = np.log(s) - shifted[rows, self.safe_t]
        e /= s[:, None]
        self.probs = e  # (M, C) softmax: the gradient is (probs - onehot) * scale
        if not self.all_valid:
            nll[~valid] = 0
        self.count = int(valid.sum())
        if self.reduction == "none":
            return nll
        total = nll.sum()
        if self.reduction == "sum":
            return np.asarray(total)
        return np.asarray(total / self.count if self.count else np.nan, dtype=x.dtype)

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        # exercise 2.4: CrossEntropy.backward: the gradient of the logits, for every reduction and for ignored rows
        if self.reduction == "none":
            scale = gy[:, None]  # (M, 1): each row has its own upstream gradient
        else:
            scale = gy / max(self.count, 1) if self.reduction == "mean" else gy
        # One pass makes the new array: the kept softmax stays intact for another backward.
        g = self.probs * scale
        rows = np.arange(g.shape[0])
        g[rows, self.safe_t] -= scale[:, 0] if self.reduction == "none" else scale
        if not self.all_valid:
            g[~self.valid] = 0
        return g
        # end exercise 2.4


def cross_entropy(
    input: Tensor,
    target: Tensor | np.ndarray,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy between logits and integer class targets (PyTorch: F.cross_entropy).

    Shapes: input (N, C) with target (N,), or input (N, C, d1, ...) with target (N, d1, ...),
    or one unbatched row, input (C,) with a 0-d target. A GPT's logits (B, T, V) are
    flattened to (B*T, V) with targets (B*T,) first.
    """
    check_tensor("cross_entropy", input=input)
    check_float("cross_entropy", input=input)
    try:
        t = target.data if isinstance(target, Tensor) else np.asarray(target)
    except ValueError as e:  # a ragged list
        raise ValueError(f"cross_entropy: target must be an array of class indices: {e}") from None
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {t.dtype}")
    ignore_index = check_int("cross_entropy", "ignore_index", ignore_index)
    if not isinstance(reduction, str) or reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {show(reduction)}")
    if input.ndim == 1 and t.ndim == 0:  # one row of C logits and its class, as PyTorch takes it
        loss = cross_entropy(input.reshape(1, input.shape[0]), t.reshape(1), ignore_index, reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim < 2 or t.shape != (input.shape[0], *input.shape[2:]):
        expected = (input.shape[0], *input.shape[2:]) if input.ndim >= 2 else "(N,) with input (N, C)"
        raise ValueError(
            f"cross_entropy: target shape {t.shape} does not fit input shape {input.shape}: "
            f"expected target {expected}"
            + (" (for (B, T, V) logits, flatten to (B*T, V) and (B*T,))" if input.ndim == 3 else "")
        )
    c = input.shape[1]
    # NOTE: a pass over the targets (B*T ints), small next to the logits (B*T*V) the op reads anyway.
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(
            f"cross_entropy: target {int(t[bad].flat[0])} is out of range for {c} classes (valid 0..{c - 1}, or ignore_index={ignore_index})"
        )
    x = input
    if input.ndim > 2:  # (N, C, d1, ...) -> (N * d1 * ..., C): the class dimension last
        x = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
    loss = CrossEntropy(t.reshape(-1), ignore_index, reduction)(x)
    if reduction == "none" and input.ndim != 2:
        loss = loss.reshape(*t.shape)
    return loss

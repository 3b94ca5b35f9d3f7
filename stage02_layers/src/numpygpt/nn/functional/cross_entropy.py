"""cross_entropy: log-softmax and negative log-likelihood fused into one Function."""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import check_int, show

from ._checks import check_float, check_tensor
from ._chunks import row_chunks
from ._sums import row_sums


class CrossEntropy(Function):
    """loss_i = logsumexp(x_i) - x_i[t_i] for rows x_i (M, C) with targets t_i (M,).

    Rows whose target is `ignore_index` contribute 0 and are not counted. With
    p_i = softmax(x_i) and n = the number of counted rows:
        'mean': loss = sum_i loss_i / n    gx_i = (p_i - onehot(t_i)) * gy / n
        'sum':  loss = sum_i loss_i        gx_i = (p_i - onehot(t_i)) * gy
        'none': loss = (loss_i)            gx_i = (p_i - onehot(t_i)) * gy_i
    Forward keeps each row's max m_i and sum s_i = sum_c exp(x_ic - m_i), two numbers per row:
    backward recomputes p_i = exp(x_i - m_i) / s_i from the logits, scales it and subtracts
    the one-hot. NOTE: keeping p itself would cost an array as large as the logits, (M, C):
    200 MB at the GPT-2 124M shape with 1024 tokens, where it decided whether a fine-tuning
    step's peak memory stayed below PyTorch's; recomputing it costs one exp pass.
    """

    def __init__(self, targets: np.ndarray, ignore_index: int, reduction: str) -> None:
        self.targets, self.ignore_index, self.reduction = targets, ignore_index, reduction

    def forward(self, x: np.ndarray) -> np.ndarray:
        t = self.targets
        valid = t != self.ignore_index
        self.all_valid = bool(valid.all())
        self.valid = valid
        self.safe_t = t if self.all_valid else np.where(valid, t, 0)
        M = x.shape[0]
        self.row_max, self.row_sum = np.empty(M, x.dtype), np.empty(M, x.dtype)
        nll = np.empty(M, x.dtype)
        for c in row_chunks(*x.shape):  # cache-sized blocks of rows (see _chunks.py)
            row_max = x[c].max(axis=1)
            shifted = x[c] - row_max[:, None]  # NOTE: exp of the shifted row never overflows
            self.row_max[c], self.row_sum[c] = row_max, row_sums(np.exp(shifted))
            nll[c] = np.log(self.row_sum[c]) - shifted[np.arange(len(shifted)), self.safe_t[c]]
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
        g = self.inputs[0].data - self.row_max[:, None]
        np.exp(g, out=g)
        g *= scale / self.row_sum[:, None]  # softmax(x) * scale, row by row
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

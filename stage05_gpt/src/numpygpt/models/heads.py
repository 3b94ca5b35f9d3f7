"""Splitting the fused q/k/v projection into attention heads, and merging heads back.

With Tensor ops this plumbing is a chain of five Functions,

    qkv.reshape(B, T, 3, nh, hs).permute(2, 0, 3, 1, 4)   # (3, B, nh, T, hs)
    q, k, v = qkv[0], qkv[1], qkv[2]                      # three GetItems
    y.transpose(1, 2).reshape(B, T, C)                    # merging back

whose backward passes allocate a zero (3, B, nh, T, hs) array per GetItem. Each direction
here is one Function. Splitting copies nothing: q, k and v are views of the projection's
output (see SplitHeads), and merging is a reshape of attention's output (see MergeHeads).
The tests check both against that chain.

With grouped-query attention the projection holds nh query heads, then nkv key heads and nkv
value heads (nkv = nh: the three equal thirds above); the split is the same idea with three
slots of unequal widths.
"""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable


class SplitHeads(Function):
    """(B, T, (nh + 2 nkv) hs) -> q (B, nh, T, hs), k and v (B, nkv, T, hs), views of the input.

    With nkv = nh (plain multi-head attention) the input is (B, T, 3C), C = nh hs.
    Backward: the three gradients are written back into their slots of one (B, T, (nh + 2 nkv) hs) array.

    NOTE: views, not copies. Each head's (T, hs) matrix has rows of hs consecutive numbers, one
    row per token, so BLAS reads it in place (with a row stride of the projection's width) and
    attention's products take it as it is: about 5% slower than on a contiguous copy, which is
    what the copy itself cost. What the views save is memory: the copies were a second (B, T, 3C)
    array kept for backward in every layer, 108 MB at the GPT-2 124M shape with 1024 tokens.
    """

    def __init__(self, n_head: int, n_kv_head: int) -> None:
        self.n_head, self.n_kv_head = n_head, n_kv_head

    def forward(self, qkv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        B, T, width = qkv.shape
        nh, nkv = self.n_head, self.n_kv_head
        x = qkv.reshape(B, T, nh + 2 * nkv, width // (nh + 2 * nkv))  # the head slots: nh of q, nkv of k, nkv of v
        q, k, v = (x[:, :, a:b].transpose(0, 2, 1, 3) for a, b in _slots(nh, nkv))
        return q, k, v  # (B, nh, T, hs), (B, nkv, T, hs), (B, nkv, T, hs)

    @once_differentiable
    def backward(self, gq: np.ndarray, gk: np.ndarray, gv: np.ndarray) -> np.ndarray:
        # exercise 5.5: SplitHeads.backward: the gradient of c_attn's output from the gradients of q, k and v
        B, nh, T, hs = gq.shape
        nkv = gk.shape[1]
        g = np.empty((B, T, nh + 2 * nkv, hs), dtype=gq.dtype)
        for (a, b), gi in zip(_slots(nh, nkv), (gq, gk, gv), strict=True):
            g[:, :, a:b] = gi.transpose(0, 2, 1, 3)  # (B, T, heads, hs)
        return g.reshape(B, T, (nh + 2 * nkv) * hs)
        # end exercise 5.5


def _slots(nh: int, nkv: int) -> tuple[tuple[int, int], ...]:
    """Where q, k and v sit among the nh + 2 nkv head slots of the fused projection."""
    return (0, nh), (nh, nh + nkv), (nh + nkv, nh + 2 * nkv)


class MergeHeads(Function):
    """(B, nh, T, hs) -> (B, T, nh * hs): the heads side by side again.

    Backward: the gradient cut back into heads, (B, nh, T, hs), a view of it.

    NOTE: attention lays its output out in memory as (B, T, nh, hs) (see output_array in
    stage02's attention.py), so the merge is a reshape, no copy; a y laid out otherwise is
    copied by the reshape. The gradient's view by heads has rows of hs consecutive numbers,
    which attention's backward products read in place.
    """

    def forward(self, y: np.ndarray) -> np.ndarray:
        B, nh, T, hs = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # a view when y is laid out (B, T, nh, hs)

    @once_differentiable
    def backward(self, g: np.ndarray) -> np.ndarray:
        B, nh, T, hs = self.inputs[0].shape
        return g.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)


def split_heads(qkv: Tensor, n_head: int, n_kv_head: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """q (B, nh, T, hs), k and v (B, nkv, T, hs) from the output (B, T, (nh + 2 nkv) hs) of
    attention's fused projection; n_kv_head None = n_head, the (B, T, 3C) of multi-head attention."""
    nkv = n_head if n_kv_head is None else n_kv_head
    if qkv.ndim != 3 or qkv.shape[-1] % (n_head + 2 * nkv):
        raise ValueError(
            f"split_heads: expected (B, T, (n_head + 2 n_kv_head) hs) with n_head={n_head}, n_kv_head={nkv}, "
            f"got {qkv.shape}"
        )
    return SplitHeads(n_head, nkv)(qkv)


def merge_heads(y: Tensor) -> Tensor:
    """(B, nh, T, hs) -> (B, T, nh * hs)."""
    if y.ndim != 4:
        raise ValueError(f"merge_heads: expected (B, nh, T, hs), got {y.shape}")
    return MergeHeads()(y)

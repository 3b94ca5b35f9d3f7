"""Splitting the fused q/k/v projection into attention heads, and merging heads back.

With Tensor ops this plumbing is a chain of five Functions,

    qkv.reshape(B, T, 3, nh, hs).permute(2, 0, 3, 1, 4)   # (3, B, nh, T, hs)
    q, k, v = qkv[0], qkv[1], qkv[2]                      # three GetItems
    y.transpose(1, 2).reshape(B, T, C)                    # merging back

whose backward passes allocate a zero (3, B, nh, T, hs) array per GetItem and hand the
attention transposed, non-contiguous views that make its batched matmuls slower. Each
direction here is one Function that copies once, into the layout the next op wants.
The tests check both against that chain.
"""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable


class SplitHeads(Function):
    """(B, T, 3C) -> q, k, v, each (B, nh, T, hs) and contiguous, hs = C / nh.

    Backward: the three gradients are written back into their slots of one (B, T, 3C) array.
    """

    def __init__(self, n_head: int) -> None:
        self.n_head = n_head

    def forward(self, qkv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        B, T, C3 = qkv.shape
        hs = C3 // 3 // self.n_head
        heads = np.ascontiguousarray(qkv.reshape(B, T, 3, self.n_head, hs).transpose(2, 0, 3, 1, 4))
        return heads[0], heads[1], heads[2]  # each (B, nh, T, hs), a contiguous block

    @once_differentiable
    def backward(self, gq: np.ndarray, gk: np.ndarray, gv: np.ndarray) -> np.ndarray:
        # exercise 5.5: SplitHeads.backward: write gq, gk, gv back into their slots of one (B, T, 3C) gradient
        B, nh, T, hs = gq.shape
        g = np.empty((B, T, 3, nh, hs), dtype=gq.dtype)
        for i, gi in enumerate((gq, gk, gv)):
            g[:, :, i] = gi.transpose(0, 2, 1, 3)  # (B, T, nh, hs)
        return g.reshape(B, T, 3 * nh * hs)
        # end exercise 5.5


class MergeHeads(Function):
    """(B, nh, T, hs) -> (B, T, nh * hs): the heads side by side again.

    Backward: the gradient cut back into heads, as a contiguous (B, nh, T, hs) array.
    """

    def forward(self, y: np.ndarray) -> np.ndarray:
        B, nh, T, hs = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # reshape copies the transposed view

    @once_differentiable
    def backward(self, g: np.ndarray) -> np.ndarray:
        B, nh, T, hs = self.inputs[0].shape
        return np.ascontiguousarray(g.reshape(B, T, nh, hs).transpose(0, 2, 1, 3))


def split_heads(qkv: Tensor, n_head: int) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v (B, nh, T, hs) from the output (B, T, 3C) of attention's fused projection."""
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * n_head):
        raise ValueError(f"split_heads: expected (B, T, 3C) with C divisible by n_head={n_head}, got {qkv.shape}")
    return SplitHeads(n_head)(qkv)


def merge_heads(y: Tensor) -> Tensor:
    """(B, nh, T, hs) -> (B, T, nh * hs)."""
    if y.ndim != 4:
        raise ValueError(f"merge_heads: expected (B, nh, T, hs), got {y.shape}")
    return MergeHeads()(y)

"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v as one fused Function."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable

from ._checks import check_float, check_tensor
from .dropout import dropout_mask


@lru_cache(maxsize=16)
def causal_bias(L: int, S: int, dtype: str) -> np.ndarray:
    """(L, S) array: 0 where query i may attend to key j (j <= i), -inf above the diagonal.

    Cached: the same block size gives the same mask every step. Read-only, as it is shared.
    """
    bias = np.triu(np.full((L, S), -np.inf, dtype=dtype), k=1)
    bias.flags.writeable = False
    return bias


class ScaledDotProductAttention(Function):
    """y = A v with A = dropout(softmax(q k^T * scale + bias)), over (..., L, E) queries,
    (..., S, E) keys and (..., S, Ev) values -> y (..., L, Ev).

    Backward, with P = softmax(...) (..., L, S) saved from forward and M the dropout mask:
        gv = A^T gy                          (..., S, Ev)
        gA = gy v^T                          (..., L, S)
        gP = gA * M                          (dropout's backward)
        gs = P * (gP - sum_j(gP * P))        (softmax's backward, per row)
        gq = gs k * scale                    (..., L, E)
        gk = gs^T q * scale                  (..., S, E)
    Masked positions have P = 0, so no gradient reaches them.
    """

    def __init__(self, scale: float, bias: np.ndarray | None, drop_mask: np.ndarray | None) -> None:
        self.scale, self.bias, self.drop_mask = scale, bias, drop_mask

    def forward(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        s = q @ k.swapaxes(-1, -2)  # (..., L, S)
        s *= np.asarray(self.scale, dtype=s.dtype)
        if self.bias is not None:
            s += self.bias
        s -= s.max(axis=-1, keepdims=True)  # NOTE: exp of the shifted scores never overflows
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        self.p = s
        a = s if self.drop_mask is None else s * self.drop_mask
        self.a = a
        return a @ v

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q, k, v = (t.data for t in self.inputs)
        p, a = self.p, self.a
        gv = a.swapaxes(-1, -2) @ gy
        gp = gy @ v.swapaxes(-1, -2)
        if self.drop_mask is not None:
            gp *= self.drop_mask
        gs = gp
        gs -= (gp * p).sum(axis=-1, keepdims=True)
        gs *= p
        gs *= np.asarray(self.scale, dtype=gs.dtype)
        gq = gs @ k
        gk = gs.swapaxes(-1, -2) @ q
        return gq, gk, gv


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Attention over (..., L, E) queries, (..., S, E) keys, (..., S, Ev) values, e.g. (B, H, T, D).

    Args (PyTorch: F.scaled_dot_product_attention):
        attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., L, S).
        dropout_p: dropout on the attention weights (pass 0.0 in eval mode).
        is_causal: query i attends only to keys j <= i (top-left aligned, as PyTorch).
        scale: defaults to 1 / sqrt(E).
        generator: where dropout's randomness comes from (default: numpygpt.nn.random).
    """
    check_tensor("scaled_dot_product_attention", query=query, key=key, value=value)
    check_float("scaled_dot_product_attention", query=query, key=key, value=value)
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(
            f"scaled_dot_product_attention: query, key, value need the same number (>= 2) of dimensions, "
            f"got {query.shape}, {key.shape}, {value.shape}"
        )
    L, E = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != E or value.shape[-2] != S or query.shape[:-2] != key.shape[:-2] or key.shape[:-2] != value.shape[:-2]:
        raise ValueError(
            f"scaled_dot_product_attention: shapes do not fit: query {query.shape} (..., L, E), "
            f"key {key.shape} (..., S, E), value {value.shape} (..., S, Ev)"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    dt = query.dtype
    bias = None
    if is_causal:
        bias = causal_bias(L, S, dt.str)
    elif attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        scores = (*query.shape[:-2], L, S)
        try:
            fits = np.broadcast_shapes(m.shape, scores) == scores  # NOTE: the mask must not add dimensions
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask of shape {m.shape} does not broadcast to the scores {scores}"
            )
        bias = np.where(m, 0.0, -np.inf).astype(dt) if m.dtype == np.bool_ else m.astype(dt)
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    drop = dropout_mask((*query.shape[:-2], L, S), dropout_p, dt, generator) if dropout_p > 0 else None
    return ScaledDotProductAttention(scale, bias, drop)(query, key, value)

"""The layer ops again, composed from stage01's primitive Tensor ops.

Each function computes exactly what its fused counterpart in this package computes, but as
a chain of small Functions (sub, exp, sum, matmul, ...), so autograd derives the backward
pass by itself. They are the readable reference: the tests check that every fused op
equals its composed twin, forward and backward, and the micro-benchmark times both.
"""

from __future__ import annotations

import math

import numpy as np

from numpygpt.autograd import Tensor, cat, where

from .activations import _ERFC_COEFFS


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    y = x @ weight.T
    return y + bias if bias is not None else y


def embedding(ids: np.ndarray, weight: Tensor) -> Tensor:
    return weight[np.asarray(ids)]


def layer_norm(
    x: Tensor, d: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    y = (x - mu) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


def rms_norm(
    x: Tensor, normalized_shape: tuple[int, ...], weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    dims = tuple(range(-len(normalized_shape), 0))
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    y = x / ((x * x).mean(dim=dims, keepdim=True) + eps).sqrt()
    return y * weight if weight is not None else y


def rotary_embedding(x: Tensor, cos: np.ndarray, sin: np.ndarray, offset: int = 0) -> Tensor:
    T, h = x.shape[-2], x.shape[-1] // 2
    rows = slice(offset, offset + T)
    rotate_half = cat([-x[..., h:], x[..., :h]], dim=-1)  # [-x2, x1]
    return x * Tensor(cos[rows]) + rotate_half * Tensor(sin[rows])


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)).tanh())
    # Phi(x) = erfc(-x / sqrt 2) / 2 with the same erfc fit as activations.erfc, in Tensor ops.
    # NOTE: its derivative is the fit's derivative, within about 1e-7 of the exact phi(x)
    # that the fused backward uses: equal to float32 precision, not bit for bit.
    u = x * (-1 / math.sqrt(2))
    z = u.abs()
    t = 1 / (1 + 0.5 * z)
    poly = t * 0 + _ERFC_COEFFS[-1]
    for c in reversed(_ERFC_COEFFS[:-1]):
        poly = poly * t + c
    ans = t * (poly - z * z).exp()
    erfc_u = where(u.data >= 0, ans, 2 - ans)
    return x * (0.5 * erfc_u)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def silu(x: Tensor) -> Tensor:
    return x * x.sigmoid()


def swiglu(gate: Tensor, up: Tensor) -> Tensor:
    return silu(gate) * up


def softmax(x: Tensor, dim: int) -> Tensor:
    e = (x - Tensor(x.data.max(axis=dim, keepdims=True))).exp()
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    shifted = x - Tensor(x.data.max(axis=dim, keepdims=True))
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def cross_entropy(logits: Tensor, targets: np.ndarray, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """(N, C) logits and (N,) targets only."""
    t = np.asarray(targets)
    valid = t != ignore_index
    logp = log_softmax(logits, dim=1)
    picked = logp[np.arange(len(t)), np.where(valid, t, 0)]
    nll = where(valid, -picked, 0.0)
    if reduction == "none":
        return nll
    return nll.sum() if reduction == "sum" else nll.sum() / int(valid.sum())


def dropout(x: Tensor, mask: np.ndarray) -> Tensor:
    return x * Tensor(mask)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    is_causal: bool = False,
    attn_mask: np.ndarray | None = None,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    if enable_gqa:  # PyTorch's definition: k and v repeat_interleave'd to the query's heads
        k, v = repeat_interleave_heads(k, q.shape[-3]), repeat_interleave_heads(v, q.shape[-3])
    s = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(E) if scale is None else scale)
    if is_causal:
        s = where(np.tril(np.ones((L, S), dtype=bool)), s, -np.inf)
    elif attn_mask is not None:
        s = where(attn_mask, s, -np.inf) if attn_mask.dtype == np.bool_ else s + Tensor(attn_mask.astype(s.dtype))
    return softmax(s, dim=-1) @ v


def repeat_interleave_heads(x: Tensor, heads: int) -> Tensor:
    """x (..., nkv, S, D) -> (..., heads, S, D), each head repeated heads / nkv times in a row."""
    nkv = x.shape[-3]
    index = np.repeat(np.arange(nkv), heads // nkv)  # [0, 0, 1, 1, ...]
    return x[(slice(None),) * (x.ndim - 3) + (index,)]

"""Rotary position embeddings (RoPE, Su et al. 2021): rotate q and k by angles that grow with position.

The rotate-half convention of Hugging Face's LLaMA code: dimension i of a head is paired with
dimension i + hs/2, and the pair is rotated by the angle p * base^(-2i/hs) at position p.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import check_dtype, check_size, is_int, is_real

from ._checks import check_float, check_tensor


def rotary_tables(
    head_dim: int, end: int, base: float = 10000.0, dtype: npt.DTypeLike = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin tables (end, head_dim) for the positions 0..end-1 (Hugging Face's LLaMA layout).

    Row p holds [cos(p f), cos(p f)] with f_i = base^(-2i/head_dim), i < head_dim/2: each
    frequency twice, once for each half of the head (and sin likewise).
    NOTE: the angles are computed in float64 and rounded once: in float32, p * f is off by up
    to 1.5e-4 rad at position 4096 (Hugging Face computes it so; at the positions of a small
    model the two agree to float32 precision).
    """
    if not is_int(head_dim) or head_dim <= 0 or head_dim % 2:
        raise ValueError(f"rotary_tables: head_dim must be a positive even integer, got {head_dim!r}")
    if not is_int(end) or end < 0:
        raise ValueError(f"rotary_tables: end must be an integer >= 0, got {end!r}")
    if not is_real(base) or not 0 < base < math.inf:
        raise ValueError(f"rotary_tables: base must be a finite number > 0, got {base!r}")
    dtype = check_dtype("rotary_tables", "dtype", dtype, kinds="f")
    check_size("rotary_tables", "(end, head_dim)", (end, head_dim))
    inv_freq = float(base) ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)  # (hs/2,)
    angles = np.outer(np.arange(end, dtype=np.float64), inv_freq)  # (end, hs/2)
    angles = np.concatenate([angles, angles], axis=1)  # (end, hs)
    return np.cos(angles).astype(dtype), np.sin(angles).astype(dtype)


class RotaryEmbedding(Function):
    """y = x * cos + rotate_half(x) * sin over x (..., T, hs), cos and sin (T, hs).

    rotate_half(x) = [-x2, x1] for the halves x1 = x[..., :hs/2], x2 = x[..., hs/2:], so
        y1 = x1 c1 - x2 s1        y2 = x2 c2 + x1 s2        (..., T, hs/2) each
    a rotation of each pair (x1_i, x2_i) when c = cos(angle), s = sin(angle). y is linear in
    x, y = cos * x + sin * (R x) with R x = [-x2, x1], so gx = cos * gy + R^T (sin * gy), and
    R^T u = [u2, -u1]:
        gx1 = gy1 c1 + gy2 s2     gx2 = gy2 c2 - gy1 s1     (..., T, hs/2) each
    the rotation by the opposite angle (a rotation's transpose is its inverse). Both passes
    are x * cos + swap(x) * t with swap(x) = [x2, x1]: forward with t = [-s1, s2], backward
    with t = [s2, -s1]. The tables are constants: no gradient flows to them.
    """

    def __init__(self, cos: np.ndarray, sin: np.ndarray) -> None:
        h = cos.shape[-1] // 2
        self.cos = cos
        self.t_forward = np.concatenate((-sin[:, :h], sin[:, h:]), axis=-1)  # (T, hs)
        self.t_backward = np.concatenate((sin[:, h:], -sin[:, :h]), axis=-1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _rotate(x, self.cos, self.t_forward)

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return _rotate(gy, self.cos, self.t_backward)


def _rotate(x: np.ndarray, cos: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x * cos + [x2, x1] * t for the halves x1, x2 of the last axis.

    NOTE: the halves are swapped with one np.concatenate, and the signs of rotate_half live in
    t: arithmetic on the half-width views x[..., :hs/2] runs a short inner loop per row and
    was measured about 3x slower at GPT sizes.
    """
    h = x.shape[-1] // 2
    y = np.concatenate((x[..., h:], x[..., :h]), axis=-1)
    y *= t
    y += x * cos
    return y


def rotary_embedding(input: Tensor, cos: Tensor | np.ndarray, sin: Tensor | np.ndarray, offset: int = 0) -> Tensor:
    """Rotate the rows of input (..., T, hs) by the positions offset..offset+T-1.

    cos and sin are tables (P, hs) with P >= offset + T, e.g. from `rotary_tables`; row t of
    input uses row offset + t of them (`offset` is where a sequence continues, as in
    generation with a key/value cache). Hugging Face's apply_rotary_pos_emb for one tensor,
    with the tables given whole and sliced here.
    """
    check_tensor("rotary_embedding", input=input)
    check_float("rotary_embedding", input=input)
    if input.ndim < 2 or input.shape[-1] % 2:
        raise ValueError(
            f"rotary_embedding: input must be (..., T, hs) with an even head size hs, got shape {input.shape}"
        )
    T, hs = input.shape[-2:]
    try:
        c = cos.data if isinstance(cos, Tensor) else np.asarray(cos)
        s = sin.data if isinstance(sin, Tensor) else np.asarray(sin)
    except ValueError as e:  # a ragged list
        raise ValueError(f"rotary_embedding: cos and sin must be arrays: {e}") from None
    if c.ndim != 2 or c.shape != s.shape or c.shape[1] != hs or c.dtype.kind != "f" or s.dtype.kind != "f":
        raise ValueError(
            f"rotary_embedding: cos and sin must be float tables (positions, {hs}) of one shape for input "
            f"{input.shape}, got {c.shape} {c.dtype} and {s.shape} {s.dtype}"
        )
    if not is_int(offset) or offset < 0:
        raise ValueError(f"rotary_embedding: offset must be an integer >= 0, got {offset!r}")
    if offset + T > c.shape[0]:
        raise ValueError(
            f"rotary_embedding: positions {offset}..{offset + T - 1} need tables of at least {offset + T} rows, "
            f"got {c.shape[0]}"
        )
    # NOTE: only the T rows used are cast, to the input's dtype (no copy when it matches).
    rows = slice(offset, offset + T)
    return RotaryEmbedding(c[rows].astype(input.dtype, copy=False), s[rows].astype(input.dtype, copy=False))(input)

"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v as one fused Function,
with grouped-query attention's sharing of key/value heads (enable_gqa)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from numpygpt.autograd import Function, Tensor, once_differentiable
from numpygpt.autograd.checks import check_bool, check_real

from ..random import check_generator
from ._checks import check_float, check_same_dtype, check_tensor
from ._sums import row_sums
from .dropout import check_probability, dropout_mask


@lru_cache(maxsize=16)
def causal_bias(L: int, S: int, dtype: str) -> np.ndarray:
    """(L, S) array: 0 where query i may attend to key j (j <= i), -inf above the diagonal.

    Cached: the same block size gives the same mask every step. Read-only, as it is shared.
    """
    # exercise 2.5: causal_bias: the additive mask that lets each query see only itself and the keys before it
    bias = np.triu(np.full((L, S), -np.inf, dtype=dtype), k=1)
    bias.flags.writeable = False
    return bias
    # end exercise 2.5


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

    Grouped-query attention (Ainslie et al., 2023): nh query heads share nkv key/value heads,
    g = nh / nkv query heads each, query head h using key/value head h // g. The caller hands
    this Function q (..., nh, L, E) viewed as (..., nkv, g*L, E), the g query heads of each
    group stacked as rows (bias and dropout mask likewise, (..., nkv, g*L, S)), so the formulas
    above run unchanged, one batched product per key/value head, and never repeat k or v:
        gk = gs^T q * scale    (..., nkv, S, g*L) @ (..., nkv, g*L, E)
        gv = A^T gy            (..., nkv, S, g*L) @ (..., nkv, g*L, Ev)
    Each product sums over the g*L rows: the gradients of a shared head's g users add up
    inside the matrix product, which is exactly the sum a repeated k and v would need.
    """

    def __init__(
        self,
        scale: float,
        bias: np.ndarray | None,
        drop_mask: np.ndarray | None,
        first_key_visible: bool,
        heads_out: bool = True,
    ) -> None:
        self.scale, self.bias, self.drop_mask = scale, bias, drop_mask
        self.first_key_visible, self.heads_out = first_key_visible, heads_out

    def forward(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        # The scale is applied to q (..., L, E) rather than to the scores (..., L, S): the same
        # product, and a smaller array to multiply when S > E.
        s = (q * np.asarray(self.scale, dtype=q.dtype)) @ k.swapaxes(-1, -2)  # (..., L, S)
        if self.bias is not None:
            s += self.bias
        self.p = p = softmax_last(s, self.first_key_visible)
        a = p if self.drop_mask is None else p * self.drop_mask
        self.a = a
        y = output_array((*q.shape[:-1], v.shape[-1]), np.result_type(a, v), self.heads_out)
        return np.matmul(a, v, out=y)

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # exercise 2.6: ScaledDotProductAttention.backward: the gradients of q, k and v
        q, k, v = (t.data for t in self.inputs)
        p, a = self.p, self.a
        gv = a.swapaxes(-1, -2) @ gy  # (..., S, Ev)
        gs = gy @ v.swapaxes(-1, -2)  # (..., L, S): the gradient at A, then at P
        if self.drop_mask is not None:
            gs *= self.drop_mask
        gs -= row_sums(gs * p)[..., None]
        gs *= p  # softmax backward: P * (gP - sum_j gP * P)
        scale = np.asarray(self.scale, dtype=gs.dtype)
        gq = gs @ k
        gq *= scale
        gk = gs.swapaxes(-1, -2) @ q
        gk *= scale
        return gq, gk, gv
        # end exercise 2.6


# Query rows per tile of TiledCausalAttention; shorter sequences take ScaledDotProductAttention.
QUERY_TILE = 64


class TiledCausalAttention(Function):
    r"""Causal attention (is_causal=True) computed one tile of query rows at a time, so that the
    masked upper triangle of the scores is never computed, exponentiated or stored.

    The maths is ScaledDotProductAttention's with the causal bias (query i sees keys j <= i):
        y = A v,  A = dropout(softmax(q k^T * scale + bias)),  q (..., L, E), k (..., S, E), v (..., S, Ev)
    Query rows i0..i1-1 see keys 0..i1-1 at most, so their tile needs only the score block
    (..., i1 - i0, c), c = min(i1, S), and nothing to its right:

                  keys ->
        tile 0   [#\         ]     #  computed, every score visible
        tile 1   [###\       ]     \  the diagonal block: computed, causal bias added inside it
        tile 2   [#####\     ]        (blank: never computed; its softmax weights are exactly 0)
        tile 3   [#######\   ]

    With n tiles, (n + 1) / 2n of the L x S scores are computed (5/8 for n = 4).

    Three rearrangements (FlashAttention's, Dao et al., 2022) keep the passes over the (i1 - i0, c)
    blocks few; each gives the same numbers as the plain formulas up to rounding:
    - the shift: scores are computed as q (k - k_0)^T * scale, each row already shifted by its
      key-0 score (see softmax_last for why that shift is safe); key 0's entry is exactly 0.
    - the normalisation: with E = exp(shifted scores) and r = 1 / sum_j E (per row), P = E * r,
      so y_t = (E_t @ v) * r scales the small (i1 - i0, Ev) product instead of the block.
    - the softmax backward's row sum: sum_j(gP * P) = sum_j(gA * A) = gy_i . y_i, one dot
      product per query, D = sum(gy * y) over Ev, instead of a pass over the block.
    Backward per tile, with gyr = gy_t * r and M_t the dropout mask (1 without dropout):
        gv[:c] += (E_t * M_t)^T gyr                       (..., c, Ev)   summed over the tiles
        gs_t    = E_t * ((gyr v[:c]^T) * M_t - r D_t)     = P * (gP - sum_j gP * P)
        gq_t    = gs_t k[:c] * scale                      (..., i1 - i0, E)
        gk[:c] += gs_t^T q_t * scale                      (..., c, E)      summed over the tiles
    A key is attended to by every tile at or below its own, so gk and gv add up over tiles.
    NOTE: at T = 256 (4 tiles of 64 queries), forward + backward take about 35-40% less time than
    the plain op's (measured at (12, 4, 256, 32) and (8, 6, 256, 64), on one thread).
    """

    def __init__(self, scale: float, drop_mask: np.ndarray | None, tile: int) -> None:
        self.scale, self.drop_mask, self.tile = scale, drop_mask, tile

    def _tiles(self, L: int, S: int) -> list[tuple[int, int, int]]:
        """(i0, i1, c): query rows i0..i1-1 and the keys 0..c-1 they may see."""
        return [(i0, min(i0 + self.tile, L), min(i0 + self.tile, L, S)) for i0 in range(0, L, self.tile)]

    def forward(self, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        L, S = q.shape[-2], k.shape[-2]
        bias = causal_bias(L, S, np.result_type(q, k).str)
        qs = q * np.asarray(self.scale, dtype=q.dtype)  # the scale on q, as in ScaledDotProductAttention
        kd = k - k[..., :1, :]  # (..., S, E): q kd^T is each row's scores minus its key-0 score
        y = output_array((*q.shape[:-1], v.shape[-1]), np.result_type(q, k, v), True)  # (..., L, Ev)
        self.saved = []
        for i0, i1, c in self._tiles(L, S):
            s = qs[..., i0:i1, :] @ kd[..., :c, :].swapaxes(-1, -2)  # (..., i1 - i0, c), shifted scores
            s[..., i0:c] += bias[i0:i1, i0:c]  # keys left of i0 are visible to every row of the tile
            e, r = exp_and_inverse_sums(s)
            em = e if self.drop_mask is None else e * self.drop_mask[..., i0:i1, :c]
            yt = em @ v[..., :c, :]  # (..., i1 - i0, Ev)
            yt *= r[..., None]
            y[..., i0:i1, :] = yt
            self.saved.append((e, em, r))
        return y

    @once_differentiable
    def backward(self, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q, k, v = (t.data for t in self.inputs)
        L, S = q.shape[-2], k.shape[-2]
        d = row_sums(gy * self.output().data)  # (..., L): D_i = gy_i . y_i
        dt = np.result_type(gy, q, k, v)
        gq, gk, gv = np.empty(q.shape, dt), np.zeros(k.shape, dt), np.zeros(v.shape, dt)
        for (i0, i1, c), (e, em, r) in zip(self._tiles(L, S), self.saved, strict=True):
            gyr = gy[..., i0:i1, :] * r[..., None]  # (..., i1 - i0, Ev)
            gv[..., :c, :] += em.swapaxes(-1, -2) @ gyr
            gs = gyr @ v[..., :c, :].swapaxes(-1, -2)  # (..., i1 - i0, c): r * gA
            if self.drop_mask is not None:
                gs *= self.drop_mask[..., i0:i1, :c]  # r * gP
            gs -= (r * d[..., i0:i1])[..., None]
            gs *= e  # = P * (gP - D)
            gq[..., i0:i1, :] = gs @ k[..., :c, :]
            gk[..., :c, :] += gs.swapaxes(-1, -2) @ q[..., i0:i1, :]
        scale = np.asarray(self.scale, dtype=dt)
        gq *= scale
        gk *= scale
        return gq, gk, gv


def output_array(shape: tuple[int, ...], dtype: np.dtype, heads_out: bool) -> np.ndarray:
    """An empty attention output (..., H, L, Ev), laid out in memory as (..., L, H, Ev) when
    heads_out (and there is a head dimension): a view with the heads axis moved.

    NOTE: merging the heads afterwards, (..., L, H * Ev) as the next projection wants them, is
    then a free reshape instead of a copy, and so is cutting the gradient back into heads in
    backward (PyTorch's CPU attention lays its output out the same way). The products write
    into this layout at no extra cost; each copy saved was about 0.2 ms per layer at the
    default GPT, one in forward and one in backward.
    """
    if not heads_out or len(shape) < 3:
        return np.empty(shape, dtype)
    return np.empty((*shape[:-3], shape[-2], shape[-3], shape[-1]), dtype).swapaxes(-2, -3)


def exp_and_inverse_sums(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E = exp(s) and r = 1 / sum_j E (..., L) for scores s (..., L, S) already shifted so that
    some visible entry of each row is 0 (then E's row sums are >= 1, see softmax_last): the
    softmax is E * r. If a score beat the shifted one by more than ~88, exp overflows; then
    each row is shifted by its own max after all."""
    with np.errstate(over="ignore"):
        e = np.exp(s)
    sums = row_sums(e)
    if not np.isfinite(sums).all():
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        sums = row_sums(e)
    return e, 1 / sums


def softmax_last(s: np.ndarray, first_key_visible: bool) -> np.ndarray:
    """Softmax over the last axis of the scores s (..., L, S).

    NOTE: the textbook shift is each row's own max, so that exp never overflows. Finding a max
    per short row is slow in NumPy (~7x a plain pass over the array). When every query may
    attend to key 0 (no mask, or the causal mask), shifting each row by its score for key 0
    is as good almost always: that entry becomes exp(0) = 1, so a row's sum is at least 1 and
    never underflows, and exp overflows only if another score beats it by more than ~88. An
    overflow shows as a non-finite row sum; then the per-row max shift is done after all.
    Each row's shift depends on that row alone, so a query's output never depends on keys
    it may not see, not even in the last bit.
    """
    with np.errstate(over="ignore"):
        if first_key_visible:
            p = s - s[..., :1]
            np.exp(p, out=p)
            sums = row_sums(p)
            if np.isfinite(sums).all():
                p *= (1 / sums)[..., None]
                return p
        p = s - s.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p *= (1 / row_sums(p))[..., None]
    return p


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Attention over (..., L, E) queries, (..., S, E) keys, (..., S, Ev) values, e.g. (B, H, T, D).

    Args (PyTorch: F.scaled_dot_product_attention):
        attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., L, S).
        dropout_p: dropout on the attention weights (pass 0.0 in eval mode).
        is_causal: query i attends only to keys j <= i (top-left aligned, as PyTorch).
        scale: defaults to 1 / sqrt(E).
        enable_gqa: grouped-query attention: query (..., nh, L, E), key (..., nkv, S, E) and value
            (..., nkv, S, Ev) with nh a multiple of nkv; query head h attends with key/value head
            h // (nh / nkv), as PyTorch's repeat_interleave of k and v (which is not done here).
        generator: where dropout's randomness comes from (default: numpygpt.nn.random).
    """
    op = "scaled_dot_product_attention"
    check_tensor(op, query=query, key=key, value=value)
    check_float(op, query=query, key=key, value=value)
    check_same_dtype(op, query=query, key=key, value=value)
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(
            f"scaled_dot_product_attention: query, key, value need the same number (>= 2) of dimensions, "
            f"got {query.shape}, {key.shape}, {value.shape}"
        )
    if not isinstance(enable_gqa, (bool, np.bool_)):
        raise TypeError(f"scaled_dot_product_attention: enable_gqa must be a bool, got {enable_gqa!r}")
    L, E = query.shape[-2:]
    S = key.shape[-2]
    groups = _groups(query, key, value) if enable_gqa else 1
    shared = query.shape[:-3] + key.shape[-3:-2] if groups > 1 else query.shape[:-2]  # k and v's leading dims
    if key.shape[-1] != E or value.shape[-2] != S or key.shape[:-2] != shared or value.shape[:-2] != shared:
        hint = ""
        other_heads = query.ndim > 2 and query.shape[:-3] == key.shape[:-3] and query.shape[-3] != key.shape[-3]
        if other_heads and not enable_gqa:
            hint = "; to share key/value heads between query heads, pass enable_gqa=True"
        raise ValueError(
            f"scaled_dot_product_attention: shapes do not fit: query {query.shape} (..., L, E), "
            f"key {key.shape} (..., S, E), value {value.shape} (..., S, Ev){hint}"
        )
    dropout_p = check_probability(op, dropout_p, name="dropout_p")
    is_causal = check_bool(op, "is_causal", is_causal)
    if scale is not None:
        scale = check_real(op, "scale", scale)
    check_generator(op, generator)
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    dt = query.dtype
    bias = None
    if is_causal:
        bias = causal_bias(L, S, dt.str)
    elif attn_mask is not None:
        m = _mask_array(attn_mask)
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
    if scale is None and E == 0:  # NOTE: with E = 0 every score is 0 whatever the scale (and 1/sqrt(0) fails)
        scale = 1.0
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    drop = dropout_mask((*query.shape[:-2], L, S), dropout_p, dt, generator) if dropout_p > 0 else None
    if groups == 1 and is_causal and L > QUERY_TILE:
        return TiledCausalAttention(scale, drop, QUERY_TILE)(query, key, value)
    if groups == 1:
        # Key 0 is visible to every query unless a custom mask says otherwise (see softmax_last).
        return ScaledDotProductAttention(scale, bias, drop, attn_mask is None)(query, key, value)
    # Grouped-query attention: each key/value head's g query heads as rows of one (g*L, E) block.
    rows = (*key.shape[:-2], groups * L)
    if bias is not None:
        bias = _grouped(bias, groups, L, S)
    if drop is not None:
        drop = drop.reshape(*rows, S)  # drawn as for (..., nh, L, S): the same mask as repeated heads
    f = ScaledDotProductAttention(scale, bias, drop, attn_mask is None, heads_out=False)  # rows are g heads' queries
    return f(query.reshape(*rows, E), key, value).reshape(*query.shape[:-1], value.shape[-1])  # (..., nh, L, Ev)


def _mask_array(attn_mask: object) -> np.ndarray:
    """attn_mask as an array of bools (True = may attend) or floats (added to the scores)."""
    try:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    except ValueError as e:  # a ragged list
        raise ValueError(f"scaled_dot_product_attention: attn_mask must be an array: {e}") from None
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        # NOTE: an int mask of 0s and 1s would be added to the scores, not used as a mask: refused, as in PyTorch.
        raise TypeError(
            f"scaled_dot_product_attention: attn_mask must be bool (True = may attend) or floating point "
            f"(added to the scores), got dtype {m.dtype}"
        )
    return m


def _groups(query: Tensor, key: Tensor, value: Tensor) -> int:
    """nh / nkv for enable_gqa=True, after checking that the head counts allow it."""
    if query.ndim < 3:
        raise ValueError(
            f"scaled_dot_product_attention: enable_gqa=True needs a head dimension, (..., heads, L, E), "
            f"got query {query.shape}"
        )
    nh, nkv = query.shape[-3], key.shape[-3]
    if nkv == 0 or value.shape[-3] != nkv or nh % nkv:
        raise ValueError(
            f"scaled_dot_product_attention: with enable_gqa=True, key and value need the same number of heads, "
            f"a divisor of the query's: got {nh} query, {nkv} key and {value.shape[-3]} value heads"
        )
    return nh // nkv


def _grouped(bias: np.ndarray, groups: int, L: int, S: int) -> np.ndarray:
    """A bias broadcastable to (..., nh, L, S) as (..., nkv or 1, g*L, S), the rows of each group's
    g query heads stacked as in the grouped q (a copy, at most the size of the scores)."""
    b = bias.reshape((1,) * (3 - bias.ndim) + bias.shape) if bias.ndim < 3 else bias  # (..., h, L|1, S|1)
    h = b.shape[-3]  # 1, or nh = nkv * g
    b = b.reshape(*b.shape[:-3], h // groups if h > 1 else 1, groups if h > 1 else 1, *b.shape[-2:])
    b = np.broadcast_to(b, (*b.shape[:-3], groups, L, S))
    return b.reshape(*b.shape[:-3], groups * L, S)

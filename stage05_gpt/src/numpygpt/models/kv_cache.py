"""The KV cache: one attention layer's keys and values of the tokens it has already seen.

Generating token t+1 needs attention over positions 0..t. Without a cache the model runs on
the whole context again for every new token; but the keys and values of positions 0..t-1 are
what they were at the previous step (each depends only on its own token and the tokens before
it), so only the newest token's query, key and value are new. With a cache each step feeds the
model one token, shape (B, 1), and its attention reads the older keys and values from here:

    step      model input   keys/values computed   keys/values attended to
    prompt    (B, T0)       (B, nkv, T0, hs)       (B, nkv, T0, hs), causally masked
    then      (B, 1)        (B, nkv, 1, hs)        (B, nkv, P + 1, hs): P cached + this one

nkv is the number of key/value heads: n_head, or fewer with grouped-query attention, whose
cache holds only the shared heads (never copies for each query head): nh / nkv times smaller.

Arrays are allocated once with room for `max_len` positions and filled in place, so a step
costs no copy of the cache; `update` returns views of the part filled so far.

A sliding window (sliding=True, for rotary positions) goes on past max_len: a query at
position p attends to the keys and values of positions p - max_len + 1 .. p, the max_len
newest, as a model trained on max_len-token windows saw them. Each key keeps the rotation of
its absolute position, so nothing cached goes stale; `pos` keeps counting every position ever
seen, and the attention layer rotates new queries and keys by it. The arrays then have room
for 2 max_len positions: when full, the max_len - 1 newest move to the front (one copy every
max_len or so steps), and `update` returns the positions the new queries may see:

    stored     slots 0..size-1 hold positions pos - size .. pos - 1
    returned   the T new positions and the max_len - 1 before the first of them (fewer at the start)
    mask       query i (position pos - T + i) sees returned keys j with i + S - T - max_len < j <= i + S - T

Only `update` and `attention_mask` know where positions are stored.
"""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import is_bool, is_int, show


class KVCache:
    """Keys and values (B, n_kv_head, S, head_size) of the positions one attention layer has seen.

    Args:
        max_len: the most positions a query attends to (the model's block_size); without
            sliding, also the most positions the cache holds.
        sliding: go on past max_len as a sliding window over the max_len newest positions
            (rotary positions, where a cached key never goes stale).

    The arrays take their batch size, head count, head size and dtype from the first `update`.
    """

    def __init__(self, max_len: int, sliding: bool = False) -> None:
        if not is_int(max_len) or max_len < 1:
            raise ValueError(f"KVCache: max_len must be a positive int, got {max_len!r}")
        if not is_bool(sliding):
            raise TypeError(f"KVCache: sliding must be a bool, got {sliding!r}")
        self.max_len, self.sliding = int(max_len), bool(sliding)
        self.pos = 0  # positions seen so far = the position of the next token
        self.size = 0  # positions stored: slots 0..size-1 hold positions pos - size .. pos - 1
        self.visible = 0  # keys the last update returned (S)
        self.k: np.ndarray | None = None  # (B, nkv, room, hs), filled up to size
        self.v: np.ndarray | None = None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this step's keys and values (B, nkv, T, hs); return those the T new queries may see,
        (B, nkv, S, hs): every position so far (S = pos), or in a sliding window the T new ones and the
        max_len - 1 before them."""
        if not (isinstance(k, Tensor) and isinstance(v, Tensor) and k.ndim == 4 and k.shape == v.shape):
            raise ValueError(
                f"KVCache.update: k and v must be Tensors of one shape (B, nkv, T, hs), got {show(k)} and {show(v)}"
            )
        B, nkv, T, _ = k.shape
        room = 2 * self.max_len if self.sliding else self.max_len
        if self.k is None or self.v is None:
            self.k = np.empty((B, nkv, room, k.shape[-1]), dtype=k.dtype)
            self.v = np.empty((B, nkv, room, v.shape[-1]), dtype=v.dtype)
        fits = self.max_len >= T if self.sliding else self.pos + T <= self.max_len
        if self.k.shape[:2] != (B, nkv) or not fits:
            window = f"a sliding window of {self.max_len}" if self.sliding else f"room for {self.max_len}"
            raise ValueError(
                f"KVCache.update: {T} new positions of shape {k.shape} do not fit a cache of shape "
                f"{self.k.shape} holding {self.pos} positions ({window})"
            )
        if self.size + T > room:  # sliding: keep the max_len - 1 newest, which the first new query sees
            keep = self.max_len - 1
            self.k[:, :, :keep] = self.k[:, :, self.size - keep : self.size]
            self.v[:, :, :keep] = self.v[:, :, self.size - keep : self.size]
            self.size = keep
        start = self.size
        self.size, self.pos = self.size + T, self.pos + T
        self.k[:, :, start : self.size] = k.data
        self.v[:, :, start : self.size] = v.data
        first = max(0, start - (self.max_len - 1)) if self.sliding else 0
        self.visible = self.size - first
        return Tensor(self.k[:, :, first : self.size]), Tensor(self.v[:, :, first : self.size])

    def attention_mask(self, T: int) -> np.ndarray | None:
        """Which of the S keys the last update returned its T queries may see, (T, S) bool, or None
        when every query sees every key.

        Query i sits at position pos - T + i and sees keys up to its own position: the causal mask
        aligned to the bottom right; in a sliding window, also no more than max_len - 1 keys
        before its own. One query (T = 1) is the newest position and sees every key returned.
        """
        if not is_int(T) or not 1 <= T <= self.visible:
            raise ValueError(
                f"KVCache.attention_mask: T must be an int in 1..{self.visible} (the keys returned), got {T!r}"
            )
        T = int(T)  # np.uint64(2) as 2: S - T below must not wrap
        if T == 1:
            return None
        S = self.visible
        mask = np.tril(np.ones((T, S), dtype=bool), k=S - T)
        if self.sliding:
            mask &= np.triu(np.ones((T, S), dtype=bool), k=S - T - self.max_len + 1)
        return mask

    def __repr__(self) -> str:
        shape = None if self.k is None else self.k.shape
        return f"KVCache(max_len={self.max_len}, sliding={self.sliding}, pos={self.pos}, shape={shape})"

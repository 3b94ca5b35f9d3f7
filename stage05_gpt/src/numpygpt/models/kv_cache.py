"""The KV cache: one attention layer's keys and values of the tokens it has already seen.

Generating token t+1 needs attention over positions 0..t. Without a cache the model runs on
the whole context again for every new token; but the keys and values of positions 0..t-1 are
what they were at the previous step (each depends only on its own token and the tokens before
it), so only the newest token's query, key and value are new. With a cache each step feeds the
model one token, shape (B, 1), and its attention reads the older keys and values from here:

    step      model input   keys/values computed   keys/values attended to
    prompt    (B, T0)       (B, nh, T0, hs)        (B, nh, T0, hs), causally masked
    then      (B, 1)        (B, nh, 1, hs)         (B, nh, P + 1, hs): P cached + this one

Arrays are allocated once with room for `max_len` positions and filled in place, so a step
costs no copy of the cache; `update` returns views of the part filled so far.

Only `update` and `attention_mask` know where positions are stored. A sliding window (keeping
the last W positions, for position encodings that allow it) changes these two and nothing else:
`pos` keeps counting every position ever seen, which is what a rotary encoding needs.
"""

from __future__ import annotations

import numpy as np

from numpygpt.autograd import Tensor


class KVCache:
    """Keys and values (B, n_kv_head, S, head_size) of the positions one attention layer has seen.

    Args:
        max_len: the most positions it can hold (the model's block_size).

    The arrays take their batch size, head count, head size and dtype from the first `update`.
    """

    def __init__(self, max_len: int) -> None:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"KVCache: max_len must be a positive int, got {max_len!r}")
        self.max_len = max_len
        self.pos = 0  # positions seen so far = the position of the next token
        self.k: np.ndarray | None = None  # (B, nh, max_len, hs), filled up to pos
        self.v: np.ndarray | None = None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this step's keys and values (B, nh, T, hs); return all of them so far, (B, nh, pos, hs)."""
        B, nh, T, _ = k.shape
        if self.k is None or self.v is None:
            self.k = np.empty((B, nh, self.max_len, k.shape[-1]), dtype=k.dtype)
            self.v = np.empty((B, nh, self.max_len, v.shape[-1]), dtype=v.dtype)
        if self.k.shape[:2] != (B, nh) or self.pos + T > self.max_len:
            raise ValueError(
                f"KVCache.update: {T} new positions of shape {k.shape} do not fit a cache of shape "
                f"{self.k.shape} holding {self.pos} positions (room for {self.max_len})"
            )
        start, self.pos = self.pos, self.pos + T
        self.k[:, :, start : self.pos] = k.data
        self.v[:, :, start : self.pos] = v.data
        return Tensor(self.k[:, :, : self.pos]), Tensor(self.v[:, :, : self.pos])

    def attention_mask(self, T: int) -> np.ndarray | None:
        """Which keys the last T queries may see, (T, pos) bool, or None when every key is visible.

        Query i sits at position pos - T + i and sees keys 0..pos - T + i: the causal mask aligned
        to the bottom right. One query (T = 1) is the newest position and sees everything.
        """
        if T == 1:
            return None
        return np.tril(np.ones((T, self.pos), dtype=bool), k=self.pos - T)

    def __repr__(self) -> str:
        shape = None if self.k is None else self.k.shape
        return f"KVCache(max_len={self.max_len}, pos={self.pos}, shape={shape})"

"""Generation with the architecture options: the KV cache with grouped-query attention, and with
rotary positions a sliding window past block_size, against a reference written plainly."""

from __future__ import annotations

import math

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad
from numpygpt.models import GPT, GPTConfig, KVCache

pytestmark = [pytest.mark.variants, pytest.mark.generate]
TINY = dict(block_size=8, vocab_size=11, n_layer=2, n_head=4, n_embd=16)
OPTIONS = {
    "gqa": dict(n_kv_head=2),
    "mqa": dict(n_kv_head=1),
    "rmsnorm+swiglu": dict(norm="rmsnorm", mlp="swiglu"),
    "rope": dict(position="rope"),
    "llama": dict(norm="rmsnorm", mlp="swiglu", position="rope", n_kv_head=2),
}
SAMPLING = [dict(temperature=0), dict(temperature=1.0, seed=7), dict(temperature=1.5, top_k=4, seed=8)]
SAMPLING_IDS = ["greedy", "sampled", "top_k"]


def model(variant: str) -> GPT:
    """A tiny GPT in float64 whose attention depends on where it looks (scores of a few units, not init's ~0.01)."""
    nn.manual_seed(0)
    m = GPT(GPTConfig(**{**TINY, **OPTIONS[variant]})).double()
    for block in m.transformer.h:
        block.attn.c_attn.weight.data *= 20
    m.eval()
    return m


@no_grad()
def sliding_window_reference(m: GPT, prompt: np.ndarray, new: int, temperature: float = 1.0, top_k=None, seed=None):
    """Generation with rotary positions, written plainly: every position's key and value are computed
    once, rotated by its absolute position, and kept in a list per layer; each new token's query,
    rotated by its position, attends to the last block_size keys and values of the list. A prompt
    longer than block_size is cropped to its last block_size tokens. No KVCache, no mask."""
    c, tr = m.config, m.transformer
    W, B, hs, nh, nkv = c.block_size, prompt.shape[0], c.n_embd // c.n_head, c.n_head, c.kv_heads
    keys: list[list[np.ndarray]] = [[] for _ in tr.h]  # per layer, (B, nkv, hs) per position
    values: list[list[np.ndarray]] = [[] for _ in tr.h]
    rng = np.random.default_rng(seed)

    def rotate(x: np.ndarray, p: int) -> np.ndarray:  # x (B, heads, hs) by position p, rotate-half
        cos, sin = (t[p] for t in F.rotary_tables(hs, p + 1))  # the tables the model uses (float32 values)
        return x * cos + np.concatenate([-x[..., hs // 2 :], x[..., : hs // 2]], axis=-1) * sin

    def logits_after(token: np.ndarray, p: int) -> np.ndarray:  # token (B,) at position p -> (B, V)
        x = tr.wte(token[:, None])  # (B, 1, C)
        for layer, block in enumerate(tr.h):
            a = block.attn
            qkv = block.ln_1(x).data[:, 0] @ a.c_attn.weight.data.T + a.c_attn.bias.data  # (B, (nh + 2 nkv) hs)
            q, k, v = np.split(qkv, [nh * hs, (nh + nkv) * hs], axis=-1)
            q, k, v = rotate(q.reshape(B, nh, hs), p), rotate(k.reshape(B, nkv, hs), p), v.reshape(B, nkv, hs)
            keys[layer].append(k)
            values[layer].append(v)
            K = np.repeat(np.stack(keys[layer][-W:], axis=2), nh // nkv, axis=1)  # (B, nh, <= W, hs)
            V = np.repeat(np.stack(values[layer][-W:], axis=2), nh // nkv, axis=1)
            s = np.einsum("bhd,bhsd->bhs", q, K) / math.sqrt(hs)
            w = np.exp(s - s.max(-1, keepdims=True))
            y = np.einsum("bhs,bhsd->bhd", w / w.sum(-1, keepdims=True), V).reshape(B, 1, nh * hs)
            x = x + a.c_proj(Tensor(y))
            x = x + block.mlp(block.ln_2(x))
        return m.lm_head(tr.ln_f(x)).data[:, 0]

    idx = prompt
    for p, token in enumerate(prompt[:, -W:].T):
        logits = logits_after(token, p)
    for p in range(min(prompt.shape[1], W), min(prompt.shape[1], W) + new):
        logits = logits.astype(np.float64)
        if temperature == 0:
            nxt = logits.argmax(-1)
        else:  # as GPT.stream samples: temperature, top-k, one uniform draw per row (inverse CDF)
            logits = logits / temperature
            if top_k is not None:
                logits = np.where(logits < np.sort(logits, -1)[:, -top_k, None], -np.inf, logits)
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            nxt = np.minimum((probs.cumsum(-1) < rng.random((B, 1))).sum(-1), probs.shape[-1] - 1)
        idx = np.concatenate([idx, nxt[:, None]], axis=1)
        logits = logits_after(nxt, p)
    return idx


@pytest.mark.parametrize("kwargs", SAMPLING, ids=SAMPLING_IDS)
@pytest.mark.parametrize("prompt_len, new", [(3, 22), (12, 9), (1, 5)], ids=["slides", "long-prompt", "fits"])
@pytest.mark.parametrize("variant", ["rope", "llama"])
def test_rope_kv_cache_slides_past_block_size_as_the_plain_reference(variant, prompt_len, new, kwargs) -> None:
    # "slides": 3 + 22 tokens pass block_size 8, and 2 x 8 (the cache's room, then its move to the front)
    m = model(variant)
    prompt = np.random.default_rng(prompt_len).integers(0, 11, (3, prompt_len))  # a batch of 3
    cached = m.generate(prompt, new, use_cache=True, **kwargs)
    np.testing.assert_array_equal(
        cached,
        sliding_window_reference(m, prompt, new, **kwargs),
        err_msg="with rotary positions the KV cache must slide: each new token attends to the block_size "
        "newest cached keys and values, every one rotated by its absolute position",
    )
    if prompt_len + new <= 8:  # within block_size the cache changes nothing
        np.testing.assert_array_equal(cached, m.generate(prompt, new, use_cache=False, **kwargs))


def test_the_sliding_reference_is_not_the_cropped_context() -> None:
    # The test above has power: past block_size, sliding and cropping give other tokens here.
    m = model("rope")
    prompt = np.random.default_rng(3).integers(0, 11, (3, 3))
    assert not np.array_equal(
        sliding_window_reference(m, prompt, 22, temperature=0), m.generate(prompt, 22, use_cache=False, temperature=0)
    )


@pytest.mark.parametrize("kwargs", SAMPLING, ids=SAMPLING_IDS)
@pytest.mark.parametrize("prompt_len, new", [(3, 5), (3, 12), (10, 3)], ids=["fits", "crops", "long-prompt"])
@pytest.mark.parametrize("variant", ["gqa", "mqa", "rmsnorm+swiglu"])
def test_kv_cache_with_learned_positions_gives_the_uncached_tokens(variant, prompt_len, new, kwargs) -> None:
    m = model(variant)
    prompt = np.random.default_rng(prompt_len).integers(0, 11, (3, prompt_len))
    np.testing.assert_array_equal(
        m.generate(prompt, new, use_cache=True, **kwargs), m.generate(prompt, new, use_cache=False, **kwargs)
    )


@pytest.mark.parametrize("variant, room", [("gqa", 8), ("mqa", 8), ("llama", 16)])
def test_the_cache_holds_the_shared_key_value_heads_only(variant: str, room: int) -> None:
    m = model(variant)
    caches = [KVCache(8, sliding=m.config.position == "rope") for _ in m.transformer.h]
    with m.kv_caches(caches):
        m.next_token_logits(np.zeros((3, 5), dtype=np.int64))
    nkv = m.config.kv_heads
    assert all(c.k.shape == c.v.shape == (3, nkv, room, 4) for c in caches), "n_kv_head heads, never repeated"


def test_a_chunk_in_a_sliding_window_sees_block_size_keys_each() -> None:
    # 5 tokens, then 6 more at positions 5..10 in one chunk: query 10 sees 3..10, query 5 sees 0..5.
    m = model("llama")
    idx = np.random.default_rng(0).integers(0, 11, (2, 11))
    caches = [KVCache(8, sliding=True) for _ in m.transformer.h]
    with m.kv_caches(caches):
        m.next_token_logits(idx[:, :5])
        chunk = m.next_token_logits(idx[:, 5:], start=5)
        mask = caches[0].attention_mask(6)
    assert caches[0].visible == 11 and mask.sum(axis=1).tolist() == [6, 7, 8, 8, 8, 8]
    steps = [KVCache(8, sliding=True) for _ in m.transformer.h]  # the same, one token at a time
    with m.kv_caches(steps):
        for t in range(11):
            one = m.next_token_logits(idx[:, t : t + 1], start=t)
    np.testing.assert_allclose(chunk, one, rtol=1e-12, atol=1e-12)


def test_sliding_cache_mistakes_are_clear_errors() -> None:
    cache = KVCache(4, sliding=True)
    kv = Tensor(np.zeros((1, 2, 5, 3)))
    with pytest.raises(ValueError, match=r"KVCache.update: 5 new positions .* \(a sliding window of 4\)"):
        cache.update(kv, kv)
    with pytest.raises(TypeError, match="KVCache: sliding must be a bool, got 1"):
        KVCache(4, sliding=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"GPT.next_token_logits: positions 0..8 \(start=0\) exceed block_size 8"):
        model("rope").next_token_logits(np.zeros((1, 9), dtype=np.int64))

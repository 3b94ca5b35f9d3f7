"""Generation with a KV cache: the tokens of the uncached path, chunks, no graph, its errors.

In a file that runs after test_model.py: these compare the cached path with the model's own forward
pass, so a mistake in GPT.forward or CausalSelfAttention.forward shows here too, but is named first
by the tests of test_model.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.autograd import Tensor
from numpygpt.models import GPT, CausalSelfAttention, GPTConfig, KVCache

pytestmark = pytest.mark.generate
PROMPT = np.array([[1, 2, 3]])


def model() -> GPT:
    nn.manual_seed(0)
    m = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16))
    m.eval()
    return m


def test_generation_path_gives_the_forward_pass_logits() -> None:
    m = model()
    idx = np.random.default_rng(1).integers(0, 11, (3, 8))
    logits, _ = m(idx)
    np.testing.assert_allclose(
        m.next_token_logits(idx),
        logits.data[:, -1],
        rtol=1e-5,
        atol=1e-6,
        err_msg="next_token_logits (generation's forward pass) must equal GPT.forward's scores at the last position",
    )


def test_each_cached_step_feeds_its_token_at_the_next_position() -> None:
    m = model()
    calls: list[tuple[int, int]] = []  # (tokens fed, position of the first of them)
    real = m.next_token_logits

    def spy(idx: np.ndarray, start: int = 0) -> np.ndarray:
        calls.append((idx.shape[1], start))
        return real(idx, start)

    m.next_token_logits = spy  # type: ignore[method-assign]
    m.generate(PROMPT, 4, temperature=0)
    assert calls == [(3, 0), (1, 3), (1, 4), (1, 5)], (
        f"generation fed (tokens, first position) {calls}: after the prompt, each step feeds only the new token, "
        "and with the cache holding P tokens it sits at position P (start=P); fed at position 0 it would get the "
        "position embedding of the first token"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(temperature=0),
        dict(temperature=1.0, seed=7),
        dict(temperature=1.5, top_k=4, seed=8),
    ],
    ids=["greedy", "sampled", "top_k"],
)
@pytest.mark.parametrize(
    "prompt_len, new", [(3, 5), (1, 7), (3, 20), (10, 4)], ids=["fits", "fills", "crops", "long-prompt"]
)
def test_kv_cache_gives_the_tokens_of_the_uncached_path(kwargs: dict, prompt_len: int, new: int) -> None:
    # "crops": 3 + 20 tokens pass block_size 8, so generation goes on without the cache after that;
    # "long-prompt": the prompt alone is longer than block_size, the cache is never used.
    m = model()
    prompt = np.random.default_rng(prompt_len).integers(0, 11, (3, prompt_len))  # a batch of 3
    cached = m.generate(prompt, new, use_cache=True, **kwargs)
    uncached = m.generate(prompt, new, use_cache=False, **kwargs)
    np.testing.assert_array_equal(cached, uncached, err_msg="the KV cache changed the generated tokens")


def test_kv_cache_fed_in_chunks_gives_the_logits_of_one_forward_pass() -> None:
    # 4 tokens, then 3 more at positions 4..6: their queries must see the cache causally,
    # the mask aligned to the newest position (bottom right), then one more token alone.
    m = model()
    idx = np.random.default_rng(0).integers(0, 11, (2, 8))
    caches = [KVCache(8) for _ in m.transformer.h]
    with m.kv_caches(caches):
        m.next_token_logits(idx[:, :4])
        chunk = m.next_token_logits(idx[:, 4:7], start=4)
        last = m.next_token_logits(idx[:, 7:], start=7)
    assert [c.pos for c in caches] == [8, 8]
    full, _ = m(idx)
    np.testing.assert_allclose(
        chunk,
        full.data[:, 6],
        rtol=1e-5,
        atol=1e-6,
        err_msg="3 tokens fed after 4 cached ones: their causal mask must be aligned to the newest position (bottom right) and their positions must start at 4",
    )
    np.testing.assert_allclose(
        last,
        full.data[:, 7],
        rtol=1e-5,
        atol=1e-6,
        err_msg="1 token fed after 7 cached ones: it sees every cached key and sits at position 7",
    )


def test_cached_steps_record_no_graph_and_leave_no_cache_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    m = model()
    outputs = []
    real = CausalSelfAttention.forward_cached

    def spy(self: CausalSelfAttention, x: Tensor, cache: KVCache) -> Tensor:
        y = real(self, x, cache)
        outputs.append(y)
        return y

    monkeypatch.setattr(CausalSelfAttention, "forward_cached", spy)
    steps = m.stream(PROMPT, 4, temperature=0)
    next(steps)
    # Suspended mid-generation, the model is as before: no attention holds a cache.
    assert all(block.attn.kv_cache is None for block in m.transformer.h)
    logits, _ = m(PROMPT)
    assert logits.requires_grad, "a forward pass outside generation records its graph as usual"
    list(steps)
    assert len(outputs) == 2 * 4  # 2 layers x 4 steps, every one through the cache
    assert all(y.creator is None and not y.requires_grad for y in outputs), "generation recorded a graph"


def test_kv_cache_mistakes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="KVCache: max_len must be a positive int, got 0"):
        KVCache(0)
    cache = KVCache(4)
    kv = Tensor(np.zeros((1, 2, 3, 5), dtype=np.float32))
    cache.update(kv, kv)
    with pytest.raises(
        ValueError,
        match=r"KVCache.update: 3 new positions of shape \(1, 2, 3, 5\) do not fit .* holding 3 positions \(room for 4\)",
    ):
        cache.update(kv, kv)
    with pytest.raises(ValueError, match=r"GPT.next_token_logits: positions 6..8 \(start=6\) exceed block_size 8"):
        model().next_token_logits(PROMPT, start=6)

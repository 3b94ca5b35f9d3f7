"""Sampling: greedy, temperature, top-k, seeds, cropping to block_size, and its errors (the KV cache: test_sampling_with_cache.py)."""

from __future__ import annotations

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.models import GPT, GPTConfig


def model() -> GPT:
    nn.manual_seed(0)
    m = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16))
    m.eval()
    return m


PROMPT = np.array([[1, 2, 3]])


@pytest.mark.generate
def test_generate_extends_beyond_block_size_by_cropping() -> None:
    out = model().generate(PROMPT, max_new_tokens=20, seed=0)
    assert out.shape == (1, 23)
    np.testing.assert_array_equal(out[:, :3], PROMPT)
    assert ((out >= 0) & (out < 11)).all()


@pytest.mark.generate
def test_temperature_zero_is_greedy() -> None:
    m = model()
    out = m.generate(PROMPT, max_new_tokens=5, temperature=0)
    ids = PROMPT
    for _ in range(5):
        logits = m.next_token_logits(ids[:, -8:])
        ids = np.concatenate([ids, logits.argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, ids)
    np.testing.assert_array_equal(m.generate(PROMPT, 5, temperature=0.7, top_k=1, seed=3), out)


@pytest.mark.generate
def test_seed_makes_samples_reproducible() -> None:
    m = model()
    a = m.generate(PROMPT, 30, temperature=2.0, seed=5)
    b = m.generate(PROMPT, 30, temperature=2.0, seed=5)
    c = m.generate(PROMPT, 30, temperature=2.0, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.generate
def test_top_k_only_samples_the_k_most_likely() -> None:
    m = model()
    allowed = set(np.argsort(m.next_token_logits(PROMPT)[0])[-3:].tolist())
    firsts = {int(m.generate(PROMPT, 1, temperature=5.0, top_k=3, seed=s)[0, -1]) for s in range(60)}
    assert firsts <= allowed and len(firsts) > 1


@pytest.mark.generate
def test_sampling_follows_the_softmax_distribution() -> None:
    m = model()
    p = np.exp(m.next_token_logits(PROMPT)[0].astype(np.float64))
    p /= p.sum()
    draws = np.concatenate([m.generate(np.repeat(PROMPT, 500, axis=0), 1, seed=s)[:, -1] for s in range(4)])
    freq = np.bincount(draws, minlength=11) / draws.size
    assert np.abs(freq - p).max() < 0.03


@pytest.mark.generate
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(temperature=-1.0), "temperature must be >= 0"),
        (dict(temperature=float("nan")), "temperature must be >= 0"),
        (dict(top_k=0), "top_k must be a positive int"),
        (dict(top_k=2.5), "top_k must be a positive int"),
    ],
)
def test_bad_sampling_arguments_are_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        model().generate(PROMPT, 3, **kwargs)


@pytest.mark.generate
@pytest.mark.parametrize("use_cache", [True, False])
def test_sampling_records_no_graph(use_cache: bool) -> None:
    # stream is a generator: its body runs at each next(), so no_grad must hold there too.
    m = model()
    for p in m.parameters():
        assert p.requires_grad
    logits_seen = []
    head = m.lm_head.forward

    def spy(x):  # type: ignore[no-untyped-def]
        logits = head(x)
        logits_seen.append(logits)
        return logits

    m.lm_head.forward = spy  # type: ignore[method-assign]
    for _ in m.stream(PROMPT, 3, seed=0, use_cache=use_cache):
        pass
    assert len(logits_seen) == 3, "stream must run the model once per new token"
    assert all(t.creator is None and not t.requires_grad for t in logits_seen), (
        "sampling built an autograd graph: the body of a @no_grad() generator must run without recording"
    )

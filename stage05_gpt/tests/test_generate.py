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


# ----- exercise 5.4: sampling, tested as a distribution ---------------------------------------------
# The model's scores are replaced by fixed logits, so every draw of a test follows one known
# distribution p. N = ROWS * STEPS = 64,000 draws; the test fails if any token's frequency f is off
# by delta = 0.012 or more. Each draw is an independent Bernoulli trial for each token, so by
# Hoeffding's inequality P(|f - p_i| >= delta) <= 2 exp(-2 N delta^2) = 2e-8 per token: a correct
# sampler fails a case with probability below 1e-7 (the false-fail rate, over seeds; the seeds here are
# fixed, so the test is deterministic). A wrong sampler whose distribution q differs from p by
# Delta >= 0.1 at some token passes only if that token's frequency lands within delta of p, i.e. at
# least Delta - delta = 0.088 from q: probability <= 2 exp(-2 N 0.088^2) < 1e-400 (the false-pass
# rate). Each classic mistake below is checked to differ by Delta >= 0.1 before it is named, and one
# that differs by less, but by more than 2 delta, still fails with probability above 1 - 1e-8.
LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0])  # V = 5
ROWS, STEPS, DELTA = 64, 1000, 0.012


def fixed_logits_model(rows_logits: np.ndarray) -> GPT:
    """A GPT whose next-token scores are rows_logits (B, V) at every step (use_cache=False)."""
    m = model()
    m.next_token_logits = lambda idx, start=0: rows_logits.astype(np.float32)  # type: ignore[method-assign]
    return m


def draws(rows_logits: np.ndarray, **kwargs: object) -> np.ndarray:
    """(B, STEPS) tokens sampled with the given fixed logits per row."""
    m = fixed_logits_model(rows_logits)
    out = m.generate(np.zeros((len(rows_logits), 1), dtype=np.int64), STEPS, use_cache=False, seed=0, **kwargs)
    return out[:, 1:]


def softmax_kept(logits: np.ndarray, temperature: float, keep: np.ndarray) -> np.ndarray:
    z = np.where(keep, logits / temperature, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def top(logits: np.ndarray, k: int | None) -> np.ndarray:
    """The tokens top_k keeps: every token whose logit is at least the k-th largest (ties kept)."""
    return np.ones(logits.shape, dtype=bool) if k is None else logits >= np.sort(logits)[-k]


@pytest.mark.ex5_4
@pytest.mark.generate
def test_each_row_draws_from_its_own_distribution_independently() -> None:
    rows = np.concatenate([np.tile(LOGITS, (ROWS // 2, 1)), np.tile(LOGITS[::-1], (ROWS // 2, 1))])
    tokens = draws(rows)
    # Independent rows agree at a step with probability sum(p^(ROWS/2)) < 1e-8: never, in 1000 steps.
    agree = (tokens[: ROWS // 2] == tokens[0]).all(axis=0).mean()
    assert agree < 0.5, (
        f"the rows drew the same token at {agree:.0%} of the steps: draw one uniform number per row, not one for "
        "the whole batch"
    )
    p = softmax_kept(LOGITS, 1.0, top(LOGITS, None))
    second = np.bincount(tokens[ROWS // 2 :].ravel(), minlength=5) / tokens[ROWS // 2 :].size
    assert np.abs(second - p).max() >= 2 * DELTA, (  # N/2 draws: within 2 delta of p by chance only below 1e-7
        f"rows whose logits are reversed drew with frequencies {second.round(3)}, those of the first row's "
        f"probabilities {p.round(3)}: each row samples from its own logits"
    )


@pytest.mark.ex5_4
@pytest.mark.generate
@pytest.mark.parametrize(
    "temperature, top_k",
    [(1.0, None), (0.5, None), (2.0, None), (1.0, 3), (2.0, 2)],
    ids=["plain", "cold", "hot", "top3", "hot_top2"],
)
def test_sampling_distribution_by_hand(temperature: float, top_k: int | None) -> None:
    tokens = draws(np.tile(LOGITS, (ROWS, 1)), temperature=temperature, top_k=top_k)
    freq = np.bincount(tokens.ravel(), minlength=5) / tokens.size
    keep = top(LOGITS, top_k)
    p = softmax_kept(LOGITS, temperature, keep)
    mistakes = {
        "the logits were multiplied by the temperature: divide them by it (a high temperature flattens the "
        "distribution, a low one sharpens it)": softmax_kept(LOGITS * temperature, 1.0, keep),
        "the temperature was ignored": softmax_kept(LOGITS, 1.0, keep),
        "top_k was ignored: only the k most likely tokens may be drawn": softmax_kept(
            LOGITS, temperature, top(LOGITS, None)
        ),
        "the kept tokens were drawn uniformly: draw them with their softmax probabilities": keep / keep.sum(),
    }
    if top_k is not None:
        mistakes[f"top_k={top_k} kept {top_k - 1} tokens: keep the k largest logits, the k-th included"] = (
            softmax_kept(LOGITS, temperature, top(LOGITS, top_k - 1)) if top_k > 1 else p
        )
        mistakes[f"top_k={top_k} kept the {top_k} smallest logits: keep the largest"] = softmax_kept(
            LOGITS, temperature, np.sort(LOGITS)[top_k - 1] >= LOGITS
        )
    named = {why: q for why, q in mistakes.items() if np.abs(q - p).max() >= 0.1}
    where = f"temperature={temperature}, top_k={top_k}"
    for why, q in named.items():
        assert np.abs(freq - q).max() >= DELTA or np.abs(freq - p).max() < DELTA, (
            f"the sampled frequencies {freq.round(3)} ({where}) are those of a mistake: {why}"
        )
    assert np.abs(freq - p).max() < DELTA, (
        f"the sampled frequencies {freq.round(3)} differ from the probabilities {p.round(3)} ({where}) by more "
        f"than chance allows ({DELTA}): each row's token must be drawn with exactly its softmax probabilities "
        "(inverse CDF: the first token whose cumulative probability exceeds one uniform number)"
    )


@pytest.mark.ex5_4
@pytest.mark.generate
def test_top_k_keeps_tied_logits() -> None:
    tied = np.array([2.0, 1.0, 1.0, 0.0, -1.0])  # top_k=2: the 2nd largest is 1.0, twice
    tokens = draws(np.tile(tied, (ROWS, 1)), top_k=2)
    freq = np.bincount(tokens.ravel(), minlength=5) / tokens.size
    p = softmax_kept(tied, 1.0, tied >= 1.0)
    assert np.abs(freq - p).max() < DELTA, (
        f"with top_k=2 and the 2nd and 3rd logits tied, the frequencies are {freq.round(3)}, expected "
        f"{p.round(3)}: every token whose logit is at least the k-th largest is kept (ties included)"
    )


@pytest.mark.ex5_4
@pytest.mark.generate
def test_temperature_zero_takes_each_rows_argmax() -> None:
    rows = np.stack([LOGITS, LOGITS[::-1], np.roll(LOGITS, 2)])
    tokens = draws(rows, temperature=0)
    assert (tokens == np.array([[0], [4], [2]])).all(), (
        f"temperature 0 gave {tokens[:, :3].tolist()}...: it is greedy, each row's most likely token every step"
    )


@pytest.mark.generate
def test_generation_crops_the_context_to_its_last_block_size_tokens() -> None:
    m = model()
    seen: list[np.ndarray] = []
    real = m.next_token_logits

    def spy(idx: np.ndarray, start: int = 0) -> np.ndarray:
        seen.append(idx.copy())
        return real(idx, start)

    m.next_token_logits = spy  # type: ignore[method-assign]
    prompt = np.arange(1, 11)[None] % 11  # 10 tokens > block_size 8
    try:
        out = m.generate(prompt, 3, temperature=0, use_cache=False)
    except ValueError as e:
        if "block_size" not in str(e):
            raise
        raise AssertionError(
            f"generation failed with {e}: past block_size, feed only block_size tokens, the newest"
        ) from e
    assert [s.shape[1] for s in seen] == [8, 8, 8], (
        f"the model was fed {[s.shape[1] for s in seen]} tokens: past block_size, feed only block_size of them"
    )
    for step, s in enumerate(seen):
        assert (s == out[:, step + 2 : step + 10]).all(), (
            f"step {step} fed {s.tolist()}, not the last block_size tokens {out[:, step + 2 : step + 10].tolist()}: "
            "the newest tokens are what the next one depends on; crop from the start, keep the end"
        )


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

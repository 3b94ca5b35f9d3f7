"""The misuse hunt: odd values thrown at every public callable of numpygpt.models.

CASES holds, for each public class of numpygpt.models and each of its public methods (listed
from the package's `__all__` by numpygpt.autograd.testing.public_callables, so a new one cannot
be forgotten), how to call it with valid arguments on a tiny GPT. Each test replaces one argument
at a time by an odd value (NaN, ±inf, negative, zero, huge, wrong types and dtypes, empty arrays,
NumPy scalars, foreign objects) and accepts only success (where a Case gives an argument's
domain, every value inside it must work and every value outside it must be refused) or a
TypeError/ValueError naming the callable and the argument; an IndexError too for a token id
outside the vocabulary, as PyTorch's embedding and cross-entropy raise. Successful calls check
what they return: logits of the right shape, a finite loss, tokens inside the vocabulary.

Select with `nox -s stage05 -- -m misuse`.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpygpt.models as models
import numpygpt.nn as nn
from numpygpt.autograd import Tensor, testing
from numpygpt.autograd.checks import MAX_ELEMENTS, is_bool, is_int, is_real
from numpygpt.autograd.testing import Case
from numpygpt.models import GPT, MLP, Block, CausalSelfAttention, GPTConfig, KVCache

pytestmark = pytest.mark.misuse


@pytest.fixture(autouse=True, scope="module")
def in_a_folder_of_its_own() -> Any:
    """Odd values include relative paths ('a'): what save_pretrained writes there lands in a scratch folder."""
    cwd = os.getcwd()
    os.chdir(tempfile.mkdtemp(prefix="numpygpt-misuse-"))
    yield
    os.chdir(cwd)


TINY = dict(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)
HAS_HUB = importlib.util.find_spec("safetensors") is not None  # from_pretrained / save_pretrained: the [hub] extra


def const(v: Any) -> Callable[[], Any]:
    return lambda: v


def config() -> GPTConfig:
    return GPTConfig(**TINY)


def model() -> GPT:
    nn.manual_seed(0)
    return GPT(config())


def prompt() -> np.ndarray:
    return np.array([[1, 2, 3], [4, 5, 6]])


def hidden() -> Tensor:
    """A residual stream (B, T, n_embd) = (2, 3, 8)."""
    return Tensor(np.linspace(-1, 1, 48, dtype=np.float32).reshape(2, 3, 8))


def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="numpygpt-misuse-"))


# ----- domains: the values an argument must accept (and every other value it must refuse) ------
def positive_int(v: Any) -> bool:
    return is_int(v) and v >= 1


def size_times_8(v: Any) -> bool:
    """A size whose weight (size, n_embd = 8) an array can hold."""
    return positive_int(v) and int(v) * 8 <= MAX_ELEMENTS


def a_real_in(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: is_real(v) and lo <= v < hi


def optional(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or ok(v)


# ----- what a successful call must give --------------------------------------------------------
def forward(idx: Any, targets: Any) -> None:
    logits, loss = model()(idx, targets)
    ids = as_ids(idx)
    assert logits.shape == (*ids.shape, 11), f"logits {logits.shape} for idx {ids.shape}"
    assert (loss is None) == (targets is None) and (loss is None or np.isfinite(loss.item()))


def as_ids(idx: Any) -> np.ndarray:
    return np.asarray(idx.data if isinstance(idx, Tensor) else idx)


def stream(**kw: Any) -> None:
    """The first tokens of a stream (it is lazy: a huge max_new_tokens is fine)."""
    steps = list(itertools.islice(model().stream(**kw), 4))
    B = as_ids(kw["idx"]).shape[0]
    assert all(s.shape == (B,) and ((s >= 0) & (s < 11)).all() for s in steps), steps


def generate(**kw: Any) -> None:
    n = kw["max_new_tokens"]
    if is_int(n) and n > 16:
        return  # generating more tokens than a test can wait for is not tried
    tokens, (B, T) = model().generate(**kw), as_ids(kw["idx"]).shape
    assert tokens.shape == (B, T + int(n)) and ((tokens >= 0) & (tokens < 11)).all(), tokens


def with_caches(caches: Any) -> None:
    with model().kv_caches(caches):
        pass


def cached_mask(T: Any) -> None:
    """attention_mask(T) of a cache holding 5 positions: (T, 5) for T in 2..5, None for T = 1."""
    cache = KVCache(8)
    ones = Tensor(np.ones((1, 1, 5, 2), np.float32))
    cache.update(ones, ones)
    mask = cache.attention_mask(T)
    assert mask is None if T == 1 else mask.shape == (T, 5), f"attention_mask({T!r})"


def saved_folder() -> Path:
    path = folder()
    model().save_pretrained(path)
    return path


GENERATION: dict[str, Callable[[], Any]] = {
    "idx": prompt,
    "max_new_tokens": const(3),
    "temperature": const(1.0),
    "top_k": const(None),
    "seed": const(0),
    "use_cache": const(True),
}
GENERATION_DOMAIN: dict[str, Callable[[Any], bool]] = {
    "max_new_tokens": lambda v: is_int(v) and v >= 0,
    "temperature": lambda v: is_real(v) and (v == 0 or 1e-300 <= v < np.inf),  # tinier: scores overflow float64
    "top_k": optional(positive_int),
    "seed": optional(lambda v: is_int(v) and v >= 0),
    "use_cache": is_bool,
}
# A token id outside the vocabulary is an IndexError, as in PyTorch (its message names the id and the range).
TOKEN_ERRORS = (IndexError,)


def generation(call: Callable[..., None]) -> Case:
    """stream or generate, with GENERATION's arguments and domains."""
    return Case(
        lambda **kw: call(**kw),
        GENERATION,
        ("generate", "embedding"),
        names={"idx": ("idx", "index")},
        domain=GENERATION_DOMAIN,
        raises=TOKEN_ERRORS,
    )


LAYERS = {"Block": Block, "CausalSelfAttention": CausalSelfAttention, "MLP": MLP}

CASES: dict[str, Case] = {
    "GPTConfig": Case(
        lambda **kw: GPTConfig(**kw),
        {
            **{k: const(v) for k, v in TINY.items()},
            **{"dropout": const(0.0), "bias": const(True), "gelu": const("none"), "norm": const("layernorm")},
            **{"mlp": const("gelu"), "position": const("learned"), "n_kv_head": const(None)},
        },
        "GPTConfig",
        domain={
            "block_size": size_times_8,
            "vocab_size": size_times_8,
            "n_layer": positive_int,
            "n_head": lambda v: is_int(v) and v in (1, 2, 4, 8),  # must divide n_embd = 8
            "n_embd": lambda v: is_int(v) and v >= 2 and v % 2 == 0 and 4 * int(v) ** 2 <= MAX_ELEMENTS,
            "dropout": a_real_in(0.0, 1.0),
            "bias": is_bool,
            "gelu": lambda v: isinstance(v, str) and v in ("none", "tanh"),
            "norm": lambda v: isinstance(v, str) and v in ("layernorm", "rmsnorm"),
            "mlp": lambda v: isinstance(v, str) and v == "gelu",  # swiglu with gelu="tanh" only (this case's)
            "position": lambda v: isinstance(v, str) and v in ("learned", "rope"),
            "n_kv_head": lambda v: v is None or (is_int(v) and v in (1, 2)),  # the divisors of n_head = 2
        },
    ),
    "GPTConfig.__eq__": Case(lambda other: config() == other, {"other": config}, "GPTConfig"),
    "GPT": Case(lambda config: GPT(config), {"config": config}, "GPT"),
    "GPT.forward": Case(
        forward,
        {"idx": prompt, "targets": const(None)},
        ("GPT.forward", "embedding", "cross_entropy"),
        names={"idx": ("idx", "index"), "targets": ("targets", "target")},
        raises=TOKEN_ERRORS,
    ),
    "GPT.stream": generation(stream),
    "GPT.generate": generation(generate),
    "GPT.next_token_logits": Case(
        lambda idx, start: model().next_token_logits(idx, start).shape == (2, 11),
        {"idx": prompt, "start": const(0)},
        ("GPT.next_token_logits", "embedding"),
        names={"idx": ("idx", "index")},
        domain={"start": lambda v: is_int(v) and 0 <= v <= 5},  # positions start..start+2 within block_size 8
        raises=TOKEN_ERRORS,
    ),
    "GPT.kv_caches": Case(with_caches, {"caches": lambda: [KVCache(8)]}, "GPT.kv_caches"),
    "GPT.flops_per_token": Case(lambda: model().flops_per_token() > 0, {}, "GPT"),
    "GPT.from_state_dict": Case(
        lambda state_dict, config: GPT.from_state_dict(state_dict, config),
        {"state_dict": lambda: model().state_dict(), "config": config},
        ("GPT.from_state_dict", "load_state_dict"),
        raises=(RuntimeError,),  # PyTorch's error for missing or unexpected keys, which it names
    ),
    "GPT.config_dict": Case(lambda: GPTConfig(**model().config_dict()) == config(), {}, "GPT"),
    "GPT.crop_block_size": Case(
        lambda block_size: model().crop_block_size(block_size),
        {"block_size": const(4)},
        "crop_block_size",
        domain={"block_size": lambda v: is_int(v) and 1 <= v <= 8},
    ),
    "GPT.from_pretrained": Case(
        lambda name_or_folder, dropout: GPT.from_pretrained(name_or_folder, dropout),
        {"name_or_folder": saved_folder, "dropout": const(0.0)},
        ("from_pretrained", "GPTConfig"),
        names={"name_or_folder": ("name_or_folder", "name", "folder")},
        domain={"dropout": a_real_in(0.0, 1.0)},
    ),
    "GPT.save_pretrained": Case(
        lambda folder, tokenizer: model().save_pretrained(folder, tokenizer),
        {"folder": folder, "tokenizer": const(None)},
        "save_pretrained",
    ),
    **{
        name: Case(lambda config, cls=cls: cls(config), {"config": config}, name, domain={"config": lambda v: isinstance(v, GPTConfig)})
        for name, cls in LAYERS.items()
    },
    **{
        f"{name}.forward": Case(
            lambda x, cls=cls: cls(config())(x).shape == (2, 3, 8), {"x": hidden}, f"{name}.forward"
        )
        for name, cls in LAYERS.items()
    },
    "CausalSelfAttention.forward_cached": Case(
        lambda x, cache: CausalSelfAttention(config()).forward_cached(x, cache).shape == (2, 3, 8),
        {"x": hidden, "cache": lambda: KVCache(8)},
        "CausalSelfAttention.forward_cached",
    ),
    "CausalSelfAttention.heads": Case(
        lambda qkv, offset: len(CausalSelfAttention(config()).heads(qkv, offset)) == 3,
        {"qkv": lambda: Tensor(np.ones((2, 3, 24), np.float32)), "offset": const(0)},
        ("CausalSelfAttention.heads", "split_heads"),
        domain={"offset": lambda v: is_int(v) and v >= 0},
    ),
    "CausalSelfAttention.queries_keys": Case(
        lambda qkv: CausalSelfAttention(config()).queries_keys(qkv)[0].shape == (2, 2, 3, 4),
        {"qkv": lambda: np.ones((2, 3, 24), np.float32)},
        ("CausalSelfAttention.queries_keys", "split_heads"),
    ),
    "KVCache": Case(lambda max_len: KVCache(max_len), {"max_len": const(8)}, "KVCache", domain={"max_len": positive_int}),
    "KVCache.update": Case(
        lambda k, v: KVCache(8).update(k, v)[0].shape == (2, 2, 3, 4),
        {"k": lambda: Tensor(np.ones((2, 2, 3, 4), np.float32)), "v": lambda: Tensor(np.ones((2, 2, 3, 4), np.float32))},
        "KVCache.update",
        names={"k": ("k",), "v": ("v",)},
    ),
    "KVCache.attention_mask": Case(
        cached_mask, {"T": const(2)}, "KVCache.attention_mask", domain={"T": lambda v: is_int(v) and 1 <= v <= 5}
    ),
}  # fmt: skip


NOT_HUNTED: dict[str, str] = {}


def skip_without_hub(key: str) -> None:
    if key in ("GPT.from_pretrained", "GPT.save_pretrained") and not HAS_HUB:
        pytest.skip("GPT.from_pretrained / save_pretrained need the stage's [hub] extra (safetensors)")


def test_every_public_callable_is_hunted() -> None:
    problems = testing.table_problems("numpygpt.models", testing.public_callables(models), CASES, NOT_HUNTED, __file__)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", sorted(CASES))
def test_every_odd_value(key: str) -> None:
    """The valid call works; then each argument gets each odd value of the fixed list."""
    skip_without_hub(key)
    message = testing.hunt_message(key, CASES[key])
    assert message is None, message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(k for k, c in CASES.items() if c.hunted_args())), data=st.data())
def test_generated_odd_values(key: str, data: st.DataObject) -> None:
    """A generated odd value (floats, ints small or huge, arrays and NumPy scalars of every dtype
    and small shape, Tensors) in a random argument of a random callable."""
    skip_without_hub(key)
    problem = testing.attempt_drawn(CASES[key], data, testing.odd_value_strategy())
    assert problem is None, f"{key}: {problem}"

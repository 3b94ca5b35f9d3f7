"""Every message a learner meets when the model's classes and methods get a wrong argument.

A wrong argument used to travel into a layer and come back as that layer's complaint (a Block
given 5 features: `layer_norm: input of shape (1, 2, 5) does not end in normalized_shape (8,)`),
or as an AttributeError (`GPT(None)`), a numpy error (a ragged prompt), a silent degenerate
sample (NaN logits gave token 0 every time). Now each is refused at the call by the method the
learner called, naming the argument, the value and what is allowed. NumPy integers are ints
everywhere (a config of np.int64 sizes, top_k=np.uint64(3)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.autograd import Tensor
from numpygpt.models import GPT, MLP, Block, CausalSelfAttention, GPTConfig, KVCache

pytestmark = pytest.mark.errors
TINY = dict(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)
IDS = np.array([[1, 2, 3]])


def model() -> GPT:
    nn.manual_seed(0)
    return GPT(GPTConfig(**TINY))


def nan_model() -> GPT:
    m = model()
    m.lm_head.weight.data[:] = np.nan  # tied: the token embedding is NaN too
    return m


def x(*shape: int) -> Tensor:
    return Tensor(np.ones(shape, np.float32))


def entered(m: GPT, caches: Any) -> None:
    with m.kv_caches(caches):
        pass


ERRORS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("a str size", lambda: GPTConfig(block_size="8"), TypeError, r"^GPTConfig: block_size must be a positive int, got '8'$"),
    ("a bool size", lambda: GPTConfig(n_layer=True), TypeError, r"^GPTConfig: n_layer must be a positive int, got True$"),
    ("size 0", lambda: GPTConfig(block_size=0), ValueError, r"^GPTConfig: block_size must be a positive int, got 0$"),
    ("too large", lambda: GPTConfig(vocab_size=2**62, n_embd=8, n_head=2), ValueError, r"^GPTConfig: a weight of 36893488147419103232 numbers \(vocab_size, block_size or 4 n_embd, times n_embd\) is more than an array can hold$"),
    ("dropout 1", lambda: GPTConfig(dropout=1.0), ValueError, r"^GPTConfig: dropout must be in \[0, 1\), got 1\.0$"),
    ("dropout a str", lambda: GPTConfig(dropout="0.1"), TypeError, r"^GPTConfig: dropout must be in \[0, 1\), got '0\.1'$"),
    ("bias a str", lambda: GPTConfig(bias="yes"), TypeError, r"^GPTConfig: bias must be a bool \(True or False\), got 'yes'$"),
    ("gelu an array", lambda: GPTConfig(gelu=np.array(["none"])), ValueError, r"^GPTConfig: gelu must be 'none' or 'tanh', got array\(\['none'\], dtype='<U4'\)$"),
    ("GPT of None", lambda: GPT(None), TypeError, r"^GPT: config must be a GPTConfig, got None$"),
    ("Block of a dict", lambda: Block({}), TypeError, r"^Block: config must be a GPTConfig, got a dict$"),
    ("MLP of None", lambda: MLP(None), TypeError, r"^MLP: config must be a GPTConfig, got None$"),
    ("attention of 3", lambda: CausalSelfAttention(3), TypeError, r"^CausalSelfAttention: config must be a GPTConfig, got 3$"),
    ("5 features", lambda: Block(GPTConfig(**TINY))(x(1, 2, 5)), ValueError, r"^Block\.forward: x must be a floating point Tensor \(B, T, n_embd=8\), got a Tensor of shape \(1, 2, 5\), dtype float32$"),
    ("an array", lambda: MLP(GPTConfig(**TINY))(np.ones((1, 2, 8), np.float32)), TypeError, r"^MLP\.forward: x must be a floating point Tensor \(B, T, n_embd=8\), got an ndarray of shape \(1, 2, 8\)$"),
    ("2-D", lambda: CausalSelfAttention(GPTConfig(**TINY))(x(2, 8)), ValueError, r"^CausalSelfAttention\.forward: x must be a floating point Tensor \(B, T, n_embd=8\), got a Tensor of shape \(2, 8\), dtype float32$"),
    ("no cache", lambda: CausalSelfAttention(GPTConfig(**TINY)).forward_cached(x(1, 2, 8), None), TypeError, r"^CausalSelfAttention\.forward_cached: cache must be a KVCache, got None$"),
    ("a ragged prompt", lambda: model()([[1, 2], [3]]), ValueError, r"^GPT\.forward: idx must be a \(B, T\) array of integer token ids, got \[\[1, 2\], \[3\]\]$"),
    ("no tokens", lambda: model()(np.zeros((1, 0), int)), ValueError, r"^GPT\.forward: idx must be a \(B, T\) array of integer token ids with T >= 1, got shape \(1, 0\), dtype int64$"),
    ("ragged targets", lambda: model()(IDS, [[1, 2], [3]]), ValueError, r"^GPT\.forward: targets must be a \(B, T\) array of integer token ids, got \[\[1, 2\], \[3\]\]$"),
    ("targets of another shape", lambda: model()(IDS, np.array([[1, 2]])), ValueError, r"^GPT\.forward: targets shape \(1, 2\) should equal idx shape \(1, 3\)$"),
    ("temperature a list", lambda: model().generate(IDS, 2, temperature=[1]), ValueError, r"^generate: temperature must be >= 0 \(0 = greedy\), got \[1\]$"),
    ("temperature too small", lambda: model().generate(IDS, 2, temperature=1e-310), ValueError, r"^generate: temperature must be 0 \(greedy\) or at least 1e-300, got 1e-310$"),
    ("NaN scores", lambda: nan_model().generate(IDS, 2), ValueError, r"^generate: the scores of the next token divided by temperature=1\.0 are not all finite: the model's logits hold nan or inf, or the temperature is too small for float64 \(0 is greedy\)$"),
    ("max_new_tokens a float", lambda: model().generate(IDS, 2.5), TypeError, r"^generate: max_new_tokens must be an int >= 0, got 2\.5$"),
    ("seed", lambda: next(model().stream(IDS, 2, seed=-1)), ValueError, r"^generate: seed must be an int >= 0, got -1$"),
    ("use_cache", lambda: model().generate(IDS, 2, use_cache="no"), TypeError, r"^generate: use_cache must be a bool \(True or False\), got 'no'$"),
    ("a 1-D prompt", lambda: model().generate(np.array([1, 2]), 2), ValueError, r"^generate: idx must be a \(B, T\) array of integer token ids with T >= 1, got shape \(2,\), dtype int64$"),
    ("start", lambda: model().next_token_logits(IDS, start=-1), ValueError, r"^GPT\.next_token_logits: start must be an int >= 0, got -1$"),
    ("past block_size", lambda: model().next_token_logits(IDS, start=6), ValueError, r"^GPT\.next_token_logits: positions 6\.\.8 \(start=6\) exceed block_size 8$"),
    ("caches", lambda: entered(model(), []), ValueError, r"^GPT\.kv_caches: caches must be a list of 1 KVCaches, one per block, got \[\]$"),
    ("a cache", lambda: entered(model(), [1]), TypeError, r"^GPT\.kv_caches: each of caches must be a KVCache, got 1$"),
    ("from_state_dict config", lambda: GPT.from_state_dict(model().state_dict(), None), TypeError, r"^GPT\.from_state_dict: config must be a GPTConfig, got None$"),
    ("from_pretrained", lambda: GPT.from_pretrained(3), TypeError, r"^GPT\.from_pretrained: name_or_folder must be a non-empty str or a pathlib\.Path, got 3$"),
    ("save_pretrained", lambda: model().save_pretrained(""), ValueError, r"^GPT\.save_pretrained: folder must be a non-empty str or a pathlib\.Path, got ''$"),
    ("crop", lambda: model().crop_block_size(9), ValueError, r"^crop_block_size: block_size must be an int in 1\.\.8, got 9$"),
    ("n_kv_head", lambda: GPTConfig(n_head=4, n_kv_head=np.int64(3)), ValueError, r"^GPTConfig: n_kv_head must be None or a divisor of n_head=4 \(1 = multi-query, n_head = multi-head attention\), got np\.int64\(3\)$"),
    ("norm an array", lambda: GPTConfig(norm=np.array(["rmsnorm"])), ValueError, r"^GPTConfig: norm must be 'layernorm' or 'rmsnorm', got array\(\['rmsnorm'\], dtype='<U7'\)$"),
    ("qkv an array", lambda: CausalSelfAttention(GPTConfig(**TINY)).heads(np.ones((1, 2, 24), np.float32)), TypeError, r"^CausalSelfAttention\.heads: qkv must be c_attn's output, a floating point Tensor \(B, T, 24\), got an ndarray of shape \(1, 2, 24\)$"),
    ("qkv too narrow", lambda: CausalSelfAttention(GPTConfig(**TINY)).queries_keys(np.ones((1, 2, 8), np.float32)), ValueError, r"^CausalSelfAttention\.queries_keys: qkv must be c_attn's output, a floating point ndarray \(B, T, 24\), got shape \(1, 2, 8\), dtype float32$"),
    ("offset", lambda: CausalSelfAttention(GPTConfig(**TINY)).heads(x(1, 2, 24), offset=-1), ValueError, r"^CausalSelfAttention\.heads: offset must be an int >= 0, got -1$"),
    ("sliding", lambda: KVCache(4, sliding=1), TypeError, r"^KVCache: sliding must be a bool, got 1$"),
    ("k and v", lambda: KVCache(4).update(np.ones((1, 2, 1, 4)), np.ones((1, 2, 1, 4))), ValueError, r"^KVCache\.update: k and v must be Tensors of one shape \(B, nkv, T, hs\), got an ndarray of shape \(1, 2, 1, 4\) and an ndarray of shape \(1, 2, 1, 4\)$"),
    ("mask T", lambda: KVCache(4).attention_mask(2), ValueError, r"^KVCache\.attention_mask: T must be an int in 1\.\.0 \(the keys returned\), got 2$"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "error", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_the_message_names_the_method_the_argument_and_what_is_allowed(
    make: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_numpy_integers_are_ints_for_the_model() -> None:
    config = GPTConfig(**{k: np.int64(v) for k, v in TINY.items()})
    assert all(type(getattr(config, k)) is int for k in TINY), "a config holds plain ints (asdict, JSON)"
    m = GPT(config)
    out = m.generate(IDS, np.int64(3), top_k=np.uint64(3), seed=np.uint8(1))
    assert out.shape == (1, 6), "max_new_tokens=np.int64(3)"
    assert np.array_equal(out, m.generate(IDS, 3, top_k=3, seed=1)), "the same tokens as with Python ints"
    m.crop_block_size(np.int32(4))
    assert m.config.block_size == 4 and type(m.config.block_size) is int, "crop_block_size(np.int32(4))"
    assert GPTConfig(n_head=4, n_kv_head=np.int64(2)).n_kv_head == 2, "n_kv_head=np.int64(2) is 2"
    cache = KVCache(np.int64(8), sliding=np.False_)
    ones = Tensor(np.ones((1, 1, 5, 2), np.float32))
    cache.update(ones, ones)
    assert cache.attention_mask(np.uint64(2)).shape == (2, 5), "attention_mask(np.uint64(2)): no wrap in pos - T"


def test_a_tiny_temperature_that_fits_float64_is_nearly_greedy() -> None:
    m = model()
    greedy = m.generate(IDS, 4, temperature=0)
    assert np.array_equal(m.generate(IDS, 4, temperature=1e-300, seed=0), greedy), "T -> 0 is argmax"

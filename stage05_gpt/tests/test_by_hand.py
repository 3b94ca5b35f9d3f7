"""The GPT's exercises on tiny inputs, against plain NumPy references, with the classic mistakes named.

Each test is written for one exercise (its marker runs it first). Where a module under test calls
other modules, these are replaced by simple stand-ins (a Linear), so that the test checks the
exercise's own wiring and nothing else; forward hooks record which modules a forward used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.autograd import Tensor, no_grad
from numpygpt.autograd.exercises import check_value, raises
from numpygpt.models import GPT, GPTConfig
from numpygpt.models.heads import SplitHeads

TINY = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)
pytestmark = pytest.mark.model


def tiny_gpt(**overrides: Any) -> GPT:
    nn.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **overrides})).double()


def record_calls(*modules: nn.Module) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Forward hooks that record each call's (first input, output) per module, keyed by id(module)."""
    calls: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {id(m): [] for m in modules}
    for m in modules:
        m.register_forward_hook(lambda mod, args, out: calls[id(mod)].append((args[0].data.copy(), out.data.copy())))
    return calls


class StandIn(nn.Module):
    """A stand-in for a sub-layer (attention, MLP, block): one float64 Linear(n, n) of its own weights,
    named c_fc so that the checks of the modules around it find the width they expect."""

    def __init__(self, n: int, seed: int) -> None:
        super().__init__()
        nn.manual_seed(seed)
        self.c_fc = nn.Linear(n, n).double()

    def forward(self, x: Tensor) -> Tensor:
        return self.c_fc(x)


def stand_in(n: int, seed: int) -> StandIn:
    return StandIn(n, seed)


# ----- exercise 5.1: CausalSelfAttention.forward ---------------------------------------------------
def attention_by_hand(
    attn: nn.Module, x: np.ndarray, causal: bool = True, order: str = "qkv", project: bool = True
) -> np.ndarray:
    """Causal multi-head self-attention of x (B, T, C) in plain NumPy with attn's weights (a knob per mistake)."""
    B, T, C = x.shape
    nh = attn.n_head
    hs = C // nh
    qkv = x @ attn.c_attn.weight.data.T + attn.c_attn.bias.data  # (B, T, 3C)
    parts = dict(zip(order, (qkv[..., i * C : (i + 1) * C] for i in range(3)), strict=True))
    q, k, v = (parts[n].reshape(B, T, nh, hs).transpose(0, 2, 1, 3) for n in "qkv")  # (B, nh, T, hs)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)  # (B, nh, T, T)
    if causal:
        s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    y = (p / p.sum(axis=-1, keepdims=True) @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ attn.c_proj.weight.data.T + attn.c_proj.bias.data if project else y


@pytest.mark.ex5_1
def test_causal_self_attention_by_hand() -> None:
    attn = tiny_gpt().transformer.h[0].attn.eval()
    x = np.random.default_rng(1).standard_normal((2, 8, 16))
    check_value(
        attn(Tensor(x)).data,
        attention_by_hand(attn, x),
        "CausalSelfAttention's output (eval mode)",
        {
            "position t saw later positions: the attention must be causal (is_causal=True)": attention_by_hand(
                attn, x, causal=False
            ),
            "c_attn's output is q, k, v in that order, each C wide: the roles are mixed up": attention_by_hand(
                attn, x, order="kqv"
            ),
            "the heads' output did not go through c_proj": attention_by_hand(attn, x, project=False),
        },
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.ex5_1
def test_causal_self_attention_dropout_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpygpt.nn.functional as F

    attn = tiny_gpt(dropout=0.3).transformer.h[0].attn
    seen: list[float] = []
    real = F.scaled_dot_product_attention

    def spy(*args: Any, **kwargs: Any) -> Tensor:
        seen.append(kwargs.get("dropout_p", 0.0))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    calls = record_calls(attn.c_proj, attn.resid_dropout)
    x = Tensor(np.random.default_rng(2).standard_normal((2, 8, 16)))
    attn.train()(x)
    assert seen == [0.3], (
        f"in training mode attention's dropout_p was {seen}: the attention weights are dropped out with "
        "p = config.dropout while training"
    )
    assert calls[id(attn.resid_dropout)], "resid_dropout was never called: the output of c_proj goes through it"
    assert np.array_equal(calls[id(attn.resid_dropout)][0][0], calls[id(attn.c_proj)][0][1]), (
        "resid_dropout was not applied to c_proj's output: attention's output is resid_dropout(c_proj(heads))"
    )
    seen.clear()
    attn.eval()(x)
    assert seen == [0.0], (
        f"in eval mode attention's dropout_p was {seen}: a functional op does not know model.eval(), so pass "
        "dropout_p=0.0 when not self.training"
    )


# ----- exercise 5.2: Block.forward -----------------------------------------------------------------
@pytest.mark.ex5_2
def test_block_by_hand() -> None:
    block = tiny_gpt().transformer.h[0]
    block.attn, block.mlp = stand_in(16, 1), stand_in(16, 2)  # the sub-layers stand-ins: only the wiring is tested
    for ln, seed in ((block.ln_1, 3), (block.ln_2, 4)):  # two different LayerNorms, so that each is recognised
        ln.weight.data[...] = np.random.default_rng(seed).uniform(0.5, 2.0, 16)
        ln.bias.data[...] = np.random.default_rng(seed + 10).standard_normal(16)
    x = np.random.default_rng(5).standard_normal((2, 8, 16))

    def f(module: nn.Module, a: np.ndarray) -> np.ndarray:
        return module(Tensor(a)).data

    attn: Callable[[np.ndarray], np.ndarray] = lambda a: f(block.attn, a)  # noqa: E731
    mlp: Callable[[np.ndarray], np.ndarray] = lambda a: f(block.mlp, a)  # noqa: E731
    ln1: Callable[[np.ndarray], np.ndarray] = lambda a: f(block.ln_1, a)  # noqa: E731
    ln2: Callable[[np.ndarray], np.ndarray] = lambda a: f(block.ln_2, a)  # noqa: E731
    h = x + attn(ln1(x))
    no_residual = attn(ln1(x))
    post = ln1(x + attn(x))
    check_value(
        f(block, x),
        h + mlp(ln2(h)),
        "Block's output",
        {
            "the attention's output replaced the stream: each sub-layer adds to it (x = x + ...)": no_residual
            + mlp(ln2(no_residual)),
            "the MLP's output replaced the stream: each sub-layer adds to it (x = x + ...)": mlp(ln2(h)),
            "the MLP read ln_1's normalisation: each sub-layer has its own LayerNorm (ln_2 before the MLP)": h
            + mlp(ln1(h)),
            "the MLP read the block's input: it reads the stream after attention has added to it": h + mlp(ln2(x)),
            "the LayerNorms come after the sub-layers (post-LN): GPT-2 normalises each sub-layer's input (pre-LN)": (
                ln2(post + mlp(post))
            ),
        },
        rtol=1e-9,
        atol=1e-12,
    )


# ----- exercise 5.3: GPT.forward -------------------------------------------------------------------
@pytest.mark.ex5_3
def test_gpt_forward_by_hand() -> None:
    model = tiny_gpt()
    tr = model.transformer
    tr.h = nn.ModuleList([stand_in(16, 6), stand_in(16, 7)])  # the blocks' stand-ins
    tr.ln_f.weight.data[...] = np.random.default_rng(8).uniform(0.5, 2.0, 16)
    calls = record_calls(tr.drop, *tr.h)
    idx = np.random.default_rng(9).integers(0, 11, (3, 8))
    targets = np.random.default_rng(10).integers(0, 11, (3, 8))
    logits, loss = model(idx, targets)

    def run(embed: np.ndarray, blocks: list[nn.Module], final: bool = True) -> np.ndarray:
        x = Tensor(embed)
        for b in blocks:
            x = b(x)
        return model.lm_head(tr.ln_f(x) if final else x).data

    tok, pos = tr.wte.weight.data[idx], tr.wpe.weight.data[:8]
    assert calls[id(tr.drop)], (
        "transformer.drop was never called: the embeddings go through it (dropout in training, the identity in eval)"
    )
    check_value(
        calls[id(tr.drop)][0][0],
        tok + pos,
        "what transformer.drop received",
        {"the position embedding is missing: the blocks read token embedding + position embedding": tok},
        rtol=1e-12,
    )
    check_value(
        logits.data,
        run(tok + pos, list(tr.h)),
        "GPT's logits",
        {
            "the position embedding is missing: the blocks read token embedding + position embedding (wpe of "
            "positions 0..T-1)": run(tok, list(tr.h)),
            "ln_f is missing: the stream is normalised once more after the last block, before lm_head": run(
                tok + pos, list(tr.h), final=False
            ),
            "only the last block ran: x goes through every block in turn": run(tok + pos, list(tr.h)[-1:]),
            "the blocks ran in reverse: transformer.h[0] comes first": run(tok + pos, list(tr.h)[::-1]),
        },
        rtol=1e-9,
        atol=1e-12,
    )
    z = logits.data.reshape(24, 11)
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    check_value(
        loss.item(),
        -logp[np.arange(24), targets.reshape(-1)].mean(),
        "GPT's loss",
        {
            "the targets were flattened in (T, B) order: flatten logits and targets alike, row b*T + t for "
            "position t of sequence b": -logp[np.arange(24), targets.T.reshape(-1)].mean(),
            "it is the sum over the B*T positions: the loss is their mean": -logp[
                np.arange(24), targets.reshape(-1)
            ].sum(),
        },
        rtol=1e-9,
    )
    with raises(
        ValueError,
        r"GPT\.forward: targets shape \(4, 6\) should equal idx shape \(3, 8\)",
        "targets of another shape than idx must stop forward with ValueError('GPT.forward: targets shape (4, 6) "
        "should equal idx shape (3, 8)'): one target per position, even when the sizes agree",
    ):
        model(idx, targets.reshape(4, 6))


# ----- exercise 5.5: SplitHeads.backward -----------------------------------------------------------
@pytest.mark.ex5_5
@pytest.mark.parametrize("nh, nkv", [(2, 2), (4, 2)], ids=["multi_head", "grouped"])
def test_split_heads_backward_by_hand(nh: int, nkv: int) -> None:
    B, T, hs = 2, 3, 4
    qkv = Tensor(np.random.default_rng(11).standard_normal((B, T, (nh + 2 * nkv) * hs)), requires_grad=True)
    f = SplitHeads(nh, nkv)
    f(qkv)
    rng = np.random.default_rng(12)
    gq, gk, gv = (rng.standard_normal((B, n, T, hs)) for n in (nh, nkv, nkv))
    with no_grad():  # as the engine calls a backward
        (got,) = f.backward(Tensor(gq), Tensor(gk), Tensor(gv))
    slots = [g.transpose(0, 2, 1, 3) for g in (gq, gk, gv)]  # each (B, T, heads, hs)
    swapped = [g.transpose(0, 2, 1, 3) for g in (gk, gq, gv)] if nh == nkv else None
    mistakes = {
        "the heads were reshaped, not transposed, into place: (B, heads, T, hs) -> (B, T, heads, hs) swaps two "
        "axes, which a reshape does not do": np.concatenate(
            [g.reshape(B, T, -1, hs) for g in (gq, gk, gv)], axis=2
        ).reshape(B, T, -1),
    }
    if swapped is not None:
        mistakes["gq and gk went into each other's slots: c_attn's output holds q, then k, then v"] = np.concatenate(
            swapped, axis=2
        ).reshape(B, T, -1)
    check_value(
        got.data,
        np.concatenate(slots, axis=2).reshape(B, T, -1),
        f"SplitHeads.backward's gradient ({nh} query heads, {nkv} key/value heads)",
        mistakes,
    )

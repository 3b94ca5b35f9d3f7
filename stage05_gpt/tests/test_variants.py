"""The architecture options of GPTConfig: RMSNorm, SwiGLU, rotary positions, grouped-query attention.

Each option against a plain NumPy reference or its defining property, its parameters and FLOP
count, the invalid combinations, and each variant trained, saved and sampled. The defaults are
GPT-2 as before: test_model.py's parity with PyTorch and test_pretrained.py's with Hugging Face
run on them unchanged.
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.autograd import Tensor, gradcheck
from numpygpt.checkpoint import load_checkpoint, save_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.diagnostics import Probe
from numpygpt.export import main as export_main
from numpygpt.inspect import attention_maps
from numpygpt.models import GPT, GPTConfig
from numpygpt.models.heads import split_heads
from numpygpt.sample import load_model, sample
from numpygpt.train import train

pytestmark = pytest.mark.variants
TINY = dict(block_size=8, vocab_size=11, n_layer=2, n_head=4, n_embd=16)
LLAMA = dict(norm="rmsnorm", mlp="swiglu", position="rope", n_kv_head=2)
VARIANTS = {
    "rmsnorm": dict(norm="rmsnorm"),
    "swiglu": dict(mlp="swiglu"),
    "rope": dict(position="rope"),
    "gqa": dict(n_kv_head=2),
    "mqa": dict(n_kv_head=1),
    "llama": LLAMA,
}


def gpt(seed: int = 0, **options: object) -> GPT:
    nn.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **options}))


def rotate(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """RoPE by hand, rotate-half convention: the pair (x_i, x_{i+hs/2}) turned by the angle p * 10000^(-2i/hs)."""
    half = x.shape[-1] // 2
    angle = positions[:, None] * 10000.0 ** (-np.arange(half) * 2 / x.shape[-1])  # (T, hs/2)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * np.cos(angle) - x2 * np.sin(angle), x2 * np.cos(angle) + x1 * np.sin(angle)], -1)


def attention_reference(attn: nn.Module, x: np.ndarray, n_head: int, n_kv_head: int, rope: bool) -> np.ndarray:
    """Causal self-attention of x (B, T, C) in plain NumPy with attn's weights: c_attn's output holds
    n_head query heads, then n_kv_head key and n_kv_head value heads; query head h reads key/value
    head h // (n_head / n_kv_head); with rope, q and k are rotated by their positions first."""
    B, T, C = x.shape
    hs = C // n_head
    qkv = x @ attn.c_attn.weight.data.T + attn.c_attn.bias.data  # (B, T, (nh + 2 nkv) hs)
    widths = np.cumsum([n_head * hs, n_kv_head * hs])
    q, k, v = (a.reshape(B, T, -1, hs).transpose(0, 2, 1, 3) for a in np.split(qkv, widths, axis=-1))
    if rope:
        q, k = rotate(q, np.arange(T)), rotate(k, np.arange(T))
    k, v = (np.repeat(a, n_head // n_kv_head, axis=1) for a in (k, v))  # (B, nh, T, hs): shared heads repeated
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return y @ attn.c_proj.weight.data.T + attn.c_proj.bias.data


# ----- attention: grouped heads and rotary positions ----------------------------------------------
@pytest.mark.ex5_1
@pytest.mark.model
@pytest.mark.parametrize("position", ["learned", "rope"])
@pytest.mark.parametrize("n_kv_head", [4, 2, 1], ids=["multi-head", "grouped", "multi-query"])
def test_attention_options_match_a_numpy_reference(n_kv_head: int, position: str) -> None:
    attn = gpt(n_kv_head=n_kv_head, position=position).double().transformer.h[0].attn
    x = np.random.default_rng(1).standard_normal((2, 8, 16))
    np.testing.assert_allclose(
        attn(Tensor(x)).data,
        attention_reference(attn, x, 4, n_kv_head, position == "rope"),
        rtol=1e-5,  # RoPE's tables are float32 (as the model runs): 1e-7 off the exact angles
        atol=1e-7,
        err_msg=f"CausalSelfAttention with n_kv_head={n_kv_head}, position={position!r}: split c_attn(x) into "
        "n_head query heads and n_kv_head key/value heads (split_heads(..., n_head, n_kv_head)), rotate q and k "
        "when self.rotary is set, attend causally (is_causal=True: position t sees 0..t only) with "
        "enable_gqa=self.grouped",
    )


@pytest.mark.model
def test_n_kv_head_equal_to_n_head_is_plain_attention_bit_for_bit() -> None:
    plain, same = gpt(), gpt(n_kv_head=4)
    a, b = plain.state_dict(), same.state_dict()
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a), "the same names, shapes and init"
    x = np.random.default_rng(0).integers(0, 11, (3, 8))
    la, loss_a = plain(x, np.roll(x, -1, 1))
    lb, loss_b = same(x, np.roll(x, -1, 1))
    loss_a.backward()
    loss_b.backward()
    np.testing.assert_array_equal(la.data, lb.data)
    for (name, p), q in zip(plain.named_parameters(), same.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.data, err_msg=name)


@pytest.mark.ex5_1
@pytest.mark.model
def test_rope_attention_scores_depend_only_on_distance(fused_attention_probs) -> None:
    # One token repeated: with rope (no position table) every position's input to layer 0 is the
    # same, so log P[m, n] - log P[m, m] = s(n - m) - s(0) must depend on the distance n - m only.
    def log_ratios(model: GPT) -> np.ndarray:
        model.transformer.h[0].attn.c_attn.weight.data *= 30  # scores of a few units, not of init's ~0.01
        logits, _ = model(np.full((1, 8), 3))
        p = fused_attention_probs(logits)[0][0]  # layer 0's attention weights (nh, T, T), 0 above the diagonal
        with np.errstate(divide="ignore"):
            return np.log(p) - np.log(np.diagonal(p, axis1=1, axis2=2))[..., None]  # (nh, m, n)

    r = log_ratios(gpt(position="rope").double())
    for d in range(1, 8):
        at_d = np.stack([r[:, m, m - d] for m in range(d, 8)], axis=1)  # (nh, the queries at distance d)
        np.testing.assert_allclose(
            at_d, at_d[:, :1].repeat(at_d.shape[1], 1), atol=1e-5, err_msg=f"distance {d}: scores differ by position"
        )
    assert not np.allclose(r[:, 3, 2], r[:, 3, 1], atol=0.1), "the scores must change with the distance"
    learned = log_ratios(gpt().double())  # learned positions: the absolute position is in every score
    assert not np.allclose(learned[:, 2, 1], learned[:, 3, 2], atol=0.1)


@pytest.mark.ex5_3
@pytest.mark.model
def test_rope_rotations_are_where_the_order_of_tokens_comes_from() -> None:
    # One layer, no position table: without its rotations, attention is a weighted average over a
    # set of keys, blind to the order of the tokens before the last one.
    model = gpt(position="rope", n_layer=1)
    assert "wpe" not in model.transformer
    attn = model.transformer.h[0].attn
    attn.c_attn.weight.data *= 30  # scores of a few units: attention that depends on where it looks
    ab, ba = np.array([[1, 2, 3, 4]]), np.array([[2, 1, 3, 4]])
    assert not np.allclose(model(ab)[0].data[0, -1], model(ba)[0].data[0, -1], atol=1e-4)
    attn.rotary = None
    np.testing.assert_allclose(model(ab)[0].data[0, -1], model(ba)[0].data[0, -1], atol=1e-6)


# ----- the MLP and the norm -----------------------------------------------------------------------
@pytest.mark.model
def test_swiglu_mlp_is_silu_of_c_fc_times_c_up_then_c_proj() -> None:
    mlp = gpt(mlp="swiglu").double().transformer.h[0].mlp
    x = np.random.default_rng(2).standard_normal((2, 8, 16))
    gate = x @ mlp.c_fc.weight.data.T + mlp.c_fc.bias.data
    up = x @ mlp.c_up.weight.data.T + mlp.c_up.bias.data
    expected = (gate / (1 + np.exp(-gate)) * up) @ mlp.c_proj.weight.data.T + mlp.c_proj.bias.data
    np.testing.assert_allclose(mlp(Tensor(x)).data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_embd, hidden", [(16, 64), (128, 384), (768, 2048), (4096, 10944)])
def test_swiglu_hidden_size_is_8_thirds_rounded_up_to_64(n_embd: int, hidden: int) -> None:
    assert GPTConfig(n_embd=n_embd, n_head=4, mlp="swiglu").mlp_hidden == hidden
    assert GPTConfig(n_embd=n_embd, n_head=4).mlp_hidden == 4 * n_embd


@pytest.mark.model
def test_rmsnorm_divides_by_the_root_mean_square_and_subtracts_no_mean() -> None:
    model = gpt(norm="rmsnorm").double()
    ln = model.transformer.h[0].ln_1
    x = np.random.default_rng(3).standard_normal((2, 8, 16)) + 5.0  # far from zero mean
    y = ln(Tensor(x)).data
    np.testing.assert_allclose(y, x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-5), rtol=1e-12)
    assert isinstance(model.transformer.ln_f, nn.RMSNorm) and abs(y.mean()) > 0.5


@pytest.mark.model
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_option_has_the_parameters_the_lesson_lists(variant: str) -> None:
    options = VARIANTS[variant]
    sd = gpt(**options).state_dict()
    c = GPTConfig(**{**TINY, **options})
    hs, nkv = 16 // 4, c.kv_heads
    assert ("transformer.wpe.weight" in sd) == (c.position == "learned")
    assert ("transformer.h.0.ln_1.bias" in sd) == (c.norm == "layernorm")
    assert sd["transformer.h.0.ln_1.weight"].shape == sd["transformer.ln_f.weight"].shape == (16,)
    assert sd["transformer.h.0.attn.c_attn.weight"].shape == ((4 + 2 * nkv) * hs, 16)
    assert sd["transformer.h.0.attn.c_proj.weight"].shape == (16, 16)
    H = c.mlp_hidden
    assert sd["transformer.h.1.mlp.c_fc.weight"].shape == (H, 16) and sd["transformer.h.1.mlp.c_proj.weight"].shape == (
        16,
        H,
    )
    assert ("transformer.h.1.mlp.c_up.weight" in sd) == (c.mlp == "swiglu")
    if c.mlp == "swiglu":
        assert sd["transformer.h.1.mlp.c_up.weight"].shape == (H, 16)


@pytest.mark.model
@pytest.mark.parametrize("variant", ["baseline", *VARIANTS])
def test_flops_per_token_count_each_option(variant: str) -> None:
    c = GPTConfig(**{**TINY, **VARIANTS.get(variant, {})})
    C, H, hs, L = c.n_embd, c.mlp_hidden, c.n_embd // c.n_head, c.n_layer
    attn = C * (c.n_head + 2 * c.kv_heads) * hs + (c.n_head + 2 * c.kv_heads) * hs + C * C + C  # c_attn, c_proj
    mlp = 3 * C * H + 2 * H + C if c.mlp == "swiglu" else 2 * C * H + H + C  # c_fc (+ c_up), c_proj
    norms = (C if c.norm == "rmsnorm" else 2 * C) * (2 * L + 1)
    matmul_params = c.vocab_size * C + L * (attn + mlp) + norms  # the position table is a lookup: not counted
    model = gpt(**VARIANTS.get(variant, {}))
    assert model.num_parameters() == matmul_params + (c.block_size * C if c.position == "learned" else 0)
    assert model.flops_per_token() == 6 * matmul_params + 12 * L * C * c.block_size


# ----- mistakes -----------------------------------------------------------------------------------
@pytest.mark.model
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(norm="batchnorm"), "GPTConfig: norm must be 'layernorm' or 'rmsnorm', got 'batchnorm'"),
        (dict(mlp="relu"), "GPTConfig: mlp must be 'gelu' or 'swiglu', got 'relu'"),
        (dict(position="alibi"), "GPTConfig: position must be 'learned' or 'rope', got 'alibi'"),
        (dict(n_kv_head=3), r"GPTConfig: n_kv_head must be None or a divisor of n_head=4 .*, got 3"),
        (dict(n_kv_head=8), r"n_kv_head must be None or a divisor of n_head=4 \(1 = multi-query.*got 8"),
        (dict(n_kv_head=0), "n_kv_head must be None or a divisor of n_head=4 .*got 0"),
        (dict(n_kv_head=True), "n_kv_head must be None or a divisor of n_head=4 .*got True"),
        (dict(n_kv_head=2.0), r"n_kv_head must be None or a divisor of n_head=4 .*got 2\.0"),
        (
            dict(position="rope", n_embd=12),
            r"GPTConfig: position='rope' rotates pairs of numbers and needs an even head size; n_embd / n_head = 12 / 4 = 3",
        ),
        (dict(mlp="swiglu", gelu="none"), "GPTConfig: gelu='none' has no effect with mlp='swiglu'"),
    ],
)
def test_invalid_options_and_combinations_are_errors_naming_the_fields(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**TINY, **options})


# ----- gradients, training, checkpoints -----------------------------------------------------------
@pytest.mark.gradients
def test_gradcheck_of_a_tiny_llama_end_to_end() -> None:
    model = gpt(block_size=4, vocab_size=7, n_embd=8, n_head=2, n_layer=1, **{**LLAMA, "n_kv_head": 1}).double()
    idx = np.random.default_rng(0).integers(0, 7, (2, 4))
    assert gradcheck(lambda *ps: model(idx, np.roll(idx, -1, 1))[1], *model.parameters(), atol=1e-6, rtol=1e-4)


@pytest.mark.ex5_5
@pytest.mark.gradients
def test_split_heads_of_grouped_attention_cuts_q_then_k_then_v() -> None:
    rng = np.random.default_rng(0)
    B, T, nh, nkv, hs = 2, 5, 4, 2, 3
    x = Tensor(rng.standard_normal((B, T, (nh + 2 * nkv) * hs)), requires_grad=True)
    q, k, v = split_heads(x, nh, nkv)
    assert q.shape == (B, nh, T, hs) and k.shape == v.shape == (B, nkv, T, hs)
    heads = x.data.reshape(B, T, nh + 2 * nkv, hs).transpose(0, 2, 1, 3)  # (B, heads, T, hs): q, k, v heads in a row
    for got, want in zip((q, k, v), (heads[:, :nh], heads[:, nh : nh + nkv], heads[:, nh + nkv :]), strict=True):
        np.testing.assert_array_equal(got.data, want)
        assert np.shares_memory(got.data, x.data) and got.data.strides[-1] == got.data.itemsize  # a view
    assert gradcheck(lambda x: split_heads(x, nh, nkv), x), (
        "SplitHeads.backward: gq, gk and gv go back into their own head slots: nh of q, then nkv of k, then nkv of v"
    )
    with pytest.raises(ValueError, match=r"split_heads: expected \(B, T, \(n_head \+ 2 n_kv_head\) hs\)"):
        split_heads(x, 4, 3)


@pytest.mark.diagnostics
@pytest.mark.parametrize("variant", ["gqa", "llama"])
def test_diagnostics_and_attention_maps_see_the_probabilities_attention_used(
    variant: str, fused_attention_probs
) -> None:
    # Both watch c_attn's output and recompute the weights: rotated q and k, shared key heads repeated.
    model = gpt(**VARIANTS[variant])
    for block in model.transformer.h:
        block.attn.c_attn.weight.data *= 20  # weights far from uniform
    x = np.random.default_rng(0).integers(0, 11, (2, 8))
    probe = Probe(model)
    _, loss = model(x, np.roll(x, -1, 1))
    used = [p.reshape(2, 4, 8, 8) for p in fused_attention_probs(loss)]  # grouped: (B, nkv, g T, T) is (B, nh, T, T)
    assert len(used) == 2
    got = {(n, st): v for n, st, v in probe.rows}
    for i, p in enumerate(used):
        entropy = -(p * np.log(np.where(p > 0, p, 1))).sum(-1).mean(axis=(0, 2))
        for h in range(4):
            assert got[f"transformer.h.{i}.attn", f"entropy_head{h}"] == pytest.approx(float(entropy[h]), rel=1e-4)
    maps, _ = attention_maps(model, x[0])
    for m, p in zip(maps, used, strict=True):
        np.testing.assert_allclose(m, p[0], rtol=1e-4, atol=1e-6)


@pytest.mark.training
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_learns_saves_and_samples(variant: str, cfg: TrainConfig, capsys) -> None:
    options = {**VARIANTS[variant], **({"n_kv_head": 1} if "n_kv_head" in VARIANTS[variant] else {})}  # n_head 2
    cfg = dataclasses.replace(cfg, **options, max_iters=24, lr_decay_iters=24, learning_rate=1e-2, eval_interval=12)
    summary = train(cfg)
    evals = [r.split(",") for r in (Path(cfg.out_dir) / "metrics.csv").read_text().splitlines()[1:]]
    val = [float(r[-1]) for r in evals if r[-1]]
    assert val[-1] < val[0] - 0.5, f"{variant}: the val loss must fall ({val})"
    ck = load_checkpoint(Path(cfg.out_dir) / "best.npz")
    assert {k: ck["train_config"][k] for k in options} == options, "the checkpoint records the options"
    assert {k: ck["model_config"][k] for k in options} == options
    model, tokenizer = load_model(Path(cfg.out_dir) / "best.npz")
    assert model.config == GPTConfig(**ck["model_config"])
    idx = np.random.default_rng(0).integers(0, tokenizer.vocab_size, (2, 16))
    summary["model"].eval()
    if summary["best_val_loss"] == val[-1]:  # best.npz holds the weights training ended with
        np.testing.assert_array_equal(model(idx)[0].data, summary["model"](idx)[0].data)
    out = sample(model, tokenizer, "ROMEO:", max_new_tokens=30, seed=1, out=io.StringIO())
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 30
    # GPT-2's Hugging Face layout cannot hold it: export refuses in one line, naming what, and writes nothing.
    capsys.readouterr()
    assert export_main([cfg.out_dir, str(Path(cfg.out_dir) / "hf")]) == 2
    err = capsys.readouterr().err
    fields = ", ".join(f"{k}={v!r}" for k, v in options.items())
    assert (
        err.startswith(f"error: save_pretrained: GPT-2's layout has no place for {fields} (") and err.count("\n") == 1
    )
    assert not (Path(cfg.out_dir) / "hf").exists()


@pytest.mark.pretrained
def test_save_pretrained_refuses_every_option_but_one_key_value_head_per_query_head(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"GPT-2's layout has no place for norm='rmsnorm', mlp='swiglu', position='rope', n_kv_head=2 \(Hugging "
        r"Face's GPT-2 has biases, LayerNorm, a GELU MLP 4 n_embd wide, learned positions and a key/value head per "
        r"query head\); keep this model as a numpygpt checkpoint",
    ):
        gpt(**LLAMA).save_pretrained(tmp_path)
    assert not any(tmp_path.iterdir()), "nothing written"
    files = gpt(n_kv_head=4).save_pretrained(tmp_path)  # as many key/value heads as query heads: plain GPT-2
    assert {f.name for f in files} == {"config.json", "model.safetensors"}


@pytest.mark.training
def test_a_checkpoint_from_before_the_options_resumes_and_samples(cfg: TrainConfig) -> None:
    # A run saved before norm, mlp, position and n_kv_head existed has none of them in its configs:
    # their defaults are the model it was, so it resumes and samples as it did.
    train(dataclasses.replace(cfg, max_iters=6))
    last = Path(cfg.out_dir) / "last.npz"
    ck = load_checkpoint(last)
    for name in ("norm", "mlp", "position", "n_kv_head"):
        del ck["train_config"][name], ck["model_config"][name]
    save_checkpoint(last, ck)
    summary = train(dataclasses.replace(cfg, resume=True))
    assert summary["iter"] == 12 and summary["config"].position == "learned"
    model, _ = load_model(last)
    assert model.config == GPTConfig(**{**ck["model_config"]}) and "wpe" in model.transformer

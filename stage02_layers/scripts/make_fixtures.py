"""Write stage02's PyTorch parity fixtures: tests/fixtures/parity.npz.

    python stage02_layers/scripts/make_fixtures.py      (from the repo root, torch's CPU build)

Needs numpy and torch (made with torch 2.13.0+cpu), never numpygpt: the fixtures record
what PyTorch computes, and stage02's tests (which never import torch) compare numpygpt
against them. Rerunning it with the same torch writes a byte-identical file.

For every functional op and layer, one *case* is stored under keys `<case>/...`, float32:

    <case>/op           the op ("linear", "softmax", ...) or "layer:<Name>" for a layer
    <case>/kw/<name>    keyword arguments (dim, reduction, is_causal, ...; layers: constructor args)
    <case>/in/<name>    float inputs that receive a gradient (x, weight, q, ...)
    <case>/const/<name> inputs that do not (integer ids and targets, masks)
    <case>/param/<name> a layer's parameters, by state_dict name
    <case>/gy           a random upstream gradient of the output's shape
    <case>/out          torch's output
    <case>/grad/<name>  torch's gradient of sum(gy * out) for each input and parameter

    model/names         the nested model's parameter names, in torch's order

Inputs come from a seeded NumPy generator; layer parameters from torch's own initialisation
after torch.manual_seed(0). The ops PyTorch does not have (swiglu, rotary embeddings) come
from small torch references below, written as Hugging Face's LLaMA code computes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "parity.npz"
rng = np.random.default_rng(1234)
store: dict[str, np.ndarray] = {}


def randn(*shape: int, scale: float = 1.0) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape) * scale, dtype=np.float32)  # 0-d for shape ()


def away_from_zero(*shape: int) -> np.ndarray:
    """Values with |x| >= 0.1, so relu's kink at 0 is never hit."""
    x = randn(*shape)
    return np.where(np.abs(x) < 0.1, np.sign(x + 1e-12) * 0.1 + x, x).astype(np.float32)


def put_kw(case: str, kw: dict[str, Any]) -> None:
    for k, v in kw.items():
        store[f"{case}/kw/{k}"] = np.asarray(v)


def finish(case: str, out: torch.Tensor, grads: dict[str, torch.Tensor]) -> None:
    """Backpropagate a random upstream gradient and store output and gradients."""
    gy = randn(*out.shape)
    out.backward(torch.from_numpy(gy))
    store[f"{case}/gy"] = gy
    store[f"{case}/out"] = out.detach().numpy().astype(np.float32)
    for name, t in grads.items():
        assert t.grad is not None, f"{case}: no gradient for {name}"
        store[f"{case}/grad/{name}"] = t.grad.numpy().astype(np.float32)


def op_case(
    case: str,
    op: str,
    fn: Callable[..., torch.Tensor],
    inputs: dict[str, np.ndarray],
    consts: dict[str, np.ndarray] | None = None,
    **kw: Any,
) -> None:
    """Record torch's `fn(**inputs, **consts, **kw)` for a functional op."""
    consts = consts or {}
    store[f"{case}/op"] = np.asarray(op)
    put_kw(case, kw)
    tin = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    for k, v in inputs.items():
        store[f"{case}/in/{k}"] = v
    for k, v in consts.items():
        store[f"{case}/const/{k}"] = v
    out = fn(**tin, **{k: torch.from_numpy(v) for k, v in consts.items()}, **kw)
    finish(case, out, tin)


def layer_case(case: str, module: nn.Module, kw: dict[str, Any], x: np.ndarray, train: bool = True) -> None:
    """Record a layer: its constructor args, its parameters, output and every gradient."""
    store[f"{case}/op"] = np.asarray(f"layer:{type(module).__name__}")
    put_kw(case, kw)
    module.train(train)
    params = dict(module.named_parameters())
    for name, p in params.items():
        store[f"{case}/param/{name}"] = p.detach().numpy().astype(np.float32).copy()
    if x.dtype.kind in "iu":
        store[f"{case}/const/x"] = x
        out = module(torch.from_numpy(x))
        finish(case, out, params)
    else:
        store[f"{case}/in/x"] = x
        tx = torch.tensor(x, requires_grad=True)
        out = module(tx)
        finish(case, out, {"x": tx, **params})


def functional_cases() -> None:
    # linear: 3-D and 2-D input, with and without bias
    op_case("linear", "linear", F.linear, {"input": randn(2, 3, 4), "weight": randn(5, 4), "bias": randn(5)})
    op_case("linear_no_bias", "linear", F.linear, {"input": randn(3, 4), "weight": randn(5, 4)})

    # embedding: repeated ids, so gradient rows are sums
    ids = np.array([[0, 2, 2, 5], [5, 5, 1, 0]], dtype=np.int64)
    op_case(
        "embedding",
        "embedding",
        lambda weight, input: F.embedding(input, weight),
        {"weight": randn(7, 3)},
        {"input": ids},
    )

    # layer_norm over the last dimension (affine, no bias, no affine) and over the last two
    x = randn(2, 3, 8) * 2 + 0.5
    op_case(
        "layer_norm",
        "layer_norm",
        F.layer_norm,
        {"input": x, "weight": randn(8), "bias": randn(8)},
        normalized_shape=(8,),
    )
    op_case("layer_norm_no_bias", "layer_norm", F.layer_norm, {"input": x, "weight": randn(8)}, normalized_shape=(8,))
    op_case("layer_norm_no_affine", "layer_norm", F.layer_norm, {"input": x}, normalized_shape=(8,))
    op_case(
        "layer_norm_2d",
        "layer_norm",
        F.layer_norm,
        {"input": randn(2, 3, 4), "weight": randn(3, 4), "bias": randn(3, 4)},
        normalized_shape=(3, 4),
        eps=1e-3,
    )

    # activations, over a range that reaches GELU's tails
    xa = np.concatenate([randn(4, 16) * 3, np.linspace(-8, 8, 16, dtype=np.float32)[None]])
    op_case("gelu_none", "gelu", F.gelu, {"input": xa}, approximate="none")
    op_case("gelu_tanh", "gelu", F.gelu, {"input": xa}, approximate="tanh")
    op_case("relu", "relu", F.relu, {"input": away_from_zero(4, 8)})

    # softmax and log_softmax along several dimensions
    xs = randn(3, 4, 5, scale=3.0)
    for dim in (0, 1, -1):
        name = f"m{-dim}" if dim < 0 else str(dim)
        op_case(f"softmax_dim{name}", "softmax", F.softmax, {"input": xs}, dim=dim)
        op_case(f"log_softmax_dim{name}", "log_softmax", F.log_softmax, {"input": xs}, dim=dim)

    # cross_entropy: each reduction, ignore_index, the (N, C, d1) form, huge logits
    logits = randn(6, 5, scale=2.0)
    t = np.array([0, 4, 2, -100, 1, 2], dtype=np.int64)
    for red in ("mean", "sum", "none"):
        op_case(
            f"cross_entropy_{red}", "cross_entropy", F.cross_entropy, {"input": logits}, {"target": t}, reduction=red
        )
    t2 = np.array([0, 4, 2, 2, 1, 2], dtype=np.int64)
    op_case(
        "cross_entropy_ignore_2", "cross_entropy", F.cross_entropy, {"input": logits}, {"target": t2}, ignore_index=2
    )
    t3 = rng.integers(0, 4, size=(2, 3)).astype(np.int64)
    t3[1, 2] = -100
    for red in ("mean", "none"):
        op_case(
            f"cross_entropy_nc_d1_{red}",
            "cross_entropy",
            F.cross_entropy,
            {"input": randn(2, 4, 3)},
            {"target": t3},
            reduction=red,
        )
    op_case(
        "cross_entropy_large_logits",
        "cross_entropy",
        F.cross_entropy,
        {"input": randn(4, 5, scale=1e4)},
        {"target": t2[:4]},
    )

    # dropout: torch's mask cannot be reproduced, so the test checks its scaling, not the mask
    op_case("dropout", "dropout", F.dropout, {"input": away_from_zero(8, 16)}, p=0.25, training=True)

    # scaled_dot_product_attention over (B, H, T, D), and L != S
    q, k, v = randn(2, 2, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3)
    sdpa = F.scaled_dot_product_attention
    op_case("sdpa", "sdpa", sdpa, {"query": q, "key": k, "value": v})
    op_case("sdpa_causal", "sdpa", sdpa, {"query": q, "key": k, "value": v}, is_causal=True)
    op_case("sdpa_scale", "sdpa", sdpa, {"query": q, "key": k, "value": v}, scale=0.3)
    bool_mask = rng.random((5, 5)) < 0.7
    bool_mask[:, 0] = True  # every query keeps at least one key
    op_case("sdpa_bool_mask", "sdpa", sdpa, {"query": q, "key": k, "value": v}, {"attn_mask": bool_mask})
    op_case("sdpa_float_mask", "sdpa", sdpa, {"query": q, "key": k, "value": v}, {"attn_mask": randn(2, 1, 5, 5)})
    op_case(
        "sdpa_causal_l3_s6",
        "sdpa",
        sdpa,
        {"query": randn(1, 2, 3, 4), "key": randn(1, 2, 6, 4), "value": randn(1, 2, 6, 4)},
        is_causal=True,
    )


def layer_cases() -> None:
    layer_case("layer_linear", nn.Linear(4, 5), {"in_features": 4, "out_features": 5}, randn(2, 3, 4))
    kw = {"in_features": 4, "out_features": 5, "bias": False}
    layer_case("layer_linear_no_bias", nn.Linear(**kw), kw, randn(3, 4))
    ids = np.array([[1, 3, 3], [0, 6, 1]], dtype=np.int64)
    layer_case("layer_embedding", nn.Embedding(7, 3), {"num_embeddings": 7, "embedding_dim": 3}, ids)
    for name, kw in {
        "layer_layer_norm": {"normalized_shape": 6},
        "layer_layer_norm_no_bias": {"normalized_shape": 6, "bias": False},
        "layer_layer_norm_no_affine": {"normalized_shape": 6, "elementwise_affine": False},
    }.items():
        ln = nn.LayerNorm(**kw)
        with torch.no_grad():  # PyTorch's init is 1 and 0; perturb so the parameters matter
            for p in ln.parameters():
                p.add_(torch.from_numpy(randn(*p.shape, scale=0.5)))
        layer_case(name, ln, kw, randn(2, 3, 6))
    layer_case("layer_gelu", nn.GELU(), {}, randn(3, 7, scale=2.0))
    layer_case("layer_gelu_tanh", nn.GELU(approximate="tanh"), {"approximate": "tanh"}, randn(3, 7, scale=2.0))
    layer_case("layer_relu", nn.ReLU(), {}, away_from_zero(3, 7))
    layer_case("layer_tanh", nn.Tanh(), {}, randn(3, 7))
    layer_case("layer_softmax", nn.Softmax(dim=1), {"dim": 1}, randn(3, 7, 2))
    layer_case("layer_dropout_eval", nn.Dropout(0.5), {"p": 0.5}, randn(3, 7), train=False)

    # A nested model: load torch's state_dict by name, then compare everything.
    model = nn.Sequential(
        nn.Linear(4, 8), nn.GELU(approximate="tanh"), nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 3)), nn.Tanh()
    )
    layer_case("model", model, {}, randn(5, 4))
    store["model/names"] = np.array([n for n, _ in model.named_parameters()])


# ----- small torch references for the ops PyTorch does not have ---------------------------
def swiglu_reference(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """The gate of LLaMA's MLP, as Hugging Face's LlamaMLP computes it: act_fn(gate_proj(x)) * up_proj(x)."""
    return F.silu(gate) * up


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[-x2, x1] for the two halves of the last dimension, as in Hugging Face's modeling_llama.py."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(head_dim: int, positions: torch.Tensor, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """LlamaRotaryEmbedding's default tables: float32 angles p * base^(-2i/hs), each frequency twice."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]  # (T, hs/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (T, hs)
    return emb.cos(), emb.sin()


def rotary_reference(input: torch.Tensor, offset: int, base: float) -> torch.Tensor:
    """Hugging Face's apply_rotary_pos_emb for one tensor (..., T, hs) at positions offset..offset+T-1."""
    T, hs = input.shape[-2:]
    cos, sin = rotary_cos_sin(hs, torch.arange(offset, offset + T), base)
    return input * cos + rotate_half(input) * sin


def transformer_cases() -> None:
    """The ops of later transformer recipes (LLaMA's), drawn after every earlier case so that
    adding them left the inputs of the cases above unchanged."""
    # rms_norm: eps=None (the dtype's machine epsilon), an explicit eps, no weight, the last two dims
    sdpa = F.scaled_dot_product_attention
    x = randn(2, 3, 8) * 2 + 0.5
    op_case("rms_norm", "rms_norm", F.rms_norm, {"input": x, "weight": randn(8)}, normalized_shape=(8,))
    op_case("rms_norm_eps", "rms_norm", F.rms_norm, {"input": x, "weight": randn(8)}, normalized_shape=(8,), eps=0.5)
    op_case("rms_norm_no_weight", "rms_norm", F.rms_norm, {"input": x}, normalized_shape=(8,))
    op_case(
        "rms_norm_2d",
        "rms_norm",
        F.rms_norm,
        {"input": randn(2, 3, 4), "weight": randn(3, 4)},
        normalized_shape=(3, 4),
        eps=1e-3,
    )
    for name, kw, xn in (
        ("layer_rms_norm", {"normalized_shape": 6}, randn(2, 3, 6)),
        ("layer_rms_norm_2d_eps", {"normalized_shape": (2, 3), "eps": 1e-2}, randn(4, 2, 3)),
        ("layer_rms_norm_no_affine", {"normalized_shape": 6, "elementwise_affine": False}, randn(2, 3, 6)),
    ):
        norm = nn.RMSNorm(**kw)
        with torch.no_grad():  # PyTorch's init is 1; perturb so the weight matters
            for p in norm.parameters():
                p.add_(torch.from_numpy(randn(*p.shape, scale=0.5)))
        layer_case(name, norm, kw, xn)

    # silu from torch; swiglu from a torch reference of its definition, over silu's tails too
    xs = np.concatenate([randn(3, 8, scale=3.0), np.linspace(-30, 30, 8, dtype=np.float32)[None]])
    op_case("silu", "silu", F.silu, {"input": xs})
    layer_case("layer_silu", nn.SiLU(), {}, randn(3, 7, scale=2.0))
    op_case("swiglu", "swiglu", swiglu_reference, {"gate": xs, "up": randn(*xs.shape)})

    # rotary: queries (B, nh, T, hs) from position 0, keys with fewer heads from position 7, another base
    op_case("rotary", "rotary", rotary_reference, {"input": randn(2, 4, 5, 8)}, offset=0, base=10000.0)
    op_case("rotary_offset", "rotary", rotary_reference, {"input": randn(2, 2, 5, 8)}, offset=7, base=500.0)
    # grouped-query attention from torch: 4 query heads sharing 2 key/value heads, or all sharing 1
    q, k, v = randn(2, 4, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3)
    gqa = {"query": q, "key": k, "value": v}
    op_case("sdpa_gqa", "sdpa", sdpa, gqa, enable_gqa=True)
    op_case("sdpa_gqa_causal", "sdpa", sdpa, gqa, is_causal=True, enable_gqa=True)
    mqa = {"query": q, "key": randn(2, 1, 5, 4), "value": randn(2, 1, 5, 3)}
    op_case("sdpa_mqa_head_mask", "sdpa", sdpa, mqa, {"attn_mask": randn(4, 5, 5)}, enable_gqa=True)
    gqa_l3_s6 = {"query": randn(1, 6, 3, 4), "key": randn(1, 2, 6, 4), "value": randn(1, 2, 6, 4)}
    op_case("sdpa_gqa_causal_l3_s6", "sdpa", sdpa, gqa_l3_s6, is_causal=True, enable_gqa=True)

    # and the tables themselves, over 48 positions of a head of 16
    cos, sin = rotary_cos_sin(16, torch.arange(48), 10000.0)
    store["rotary_tables/op"] = np.asarray("rotary_tables")
    put_kw("rotary_tables", {"head_dim": 16, "end": 48, "base": 10000.0})
    store["rotary_tables/out/cos"], store["rotary_tables/out/sin"] = cos.numpy(), sin.numpy()


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    functional_cases()
    layer_cases()
    transformer_cases()
    for k, v in store.items():  # keyword arguments (eps, p, scale) keep Python's float64
        assert "/kw/" in k or v.dtype != np.float64, f"{k} is float64: fixtures are float32"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **store)
    cases = {k.split("/")[0] for k in store}
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.1f} KiB, {len(cases)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()

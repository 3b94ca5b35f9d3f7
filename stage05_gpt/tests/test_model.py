"""The GPT: shapes, names, initialisation, causal masking, gradients, parity with PyTorch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.autograd import Tensor, gradcheck
from numpygpt.autograd.exercises import check_value
from numpygpt.models import GPT, GPTConfig

FIXTURE = Path(__file__).parent / "fixtures" / "gpt_parity.npz"
TINY = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16)


def tiny_gpt(seed: int = 0, **overrides) -> GPT:
    nn.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides}))


def batch(B: int = 3, T: int = 8, V: int = 11, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))


def attention_reference(attn: nn.Module, x: np.ndarray, n_head: int) -> np.ndarray:
    """Causal multi-head self-attention of x (B, T, C) in plain NumPy, with attn's weights."""
    B, T, C = x.shape
    hs = C // n_head
    qkv = x @ attn.c_attn.weight.data.T + attn.c_attn.bias.data  # (B, T, 3C)
    q, k, v = (
        qkv[..., i * C : (i + 1) * C].reshape(B, T, n_head, hs).transpose(0, 2, 1, 3) for i in range(3)
    )  # (B, nh, T, hs)
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)  # (B, nh, T, T)
    s = np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf)  # query t sees keys 0..t
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)  # heads side by side again
    return y @ attn.c_proj.weight.data.T + attn.c_proj.bias.data


@pytest.mark.model
def test_causal_self_attention_alone() -> None:
    attn = tiny_gpt().double().transformer.h[0].attn
    x = np.random.default_rng(1).standard_normal((2, 8, 16))
    np.testing.assert_allclose(
        attn(Tensor(x)).data,
        attention_reference(attn, x, n_head=2),
        rtol=1e-9,
        atol=1e-12,
        err_msg="CausalSelfAttention: split c_attn(x) into q, k, v heads (B, nh, T, hs), attend causally "
        "(is_causal=True: position t sees 0..t only), merge the heads to (B, T, C), then c_proj",
    )


@pytest.mark.model
def test_block_alone_is_two_residual_steps() -> None:
    block = tiny_gpt().double().transformer.h[1]
    x = Tensor(np.random.default_rng(2).standard_normal((2, 8, 16)))
    h = x.data + block.attn(block.ln_1(x)).data
    expected = h + block.mlp(block.ln_2(Tensor(h))).data
    np.testing.assert_allclose(
        block(x).data,
        expected,
        rtol=1e-9,
        atol=1e-12,
        err_msg="Block: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)): LayerNorm before each sub-layer, "
        "whose output is added to the residual stream",
    )


@pytest.mark.model
def test_forward_shapes_and_dtypes() -> None:
    model = tiny_gpt()
    idx, targets = batch()
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 8, 11) and logits.dtype == np.float32
    assert loss.shape == () and loss.dtype == np.float32
    logits, loss = model(idx[:, :5])
    assert logits.shape == (3, 5, 11) and loss is None


@pytest.mark.model
def test_parameter_names_follow_gpt2_and_head_is_tied() -> None:
    model = tiny_gpt()
    sd = model.state_dict()
    expected = {
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
        "lm_head.weight",
    }
    for i in range(2):
        for part in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            expected |= {f"transformer.h.{i}.{part}.weight", f"transformer.h.{i}.{part}.bias"}
    assert set(sd) == expected
    assert sd["transformer.h.0.attn.c_attn.weight"].shape == (48, 16)  # (out_features, in_features)
    assert sd["transformer.h.1.mlp.c_fc.weight"].shape == (64, 16)
    assert model.lm_head.weight is model.transformer.wte.weight, (
        "weight tying: lm_head.weight must be the very same Parameter as transformer.wte.weight, not a copy"
    )
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names, "a tied weight is one parameter, listed once"
    assert model.num_parameters() == sum(p.data.size for p in model.parameters())


@pytest.mark.model
def test_gpt2_initialisation() -> None:
    nn.manual_seed(0)
    model = GPT(GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128))
    sd = model.state_dict()
    assert np.std(sd["transformer.h.0.mlp.c_fc.weight"]) == pytest.approx(0.02, rel=0.03)
    assert np.std(sd["transformer.wte.weight"]) == pytest.approx(0.02, rel=0.05)
    assert np.std(sd["transformer.h.2.mlp.c_proj.weight"]) == pytest.approx(0.02 / math.sqrt(8), rel=0.03)
    assert np.std(sd["transformer.h.2.attn.c_proj.weight"]) == pytest.approx(0.02 / math.sqrt(8), rel=0.05)
    assert not sd["transformer.h.1.attn.c_attn.bias"].any()
    assert (sd["transformer.h.1.ln_2.weight"] == 1).all() and not sd["transformer.h.1.ln_2.bias"].any()


@pytest.mark.model
def test_loss_at_init_is_about_log_vocab_size() -> None:
    nn.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, vocab_size=65, n_layer=2, n_head=2, n_embd=32))
    idx, targets = batch(B=8, T=32, V=65)
    _, loss = model(idx, targets)
    assert loss.item() == pytest.approx(math.log(65), abs=0.05), (
        f"the loss of an untrained model is {loss.item():.4g}, not about log(65) = {math.log(65):.4g}: with "
        "N(0, 0.02) weights the logits are near 0, every token about equally likely (is it the mean over the "
        "positions, and are the weights initialised as GPT-2's?)"
    )


@pytest.mark.model
def test_a_future_token_never_changes_earlier_logits() -> None:
    model = tiny_gpt()
    idx, _ = batch()
    before, _ = model(idx)
    for t in range(8):
        changed = idx.copy()
        changed[:, t] = (changed[:, t] + 1) % 11
        after, _ = model(changed)
        np.testing.assert_array_equal(
            after.data[:, :t],
            before.data[:, :t],
            err_msg=f"position < {t} saw token {t}: is the attention mask causal?",
        )
        assert not np.allclose(after.data[:, t], before.data[:, t])


@pytest.mark.model
def test_dropout_is_used_in_training_and_off_in_eval() -> None:
    model = tiny_gpt(dropout=0.5)
    idx, targets = batch()
    a = model(idx, targets)[1].item()
    b = model(idx, targets)[1].item()
    assert a != b, "training mode draws new dropout masks"
    model.eval()
    assert model(idx, targets)[1].item() == model(idx, targets)[1].item(), (
        "two eval-mode losses differ: every dropout, including attention's dropout_p, must be off after model.eval()"
    )


@pytest.mark.model
def test_position_embeddings_reach_the_logits() -> None:
    # One token repeated: without position embeddings every position would see the same thing.
    model = tiny_gpt()
    logits, _ = model(np.full((1, 8), 3))
    assert not np.allclose(logits.data[0, 0], logits.data[0, 1]), (
        "the same token at positions 0 and 1 gives the same logits: is the position embedding added (tok + pos)?"
    )


@pytest.mark.model
def test_blocks_are_residual() -> None:
    # With the projections that write into the residual stream zeroed, every block must be the identity.
    model = tiny_gpt()
    for block in model.transformer.h:
        for proj in (block.attn.c_proj, block.mlp.c_proj):
            proj.weight.data[...] = 0
            proj.bias.data[...] = 0
    idx, _ = batch()
    logits, _ = model(idx)
    tr = model.transformer
    stream = tr.wte(idx) + tr.wpe(np.arange(idx.shape[1]))
    check_value(
        logits.data,
        model.lm_head(tr.ln_f(stream)).data,
        "the logits with every block's output projections zeroed",
        {"ln_f is missing: the stream is normalised after the last block, before lm_head": model.lm_head(stream).data},
        rtol=1e-5,
        atol=1e-6,
    )
    assert np.allclose(logits.data, model.lm_head(tr.ln_f(stream)).data, rtol=1e-5, atol=1e-6), (
        "with attention and MLP outputs zeroed the blocks changed x: each block adds its sub-layers' outputs "
        "to the stream (x = x + ...), so zero outputs leave it as it was"
    )


@pytest.mark.gradients
def test_gradcheck_of_a_tiny_gpt_end_to_end() -> None:
    model = tiny_gpt(block_size=4, vocab_size=7, n_embd=8, gelu="none").double()
    idx, targets = batch(B=2, T=4, V=7)
    params = list(model.parameters())
    assert all(p.dtype == np.float64 for p in params)
    assert gradcheck(lambda *ps: model(idx, targets)[1], *params, atol=1e-6, rtol=1e-4)


@pytest.mark.gradients
@pytest.mark.parametrize("gelu", ["tanh", "none"])
def test_matches_pytorch_logits_loss_and_every_gradient(gelu: str) -> None:
    z = np.load(FIXTURE)
    config = {k.split("/")[1]: z[k].item() for k in z.files if k.startswith("config/")}
    model = GPT(GPTConfig(**config, gelu=gelu))
    pre = f"{gelu}/param/"
    model.load_state_dict({k[len(pre) :]: z[k] for k in z.files if k.startswith(pre)})
    logits, loss = model(z[f"{gelu}/idx"], z[f"{gelu}/targets"])
    loss.backward()
    np.testing.assert_allclose(
        logits.data,
        z[f"{gelu}/logits"],
        atol=1e-5,
        err_msg="logits differ from PyTorch's GPT with the same weights: check the forward's wiring "
        "(wte + wpe, each block x + attn(ln_1(x)) then x + mlp(ln_2(x)), ln_f, the tied lm_head)",
    )
    assert loss.item() == pytest.approx(float(z[f"{gelu}/loss"]), abs=1e-5), "the loss differs from PyTorch's"
    for name, p in model.named_parameters():
        ref = z[f"{gelu}/grad/{name}"]
        np.testing.assert_allclose(
            p.grad.data, ref, atol=1e-6, rtol=1e-4, err_msg=f"{name}: gradient differs from PyTorch's"
        )


@pytest.mark.model
def test_bad_inputs_are_clear_errors() -> None:
    model = tiny_gpt()
    with pytest.raises(ValueError, match="sequence length 9 exceeds block_size 8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match=r"idx must be a \(B, T\) array of integer token ids"):
        model(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="targets shape"):
        model(np.zeros((2, 4), dtype=np.int64), np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(IndexError, match="out of range"):
        model(np.full((1, 4), 11))
    with pytest.raises(ValueError, match="n_embd=10 is not divisible by n_head=4"):
        GPTConfig(n_embd=10, n_head=4)


@pytest.mark.model
def test_state_dict_round_trip_through_a_file(tmp_path: Path) -> None:
    model = tiny_gpt(seed=1)
    np.savez(tmp_path / "m.npz", **model.state_dict())
    other = GPT.from_state_dict(dict(np.load(tmp_path / "m.npz")), GPTConfig(**TINY))
    idx, _ = batch()
    np.testing.assert_array_equal(model(idx)[0].data, other(idx)[0].data)
    assert other.lm_head.weight is other.transformer.wte.weight


@pytest.mark.model
def test_flops_per_token_follows_the_6n_rule() -> None:
    model = tiny_gpt()
    n = model.num_parameters() - 8 * 16
    assert model.flops_per_token() == 6 * n + 12 * 2 * 16 * 8


@pytest.mark.gradients
def test_split_and_merge_heads_equal_the_reshape_permute_chain() -> None:
    from numpygpt.autograd import Tensor
    from numpygpt.models.heads import merge_heads, split_heads

    rng = np.random.default_rng(0)
    B, T, nh, hs = 2, 5, 3, 4
    x = Tensor(rng.standard_normal((B, T, 3 * nh * hs)), requires_grad=True)
    gys = [rng.standard_normal((B, nh, T, hs)) for _ in range(3)]
    chain = x.reshape(B, T, 3, nh, hs).permute(2, 0, 3, 1, 4)
    ref = [chain[0], chain[1], chain[2]]
    fused = split_heads(x, nh)
    for r, f in zip(ref, fused, strict=True):
        np.testing.assert_array_equal(r.data, f.data)
        assert np.shares_memory(f.data, x.data) and f.data.strides[-1] == f.data.itemsize  # a view, rows in place
    sum((r * g).sum() for r, g in zip(ref, gys, strict=True)).backward()
    ref_grad, x.grad = x.grad.data.copy(), None
    sum((f * g).sum() for f, g in zip(fused, gys, strict=True)).backward()
    np.testing.assert_array_equal(x.grad.data, ref_grad)
    assert gradcheck(lambda x: split_heads(x, nh), x)

    y = Tensor(rng.standard_normal((B, nh, T, hs)), requires_grad=True)
    np.testing.assert_array_equal(merge_heads(y).data, y.transpose(1, 2).reshape(B, T, nh * hs).data)
    assert gradcheck(merge_heads, y)
    with pytest.raises(ValueError, match="split_heads: expected"):
        split_heads(Tensor(np.zeros((2, 5, 10))), 3)

"""Every fused op and every layer: backward against central differences, in float64.

gradcheck (stage01: numpygpt/autograd/gradcheck.py) draws a random upstream gradient g and
compares backward's vector-Jacobian product g^T J with central differences of sum(g * f(x)).
A random g matters: softmax's outputs sum to 1, so the gradient of sum(softmax(x)) is 0 and
would pass whatever softmax's backward computed.

Select a group with `nox -s stage02 -- -m "gradcheck and attention"`, one case with
`-k test_sdpa_gradcheck`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, gradcheck

pytestmark = pytest.mark.gradcheck


def leaf(*shape: int, seed: int = 0, scale: float = 1.0) -> Tensor:
    """A float64 leaf that requires grad, standard normal times `scale`."""
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True)


def away_from_zero(*shape: int, seed: int = 0) -> Tensor:
    """A float64 leaf with |x| >= 0.2: relu's kink at 0 stays further than eps away."""
    rng = np.random.default_rng(seed)
    return Tensor(rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape), requires_grad=True)


# ----- linear ---------------------------------------------------------------------------
@pytest.mark.linear
@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_gradcheck(x_shape: tuple[int, ...], bias: bool) -> None:
    x, w = leaf(*x_shape), leaf(5, 4, seed=1)
    if bias:
        assert gradcheck(F.linear, x, w, leaf(5, seed=2))
    else:
        assert gradcheck(lambda x, w: F.linear(x, w), x, w)


@pytest.mark.linear
def test_linear_gradcheck_constant_input() -> None:
    """The first layer of a network: x needs no gradient, only W and b do."""
    x = Tensor(np.random.default_rng(0).standard_normal((6, 3)))
    assert gradcheck(lambda w, b: F.linear(x, w, b), leaf(2, 3, seed=1), leaf(2, seed=2))


@pytest.mark.linear
@settings(max_examples=15, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    fin=st.integers(1, 4),
    fout=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_linear_gradcheck_any_batch_shape(lead: list[int], fin: int, fout: int, seed: int) -> None:
    assert gradcheck(F.linear, leaf(*lead, fin, seed=seed), leaf(fout, fin, seed=seed + 1), leaf(fout, seed=seed + 2))


# ----- embedding ------------------------------------------------------------------------
@pytest.mark.embedding
def test_embedding_gradcheck_repeated_ids() -> None:
    """Row 2 is picked three times and row 4 never: its gradient must be three sums and a zero."""
    ids = np.array([[2, 0, 2], [5, 2, 1]])
    assert gradcheck(lambda w: F.embedding(ids, w), leaf(6, 3))


# ----- layer_norm -----------------------------------------------------------------------
@pytest.mark.layer_norm
@pytest.mark.parametrize("affine", ["weight_and_bias", "weight_only", "none"])
def test_layer_norm_gradcheck_last_dim(affine: str) -> None:
    x = leaf(2, 3, 6, scale=2.0)
    w, b = leaf(6, seed=1), leaf(6, seed=2)
    if affine == "weight_and_bias":
        assert gradcheck(lambda x, w, b: F.layer_norm(x, 6, w, b), x, w, b)
    elif affine == "weight_only":
        assert gradcheck(lambda x, w: F.layer_norm(x, 6, w), x, w)
    else:
        assert gradcheck(lambda x: F.layer_norm(x, 6), x)


@pytest.mark.layer_norm
def test_layer_norm_gradcheck_last_two_dims() -> None:
    x, w, b = leaf(2, 3, 4), leaf(3, 4, seed=1), leaf(3, 4, seed=2)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3), x, w, b)


# ----- rms_norm -------------------------------------------------------------------------
# NOTE: the upstream gradient's seed (gradcheck's `seed`) differs from every input's, so it
# is independent of the inputs (with one seed for both, g would be proportional to x).
@pytest.mark.rms_norm
@pytest.mark.parametrize("affine", [True, False], ids=["weight", "no_weight"])
@pytest.mark.parametrize("eps", [None, 1e-2], ids=["eps_none", "eps_1e-2"])
def test_rms_norm_gradcheck_last_dim(affine: bool, eps: float | None) -> None:
    x, w = leaf(2, 3, 6, seed=11, scale=2.0), leaf(6, seed=12)
    if affine:
        assert gradcheck(lambda x, w: F.rms_norm(x, 6, w, eps), x, w, seed=13)
    else:
        assert gradcheck(lambda x: F.rms_norm(x, 6, eps=eps), x, seed=13)


@pytest.mark.rms_norm
def test_rms_norm_gradcheck_last_two_dims() -> None:
    x, w = leaf(2, 3, 4, seed=11), leaf(3, 4, seed=12)
    assert gradcheck(lambda x, w: F.rms_norm(x, (3, 4), w), x, w, seed=13)


# ----- rotary_embedding -----------------------------------------------------------------
@pytest.mark.rotary
@pytest.mark.parametrize("offset", [0, 3])
def test_rotary_embedding_gradcheck(offset: int) -> None:
    cos, sin = F.rotary_tables(6, offset + 5)
    assert gradcheck(lambda x: F.rotary_embedding(x, cos, sin, offset), leaf(2, 3, 5, 6, seed=41), seed=42)


@pytest.mark.rotary
def test_rotary_embedding_gradcheck_any_tables() -> None:
    """The backward holds for any tables, not only cos/sin pairs with repeated halves."""
    rng = np.random.default_rng(43)
    cos, sin = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    assert gradcheck(lambda x: F.rotary_embedding(x, cos, sin, 2), leaf(3, 5, 4, seed=44), seed=45)


@pytest.mark.rotary
def test_rotary_module_gradcheck_q_and_k() -> None:
    """nn.RotaryEmbedding rotates q and k (here with fewer heads) in one call: both gradients."""
    rope = nn.RotaryEmbedding(4, max_positions=8)
    q, k = leaf(2, 4, 3, 4, seed=46), leaf(2, 2, 3, 4, seed=47)
    assert gradcheck(lambda q, k: rope(q, k, offset=6), q, k, seed=48)


# ----- activations ----------------------------------------------------------------------
@pytest.mark.activations
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck(approximate: str) -> None:
    assert gradcheck(lambda x: F.gelu(x, approximate), leaf(4, 6, scale=2.0))


@pytest.mark.activations
def test_relu_gradcheck() -> None:
    assert gradcheck(F.relu, away_from_zero(4, 6))


@pytest.mark.activations
def test_silu_gradcheck() -> None:
    assert gradcheck(F.silu, leaf(4, 6, seed=31, scale=3.0), seed=32)


@pytest.mark.swiglu
@pytest.mark.parametrize("needs", ["both", "gate", "up"])
def test_swiglu_gradcheck(needs: str) -> None:
    """Forward keeps only what the inputs that need a gradient need: check each case."""
    gate, up = leaf(3, 2, 5, seed=33, scale=3.0), leaf(3, 2, 5, seed=34)
    if needs == "both":
        assert gradcheck(F.swiglu, gate, up, seed=35)
    elif needs == "gate":
        assert gradcheck(lambda g: F.swiglu(g, up.detach()), gate, seed=35)
    else:
        assert gradcheck(lambda u: F.swiglu(gate.detach(), u), up, seed=35)


# ----- softmax --------------------------------------------------------------------------
@pytest.mark.softmax
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_gradcheck(op: str, dim: int) -> None:
    fn = getattr(F, op)
    assert gradcheck(lambda x: fn(x, dim), leaf(3, 4, 5, scale=2.0))


# ----- cross_entropy --------------------------------------------------------------------
TARGETS = np.array([0, 4, 2, -100, 1, 2])  # one row ignored (the default ignore_index)


@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradcheck_ignore_index(reduction: str) -> None:
    assert gradcheck(lambda x: F.cross_entropy(x, TARGETS, reduction=reduction), leaf(6, 5, scale=2.0))


@pytest.mark.cross_entropy
def test_cross_entropy_gradcheck_custom_ignore_index() -> None:
    t = np.array([0, 3, 3, 1])
    assert gradcheck(lambda x: F.cross_entropy(x, t, ignore_index=3), leaf(4, 5))


@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradcheck_n_c_d1(reduction: str) -> None:
    t = np.array([[0, 3, 1], [2, -100, 3]])  # (N, d1) targets for (N, C, d1) logits
    assert gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction), leaf(2, 4, 3))


# ----- dropout --------------------------------------------------------------------------
@pytest.mark.dropout
def test_dropout_gradcheck_fixed_mask() -> None:
    """A fresh generator with the same seed on every call: the same mask each time."""

    def fn(x: Tensor) -> Tensor:
        return F.dropout(x, 0.3, generator=np.random.default_rng(7))

    x = leaf(5, 6)
    dropped = fn(x).data == 0
    assert 0 < dropped.sum() < dropped.size, "the mask should drop some elements and keep others"
    assert gradcheck(fn, x)


# ----- scaled_dot_product_attention -----------------------------------------------------
def qkv(L: int = 4, S: int = 4, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """(B, H, L, E) queries, (B, H, S, E) keys, (B, H, S, Ev) values, float64."""
    return leaf(2, 2, L, 3, seed=seed), leaf(2, 2, S, 3, seed=seed + 1), leaf(2, 2, S, 2, seed=seed + 2)


BOOL_MASK = np.array([[1, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
SDPA_CASES: dict[str, dict] = {
    "plain": {},
    "causal": {"is_causal": True},
    "bool_mask": {"attn_mask": BOOL_MASK},
    "float_mask": {"attn_mask": np.random.default_rng(3).standard_normal((2, 1, 4, 4))},
    "scale": {"scale": 0.7},
}


@pytest.mark.attention
@pytest.mark.parametrize("case", sorted(SDPA_CASES))
def test_sdpa_gradcheck(case: str) -> None:
    kw = SDPA_CASES[case]
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), *qkv())


@pytest.mark.attention
def test_sdpa_gradcheck_causal_more_keys_than_queries() -> None:
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), *qkv(L=3, S=5))


@pytest.mark.attention
def test_sdpa_gradcheck_dropout_seeded() -> None:
    def fn(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, generator=np.random.default_rng(11))

    q, k, v = qkv()
    plain = F.scaled_dot_product_attention(q, k, v).data
    assert not np.allclose(fn(q, k, v).data, plain), "dropout_p=0.3 should change the output"
    assert gradcheck(fn, q, k, v)


GQA_CASES: dict[str, dict] = {
    "plain": {},
    "causal": {"is_causal": True},
    "head_float_mask": {"attn_mask": np.random.default_rng(51).standard_normal((6, 4, 4))},
    "bool_mask": {"attn_mask": BOOL_MASK},
}


@pytest.mark.attention
@pytest.mark.gqa
@pytest.mark.parametrize("case", sorted(GQA_CASES))
@pytest.mark.parametrize("nkv", [1, 2, 3], ids=["mqa", "gqa2", "gqa3"])
def test_sdpa_gqa_gradcheck(case: str, nkv: int) -> None:
    """6 query heads sharing nkv key/value heads: the gradient of each shared head sums its group's."""
    kw = GQA_CASES[case]
    q, k, v = leaf(2, 6, 4, 3, seed=52), leaf(2, nkv, 4, 3, seed=53), leaf(2, nkv, 4, 2, seed=54)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True, **kw), q, k, v, seed=55)


@pytest.mark.attention
@pytest.mark.gqa
def test_sdpa_gqa_gradcheck_causal_more_keys_and_dropout() -> None:
    def fn(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=0.3, enable_gqa=True, generator=np.random.default_rng(56)
        )

    q, k, v = leaf(1, 4, 3, 3, seed=57), leaf(1, 2, 5, 3, seed=58), leaf(1, 2, 5, 2, seed=59)
    assert gradcheck(fn, q, k, v, seed=60)


# ----- the layers, through module.double() ---------------------------------------------
def check_layer(layer: nn.Module, x: Tensor | np.ndarray, seed: int = 0) -> None:
    """gradcheck of the layer in float64; `seed` is the upstream gradient's."""
    layer.double()
    params = list(layer.parameters())
    assert all(p.dtype == np.float64 for p in params)
    if isinstance(x, Tensor):
        assert gradcheck(lambda x, *ps: layer(x), x, *params, seed=seed)
    else:  # integer ids: only the parameters get gradients
        assert gradcheck(lambda *ps: layer(x), *params, seed=seed)


@pytest.mark.linear
@pytest.mark.parametrize("bias", [True, False])
def test_linear_layer_gradcheck(bias: bool) -> None:
    check_layer(nn.Linear(4, 3, bias=bias), leaf(2, 5, 4))


@pytest.mark.embedding
def test_embedding_layer_gradcheck() -> None:
    check_layer(nn.Embedding(6, 3), np.array([[1, 1, 5], [0, 1, 3]]))


@pytest.mark.layer_norm
@pytest.mark.parametrize(
    "kw", [{}, {"bias": False}, {"elementwise_affine": False}], ids=["affine", "no_bias", "no_affine"]
)
def test_layer_norm_layer_gradcheck(kw: dict) -> None:
    ln = nn.LayerNorm(5, **kw)
    for p in ln.parameters():  # away from the initial 1s and 0s, so every term matters
        nn.init.normal_(p, generator=np.random.default_rng(1))
    check_layer(ln, leaf(3, 5, scale=3.0))


@pytest.mark.rms_norm
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}], ids=["affine", "no_affine"])
def test_rms_norm_layer_gradcheck(kw: dict) -> None:
    norm = nn.RMSNorm(5, **kw)
    for p in norm.parameters():  # away from the initial 1s, so the weight matters
        nn.init.normal_(p, generator=np.random.default_rng(1))
    check_layer(norm, leaf(3, 5, seed=21, scale=3.0), seed=22)


@pytest.mark.activations
@pytest.mark.parametrize(
    "layer",
    [nn.GELU(), nn.GELU(approximate="tanh"), nn.ReLU(), nn.SiLU(), nn.Tanh()],
    ids=["gelu", "gelu_tanh", "relu", "silu", "tanh"],
)
def test_activation_layer_gradcheck(layer: nn.Module) -> None:
    check_layer(layer, away_from_zero(3, 4))


@pytest.mark.softmax
def test_softmax_layer_gradcheck() -> None:
    check_layer(nn.Softmax(dim=0), leaf(3, 4))


@pytest.mark.dropout
def test_dropout_layer_gradcheck() -> None:
    """nn.Dropout draws from the default generator: reseeding it repeats the mask."""
    drop = nn.Dropout(0.4)

    def fn(x: Tensor) -> Tensor:
        nn.manual_seed(5)
        return drop(x)

    x = leaf(4, 5)
    assert (fn(x).data == 0).any()
    assert gradcheck(fn, x)


@pytest.mark.training
def test_small_network_and_loss_gradcheck() -> None:
    """Every layer op chained into one loss: the gradients of all parameters at once."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.LayerNorm(6), nn.GELU(approximate="tanh"), nn.Linear(6, 4)).double()
    x, t = leaf(5, 3), np.array([0, 3, 1, 1, 2])
    assert gradcheck(lambda x, *ps: F.cross_entropy(model(x), t), x, *model.parameters())

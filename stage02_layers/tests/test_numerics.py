"""Numerical behaviour: extreme inputs stay finite, and a float32 input gives float32 outputs
and gradients (no silent float64 upcast, which would double memory and halve speed).

Select with `nox -s stage02 -- -m numerics`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor

pytestmark = pytest.mark.numerics


def leaf(x: np.ndarray | list, dtype: type = np.float32) -> Tensor:
    return Tensor(np.asarray(x, dtype=dtype), requires_grad=True)


# ----- extreme inputs ---------------------------------------------------------------------------
@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_huge_logits_are_finite_and_right(reduction: str) -> None:
    """exp(1e4) overflows even float64; subtracting the row max first keeps every exp <= 1."""
    x = leaf([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    loss = F.cross_entropy(x, np.array([0, 1]), reduction=reduction)
    per_row = [0.0, 1e4]  # target = the max: log(1 + e^-1e4 + ...) = 0; target 0: 1e4 - 0
    expected = {"mean": np.mean(per_row), "sum": np.sum(per_row), "none": per_row}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-6)
    loss.backward(Tensor(np.ones(loss.shape, dtype=np.float32)))
    g = x.grad.data
    assert np.isfinite(g).all()
    scale = 0.5 if reduction == "mean" else 1.0
    np.testing.assert_allclose(g, scale * np.array([[0, 0, 0], [1, -1, 0]]), atol=1e-6)


@pytest.mark.softmax
def test_softmax_and_log_softmax_huge_inputs() -> None:
    x = leaf([[1e4, 1e4 - 1.0, -1e4]])
    p, logp = F.softmax(x, -1), F.log_softmax(x, -1)
    e = np.exp(-1.0)
    stable = "exp(1e4) overflows: subtract the row max before exp (it cancels in the ratio)"
    assert np.isfinite(p.data).all(), f"softmax of logits around 1e4 gave {p.data}: {stable}"
    np.testing.assert_allclose(p.data, [[1 / (1 + e), e / (1 + e), 0]], rtol=1e-6, err_msg=f"softmax: {stable}")
    np.testing.assert_allclose(
        logp.data[0, :2], [-np.log1p(e), -1 - np.log1p(e)], rtol=1e-5, err_msg=f"log_softmax: {stable}"
    )
    assert np.isfinite(logp.data).all()
    (p.sum() + logp.sum()).backward()
    assert np.isfinite(x.grad.data).all()


@pytest.mark.attention
def test_attention_huge_scores_are_finite() -> None:
    q = leaf(np.full((1, 1, 3, 4), 300.0))  # scores of 3e5 / 2
    k, v = leaf(np.ones((1, 1, 3, 4))), leaf(np.arange(12.0).reshape(1, 1, 3, 4))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(y.data[0, 0, -1], v.data[0, 0].mean(axis=0), rtol=1e-6)  # equal scores: the mean
    y.sum().backward()
    assert all(np.isfinite(t.grad.data).all() for t in (q, k, v))


@pytest.mark.attention
def test_causal_bias_is_minus_inf_above_the_diagonal() -> None:
    from numpygpt.nn.functional.attention import causal_bias

    b = causal_bias(3, 5, np.dtype(np.float32).str)  # 3 queries, 5 keys
    expected = np.where(np.arange(5)[None, :] > np.arange(3)[:, None], -np.inf, 0.0).astype(np.float32)
    np.testing.assert_array_equal(
        b,
        expected,
        err_msg="causal_bias(L, S): 0 where key j <= query i (a query sees itself and the past), -inf where j > i",
    )
    assert b.dtype == np.float32 and not b.flags.writeable, "the cached mask must be float32 here and read-only"


@pytest.mark.attention
def test_causal_attention_never_looks_ahead() -> None:
    """Changing a later key or value leaves every earlier query's output unchanged."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, 6, 4)).astype(np.float32) for _ in range(3))
    y = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), is_causal=True).data
    k2, v2 = k.copy(), v.copy()
    k2[..., 4:, :] += 10.0
    v2[..., 4:, :] -= 10.0
    y2 = F.scaled_dot_product_attention(Tensor(q), Tensor(k2), Tensor(v2), is_causal=True).data
    np.testing.assert_array_equal(
        y[..., :4, :],
        y2[..., :4, :],
        err_msg="queries 0..3 changed when keys 4.. did: is_causal must hide every key j > i",
    )
    assert not np.allclose(y[..., 4:, :], y2[..., 4:, :])
    np.testing.assert_allclose(y[..., 0, :], v[..., 0, :], rtol=1e-6)  # the first query sees only key 0


@pytest.mark.layer_norm
def test_layer_norm_constant_row_is_finite() -> None:
    """A row with zero variance: eps keeps 1/sqrt(var + eps) finite; the output is the bias."""
    x, w, b = leaf(np.full((2, 5), 3.0)), leaf(np.ones(5)), leaf(np.arange(5.0))
    y = F.layer_norm(x, 5, w, b)
    np.testing.assert_allclose(y.data, np.broadcast_to(np.arange(5.0), (2, 5)), atol=1e-6)
    y.backward(Tensor(np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)))
    assert all(np.isfinite(t.grad.data).all() for t in (x, w, b))


@pytest.mark.rms_norm
def test_rms_norm_zero_row_is_finite() -> None:
    """A row of zeros: eps (float32's machine epsilon by default) keeps 1/sqrt(mean(x^2) + eps)
    finite; the output is 0 and so is every gradient but the input's, which is gy * w / sqrt(eps)."""
    x, w = leaf(np.zeros((2, 5))), leaf(np.arange(1.0, 6.0))
    y = F.rms_norm(x, 5, w)
    np.testing.assert_array_equal(y.data, np.zeros((2, 5)))
    gy = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    y.backward(Tensor(gy))
    np.testing.assert_allclose(x.grad.data, gy * w.data / np.sqrt(np.finfo(np.float32).eps), rtol=1e-5)
    np.testing.assert_array_equal(w.grad.data, np.zeros(5))


@pytest.mark.activations
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_tails(approximate: str) -> None:
    """Far out, GELU is x (right) or 0 (left), with slope 1 or 0: no overflow in exp or erfc."""
    x = leaf([-60.0, -30.0, 30.0, 60.0])
    y = F.gelu(x, approximate)
    np.testing.assert_allclose(y.data, [0, 0, 30, 60], atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0, 1, 1], atol=1e-6)


@pytest.mark.rotary
def test_rotary_tables_stay_accurate_far_out() -> None:
    """The angles are computed in float64 and rounded once: at position 100,000 the float32
    tables are still the exact cos and sin rounded to float32."""
    p, hs = 100_000, 8
    cos, sin = F.rotary_tables(hs, p + 1)
    angles = p * 10000.0 ** (-np.arange(0, hs, 2) / hs)
    np.testing.assert_allclose(cos[p], np.tile(np.cos(angles), 2), rtol=0, atol=1e-7)
    np.testing.assert_allclose(sin[p], np.tile(np.sin(angles), 2), rtol=0, atol=1e-7)
    assert cos.dtype == np.float32


@pytest.mark.activations
@pytest.mark.swiglu
def test_silu_and_swiglu_tails() -> None:
    """Far out, silu is x (right) or 0 (left), with slope 1 or 0: exp(-x) may overflow to inf,
    and 1 / inf = 0 is the right sigmoid there."""
    x = leaf([-1000.0, -100.0, 100.0, 1000.0])
    y = F.silu(x)
    np.testing.assert_allclose(y.data, [0, 0, 100, 1000], atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0, 1, 1], atol=1e-6)
    gate, up = leaf([-1000.0, 100.0]), leaf([2.0, 3.0])
    y = F.swiglu(gate, up)
    np.testing.assert_allclose(y.data, [0, 300], atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(gate.grad.data, [0, 3], atol=1e-6)
    np.testing.assert_allclose(up.grad.data, [0, 100], atol=1e-6)


@pytest.mark.embedding
def test_embedding_of_no_ids() -> None:
    w = leaf(np.ones((4, 3)))
    y = F.embedding(np.zeros((2, 0), dtype=np.int64), w)
    assert y.shape == (2, 0, 3)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.zeros((4, 3)))


# ----- dtypes: float32 in, float32 out ------------------------------------------------------------
def ids() -> np.ndarray:
    return np.array([[0, 2, 2], [1, 3, 0]])


# name -> (function of float tensors, the shapes of those tensors)
OPS: dict[str, tuple[Callable[..., Tensor], list[tuple[int, ...]]]] = {
    "linear": (F.linear, [(2, 3, 4), (5, 4), (5,)]),
    "embedding": (lambda w: F.embedding(ids(), w), [(4, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, 4, w, b), [(2, 3, 4), (4,), (4,)]),
    "rms_norm": (lambda x, w: F.rms_norm(x, 4, w), [(2, 3, 4), (4,)]),
    "rms_norm_no_weight": (lambda x: F.rms_norm(x, (3, 4)), [(2, 3, 4)]),
    "rotary_embedding": (lambda x: F.rotary_embedding(x, *F.rotary_tables(4, 5), offset=2), [(2, 3, 4)]),
    "gelu": (F.gelu, [(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), [(3, 4)]),
    "relu": (F.relu, [(3, 4)]),
    "silu": (F.silu, [(3, 4)]),
    "swiglu": (F.swiglu, [(2, 3, 4), (2, 3, 4)]),
    "softmax": (lambda x: F.softmax(x, 0), [(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, -1), [(3, 4)]),
    "cross_entropy_mean": (lambda x: F.cross_entropy(x, np.array([0, 3, -100])), [(3, 4)]),
    "cross_entropy_sum": (lambda x: F.cross_entropy(x, np.array([0, 3, 1]), reduction="sum"), [(3, 4)]),
    "cross_entropy_none": (lambda x: F.cross_entropy(x, np.array([[0, 3], [1, 1]]), reduction="none"), [(2, 4, 2)]),
    "dropout": (lambda x: F.dropout(x, 0.5), [(3, 4)]),
    "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 2, 3, 4)] * 3),
    "sdpa_float64_mask_and_dropout": (  # a float64 mask must not upcast float32 scores
        lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, attn_mask=np.tril(np.ones((3, 3)))[None], dropout_p=0.2
        ),
        [(2, 2, 3, 4)] * 3,
    ),
    "sdpa_gqa_causal_dropout": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=0.2, enable_gqa=True),
        [(2, 4, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4)],
    ),
    "sdpa_gqa_float64_mask": (  # the grouped bias must not upcast either
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=np.zeros((4, 3, 3)), enable_gqa=True),
        [(2, 4, 3, 4), (2, 1, 3, 4), (2, 1, 3, 4)],
    ),
    "bool_mask": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=np.tril(np.ones((3, 3), bool))),
        [(2, 2, 3, 4)] * 3,
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_dtype_is_kept_in_outputs_and_gradients(name: str, dtype: type) -> None:
    fn, shapes = OPS[name]
    rng = np.random.default_rng(0)
    xs = [leaf(rng.standard_normal(s), dtype) for s in shapes]
    y = fn(*xs)
    assert y.dtype == dtype, f"{name}: output is {y.dtype}"
    y.backward(Tensor(rng.standard_normal(y.shape).astype(dtype)))
    for i, x in enumerate(xs):
        assert x.grad is not None and x.grad.dtype == dtype, (
            f"{name}: gradient of input {i} is {x.grad and x.grad.dtype}"
        )


@pytest.mark.module
def test_layers_create_float32_parameters() -> None:
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 4), nn.LayerNorm(4), nn.GELU(), nn.Dropout(0.1))
    assert all(p.dtype == np.float32 for p in model.parameters())
    y = model(ids())
    assert y.dtype == np.float32
    y.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


@pytest.mark.module
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layer_keeps_the_dtype(dtype: type) -> None:
    layers = [
        nn.Linear(4, 6),
        nn.LayerNorm(6),
        nn.RMSNorm(6),
        nn.GELU(),
        nn.GELU("tanh"),
        nn.ReLU(),
        nn.SiLU(),
        nn.Tanh(),
        nn.Dropout(0.3),
        nn.Softmax(-1),
    ]
    model = nn.Sequential(*layers).to(dtype)
    x = leaf(np.random.default_rng(0).standard_normal((3, 4)), dtype)
    y = model(x)
    assert y.dtype == dtype
    y.backward(Tensor(np.random.default_rng(1).standard_normal(y.shape).astype(dtype)))
    assert x.grad.dtype == dtype and all(p.grad.dtype == dtype for p in model.parameters())


@pytest.mark.attention
@pytest.mark.parametrize("is_causal", [True, False])
def test_attention_softmax_survives_scores_far_above_key_zero(is_causal: bool) -> None:
    """The softmax shifts each row by its key-0 score; a score 200 above it would overflow exp,
    so the per-row max shift must take over and give the exact softmax."""
    q = np.zeros((1, 1, 3, 2), dtype=np.float32)
    q[..., 0] = 1.0
    k = np.zeros((1, 1, 3, 2), dtype=np.float32)
    k[0, 0, 1, 0] = 200.0  # key 1 scores 200 / sqrt(2) above key 0 for every query
    v = np.arange(6, dtype=np.float32).reshape(1, 1, 3, 2)
    y = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), is_causal=is_causal).data
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[0, 0, 1:], np.broadcast_to(v[0, 0, 1], (2, 2)), atol=1e-6)  # all weight on key 1
    np.testing.assert_allclose(y[0, 0, 0], v[0, 0, 0] if is_causal else v[0, 0, 1], atol=1e-6)

"""What defines each op of LLaMA's recipe, checked as a property rather than against a reference:
rotary embeddings make attention scores depend only on the distance between positions,
RMSNorm ignores the scale of its input, grouped-query attention is attention with each
key/value head shared by a group of query heads.

Select with `nox -s stage02 -- -m properties`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor

pytestmark = pytest.mark.properties
SETTINGS = settings(max_examples=30, deadline=None)


def rotated(x: np.ndarray, position: int, base: float = 10000.0) -> np.ndarray:
    """One vector x (hs,) rotated as if it stood at `position`, float64."""
    cos, sin = F.rotary_tables(x.shape[-1], position + 1, base, dtype=np.float64)
    return F.rotary_embedding(Tensor(x[None]), cos, sin, offset=position).data[0]


# ----- rotary embeddings -------------------------------------------------------------------------
@pytest.mark.rotary
@SETTINGS
@given(
    m=st.integers(0, 300),
    n=st.integers(0, 300),
    shift=st.integers(1, 3000),
    half=st.integers(1, 8),
    base=st.sampled_from([10000.0, 500.0]),
    seed=st.integers(0, 999),
)
def test_rope_scores_depend_only_on_the_distance(m: int, n: int, shift: int, half: int, base: float, seed: int) -> None:
    """q at position m against k at position n scores the same as at m + shift and n + shift:
    R_m q . R_n k = q . R_(n-m) k, since the rotations compose and R_m^T = R_(-m)."""
    q, k = np.random.default_rng(seed).standard_normal((2, 2 * half))
    here = rotated(q, m, base) @ rotated(k, n, base)
    there = rotated(q, m + shift, base) @ rotated(k, n + shift, base)
    np.testing.assert_allclose(there, here, rtol=1e-9, atol=1e-9, err_msg=f"positions ({m}, {n}) +{shift}")


@pytest.mark.rotary
def test_rope_scores_do_change_with_the_distance() -> None:
    """The other half of the property: the score does depend on the distance (position 0 is
    the identity, so distance 0 gives the plain dot product; other distances differ)."""
    q, k = np.random.default_rng(0).standard_normal((2, 8))
    scores = [rotated(q, 0) @ rotated(k, d) for d in range(6)]
    np.testing.assert_allclose(scores[0], q @ k, rtol=1e-12)
    assert len({round(s, 6) for s in scores}) == 6, f"scores over distances 0..5 should all differ: {scores}"


@pytest.mark.rotary
@pytest.mark.parametrize("offset", [0, 5, 60])
def test_rope_module_score_matrix_is_a_function_of_i_minus_j(offset: int) -> None:
    """The same content at every position: after nn.RotaryEmbedding the (T, T) scores q_i . k_j
    are constant along each diagonal (they depend on i - j only) and do not change with offset."""
    rng = np.random.default_rng(1)
    T, hs = 6, 8
    q = np.broadcast_to(rng.standard_normal(hs), (1, 1, T, hs)).astype(np.float32)
    k = np.broadcast_to(rng.standard_normal(hs), (1, 1, T, hs)).astype(np.float32)
    rope = nn.RotaryEmbedding(hs, max_positions=8)
    qr, kr = rope(Tensor(q), Tensor(k), offset=offset)
    scores = (qr.data @ kr.data.swapaxes(-1, -2))[0, 0]  # (T, T)
    base_q, base_k = rope(Tensor(q), Tensor(k))
    np.testing.assert_allclose(scores, (base_q.data @ base_k.data.swapaxes(-1, -2))[0, 0], rtol=1e-4, atol=1e-5)
    for d in range(-T + 1, T):
        diag = np.diagonal(scores, d)
        np.testing.assert_allclose(diag, np.full_like(diag, diag[0]), rtol=1e-4, atol=1e-5, err_msg=f"diagonal {d}")


@pytest.mark.rotary
def test_rope_is_a_rotation() -> None:
    """Each pair (x_i, x_(i + hs/2)) is rotated: lengths are kept, and position 0 changes nothing."""
    x = np.random.default_rng(2).standard_normal((3, 7, 10))
    cos, sin = F.rotary_tables(10, 20, dtype=np.float64)
    y = F.rotary_embedding(Tensor(x), cos, sin, offset=13).data
    pairs = lambda a: np.hypot(a[..., :5], a[..., 5:])  # noqa: E731
    np.testing.assert_allclose(pairs(y), pairs(x), rtol=1e-12)
    assert not np.allclose(y, x)
    np.testing.assert_array_equal(F.rotary_embedding(Tensor(x[:, :1]), cos, sin).data, x[:, :1])


@pytest.mark.rotary
def test_rope_module_extends_its_tables_and_saves_nothing() -> None:
    """Positions past max_positions extend the tables (to the position or twice their length);
    the tables are not learned, so they are not in the state_dict."""
    rope = nn.RotaryEmbedding(8, max_positions=4)
    assert rope.cos.shape == rope.sin.shape == (4, 8) and rope.cos.dtype == np.float32
    assert dict(rope.state_dict()) == {} and list(rope.parameters()) == []
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3, 8)).astype(np.float32))
    q, k = rope(x, x, offset=6)  # positions 6..8: 9 rows needed, 8 = 2 * 4 are not enough
    assert rope.cos.shape == (9, 8)
    expected = F.rotary_embedding(x, *F.rotary_tables(8, 9), offset=6).data
    np.testing.assert_array_equal(q.data, expected)
    np.testing.assert_array_equal(k.data, expected)
    rope(x, x, offset=7)  # 10 rows: doubled to 18
    assert rope.cos.shape == (18, 8)
    assert repr(rope) == "RotaryEmbedding(8, max_positions=4, base=10000.0)"


# ----- RMSNorm -----------------------------------------------------------------------------------
@pytest.mark.rms_norm
@SETTINGS
@given(scale=st.floats(1e-3, 1e3), D=st.integers(2, 9), seed=st.integers(0, 999))
def test_rms_norm_ignores_the_scale_of_its_input(scale: float, D: int, seed: int) -> None:
    """With eps = 0, rms_norm(c x) = rms_norm(x) for any c > 0, so moving along x changes
    nothing: the gradient of each row is orthogonal to that row, whatever the upstream gradient."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((3, D)), requires_grad=True)
    w = Tensor(rng.standard_normal(D))
    y = F.rms_norm(x, D, w, eps=0.0)
    np.testing.assert_allclose(F.rms_norm(Tensor(x.data * scale), D, w, eps=0.0).data, y.data, rtol=1e-9)
    y.backward(Tensor(rng.standard_normal(y.shape)))
    np.testing.assert_allclose((x.grad.data * x.data).sum(-1), 0.0, atol=1e-9)


# ----- grouped-query attention -------------------------------------------------------------------
def attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, gy: np.ndarray, **kw: object) -> list[np.ndarray]:
    """Output and the gradients of q, k and v for the upstream gradient gy."""
    tq, tk, tv = (Tensor(a, requires_grad=True) for a in (q, k, v))
    y = F.scaled_dot_product_attention(tq, tk, tv, **kw)  # type: ignore[arg-type]
    y.backward(Tensor(gy))
    return [y.data, tq.grad.data, tk.grad.data, tv.grad.data]


@pytest.mark.attention
@pytest.mark.gqa
@pytest.mark.parametrize("kw", [{}, {"is_causal": True}], ids=["plain", "causal"])
def test_gqa_with_as_many_key_heads_as_query_heads_is_plain_attention_bit_for_bit(kw: dict) -> None:
    """enable_gqa=True with nh == nkv takes the path of enable_gqa=False: the same bits, float32."""
    rng = np.random.default_rng(4)
    q, k, v, gy = (rng.standard_normal((2, 4, 6, 8)).astype(np.float32) for _ in range(4))
    plain, grouped = attend(q, k, v, gy, **kw), attend(q, k, v, gy, enable_gqa=True, **kw)
    for a, b in zip(plain, grouped, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.attention
@pytest.mark.gqa
@pytest.mark.parametrize(("nh", "nkv"), [(6, 3), (4, 1), (6, 2)])
def test_gqa_query_head_h_uses_key_value_head_h_div_group(nh: int, nkv: int) -> None:
    """Key/value head j holds the constant value j: query head h must read h // (nh / nkv)
    (PyTorch's repeat_interleave: heads 0, 0, 1, 1, ...), not h % nkv (a tiling)."""
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((1, nh, 3, 4)), rng.standard_normal((1, nkv, 3, 4))
    v = np.broadcast_to(np.arange(nkv, dtype=np.float64)[None, :, None, None], (1, nkv, 3, 2)).copy()
    y = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), enable_gqa=True).data
    expected = np.arange(nh) // (nh // nkv)
    np.testing.assert_allclose(y[0, :, 0, 0], expected, err_msg=f"key/value head read by each of {nh} query heads")


@pytest.mark.attention
@pytest.mark.gqa
@SETTINGS
@given(nkv=st.integers(1, 3), g=st.integers(2, 3), causal=st.booleans(), seed=st.integers(0, 999))
def test_gqa_is_attention_over_repeated_heads_with_group_summed_gradients(
    nkv: int, g: int, causal: bool, seed: int
) -> None:
    """Repeat k and v to nh heads in NumPy and run plain attention: the same output and query
    gradient, and each shared head's gradient is the sum of its g copies' gradients."""
    rng = np.random.default_rng(seed)
    nh = nkv * g
    q, gy = rng.standard_normal((2, nh, 4, 3)), rng.standard_normal((2, nh, 4, 2))
    k, v = rng.standard_normal((2, nkv, 5, 3)), rng.standard_normal((2, nkv, 5, 2))
    y, gq, gk, gv = attend(q, k, v, gy, is_causal=causal, enable_gqa=True)
    y_r, gq_r, gk_r, gv_r = attend(q, np.repeat(k, g, axis=1), np.repeat(v, g, axis=1), gy, is_causal=causal)
    np.testing.assert_allclose(y, y_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gq, gq_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gk, gk_r.reshape(2, nkv, g, 5, 3).sum(2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gv, gv_r.reshape(2, nkv, g, 5, 2).sum(2), rtol=1e-12, atol=1e-12)

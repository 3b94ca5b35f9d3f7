"""The speed paths give the plain ops' results: tiled causal attention, cache-sized chunks.

Tiled attention runs when is_causal=True and there are more queries than QUERY_TILE; these
tests shrink the tile (monkeypatch) so that short sequences cross several tiles, and check
the tiled op against the plain one, against central differences, and for causality bit for
bit. The chunked ops are checked on arrays larger than one chunk.

Select with `nox -s stage02 -- -m fast`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, gradcheck
from numpygpt.nn.functional import attention
from numpygpt.nn.functional._chunks import CHUNK, chunks, row_chunks
from numpygpt.nn.functional.activations import _gelu_erf, _gelu_tanh
from numpygpt.nn.functional.attention import ScaledDotProductAttention, TiledCausalAttention, causal_bias

pytestmark = pytest.mark.fast


def qkv(B: int, H: int, L: int, S: int, E: int, Ev: int, seed: int, dtype: type = np.float64) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    shapes = ((B, H, L, E), (B, H, S, E), (B, H, S, Ev))
    return [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def output_and_grads(f: object, inputs: list[Tensor], gy: np.ndarray) -> list[np.ndarray]:
    for t in inputs:
        t.grad = None
    y = f(*inputs)  # type: ignore[operator]
    y.backward(Tensor(gy))
    return [y.data] + [t.grad.data for t in inputs]


@pytest.mark.attention
@settings(max_examples=30, deadline=None)
@given(
    L=st.integers(1, 9),
    S=st.integers(1, 9),
    tile=st.integers(1, 4),
    dropout=st.booleans(),
    seed=st.integers(0, 999),
)
def test_tiled_causal_attention_equals_the_plain_op(L: int, S: int, tile: int, dropout: bool, seed: int) -> None:
    """Every tile size, more or fewer keys than queries, with and without a dropout mask."""
    q, k, v = qkv(2, 3, L, S, 4, 3, seed)
    drop = None
    if dropout:
        drop = (np.random.default_rng(seed + 1).random((2, 3, L, S)) > 0.3) / 0.7
    gy = np.random.default_rng(seed + 2).standard_normal((2, 3, L, 3))
    scale = 0.5
    tiled = output_and_grads(TiledCausalAttention(scale, drop, tile), [q, k, v], gy)
    plain = output_and_grads(
        ScaledDotProductAttention(scale, causal_bias(L, S, q.dtype.str), drop, True), [q, k, v], gy
    )
    for name, a, b in zip(("y", "gq", "gk", "gv"), tiled, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"tiled causal attention: {name} differs")


@pytest.mark.attention
@pytest.mark.gradcheck
@pytest.mark.parametrize("L, S", [(5, 5), (3, 5), (5, 3)])
def test_tiled_causal_attention_gradcheck(L: int, S: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attention, "QUERY_TILE", 2)
    q, k, v = qkv(1, 2, L, S, 3, 2, seed=7)

    def fn(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=0.3, generator=np.random.default_rng(3)
        )

    assert gradcheck(fn, q, k, v)


@pytest.mark.attention
def test_causal_attention_takes_the_tiled_path_above_one_tile() -> None:
    L = attention.QUERY_TILE
    short = F.scaled_dot_product_attention(*qkv(1, 1, L, L, 2, 2, seed=0), is_causal=True)
    long = F.scaled_dot_product_attention(*qkv(1, 1, L + 1, L + 1, 2, 2, seed=0), is_causal=True)
    assert isinstance(short.creator, ScaledDotProductAttention)
    assert isinstance(long.creator, TiledCausalAttention)


@pytest.mark.attention
@pytest.mark.parametrize("tile", [3, None], ids=["tile3", "QUERY_TILE"])
def test_tiled_causal_attention_never_looks_ahead(tile: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing keys and values from position t on leaves every earlier query's output and
    gradient unchanged, bit for bit, in float32, wherever t falls in a tile."""
    if tile is not None:
        monkeypatch.setattr(attention, "QUERY_TILE", tile)
    T = attention.QUERY_TILE * 2 + 3
    q, k, v = qkv(2, 2, T, T, 4, 4, seed=1, dtype=np.float32)
    gy = np.random.default_rng(2).standard_normal((2, 2, T, 4)).astype(np.float32)
    for t in (1, T // 2, T - 1):
        gy_past = gy.copy()
        gy_past[..., t:, :] = 0  # only the past queries' outputs reach the loss
        y, gq, gk, gv = output_and_grads(
            lambda *a: F.scaled_dot_product_attention(*a, is_causal=True), [q, k, v], gy_past
        )
        k2, v2 = (Tensor(a.data.copy(), requires_grad=True) for a in (k, v))
        k2.data[..., t:, :] += 10.0
        v2.data[..., t:, :] -= 10.0
        y2, gq2, _, _ = output_and_grads(
            lambda *a: F.scaled_dot_product_attention(*a, is_causal=True), [q, k2, v2], gy_past
        )
        np.testing.assert_array_equal(y[..., :t, :], y2[..., :t, :], err_msg=f"queries before {t} saw keys {t}..")
        np.testing.assert_array_equal(gq[..., :t, :], gq2[..., :t, :], err_msg=f"gq before {t} saw keys {t}..")
        np.testing.assert_array_equal(gk[..., t:, :], 0, err_msg=f"keys {t}.. got a gradient from earlier queries")
        np.testing.assert_array_equal(gv[..., t:, :], 0, err_msg=f"values {t}.. got a gradient from earlier queries")


@pytest.mark.attention
def test_tiled_causal_attention_survives_scores_far_above_key_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """A score more than ~88 above key 0's overflows exp after the key-0 shift: the rows are
    then shifted by their max, and the result is the softmax all the same."""
    monkeypatch.setattr(attention, "QUERY_TILE", 2)
    q = Tensor(np.full((1, 1, 5, 2), 30.0, dtype=np.float32))
    k = Tensor(np.array([[[[-10.0, -10.0], [10.0, 10.0], [0, 0], [1, 1], [2, 2]]]], dtype=np.float32))
    v = Tensor(np.arange(10.0, dtype=np.float32).reshape(1, 1, 5, 2))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0).data
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[0, 0, 1:], np.tile(v.data[0, 0, 1], (4, 1)), rtol=1e-6)  # key 1 dominates


@pytest.mark.activations
@pytest.mark.parametrize("formula", [_gelu_tanh, _gelu_erf], ids=["tanh", "erf"])
def test_gelu_over_chunks_equals_the_formula_on_the_whole_array(formula: object) -> None:
    """Elementwise, so every number is computed as it would be in one pass over everything."""
    x = np.random.default_rng(0).standard_normal((3, CHUNK // 2 + 7)).astype(np.float32) * 3
    y, d = np.empty_like(x), np.empty_like(x)
    with np.errstate(over="ignore"):
        formula(x, y, d)  # type: ignore[operator]
    approximate = "tanh" if formula is _gelu_tanh else "none"
    t = Tensor(x, requires_grad=True)
    out = F.gelu(t, approximate=approximate)
    out.backward(Tensor(np.ones_like(x)))
    np.testing.assert_array_equal(out.data, y)
    np.testing.assert_array_equal(t.grad.data, d)


def test_chunks_cover_the_range_once() -> None:
    assert [(c.start, c.stop) for c in chunks(5, 2)] == [(0, 2), (2, 4), (4, 5)]
    assert list(chunks(0, 2)) == []
    assert [(c.start, c.stop) for c in row_chunks(5, 3, size=7)] == [(0, 2), (2, 4), (4, 5)]  # 7 // 3 rows
    assert [(c.start, c.stop) for c in row_chunks(2, 10, size=7)] == [(0, 1), (1, 2)]  # at least one row

"""Each fused op equals its composed twin, forward and backward, in float64.

`numpygpt.nn.functional.composed` writes every layer op as a chain of stage01's primitive
Tensor ops, so autograd derives the backward pass by itself. The fused op must give the
same output and the same gradients for a random upstream gradient: if a hand-derived
backward drops a term, these tests name the op. Shapes vary under hypothesis.

Select with `nox -s stage02 -- -m composed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.nn.functional import composed as C

pytestmark = pytest.mark.composed
SETTINGS = settings(max_examples=25, deadline=None)
shape_lists = st.lists(st.integers(1, 4), min_size=0, max_size=2)


def leaves(rng: np.random.Generator, *shapes: Sequence[int], scale: float = 1.0) -> list[Tensor]:
    return [Tensor(rng.standard_normal(tuple(s)) * scale, requires_grad=True) for s in shapes]


def vjp(fn: Callable[..., Tensor], inputs: list[Tensor], gy: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """fn's output and d(sum(gy * fn(inputs)))/d(input) for each input."""
    for x in inputs:
        x.grad = None
    y = fn(*inputs)
    y.backward(Tensor(np.asarray(gy, dtype=y.dtype)))
    return y.data, [x.grad.data for x in inputs]


def assert_same(
    fused: Callable[..., Tensor],
    composed: Callable[..., Tensor],
    inputs: list[Tensor],
    seed: int = 0,
    atol: float = 1e-10,
    grad_atol: float = 1e-10,
    name: str = "",
    hint: str = "",
) -> None:
    """Same output, and the same gradients for one random upstream gradient.

    `name` and `hint` go into the failure message: the op, and what a wrong one most likely got wrong.
    """
    shape = fused(*inputs).shape
    gy = np.random.default_rng(seed + 99).standard_normal(shape)
    y_f, g_f = vjp(fused, inputs, gy)
    y_c, g_c = vjp(composed, inputs, gy)
    op = f"{name}: " if name else ""
    why = f": {hint}" if hint else ""
    np.testing.assert_allclose(y_f, y_c, rtol=1e-9, atol=atol, err_msg=f"{op}forward differs from the composed op{why}")
    for i, (a, b) in enumerate(zip(g_f, g_c, strict=True)):
        np.testing.assert_allclose(
            a, b, rtol=1e-7, atol=grad_atol, err_msg=f"{op}gradient of input {i} differs from the composed op's{why}"
        )


@pytest.mark.linear
@SETTINGS
@given(lead=shape_lists, fin=st.integers(1, 5), fout=st.integers(1, 5), bias=st.booleans(), seed=st.integers(0, 999))
def test_linear(lead: list[int], fin: int, fout: int, bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if bias:
        assert_same(F.linear, C.linear, leaves(rng, (*lead, fin), (fout, fin), (fout,)), seed)
    else:
        assert_same(
            lambda x, w: F.linear(x, w), lambda x, w: C.linear(x, w), leaves(rng, (*lead, fin), (fout, fin)), seed
        )


@pytest.mark.embedding
@SETTINGS
@given(ids_shape=st.lists(st.integers(1, 5), min_size=1, max_size=2), V=st.integers(1, 6), seed=st.integers(0, 999))
def test_embedding(ids_shape: list[int], V: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=ids_shape)  # small V: ids repeat
    assert_same(
        lambda w: F.embedding(ids, w),
        lambda w: C.embedding(ids, w),
        leaves(rng, (V, 3)),
        seed,
        name="embedding",
    )


@pytest.mark.layer_norm
@SETTINGS
@given(
    lead=shape_lists, D=st.integers(2, 8), affine=st.sampled_from(["both", "weight", "none"]), seed=st.integers(0, 999)
)
def test_layer_norm(lead: list[int], D: int, affine: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, w, b = leaves(rng, (*lead, D), (D,), (D,), scale=2.0)
    if affine == "both":
        assert_same(
            lambda x, w, b: F.layer_norm(x, D, w, b),
            lambda x, w, b: C.layer_norm(x, D, w, b),
            [x, w, b],
            seed,
            name="layer_norm",
        )
    elif affine == "weight":
        assert_same(
            lambda x, w: F.layer_norm(x, D, w),
            lambda x, w: C.layer_norm(x, D, w),
            [x, w],
            seed,
            name="layer_norm",
        )
    else:
        assert_same(lambda x: F.layer_norm(x, D), lambda x: C.layer_norm(x, D), [x], seed, name="layer_norm")


RMS_HINT = (
    "rms_norm's backward is gx = r * (g - xhat * mean(g * xhat)) with g = gy * w, r = 1/sqrt(mean(x^2) + eps): "
    "the path through the mean square"
)


@pytest.mark.rms_norm
@SETTINGS
@given(
    lead=shape_lists,
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    affine=st.booleans(),
    eps=st.sampled_from([None, 1e-5, 0.5]),
    seed=st.integers(0, 999),
)
def test_rms_norm(lead: list[int], shape: list[int], affine: bool, eps: float | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ns = tuple(shape)
    x, w = leaves(rng, (*lead, *ns), ns, scale=2.0)
    if affine:
        fused, composed, inputs = (
            lambda x, w: F.rms_norm(x, ns, w, eps),
            lambda x, w: C.rms_norm(x, ns, w, eps),
            [x, w],
        )
    else:
        fused, composed, inputs = (lambda x: F.rms_norm(x, ns, eps=eps), lambda x: C.rms_norm(x, ns, eps=eps), [x])
    assert_same(fused, composed, inputs, seed, name="rms_norm", hint=RMS_HINT)


@pytest.mark.rotary
@SETTINGS
@given(
    lead=shape_lists,
    T=st.integers(1, 5),
    half=st.integers(1, 4),
    offset=st.integers(0, 20),
    tables=st.sampled_from(["rope", "random"]),
    seed=st.integers(0, 999),
)
def test_rotary_embedding(lead: list[int], T: int, half: int, offset: int, tables: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    hs = 2 * half
    if tables == "rope":
        cos, sin = F.rotary_tables(hs, offset + T, dtype=np.float64)
    else:
        cos, sin = rng.standard_normal((offset + T, hs)), rng.standard_normal((offset + T, hs))
    assert_same(
        lambda x: F.rotary_embedding(x, cos, sin, offset),
        lambda x: C.rotary_embedding(x, cos, sin, offset),
        leaves(rng, (*lead, T, hs)),
        seed,
        name="rotary_embedding",
        hint="y = x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1], rows offset..offset+T-1 of "
        "the tables; backward is the rotation by the opposite angle",
    )


@pytest.mark.activations
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_gelu_tanh(shape: list[int], seed: int) -> None:
    x = leaves(np.random.default_rng(seed), shape, scale=3.0)
    assert_same(lambda x: F.gelu(x, "tanh"), lambda x: C.gelu(x, "tanh"), x, seed)


@pytest.mark.activations
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_gelu_none(shape: list[int], seed: int) -> None:
    """The forward passes share the erfc fit; the fused backward uses the exact normal density,
    the composed one the fit's derivative, which agree to about 1e-7 (see composed.gelu)."""
    x = leaves(np.random.default_rng(seed), shape, scale=3.0)
    assert_same(lambda x: F.gelu(x), lambda x: C.gelu(x), x, seed, grad_atol=1e-6)


@pytest.mark.activations
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_relu(shape: list[int], seed: int) -> None:
    assert_same(F.relu, C.relu, leaves(np.random.default_rng(seed), shape), seed)


@pytest.mark.activations
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_silu(shape: list[int], seed: int) -> None:
    assert_same(F.silu, C.silu, leaves(np.random.default_rng(seed), shape, scale=4.0), seed, name="silu")


@pytest.mark.swiglu
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 999))
def test_swiglu(shape: list[int], seed: int) -> None:
    assert_same(
        F.swiglu,
        C.swiglu,
        leaves(np.random.default_rng(seed), shape, shape, scale=4.0),
        seed,
        name="swiglu",
        hint="g_up = gy * silu(gate); g_gate = gy * up * s * (1 + gate * (1 - s)) with s = sigmoid(gate)",
    )


@pytest.mark.softmax
@SETTINGS
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    dim_seed=st.integers(0, 10),
    op=st.sampled_from(["softmax", "log_softmax"]),
    seed=st.integers(0, 999),
)
def test_softmax(shape: list[int], dim_seed: int, op: str, seed: int) -> None:
    dim = dim_seed % len(shape) - (len(shape) if dim_seed % 2 else 0)  # positive and negative dims
    fused, composed = getattr(F, op), getattr(C, op)
    assert_same(
        lambda x: fused(x, dim),
        lambda x: composed(x, dim),
        leaves(np.random.default_rng(seed), shape, scale=3.0),
        seed,
        name=op,
    )


@pytest.mark.cross_entropy
@SETTINGS
@given(
    N=st.integers(1, 8),
    Cn=st.integers(2, 6),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    ignore=st.sampled_from([-100, 0, 1]),
    seed=st.integers(0, 999),
)
def test_cross_entropy(N: int, Cn: int, reduction: str, ignore: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = rng.integers(0, Cn, size=N)
    t[0] = 1 - (ignore == 1)  # at least one row counts, so 'mean' is defined
    if ignore == -100 and N > 1:
        t[-1] = -100
    assert_same(
        lambda x: F.cross_entropy(x, t, ignore_index=ignore, reduction=reduction),
        lambda x: C.cross_entropy(x, t, ignore_index=ignore, reduction=reduction),
        leaves(rng, (N, Cn), scale=2.0),
        seed,
        name=f"cross_entropy(reduction={reduction!r})",
    )


@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_n_c_d1_is_the_flattened_2d_form(reduction: str) -> None:
    """(N, C, d1) logits are (N*d1, C) rows with the class dimension moved last."""
    rng = np.random.default_rng(0)
    t = np.array([[0, 3, 1], [2, -100, 3]])
    flat_t = t.reshape(-1)

    def composed(x: Tensor) -> Tensor:
        loss = C.cross_entropy(x.permute(0, 2, 1).reshape(-1, 4), flat_t, reduction=reduction)
        return loss.reshape(2, 3) if reduction == "none" else loss

    assert_same(lambda x: F.cross_entropy(x, t, reduction=reduction), composed, leaves(rng, (2, 4, 3)))


@pytest.mark.dropout
def test_dropout() -> None:
    """The mask read back from the fused output, fed to the composed op, gives the same gradient."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.uniform(0.5, 1.5, (6, 7)), requires_grad=True)
    gen_seed = 3
    mask = F.dropout(x, 0.3, generator=np.random.default_rng(gen_seed)).data / x.data
    assert_same(
        lambda x: F.dropout(x, 0.3, generator=np.random.default_rng(gen_seed)), lambda x: C.dropout(x, mask), [x]
    )


def mask_kwargs(rng: np.random.Generator, mask: str, L: int, S: int, float_shape: tuple[int, ...]) -> dict:
    """Attention's mask arguments: none, causal, a bool (L, S) mask, or a float mask of float_shape."""
    if mask == "none":
        return {}
    if mask == "causal":
        return {"is_causal": True}
    if mask == "bool":
        m = rng.random((L, S)) < 0.6
        m[:, 0] = True  # every query keeps at least one key
        return {"attn_mask": m}
    return {"attn_mask": rng.standard_normal(float_shape)}


@pytest.mark.attention
@SETTINGS
@given(
    B=st.integers(1, 2),
    H=st.integers(1, 3),
    L=st.integers(1, 5),
    S=st.integers(1, 5),
    E=st.integers(1, 4),
    Ev=st.integers(1, 4),
    mask=st.sampled_from(["none", "causal", "bool", "float"]),
    seed=st.integers(0, 999),
)
def test_sdpa(B: int, H: int, L: int, S: int, E: int, Ev: int, mask: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    kw = mask_kwargs(rng, mask, L, S, (H, L, S))
    assert_same(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
        lambda q, k, v: C.scaled_dot_product_attention(q, k, v, **kw),
        leaves(rng, (B, H, L, E), (B, H, S, E), (B, H, S, Ev)),
        seed,
        name=f"scaled_dot_product_attention(mask={mask!r})",
    )


@pytest.mark.attention
@pytest.mark.gqa
@SETTINGS
@given(
    B=st.integers(1, 2),
    nkv=st.integers(1, 3),
    g=st.integers(1, 3),
    L=st.integers(1, 4),
    S=st.integers(1, 4),
    E=st.integers(1, 3),
    mask=st.sampled_from(["none", "causal", "bool", "head_float", "one_head_float"]),
    seed=st.integers(0, 999),
)
def test_sdpa_gqa(B: int, nkv: int, g: int, L: int, S: int, E: int, mask: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    nh = nkv * g
    kw = {"enable_gqa": True, **mask_kwargs(rng, mask, L, S, (nh, L, S) if mask == "head_float" else (B, 1, L, S))}
    assert_same(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
        lambda q, k, v: C.scaled_dot_product_attention(q, k, v, **kw),
        leaves(rng, (B, nh, L, E), (B, nkv, S, E), (B, nkv, S, 2)),
        seed,
        name=f"scaled_dot_product_attention(enable_gqa=True, mask={mask!r})",
        hint="query head h shares key/value head h // (nh / nkv) (repeat_interleave, not tile), and a shared "
        "head's gradient is the sum over its group's query heads",
    )


@pytest.mark.attention
@pytest.mark.gqa
def test_sdpa_gqa_dropout_is_the_mask_of_repeated_heads() -> None:
    """The dropout mask is drawn for the (B, nh, L, S) weights, as for attention over repeated k
    and v: with the same generator seed, both give the same output and gradients."""
    rng = np.random.default_rng(0)
    q, k, v = leaves(rng, (2, 4, 5, 3), (2, 2, 5, 3), (2, 2, 5, 4))

    def attend(q: Tensor, k: Tensor, v: Tensor, enable_gqa: bool) -> Tensor:
        gen = np.random.default_rng(31)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, enable_gqa=enable_gqa, generator=gen)

    assert_same(
        lambda q, k, v: attend(q, k, v, True),
        lambda q, k, v: attend(q, C.repeat_interleave_heads(k, 4), C.repeat_interleave_heads(v, 4), False),
        [q, k, v],
    )


@pytest.mark.attention
def test_sdpa_dropout() -> None:
    """With v the identity, attention returns its weights A = softmax(...) * mask; the same
    generator seed repeats the mask, so the composed op with that mask must agree."""
    rng = np.random.default_rng(0)
    q, k, v = leaves(rng, (2, 2, 5, 3), (2, 2, 5, 3), (2, 2, 5, 4))
    p, seed = 0.4, 21

    def fused(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, generator=np.random.default_rng(seed))

    weights = fused(q, k, Tensor(np.broadcast_to(np.eye(5), (2, 2, 5, 5)).copy())).data
    probs = C.scaled_dot_product_attention(q, k, Tensor(np.eye(5))).data
    mask = weights / probs
    kept = mask != 0
    np.testing.assert_allclose(mask[kept], 1 / (1 - p), err_msg="kept weights are scaled by 1/(1-p)")
    assert 0 < kept.mean() < 1

    def composed(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        s = (q @ k.transpose(-1, -2)) * (1 / np.sqrt(3))
        return (C.softmax(s, dim=-1) * Tensor(mask)) @ v

    assert_same(fused, composed, [q, k, v])


# ----- one graph node per op -------------------------------------------------------------
ONE_NODE: dict[str, tuple[Callable[..., Tensor], list[tuple[int, ...]]]] = {
    "linear": (F.linear, [(3, 4), (2, 4), (2,)]),
    "embedding": (lambda w: F.embedding(np.array([0, 1, 1]), w), [(3, 2)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, 4, w, b), [(3, 4), (4,), (4,)]),
    "rms_norm": (lambda x, w: F.rms_norm(x, 4, w), [(3, 4), (4,)]),
    "rotary_embedding": (lambda x: F.rotary_embedding(x, *F.rotary_tables(4, 5), offset=2), [(3, 4)]),
    "gelu": (F.gelu, [(3, 4)]),
    "relu": (F.relu, [(3, 4)]),
    "silu": (F.silu, [(3, 4)]),
    "swiglu": (F.swiglu, [(3, 4), (3, 4)]),
    "softmax": (lambda x: F.softmax(x, -1), [(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, -1), [(3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, np.array([0, 1, 3])), [(3, 4)]),
    "dropout": (lambda x: F.dropout(x, 0.5), [(3, 4)]),
    "sdpa": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 3, 4)] * 3),
    "sdpa_gqa_nh_equal_nkv": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        [(2, 3, 4)] * 3,
    ),
}


@pytest.mark.parametrize("name", sorted(ONE_NODE))
def test_fused_op_is_one_graph_node_and_once_differentiable(name: str) -> None:
    """The whole op is one Function whose inputs are the leaves; its NumPy backward cannot be
    differentiated again, and says so."""
    fn, shapes = ONE_NODE[name]
    xs = leaves(np.random.default_rng(0), *shapes)
    y = fn(*xs)
    assert y.creator is not None and all(t is x for t, x in zip(y.creator.inputs, xs, strict=True)), (
        f"{name}: expected one Function taking the inputs directly, got a chain ending in {y.creator}"
    )
    loss = (y * Tensor(np.random.default_rng(1).standard_normal(y.shape))).sum()
    with pytest.raises(RuntimeError, match="once_differentiable"):
        loss.backward(create_graph=True)

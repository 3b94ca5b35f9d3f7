"""The hand-derived backward passes of stage 02's exercises, on small inputs, against their formulas.

Each test is written for one exercise (its marker runs it first) and checks the gradients one at a
time against what each classic mistake would give for the same input, so that a failure names the
mistake, not only the op. The references are written here in plain float64 NumPy; the random
upstream gradients come from generators of their own, independent of the inputs.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.autograd.exercises import check_value
from numpygpt.nn.functional.attention import causal_bias
from numpygpt.nn.functional.embedding import scatter_add_rows

pytestmark = pytest.mark.composed


def grads(y: Tensor, gy: np.ndarray, *inputs: Tensor) -> list[np.ndarray]:
    """Backward from y with upstream gradient gy; the .grad of each input (set to None first).

    A shape error of the stage01 engine (the backward returned a gradient of the wrong shape) is
    turned into the exercise's words.
    """
    for x in inputs:
        x.grad = None
    try:
        y.backward(Tensor(gy))
    except RuntimeError as e:
        m = re.search(r"(\w+)\.backward returned a gradient of shape (\(.*?\)) for an input of shape (\(.*?\))", str(e))
        if m is None:
            raise
        raise AssertionError(
            f"{m[1]}.backward returned a gradient of shape {m[2]} for an input of shape {m[3]}: each gradient "
            "must have its input's shape (a weight or bias of normalized_shape (3, 4) gets a (3, 4) gradient)"
        ) from e
    out = []
    for x in inputs:
        assert x.grad is not None, f"no gradient reached an input of shape {x.shape}"
        out.append(x.grad.data.copy())  # a copy: a later backward must not change what this one returned
    return out


def rows_mean(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1, keepdims=True)


# ----- exercise 2.2: layer norm --------------------------------------------------------------------
@pytest.mark.ex2_2
@pytest.mark.parametrize("affine", [True, False], ids=["weight_and_bias", "no_affine"])
def test_layer_norm_backward_by_hand(affine: bool) -> None:
    rng = np.random.default_rng(11)
    x = Tensor(rng.standard_normal((4, 6)) * 3 + 1, requires_grad=True)
    w = Tensor(rng.uniform(0.5, 2.0, 6), requires_grad=True)
    b = Tensor(rng.standard_normal(6), requires_grad=True)
    gy = np.random.default_rng(12).standard_normal((4, 6))
    params = (w, b) if affine else ()
    got = grads(F.layer_norm(x, 6, *params), gy, x, *params)

    xc = x.data - rows_mean(x.data)
    rstd = 1 / np.sqrt(rows_mean(xc**2) + 1e-5)
    xhat = xc * rstd
    wv = w.data if affine else np.ones(6)
    g = gy * wv  # the gradient at xhat
    check_value(
        got[0],
        rstd * (g - rows_mean(g) - xhat * rows_mean(g * xhat)),
        f"layer_norm's gradient of x ({'with' if affine else 'without'} weight)",
        {
            "it is missing the factor rstd = 1/sqrt(var + eps) that every path from x to xhat passes through": g
            - rows_mean(g)
            - xhat * rows_mean(g * xhat),
            "it treats the row's mean and variance as constants: every input of a row moves them, and "
            "through them every output of the row": rstd * g,
            "it leaves out the path through the row's mean": rstd * (g - xhat * rows_mean(g * xhat)),
            "it leaves out the path through the row's variance": rstd * (g - rows_mean(g)),
            "it uses gy where the gradient at xhat belongs: y = xhat * w + b, so the gradient reaching xhat "
            "is gy times the weight (self.inputs[1])": rstd * (gy - rows_mean(gy) - xhat * rows_mean(gy * xhat)),
        },
        rtol=1e-7,
    )
    if affine:
        check_value(
            got[1],
            (gy * xhat).sum(0),
            "layer_norm's gradient of the weight",
            {
                "it sums gy alone: y = xhat * w + b, so each gy is weighted by what w multiplies": gy.sum(0),
                "it sums gy * x: the weight multiplies the normalised x (xhat), not x": (gy * x.data).sum(0),
            },
            rtol=1e-7,
        )
        check_value(
            got[2],
            gy.sum(0),
            "layer_norm's gradient of the bias",
            {"it weights gy by xhat: the bias is added as it is, so its gradient is gy summed": (gy * xhat).sum(0)},
            rtol=1e-7,
        )


@pytest.mark.ex2_2
def test_layer_norm_backward_over_two_dimensions() -> None:
    # normalized_shape (3, 4): each row is 12 numbers, and weight and bias are (3, 4).
    rng = np.random.default_rng(13)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    gy = np.random.default_rng(14).standard_normal((2, 3, 4))
    gx, gw, gb = grads(F.layer_norm(x, (3, 4), w, b), gy, x, w, b)
    x2, gy2 = x.data.reshape(2, 12), gy.reshape(2, 12)
    xhat = (x2 - rows_mean(x2)) / np.sqrt(rows_mean((x2 - rows_mean(x2)) ** 2) + 1e-5)
    check_value(gw, (gy2 * xhat).sum(0).reshape(3, 4), "layer_norm's gradient of a (3, 4) weight", rtol=1e-7)
    check_value(gb, gy2.sum(0).reshape(3, 4), "layer_norm's gradient of a (3, 4) bias", rtol=1e-7)
    assert gx.shape == (2, 3, 4), f"layer_norm's gradient of x has shape {gx.shape}, expected x's (2, 3, 4)"


# ----- exercise 2.3: softmax -----------------------------------------------------------------------
@pytest.mark.ex2_3
@pytest.mark.parametrize("dim", [-1, 0], ids=["last_dim", "dim_0"])
def test_softmax_backward_by_hand(dim: int) -> None:
    x = Tensor(np.random.default_rng(21).standard_normal((3, 5)), requires_grad=True)
    gy = np.random.default_rng(22).standard_normal((3, 5))
    (got,) = grads(F.softmax(x, dim=dim), gy, x)
    e = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
    y = e / e.sum(axis=dim, keepdims=True)
    mistakes = {
        "it is y * gy: every output shares one normaliser, so raising one x_j lowers every other y_i; "
        "subtract the part of gy that this shared normaliser takes away": y * gy,
        "it subtracts the plain mean of gy: the part to subtract is the average of gy weighted by y": y
        * (gy - gy.mean(axis=dim, keepdims=True)),
        "it uses the input x where the saved output y belongs (self.output().data)": x.data
        * (gy - (gy * x.data).sum(axis=dim, keepdims=True)),
    }
    if dim != -1:
        mistakes["it sums along the last axis, not along dim (the softmax's own dimension)"] = y * (
            gy - (gy * y).sum(axis=-1, keepdims=True)
        )
    check_value(got, y * (gy - (gy * y).sum(axis=dim, keepdims=True)), f"softmax's gradient (dim={dim})", mistakes)


# ----- exercise 2.4: cross-entropy -----------------------------------------------------------------
def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.ex2_4
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward_by_hand(reduction: str) -> None:
    x = Tensor(np.random.default_rng(31).standard_normal((5, 4)), requires_grad=True)
    t = np.array([1, 0, -100, 3, 1])  # row 2 is ignored (ignore_index = -100)
    gy = np.asarray(0.7) if reduction != "none" else np.random.default_rng(32).standard_normal(5)
    logits = x.data.copy()
    (got,) = grads(F.cross_entropy(x, t, reduction=reduction), gy, x)
    assert np.array_equal(x.data, logits), (
        "backward changed the logits (its input, self.inputs[0].data) in place: compute the gradient in a new array"
    )
    p, onehot = softmax_rows(logits), np.zeros((5, 4))
    onehot[[0, 1, 3, 4], [1, 0, 3, 1]] = 1
    keep = (t != -100)[:, None]
    per_row = gy[:, None] if reduction == "none" else gy / (4 if reduction == "mean" else 1)
    as_class_0 = onehot.copy()
    as_class_0[2, 0] = 1  # the ignored row treated as a row of class 0 (its target replaced by a safe index)
    mistakes = {
        "an ignored row (target ignore_index) got a gradient: it is not part of the loss, so its gradient is 0": (
            p - as_class_0
        )
        * per_row,
        "it is softmax(x) alone: the target's own logit also appears in the loss, pulling the other way at "
        "the target's column": p * per_row * keep,
    }
    if reduction == "mean":
        mistakes[
            "it is the gradient of the sum: the mean divides by the number of rows counted (4 here), "
            "so its gradient does too"
        ] = (p - onehot) * gy * keep
        mistakes["it divides by all 5 rows: the mean counts the rows that are not ignored (4 here)"] = (
            (p - onehot) * gy / 5 * keep
        )
    if reduction == "none":
        mistakes[
            "every row was scaled by the same number: with reduction='none' row i has its own upstream gradient gy[i]"
        ] = (p - onehot) * gy.mean() * keep
    check_value(got, (p - onehot) * per_row * keep, f"cross_entropy's gradient (reduction={reduction!r})", mistakes)


@pytest.mark.ex2_4
def test_cross_entropy_backward_leaves_what_forward_kept_alone() -> None:
    x = Tensor(np.random.default_rng(33).standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 2, 1]))
    (first,) = grads(loss, np.asarray(1.0), x)
    (second,) = grads(loss, np.asarray(1.0), x)  # the graph is kept: the same backward again
    assert np.allclose(second, first), (
        "a second backward() through the same loss gave another gradient: backward changed the logits "
        "(self.inputs[0].data) or the row statistics forward kept; write the gradient into a new array"
    )


# ----- exercise 2.5: the causal mask ---------------------------------------------------------------
@pytest.mark.ex2_5
@pytest.mark.parametrize("L, S", [(4, 4), (2, 5), (5, 3)], ids=["square", "more_keys", "more_queries"])
def test_causal_bias_by_hand(L: int, S: int) -> None:
    got = causal_bias(L, S, np.dtype(np.float64).str)
    i, j = np.arange(L)[:, None], np.arange(S)[None, :]
    want = np.where(j <= i, 0.0, -np.inf)  # top-left aligned, as PyTorch: query i sees keys 0..i
    assert got.shape == (L, S), f"causal_bias({L}, {S}) has shape {got.shape}, expected ({L}, {S})"
    check_value(
        got,
        want,
        f"causal_bias({L}, {S})",
        {
            "it hides the diagonal too: a query may attend to its own key (j == i)": np.where(j < i, 0.0, -np.inf),
            "it hides the past and shows the future: -inf belongs above the diagonal (keys j > i)": np.where(
                j >= i, 0.0, -np.inf
            ),
            "it is aligned to the bottom right: PyTorch's is_causal aligns the mask to the top left (query i "
            "sees keys 0..i whatever L and S)": np.where(j <= i + S - L, 0.0, -np.inf),
        },
    )
    assert not got.flags.writeable, (
        "causal_bias's array can be written to: it is cached and shared by every call with these sizes, so a "
        "caller that changed it in place would change the mask of every later step; make it read-only"
    )


# ----- exercise 2.6: attention backward ------------------------------------------------------------
def attention_grads(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, gy: np.ndarray, scale: float, bias: np.ndarray, m: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The gradients (gq, gk, gv) of attention, and those of each classic mistake."""
    s = q @ k.swapaxes(-1, -2) * scale + bias
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    a = p * m
    ga = gy @ v.swapaxes(-1, -2)

    def through(gp: np.ndarray) -> np.ndarray:  # softmax's backward
        return p * (gp - (gp * p).sum(axis=-1, keepdims=True))

    gs = through(ga * m)
    gv = a.swapaxes(-1, -2) @ gy
    out = {"right": (gs @ k * scale, gs.swapaxes(-1, -2) @ q * scale, gv)}
    out["the scale is missing: the scores are q k^T times scale, so both gq and gk carry that factor"] = (
        gs @ k,
        gs.swapaxes(-1, -2) @ q,
        gv,
    )
    out["softmax's backward is missing the term of the shared normaliser (each row of P sums to 1)"] = (
        p * ga * m @ k * scale,
        (p * ga * m).swapaxes(-1, -2) @ q * scale,
        gv,
    )
    out["the dropout mask is not applied in backward: what forward multiplied by the mask, backward must too"] = (
        through(ga) @ k * scale,
        through(ga).swapaxes(-1, -2) @ q * scale,
        gv,
    )
    out["gv uses the weights before dropout: the values were weighted by A = dropout(P)"] = (
        out["right"][0],
        out["right"][1],
        p.swapaxes(-1, -2) @ gy,
    )
    if q.shape[-2] == k.shape[-2]:
        out["gk is gs q without the transpose: key j collects, over the queries i, gs[i, j] times q[i]"] = (
            out["right"][0],
            gs @ q * scale,
            gv,
        )
    return out


@pytest.mark.ex2_6
@pytest.mark.parametrize("causal, L, S", [(False, 3, 5), (True, 4, 4)], ids=["no_mask_more_keys", "causal"])
@pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["no_dropout", "dropout"])
def test_attention_backward_by_hand(causal: bool, L: int, S: int, dropout: float) -> None:
    rng = np.random.default_rng(41)
    q = Tensor(rng.standard_normal((2, L, 3)), requires_grad=True)
    k = Tensor(rng.standard_normal((2, S, 3)), requires_grad=True)
    v = Tensor(rng.standard_normal((2, S, 2)), requires_grad=True)
    gy = np.random.default_rng(42).standard_normal((2, L, 2))
    y = F.scaled_dot_product_attention(
        q, k, v, dropout_p=dropout, is_causal=causal, generator=np.random.default_rng(43)
    )
    m = y.creator.drop_mask if dropout else np.ones((2, L, S))
    bias = np.triu(np.full((L, S), -np.inf), k=1) if causal else np.zeros((L, S))
    try:
        got = grads(y, gy, q, k, v)
    except ValueError as e:
        if "matmul" not in str(e) and "mismatch" not in str(e):
            raise
        raise AssertionError(
            f"attention's backward raised {e}: with L = {L} queries and S = {S} keys, gs is (L, S); gq is (L, E) "
            "like q and gk (S, E) like k: which product of gs (or its transpose) with k or q gives each?"
        ) from e
    cases = attention_grads(q.data, k.data, v.data, gy, 1 / np.sqrt(3), bias, m)
    right = cases.pop("right")
    for i, name in enumerate(["q", "k", "v"]):
        check_value(
            got[i],
            right[i],
            f"attention's gradient of {name} ({'causal' if causal else 'no mask'}, L={L}, S={S}, dropout={dropout})",
            {mistake: value[i] for mistake, value in cases.items() if not np.allclose(value[i], right[i])},
            rtol=1e-7,
        )


# ----- exercise 2.7: the embedding's backward ------------------------------------------------------
@pytest.mark.ex2_7
def test_scatter_add_rows_by_hand() -> None:
    ids = np.array([3, 1, 3, 0, 3])
    rows = np.random.default_rng(51).standard_normal((5, 2))
    got = scatter_add_rows(ids, rows, 5)
    want = np.zeros((5, 2))
    want[3] = rows[0] + rows[2] + rows[4]
    want[1], want[0] = rows[1], rows[3]
    last = np.zeros((5, 2))
    last[ids] = rows  # a plain assignment: the last row of each id wins
    check_value(
        got,
        want,
        "scatter_add_rows(ids=[3, 1, 3, 0, 3], rows, 5)",
        {
            "id 3, picked three times, kept one of its rows: every row whose id is i adds into out[i]": last,
            "the smallest id (0) got nothing: the first run of equal ids starts at position 0": np.where(
                np.arange(5)[:, None] == 0, 0.0, want
            ),
        },
    )
    try:
        empty = scatter_add_rows(np.zeros(0, dtype=np.int64), np.zeros((0, 2)), 4)
    except (IndexError, ValueError) as e:
        raise AssertionError(
            f"scatter_add_rows with no ids raised {e!r}: with no ids there is nothing to add (np.add.reduceat "
            "cannot take an empty array), and every row of the gradient is 0"
        ) from e
    check_value(empty, np.zeros((4, 2)), "scatter_add_rows with no ids (every row of the gradient is 0)")


# ----- attention's forward: the scale and the causal mask ------------------------------------------
@pytest.mark.attention
@pytest.mark.parametrize("causal", [False, True], ids=["no_mask", "causal"])
def test_sdpa_forward_by_hand(causal: bool) -> None:
    rng = np.random.default_rng(61)
    q, k, v = (rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 2)))
    got = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), is_causal=causal).data
    future = np.triu(np.full((4, 4), -np.inf), k=1)

    def attend(scale: float, bias: np.ndarray) -> np.ndarray:
        s = q @ k.swapaxes(-1, -2) * scale + bias
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        return p / p.sum(axis=-1, keepdims=True) @ v

    bias = future if causal else np.zeros((4, 4))
    mistakes = {
        "the scores are scaled by 1/E: the default scale is 1/sqrt(E), which keeps the scores' variance near 1": (
            attend(1 / 3, bias)
        ),
        "the scores are not scaled: the default scale is 1/sqrt(E)": attend(1.0, bias),
    }
    if causal:
        mistakes["is_causal=True did not hide the future: query i may attend to keys 0..i only"] = attend(
            1 / np.sqrt(3), np.zeros((4, 4))
        )
    check_value(
        got, attend(1 / np.sqrt(3), bias), f"attention's output ({'causal' if causal else 'no mask'})", mistakes
    )

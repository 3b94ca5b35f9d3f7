"""Adam and AdamW against hand-computed steps: moments, bias correction, ε, decoupled decay."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numpygpt.autograd import Tensor
from numpygpt.autograd.exercises import check_value
from numpygpt.optim import Adam, AdamW

pytestmark = pytest.mark.adam


def scalar_param(value: float, dtype: type = np.float64) -> Tensor:
    return Tensor(np.array([value], dtype=dtype), requires_grad=True)


GRADS = [[0.5, -3.0, 1e-3], [-1.0, 2.0, 2e-3], [0.25, -0.5, -1e-3]]  # the same three for every run below
THETA0 = [1.0, -2.0, 0.5]


def adam_by_hand(
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
    mistake: str = "",
) -> np.ndarray:
    """θ after each step of Adam (AdamW if decoupled) on GRADS from θ_0 = [1, -2, 0.5], in float64,
    optionally with a classic mistake."""
    b1, b2 = betas
    theta, m, v, v_max, out = np.array(THETA0), 0.0, 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        g = np.array(g)
        if weight_decay and decoupled and mistake != "l2":
            theta = theta * (1 - (1.0 if mistake == "no lr in decay" else lr) * weight_decay)
        elif weight_decay:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (np.abs(g) if mistake == "abs" else g * g)
        v_max = np.maximum(v_max, v)
        bc1, bc2 = (1.0, 1.0) if mistake == "no bias correction" else (1 - b1**t, 1 - b2**t)
        vv = v_max if amsgrad and mistake != "current v" else v
        denom = (np.sqrt(vv) + eps) / np.sqrt(bc2) if mistake == "eps first" else np.sqrt(vv) / np.sqrt(bc2) + eps
        theta = theta - lr / bc1 * m / denom
        out.append(theta)
    return np.array(out)


ADAM_MISTAKES = {
    "no bias correction": "m and v start at 0, so early on they are too small: divide them by (1 − β₁ᵗ) and "
    "(1 − β₂ᵗ) (bias correction)",
    "eps first": "ε was added before the bias correction of v: PyTorch adds it to √v̂, after the correction",
    "abs": "v averages |g|: it is the running average of the squared gradient, g²",
    "current v": "with amsgrad=True the denominator uses the largest v seen so far, not the current one",
}


@pytest.mark.ex3_3
@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.1, "betas": (0.5, 0.75), "eps": 0.1},
        {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8},
        {"lr": 0.1, "betas": (0.5, 0.75), "eps": 1e-8, "amsgrad": True},
    ],
    ids=["large_eps", "defaults", "amsgrad"],
)
def test_adam_steps_by_hand(kwargs: dict, steps_by_hand: Callable[..., np.ndarray]) -> None:
    mistakes = {why: adam_by_hand(**kwargs, mistake=m) for m, why in ADAM_MISTAKES.items()}
    check_value(
        steps_by_hand(Adam, kwargs, THETA0, GRADS),
        adam_by_hand(**kwargs),
        f"θ after 3 steps of Adam({kwargs})",
        mistakes,
    )


@pytest.mark.ex3_2
@pytest.mark.parametrize("decoupled", [True, False], ids=["AdamW", "Adam"])
def test_weight_decay_by_hand(decoupled: bool, steps_by_hand: Callable[..., np.ndarray]) -> None:
    kwargs = {"lr": 0.1, "betas": (0.5, 0.75), "eps": 1e-8, "weight_decay": 0.5}
    opt_class = AdamW if decoupled else Adam
    mistakes = {
        "weight decay is missing": adam_by_hand(**{**kwargs, "weight_decay": 0.0}),
        "AdamW's decay went into the gradient (Adam's L2): AdamW shrinks θ itself, before the Adam step": (
            adam_by_hand(**kwargs, decoupled=True, mistake="l2")
        ),
        "AdamW shrank θ by λθ: the decoupled decay is lr·λ·θ, scaled by the learning rate": adam_by_hand(
            **kwargs, decoupled=True, mistake="no lr in decay"
        ),
        "Adam shrank θ directly: Adam's weight_decay adds λθ to the gradient (decoupling is AdamW's)": (
            adam_by_hand(**kwargs, decoupled=True)
        ),
    }
    right = adam_by_hand(**kwargs, decoupled=decoupled)
    check_value(
        steps_by_hand(opt_class, kwargs, THETA0, GRADS),
        right,
        f"θ after 3 steps of {opt_class.__name__}(weight_decay=0.5)",
        {why: v for why, v in mistakes.items() if not np.allclose(v, right)},
    )


def test_two_steps_by_hand_with_bias_correction_and_eps() -> None:
    # lr 0.1, β = (0.5, 0.75), ε = 0.1 (large, so where ε is added shows), θ_0 = 1.
    p = scalar_param(1.0)
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.1)

    p.grad = Tensor(np.array([0.5]))
    opt.step()
    # m_1 = 0.5·0 + 0.5·0.5 = 0.25        v_1 = 0.75·0 + 0.25·0.5² = 0.0625
    # m̂ = 0.25 / (1 − 0.5) = 0.5          v̂ = 0.0625 / (1 − 0.75) = 0.25
    # θ_1 = 1 − 0.1 · 0.5 / (√0.25 + 0.1) = 1 − 0.05 / 0.6
    assert opt.state[p]["step"] == 1
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.25], err_msg="m_t = β₁ m + (1 − β₁) g")
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [0.0625], err_msg="v_t = β₂ v + (1 − β₂) g²")
    theta1 = 1 - 0.05 / 0.6
    np.testing.assert_allclose(
        p.data,
        [theta1],
        rtol=1e-12,
        err_msg="Adam's first step is off: m and v start at 0, so divide them by (1 - β₁ᵗ) and (1 - β₂ᵗ) "
        "(bias correction), then θ ← θ − lr m̂ / (√v̂ + ε)",
    )

    p.grad = Tensor(np.array([-1.0]))
    opt.step()
    # m_2 = 0.5·0.25 + 0.5·(−1) = −0.375   v_2 = 0.75·0.0625 + 0.25·1 = 0.296875
    # m̂ = −0.375 / (1 − 0.25) = −0.5      v̂ = 0.296875 / (1 − 0.5625)
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [-0.375])
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [0.296875])
    theta2 = theta1 - 0.1 * -0.5 / (math.sqrt(0.296875 / 0.4375) + 0.1)
    np.testing.assert_allclose(p.data, [theta2], rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    grad=hnp.arrays(
        np.float32, hnp.array_shapes(max_dims=3, max_side=5), elements=st.floats(0.015625, 1024.0, width=32)
    ),
    negate=st.booleans(),
    lr=st.floats(1e-4, 1e-1),
)
def test_bias_correction_makes_the_first_step_lr_sized(grad: np.ndarray, negate: bool, lr: float) -> None:
    # m̂_1 = g and v̂_1 = g², so every coordinate moves by lr · g / (|g| + ε) ≈ lr · sign(g),
    # whatever the gradient's scale. Without bias correction the step would be
    # lr · 0.1 g / (√0.001 |g|) ≈ 3.16 lr.
    if negate:
        grad = -grad
    p = Tensor(np.zeros_like(grad), requires_grad=True)
    p.grad = Tensor(grad.copy())
    array = p.data
    Adam([p], lr=lr).step()
    assert p.data is array and p.data.dtype == np.float32
    np.testing.assert_allclose(p.data, -lr * np.sign(grad), rtol=1e-5)
    np.testing.assert_array_equal(p.grad.data, grad, err_msg="Adam must not modify the gradient")


def test_eps_is_added_after_the_bias_correction_of_v() -> None:
    # g = 1: √v̂_1 = 1, so the denominator is √v̂ + ε = 2 and the step 0.1/2. Adding ε to √v_t
    # before the correction instead, (√0.001 + 1)/√0.001 ≈ 32.6, would make it 16× smaller.
    p = scalar_param(0.0)
    p.grad = Tensor(np.array([1.0]))
    Adam([p], lr=0.1, eps=1.0).step()
    np.testing.assert_allclose(p.data, [-0.1 * 1.0 / (1.0 + 1.0)], rtol=1e-12)


def test_adam_weight_decay_is_an_l2_term_in_the_gradient() -> None:
    # g_eff = g + λθ = 0 + 0.5·2 = 1, then an ordinary first Adam step: θ = 2 − 0.1·1/(1 + ε)
    p = scalar_param(2.0)
    p.grad = Tensor(np.array([0.0]))
    opt = Adam([p], lr=0.1, weight_decay=0.5)
    opt.step()
    np.testing.assert_allclose(p.data, [2 - 0.1 / (1 + 1e-8)], rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.1])  # the decay went into m
    np.testing.assert_array_equal(p.grad.data, [0.0])


def test_adamw_shrinks_theta_before_the_adam_step() -> None:
    # θ ← θ(1 − lr λ) = 2 · (1 − 0.1·0.5) = 1.9; the gradient 0 then leaves m = v = 0: no move.
    p = scalar_param(2.0, np.float32)
    p.grad = Tensor(np.array([0.0], np.float32))
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    opt.step()
    decoupled = "AdamW's weight decay is decoupled: shrink θ directly (θ ← θ − lr λ θ), never add λθ to the gradient"
    assert p.data[0] == np.float32(2.0) * np.float32(1 - 0.1 * 0.5), f"θ = {p.data[0]}, expected 1.9: {decoupled}"
    np.testing.assert_array_equal(
        opt.state[p]["exp_avg"], [0.0], err_msg=f"the decay went into the moment m: {decoupled}"
    )  # the decay stays out of m


def test_decoupled_decay_vs_l2_on_one_parameter() -> None:
    """The theory (Loshchilov & Hutter): in Adam, an L2 term is divided by √v̂ like the gradient.

    1. A parameter pulled only by the L2 term moves by ≈ lr per step whatever λ is: Adam's
       normalisation erases the strength of the decay. AdamW shrinks it by lr·λ·θ: in proportion.
    2. A parameter with a large gradient is barely decayed by L2 (λθ is lost next to g in √v̂);
       AdamW decays it exactly as much as any other parameter.
    """
    lr = 0.01
    moved = {}
    for wd in (1e-4, 1e-1):
        for opt_class in (Adam, AdamW):
            p = scalar_param(1.0)
            p.grad = Tensor(np.array([0.0]))
            opt_class([p], lr=lr, weight_decay=wd).step()
            moved[opt_class.__name__, wd] = 1.0 - p.data[0]
    assert moved["Adam", 1e-4] == pytest.approx(lr, rel=1e-3)
    assert moved["Adam", 1e-1] == pytest.approx(lr, rel=1e-3)  # 1000× the λ, the same step
    assert moved["AdamW", 1e-4] == pytest.approx(lr * 1e-4, rel=1e-9)
    assert moved["AdamW", 1e-1] == pytest.approx(lr * 1e-1, rel=1e-9)

    g, wd, steps = 100.0, 0.01, 10
    finals = {}
    for name, make in {
        "adam": lambda ps: Adam(ps, lr=lr),
        "adam_l2": lambda ps: Adam(ps, lr=lr, weight_decay=wd),
        "adamw": lambda ps: AdamW(ps, lr=lr, weight_decay=wd),
    }.items():
        p = scalar_param(1.0)
        opt = make([p])
        for _ in range(steps):
            p.grad = Tensor(np.array([g]))
            opt.step()
        finals[name] = p.data[0]
    # With a constant gradient m̂ = g and v̂ = g² exactly, so every Adam step is lr·g/(g + ε).
    adam_step = lr * g / (g + 1e-8)
    expected_adamw = 1.0
    for _ in range(steps):
        expected_adamw = expected_adamw * (1 - lr * wd) - adam_step
    assert finals["adam"] == pytest.approx(1.0 - steps * adam_step, abs=1e-12)
    assert abs(finals["adam_l2"] - finals["adam"]) < 1e-6, "L2 should be lost next to a large gradient"
    assert finals["adamw"] == pytest.approx(expected_adamw, abs=1e-12)
    assert finals["adam"] - finals["adamw"] > 5e-4, "AdamW decays θ by about lr·λ·θ per step"


def test_amsgrad_normalises_by_the_largest_second_moment() -> None:
    p = scalar_param(0.0)
    opt = Adam([p], lr=0.1, betas=(0.0, 0.5), eps=0.0, amsgrad=True)
    p.grad = Tensor(np.array([4.0]))
    opt.step()  # v_1 = 0.5·16 = 8 = max;  v̂ = 16: θ = −0.1·4/4 = −0.1
    p.grad = Tensor(np.array([1.0]))
    opt.step()  # v_2 = 0.5·8 + 0.5·1 = 4.5 < 8: the max stays 8; v̂ = 8/0.75; m̂ = 1
    state = opt.state[p]
    np.testing.assert_allclose(state["exp_avg_sq"], [4.5])
    np.testing.assert_allclose(state["max_exp_avg_sq"], [8.0])
    np.testing.assert_allclose(p.data, [-0.1 - 0.1 * 1.0 / math.sqrt(8.0 / 0.75)], rtol=1e-12)


def test_state_buffers_keep_the_parameter_dtype_and_grad_none_is_skipped() -> None:
    a = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    b = Tensor(np.ones(3, np.float64), requires_grad=True)
    c = Tensor(np.ones(2, np.float32), requires_grad=True)
    a.grad = Tensor(np.full((3, 2), 0.5, np.float32))
    b.grad = Tensor(np.full(3, 0.5, np.float64))
    opt = AdamW([a, b, c], lr=0.1, amsgrad=True)
    arrays = (a.data, b.data, c.data)
    for _ in range(3):
        opt.step()
    assert a.data is arrays[0] and b.data is arrays[1] and c.data is arrays[2]
    assert a.data.dtype == np.float32 and b.data.dtype == np.float64
    for p in (a, b):
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert opt.state[p][key].dtype == p.dtype, f"{key} of a {p.dtype} parameter"
    assert opt.state[a]["step"] == 3
    assert c not in opt.state
    np.testing.assert_array_equal(c.data, [1.0, 1.0])


def test_defaults_are_pytorchs() -> None:
    p = Tensor(np.zeros(1, np.float32), requires_grad=True)
    adam, adamw = Adam([p]).param_groups[0], AdamW([p]).param_groups[0]
    common = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}
    assert {k: adam[k] for k in common} == common and {k: adamw[k] for k in common} == common
    assert adam["weight_decay"] == 0.0 and adam["decoupled_weight_decay"] is False
    assert adamw["weight_decay"] == 1e-2 and adamw["decoupled_weight_decay"] is True
    assert isinstance(AdamW([p]), Adam)

"""SGD against steps computed by hand: plain, momentum, Nesterov, dampening, weight decay."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numpygpt.autograd import Tensor
from numpygpt.autograd.exercises import check_value
from numpygpt.optim import SGD

pytestmark = pytest.mark.sgd

# The same three gradients for every hand-computed run below; θ_0 = [1, -2], lr = 0.1.
GRADS = [[0.5, 1.0], [-1.0, 2.0], [0.25, 0.0]]


def run(opt_kwargs: dict, steps: int = 3) -> list[np.ndarray]:
    """θ after each step of SGD(**opt_kwargs) fed GRADS, as float32 arrays."""
    p = Tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = SGD([p], **opt_kwargs)
    out = []
    for g in GRADS[:steps]:
        p.grad = Tensor(np.array(g, dtype=np.float32))
        opt.step()
        out.append(p.data.copy())
    return out


def check(got: list[np.ndarray], expected: list[list[float]]) -> None:
    for t, (a, e) in enumerate(zip(got, expected, strict=True), start=1):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7, err_msg=f"θ after step {t}")


def sgd_by_hand(
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    mistake: str = "",
) -> np.ndarray:
    """θ after each step of SGD on GRADS from θ_0 = [1, -2], in float64, optionally with a classic mistake."""
    theta, buf, out = np.array([1.0, -2.0]), None, []
    for g in GRADS:
        d = np.array(g)
        if weight_decay:
            d = d + weight_decay * theta
        if momentum:
            if buf is None:
                buf = (1 - dampening) * d if mistake == "dampened first" else d.copy()
            else:
                buf = buf * (1.0 if mistake == "no decay" else momentum) + (1 - dampening) * d
            d = d + momentum * buf if nesterov and mistake != "no look-ahead" else buf
        theta = theta - lr * d
        out.append(theta)
    return np.array(out)


SGD_MISTAKES = {
    "no decay": "the old momentum buffer is not multiplied by the momentum: b_t = μ b_{t−1} + (1 − τ) g",
    "dampened first": "the first step is dampened: the buffer starts as the first gradient itself (PyTorch's b_1 = g)",
    "no look-ahead": "Nesterov steps along the buffer alone: it adds μ times the new buffer to the gradient",
}


@pytest.mark.ex3_1
@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.5},
    ],
    ids=["plain", "momentum_dampening", "nesterov", "weight_decay"],
)
def test_sgd_steps_by_hand(kwargs: dict, steps_by_hand: Callable[..., np.ndarray]) -> None:
    got = steps_by_hand(SGD, kwargs, [1.0, -2.0], GRADS)
    mistakes = {why: sgd_by_hand(**kwargs, mistake=m) for m, why in SGD_MISTAKES.items()}
    mistakes["weight decay is missing: SGD's weight_decay adds λθ to the gradient"] = sgd_by_hand(
        **{**kwargs, "weight_decay": 0.0}
    )
    check_value(got, sgd_by_hand(**kwargs), f"θ after 3 steps of SGD({kwargs})", mistakes)


def test_plain_step_is_theta_minus_lr_grad() -> None:
    # θ_1 = [1, -2] - 0.1 [0.5, 1]; θ_2 = θ_1 - 0.1 [-1, 2]; θ_3 = θ_2 - 0.1 [0.25, 0]
    check(run({"lr": 0.1}), [[0.95, -2.1], [1.05, -2.3], [1.025, -2.3]])


def test_momentum_buffer_starts_at_the_first_gradient() -> None:
    # b_1 = g_1 = [0.5, 1]                           θ_1 = [1, -2] - 0.1 b_1 = [0.95, -2.1]
    # b_2 = 0.9 b_1 + g_2 = [-0.55, 2.9]             θ_2 = [1.005, -2.39]
    # b_3 = 0.9 b_2 + g_3 = [-0.245, 2.61]           θ_3 = [1.0295, -2.651]
    check(run({"lr": 0.1, "momentum": 0.9}), [[0.95, -2.1], [1.005, -2.39], [1.0295, -2.651]])


def test_nesterov_looks_ahead_along_the_buffer() -> None:
    # step 1: b = [0.5, 1];      d = g + 0.9 b = [0.95, 1.9]        θ = [0.905, -2.19]
    # step 2: b = [-0.55, 2.9];  d = [-1.495, 4.61]                θ = [1.0545, -2.651]
    # step 3: b = [-0.245, 2.61]; d = [0.0295, 2.349]              θ = [1.05155, -2.8859]
    check(
        run({"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        [[0.905, -2.19], [1.0545, -2.651], [1.05155, -2.8859]],
    )


def test_dampening_spares_the_first_step() -> None:
    # b_1 = g_1 (no dampening on the first step)      θ_1 = [0.95, -2.1]
    # b_2 = 0.9 b_1 + (1 - 0.5) g_2 = [-0.05, 1.9]    θ_2 = [0.955, -2.29]
    check(run({"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, steps=2), [[0.95, -2.1], [0.955, -2.29]])


def test_weight_decay_adds_lambda_theta_to_the_gradient() -> None:
    # d_1 = g_1 + 0.5 θ_0 = [1, 0]              θ_1 = [0.9, -2]
    # d_2 = g_2 + 0.5 θ_1 = [-0.55, 1]          θ_2 = [0.955, -2.1]
    check(run({"lr": 0.1, "weight_decay": 0.5}, steps=2), [[0.9, -2.0], [0.955, -2.1]])


def test_weight_decay_enters_the_momentum_buffer() -> None:
    # d_1 = [1, 0] = b_1                       θ_1 = [0.9, -2]
    # d_2 = [-0.55, 1]; b_2 = 0.9 [1, 0] + d_2 = [0.35, 1]   θ_2 = [0.865, -2.1]
    check(run({"lr": 0.1, "momentum": 0.9, "weight_decay": 0.5}, steps=2), [[0.9, -2.0], [0.865, -2.1]])


@settings(max_examples=40, deadline=None)
@given(
    data=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
        elements=st.floats(-10, 10, width=32),
    ),
    lr=st.floats(0.0, 1.0),
    momentum=st.sampled_from([0.0, 0.9]),
)
def test_one_step_in_place_any_shape_and_dtype(data: np.ndarray, lr: float, momentum: float) -> None:
    p = Tensor(data.copy(), requires_grad=True)
    grad = np.flip(data).copy() + 1  # any gradient of the same shape and dtype
    p.grad = Tensor(grad.copy())
    before, array = p.data.copy(), p.data
    SGD([p], lr=lr, momentum=momentum).step()
    assert p.data is array, "the update must be in place: p.data stays the same ndarray"
    assert p.data.dtype == data.dtype, f"SGD turned a {data.dtype} parameter into {p.data.dtype}"
    np.testing.assert_array_equal(p.grad.data, grad, err_msg="step must not modify the gradient")
    # One step from an empty buffer is the plain step, with or without momentum.
    np.testing.assert_allclose(p.data, before - data.dtype.type(lr) * grad, rtol=1e-6, atol=1e-6)


def test_weight_decay_and_nesterov_keep_float32_and_leave_grad_alone() -> None:
    p = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    g = np.full((2, 3), 0.5, dtype=np.float32)
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    array = p.data
    for _ in range(3):
        p.grad = Tensor(g.copy())
        opt.step()
        np.testing.assert_array_equal(p.grad.data, g)
    assert p.data is array and p.data.dtype == np.float32
    assert opt.state[p]["momentum_buffer"].dtype == np.float32


def test_parameters_without_grad_are_skipped() -> None:
    a = Tensor(np.ones(2, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float32), requires_grad=True)
    a.grad = Tensor(np.ones(2, np.float32))
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in opt.state, "a parameter without a gradient gets no momentum buffer"
    np.testing.assert_allclose(a.data, [0.9, 0.9])


def test_no_state_without_momentum() -> None:
    p = Tensor(np.ones(2, np.float32), requires_grad=True)
    p.grad = Tensor(np.ones(2, np.float32))
    opt = SGD([p], lr=0.1)
    opt.step()
    assert opt.state == {}, "plain SGD keeps no state (as PyTorch)"


def test_zero_gradient_still_moves_with_momentum_but_none_does_not() -> None:
    p = Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = SGD([p], lr=1.0, momentum=0.5)
    p.grad = Tensor(np.ones(1, np.float32))
    opt.step()  # b = 1, θ = -1
    opt.zero_grad(set_to_none=False)
    opt.step()  # b = 0.5, θ = -1.5: the buffer keeps moving θ
    np.testing.assert_allclose(p.data, [-1.5])
    opt.zero_grad()
    opt.step()  # grad None: skipped
    np.testing.assert_allclose(p.data, [-1.5])


def test_groups_use_their_own_lr() -> None:
    a = Tensor(np.zeros(1, np.float32), requires_grad=True)
    b = Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = Tensor(np.ones(1, np.float32)), Tensor(np.ones(1, np.float32))
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.1, -1.0])


def test_step_runs_the_closure_and_returns_its_loss() -> None:
    p = Tensor(np.array([3.0], np.float32), requires_grad=True)
    opt = SGD([p], lr=0.25)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (p * p).sum()  # d/dp = 2p = 6
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.data, [1.5])


def test_defaults_are_pytorchs() -> None:
    p = Tensor(np.zeros(1, np.float32), requires_grad=True)
    group = SGD([p]).param_groups[0]
    assert {k: group[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov")} == {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
    }

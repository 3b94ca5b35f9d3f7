"""The whole loop (forward, backward, step) reaches known minima: Rosenbrock and least squares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, Optimizer
from numpygpt.optim.lr_scheduler import CosineAnnealingLR, WarmupCosineLR

pytestmark = pytest.mark.convergence


def rosenbrock_run(make: Callable[[list[Tensor]], Optimizer], steps: int) -> np.ndarray:
    """Minimise (1 − x)² + 100 (y − x²)² from (−1.5, 2); the minimum is (1, 1) at the end of a
    long curved valley, where plain gradient descent crawls."""
    xy = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt = make([xy])
    for _ in range(steps):
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        opt.zero_grad()
        loss.backward()
        opt.step()
    return xy.data


ROSENBROCK_TOL = 1e-3  # max |coordinate − 1|


@pytest.mark.parametrize(
    "make, steps",
    [
        (lambda ps: Adam(ps, lr=0.05), 2000),
        (lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0), 2000),
        (lambda ps: SGD(ps, lr=1e-3, momentum=0.9), 2500),
        (lambda ps: SGD(ps, lr=1e-3, momentum=0.9, nesterov=True), 2500),
    ],
    ids=["adam", "adamw", "sgd_momentum", "sgd_nesterov"],
)
def test_rosenbrock(make, steps: int, request: pytest.FixtureRequest) -> None:
    xy = rosenbrock_run(make, steps)
    rule = {
        "adam": "the moments m, v, their bias correction and θ ← θ − lr m̂ / (√v̂ + ε)",
        "adamw": "the moments m, v, their bias correction and θ ← θ − lr m̂ / (√v̂ + ε)",
        "sgd_momentum": "the momentum buffer b ← μ b + g (the old buffer decays by μ), then θ ← θ − lr b",
        "sgd_nesterov": "the momentum buffer b ← μ b + g, then θ ← θ − lr (g + μ b)",
    }[request.node.callspec.id.split("-")[0]]
    assert np.abs(xy - 1).max() < ROSENBROCK_TOL, (
        f"{request.node.callspec.id} ended at {xy}, not within {ROSENBROCK_TOL} of (1, 1): check {rule}"
    )


def test_rosenbrock_plain_gradient_descent_is_still_in_the_valley() -> None:
    # The same lr and steps as sgd_momentum above: without momentum it is nowhere near (1, 1).
    xy = rosenbrock_run(lambda ps: SGD(ps, lr=1e-3), 2500)
    assert np.abs(xy - 1).max() > 0.1, xy


RNG = np.random.default_rng(0)
A = RNG.standard_normal((64, 8)).astype(np.float32)
B = RNG.standard_normal(64).astype(np.float32)
LSTSQ_TOL = 1e-5  # max |x − x*|, float32 parameters


def least_squares_run(make: Callable[[list[Tensor]], Optimizer], steps: int, schedule=None) -> np.ndarray:
    """Minimise mean((A x − b)²) over x (8,), A (64, 8), with autograd computing the gradient."""
    x = Tensor(np.zeros(8, np.float32), requires_grad=True)
    opt = make([x])
    sched = schedule(opt) if schedule else None
    At, Bt = Tensor(A), Tensor(B)
    for _ in range(steps):
        r = At @ x - Bt  # (64,)
        loss = (r * r).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    assert x.data.dtype == np.float32
    return x.data


def solve(weight_decay: float = 0.0) -> np.ndarray:
    """The exact minimiser of mean((A x − b)²) + (λ/2)‖x‖², in float64."""
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    n = A.shape[0]
    return np.linalg.solve(2 * A64.T @ A64 / n + weight_decay * np.eye(8), 2 * A64.T @ B64 / n)


@pytest.mark.parametrize(
    "make, steps, schedule",
    [
        (lambda ps: SGD(ps, lr=0.3), 300, None),
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9), 300, None),
        (lambda ps: Adam(ps, lr=0.05), 500, lambda opt: CosineAnnealingLR(opt, T_max=500)),
        (lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0), 500, lambda opt: WarmupCosineLR(opt, 20, 500)),
    ],
    ids=["sgd", "sgd_momentum", "adam_cosine", "adamw_warmup_cosine"],
)
def test_least_squares(make, steps: int, schedule) -> None:
    x = least_squares_run(make, steps, schedule)
    np.testing.assert_allclose(x, solve(), atol=LSTSQ_TOL, rtol=0)


@pytest.mark.parametrize(
    "make",
    [lambda ps: SGD(ps, lr=0.2, momentum=0.5, weight_decay=0.5), lambda ps: Adam(ps, lr=0.02, weight_decay=0.5)],
    ids=["sgd", "adam"],
)
def test_l2_weight_decay_converges_to_the_ridge_solution(make) -> None:
    # weight_decay λ adds λθ to the gradient: the fixed point solves ∇f + λθ = 0, ridge regression.
    x = least_squares_run(make, 600, None)
    np.testing.assert_allclose(x, solve(weight_decay=0.5), atol=LSTSQ_TOL, rtol=0)
    assert np.abs(solve(0.5) - solve()).max() > 0.01, "the decay must make a visible difference"

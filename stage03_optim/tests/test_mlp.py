"""The stage02 MLP on the two-arm spiral: AdamW needs far fewer steps than plain SGD.

The task and model are stage02's training test (numpygpt.nn), where the update was written by
hand; here the optimizers of this stage take over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad
from numpygpt.optim import SGD, AdamW, Optimizer, clip_grad_norm_, configure_weight_decay
from numpygpt.optim.lr_scheduler import WarmupCosineLR

pytestmark = pytest.mark.convergence

TARGET_LOSS = 0.1
MAX_STEPS = 1500


def spiral(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved arms of 1.5 turns each: (2n, 2) float32 points and (2n,) labels 0/1."""
    rng = np.random.default_rng(seed)
    r = np.linspace(0.1, 1.0, n_per_class)
    xs, ys = [], []
    for c in (0, 1):
        theta = c * np.pi + np.linspace(0, 3 * np.pi, n_per_class) + rng.normal(0, 0.05, n_per_class)
        xs.append(3 * np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


X, Y = spiral(100, seed=0)


def mlp() -> nn.Module:
    nn.manual_seed(0)  # the same initial weights for every optimizer
    return nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 2))


def steps_to_target(make: Callable[[nn.Module], Optimizer]) -> int:
    """Full-batch steps until the training loss drops below TARGET_LOSS (MAX_STEPS if never)."""
    model = mlp()
    opt = make(model)
    for step in range(MAX_STEPS):
        loss = F.cross_entropy(model(Tensor(X)), Y)
        if loss.item() < TARGET_LOSS:
            return step
        opt.zero_grad()
        loss.backward()
        opt.step()
    return MAX_STEPS


def test_adamw_reaches_the_loss_in_fewer_steps_than_sgd() -> None:
    # Plain SGD gets its best lr from a sweep (2.0 diverges); AdamW a common default.
    sgd_steps = {lr: steps_to_target(lambda m, lr=lr: SGD(m.parameters(), lr=lr)) for lr in (0.5, 1.0)}
    adamw_steps = steps_to_target(lambda m: AdamW(configure_weight_decay(m.named_parameters(), 0.01), lr=1e-2))
    best_sgd = min(sgd_steps.values())
    assert adamw_steps < MAX_STEPS, "AdamW never reached the target loss"
    assert 2 * adamw_steps < best_sgd, (
        f"AdamW took {adamw_steps} steps to loss {TARGET_LOSS}, plain SGD {sgd_steps} (by lr): "
        f"AdamW should need less than half of SGD's best"
    )


def test_the_gpt_recipe_loop_trains_the_mlp() -> None:
    """zero_grad, backward, clip_grad_norm_, AdamW.step, scheduler.step: the training loop."""
    model = mlp()
    opt = AdamW(configure_weight_decay(model.named_parameters(), 0.1), lr=3e-2)
    sched = WarmupCosineLR(opt, warmup_iters=20, max_iters=300, min_lr=3e-3)
    arrays = [p.data for p in model.parameters()]
    norms = []
    for _ in range(300):
        loss = F.cross_entropy(model(Tensor(X)), Y)
        opt.zero_grad()
        loss.backward()
        norms.append(clip_grad_norm_(model.parameters(), 1.0).item())
        opt.step()
        sched.step()
    assert loss.item() < TARGET_LOSS, f"final loss {loss.item():.3f}"
    with no_grad():
        accuracy = float((model(Tensor(X)).data.argmax(axis=1) == Y).mean())
    assert accuracy > 0.95
    assert all(np.isfinite(norms))
    assert all(p.data is a and p.dtype == np.float32 for p, a in zip(model.parameters(), arrays, strict=True))
    assert sched.get_last_lr() == [3e-3, 3e-3]

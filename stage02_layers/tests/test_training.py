"""End to end: a two-layer MLP learns a two-class spiral with plain gradient descent.

Everything of this stage takes part: Linear's default init from a seeded generator, the
fused ops' backward passes, Module.parameters() and zero_grad(). The update is written by
hand (stage03 brings the optimizers):  p <- p - lr * dL/dp.

Run it with `nox -s stage02 -- -m training`.
"""

from __future__ import annotations

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad

pytestmark = pytest.mark.training


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


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with no_grad():
        return float((model(Tensor(x)).data.argmax(axis=1) == y).mean())


def test_mlp_learns_a_spiral_with_gradient_descent() -> None:
    x, y = spiral(100, seed=0)
    x_test, y_test = spiral(100, seed=1)  # the same arms, different noise
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 2))
    lr, steps = 0.5, 800
    assert accuracy(model, x, y) < 0.8, "the untrained model should not already separate the arms"

    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(Tensor(x)), y)
        model.zero_grad()
        loss.backward()
        with no_grad():
            for p in model.parameters():
                p.data -= lr * p.grad.data
        losses.append(loss.item())

    assert losses[-1] < 0.1 < losses[0], f"loss went from {losses[0]:.3f} to {losses[-1]:.3f}"
    assert accuracy(model, x, y) > 0.95
    assert accuracy(model, x_test, y_test) > 0.95
    assert all(p.dtype == np.float32 for p in model.parameters())

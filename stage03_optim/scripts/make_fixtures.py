"""Record torch.optim's behaviour as a small .npz, so stage03's tests check parity without torch.

    python stage03_optim/scripts/make_fixtures.py        (from the repo root, torch's CPU build)

writes stage03_optim/tests/fixtures/optim_parity.npz holding:

    problem__X, problem__Y, problem__W0, problem__c0    a least-squares problem (float32)
    optim_configs                                       JSON: each optimizer run's name and arguments
    <run>__W, <run>__c                                  the parameters after steps 0..20
    <run>__state__<W|c>__<key>                          the optimizer state after step 20
    sched_configs                                       JSON: each schedule's name and arguments
    <schedule>__lr                                      get_last_lr() after steps 0..30, per group
    clip_configs                                        JSON: clip_grad_norm_ calls
    clip__grads__<i>, <clip>__norm, <clip>__grads__<i>  the gradients before and after clipping

The gradient of the problem is computed in NumPy from the current parameters, the same
function the tests use, so the two sides differ only in the optimizer. WarmupCosineLR has no
torch counterpart: its row is nanoGPT's get_lr formula, written out below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "optim_parity.npz"
STEPS = 20
SCHED_STEPS = 30

# name, optimizer class, keyword arguments, optional per-group overrides (params by name).
OPTIM_RUNS: list[dict] = [
    {"name": "sgd", "optimizer": "SGD", "kwargs": {"lr": 0.1}},
    {"name": "sgd_momentum", "optimizer": "SGD", "kwargs": {"lr": 0.05, "momentum": 0.9}},
    {"name": "sgd_nesterov", "optimizer": "SGD", "kwargs": {"lr": 0.05, "momentum": 0.9, "nesterov": True}},
    {"name": "sgd_weight_decay", "optimizer": "SGD", "kwargs": {"lr": 0.1, "weight_decay": 0.1}},
    {
        "name": "sgd_dampening",
        "optimizer": "SGD",
        "kwargs": {"lr": 0.05, "momentum": 0.8, "dampening": 0.5, "weight_decay": 0.01},
    },
    {"name": "adam", "optimizer": "Adam", "kwargs": {"lr": 0.05}},
    {"name": "adam_weight_decay", "optimizer": "Adam", "kwargs": {"lr": 0.05, "weight_decay": 0.1}},
    {"name": "adam_amsgrad", "optimizer": "Adam", "kwargs": {"lr": 0.05, "betas": [0.8, 0.9], "amsgrad": True}},
    {"name": "adamw", "optimizer": "AdamW", "kwargs": {"lr": 0.05, "weight_decay": 0.1}},
    {
        "name": "adamw_groups",
        "optimizer": "AdamW",
        "kwargs": {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6},
        "groups": [
            {"params": ["W"], "weight_decay": 0.2},
            {"params": ["c"], "weight_decay": 0.0, "lr": 0.02},
        ],
    },
]

SCHEDULES: list[dict] = [
    {"name": "steplr", "scheduler": "StepLR", "lrs": [0.1], "kwargs": {"step_size": 7, "gamma": 0.5}},
    {"name": "lambdalr", "scheduler": "LambdaLR", "lrs": [0.1, 0.02], "kwargs": {}},
    {"name": "cosine", "scheduler": "CosineAnnealingLR", "lrs": [0.1, 0.05], "kwargs": {"T_max": 10, "eta_min": 0.01}},
    {
        "name": "warmup_cosine",
        "scheduler": "WarmupCosineLR",
        "lrs": [6e-4, 3e-4],
        "kwargs": {"warmup_iters": 5, "max_iters": 25, "min_lr": 6e-5},
    },
]

# LambdaLR's factors, one per group; the test defines the same two functions.
LAMBDAS = [lambda t: 0.95**t, lambda t: 1.0 / (1.0 + 0.5 * t)]

CLIPS: list[dict] = [
    {"name": "clip_l2", "max_norm": 1.0, "norm_type": 2.0},
    {"name": "clip_l1", "max_norm": 2.0, "norm_type": 1.0},
    {"name": "clip_inf", "max_norm": 0.5, "norm_type": "inf"},
    {"name": "clip_none", "max_norm": 100.0, "norm_type": 2.0},
]


def make_problem() -> dict[str, np.ndarray]:
    """Least squares: minimise 0.5 · mean_n ‖X_n W + c − Y_n‖², X (8, 5), W (5, 3), c (3,)."""
    rng = np.random.default_rng(3)
    return {
        "X": rng.standard_normal((8, 5)).astype(np.float32),
        "Y": rng.standard_normal((8, 3)).astype(np.float32),
        "W0": rng.standard_normal((5, 3)).astype(np.float32),
        "c0": rng.standard_normal(3).astype(np.float32),
    }


def grads(X: np.ndarray, Y: np.ndarray, W: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dL/dW and dL/dc of the problem above, in float32 (the tests compute the same)."""
    n = np.float32(X.shape[0])
    R = X @ W + c - Y  # (8, 3) residuals
    return X.T @ R / n, R.sum(axis=0) / n


def run_optimizer(run: dict, problem: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    W = torch.tensor(problem["W0"], requires_grad=True)
    c = torch.tensor(problem["c0"], requires_grad=True)
    by_name = {"W": W, "c": c}
    kwargs = dict(run["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    if "groups" in run:
        params = [{**g, "params": [by_name[n] for n in g["params"]]} for g in run["groups"]]
    else:
        params = [W, c]
    opt = getattr(torch.optim, run["optimizer"])(params, **kwargs)
    Ws, cs = [problem["W0"].copy()], [problem["c0"].copy()]
    for _ in range(STEPS):
        gW, gc = grads(problem["X"], problem["Y"], W.detach().numpy(), c.detach().numpy())
        W.grad, c.grad = torch.from_numpy(gW), torch.from_numpy(gc)
        opt.step()
        Ws.append(W.detach().numpy().copy())
        cs.append(c.detach().numpy().copy())
    out = {f"{run['name']}__W": np.stack(Ws), f"{run['name']}__c": np.stack(cs)}
    for pname, p in by_name.items():
        for key, value in opt.state[p].items():
            out[f"{run['name']}__state__{pname}__{key}"] = value.detach().numpy().copy()
    return out


def nanogpt_lr(it: int, learning_rate: float, warmup_iters: int, lr_decay_iters: int, min_lr: float) -> float:
    """nanoGPT train.py's get_lr (current version: warmup from (it + 1) / (warmup_iters + 1))."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def run_schedule(sched: dict) -> np.ndarray:
    if sched["scheduler"] == "WarmupCosineLR":
        k = sched["kwargs"]
        return np.array(
            [
                [nanogpt_lr(t, lr, k["warmup_iters"], k["max_iters"], k["min_lr"]) for lr in sched["lrs"]]
                for t in range(SCHED_STEPS + 1)
            ]
        )
    params = [torch.zeros(1, requires_grad=True) for _ in sched["lrs"]]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, sched["lrs"], strict=True)])
    kwargs = dict(sched["kwargs"])
    if sched["scheduler"] == "LambdaLR":
        kwargs["lr_lambda"] = LAMBDAS[: len(sched["lrs"])]
    scheduler = getattr(torch.optim.lr_scheduler, sched["scheduler"])(opt, **kwargs)
    lrs = [scheduler.get_last_lr()]
    for _ in range(SCHED_STEPS):
        opt.step()  # no grads: nothing moves, but torch sees the documented call order
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs, dtype=np.float64)


def run_clips() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    base = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out = {f"clip__grads__{i}": g for i, g in enumerate(base)}
    for clip in CLIPS:
        params = [torch.zeros(g.shape, requires_grad=True) for g in base]
        for p, g in zip(params, base, strict=True):
            p.grad = torch.from_numpy(g.copy())
        norm = torch.nn.utils.clip_grad_norm_(params, clip["max_norm"], norm_type=float(clip["norm_type"]))
        out[f"{clip['name']}__norm"] = norm.numpy().copy()
        for i, p in enumerate(params):
            out[f"{clip['name']}__grads__{i}"] = p.grad.numpy().copy()
    return out


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    problem = make_problem()
    arrays: dict[str, np.ndarray] = {f"problem__{k}": v for k, v in problem.items()}
    for run in OPTIM_RUNS:
        arrays.update(run_optimizer(run, problem))
    for sched in SCHEDULES:
        arrays[f"{sched['name']}__lr"] = run_schedule(sched)
    arrays.update(run_clips())
    arrays["optim_configs"] = np.array(json.dumps(OPTIM_RUNS))
    arrays["sched_configs"] = np.array(json.dumps(SCHEDULES))
    arrays["clip_configs"] = np.array(json.dumps(CLIPS))
    arrays["torch_version"] = np.array(torch.__version__)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.1f} KB, {len(arrays)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()

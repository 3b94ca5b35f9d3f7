"""Parity with torch.optim, without torch: replay the runs recorded by scripts/make_fixtures.py.

Every optimizer run starts from the same float32 parameters and feeds each step the gradient
of the same least-squares problem, computed in NumPy from the current parameters; the
trajectories must agree to float32 rounding at every one of the 20 steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, clip_grad_norm_
from numpygpt.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, StepLR, WarmupCosineLR

pytestmark = pytest.mark.parity

FIXTURE = Path(__file__).parent / "fixtures" / "optim_parity.npz"
with np.load(FIXTURE) as _f:
    FX = {k: _f[k] for k in _f.files}
OPTIM_RUNS = json.loads(str(FX["optim_configs"]))
SCHEDULES = json.loads(str(FX["sched_configs"]))
CLIPS = json.loads(str(FX["clip_configs"]))

OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}
SCHEDULERS = {
    "StepLR": StepLR,
    "LambdaLR": LambdaLR,
    "CosineAnnealingLR": CosineAnnealingLR,
    "WarmupCosineLR": WarmupCosineLR,
}
LAMBDAS = [lambda t: 0.95**t, lambda t: 1.0 / (1.0 + 0.5 * t)]  # as in make_fixtures.py

# float32 rounding, accumulated over 20 steps (the largest difference seen is about 3e-7).
RTOL, ATOL = 1e-5, 2e-6


def grads(X: np.ndarray, Y: np.ndarray, W: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of 0.5 · mean_n ‖X_n W + c − Y_n‖² (the same function as make_fixtures.py)."""
    n = np.float32(X.shape[0])
    R = X @ W + c - Y
    return X.T @ R / n, R.sum(axis=0) / n


def test_fixture_is_small_and_from_torch() -> None:
    assert FIXTURE.stat().st_size < 200_000, "the parity fixture must stay small enough to commit"
    assert str(FX["torch_version"]).startswith("2."), FX["torch_version"]
    assert {r["name"] for r in OPTIM_RUNS} >= {"sgd_momentum", "sgd_nesterov", "adam", "adamw"}


@pytest.mark.parametrize("run", OPTIM_RUNS, ids=[r["name"] for r in OPTIM_RUNS])
def test_optimizer_trajectory_matches_torch(run: dict) -> None:
    X, Y = FX["problem__X"], FX["problem__Y"]
    W = Tensor(FX["problem__W0"].copy(), requires_grad=True)
    c = Tensor(FX["problem__c0"].copy(), requires_grad=True)
    by_name = {"W": W, "c": c}
    kwargs = dict(run["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    params = [{**g, "params": [by_name[n] for n in g["params"]]} for g in run["groups"]] if "groups" in run else [W, c]
    opt = OPTIMIZERS[run["optimizer"]](params, **kwargs)
    W_ref, c_ref = FX[f"{run['name']}__W"], FX[f"{run['name']}__c"]
    for t in range(1, W_ref.shape[0]):
        gW, gc = grads(X, Y, W.data, c.data)
        W.grad, c.grad = Tensor(gW), Tensor(gc)
        opt.step()
        assert W.data.dtype == np.float32 and c.data.dtype == np.float32
        np.testing.assert_allclose(W.data, W_ref[t], rtol=RTOL, atol=ATOL, err_msg=f"{run['name']}: W after step {t}")
        np.testing.assert_allclose(c.data, c_ref[t], rtol=RTOL, atol=ATOL, err_msg=f"{run['name']}: c after step {t}")
    # The running buffers agree too, under PyTorch's names.
    prefix = f"{run['name']}__state__"
    for key in (k for k in FX if k.startswith(prefix)):
        pname, buffer = key[len(prefix) :].split("__")
        ours = opt.state[by_name[pname]][buffer]
        if buffer == "step":
            assert ours == int(FX[key]), f"{run['name']}: step count of {pname}"
        else:
            np.testing.assert_allclose(ours, FX[key], rtol=RTOL, atol=ATOL, err_msg=f"{run['name']}: {key}")
    recorded = {k[len(prefix) :].split("__")[0] for k in FX if k.startswith(prefix)}
    assert recorded == ({"W", "c"} if run["optimizer"] != "SGD" or "momentum" in run["kwargs"] else set())
    assert set(opt.state) == {by_name[n] for n in recorded}


@pytest.mark.parametrize("sched", SCHEDULES, ids=[s["name"] for s in SCHEDULES])
def test_schedule_matches_torch(sched: dict) -> None:
    params = [Tensor(np.zeros(1, np.float32), requires_grad=True) for _ in sched["lrs"]]
    opt = SGD([{"params": [p], "lr": lr} for p, lr in zip(params, sched["lrs"], strict=True)])
    kwargs = dict(sched["kwargs"])
    if sched["scheduler"] == "LambdaLR":
        kwargs["lr_lambda"] = LAMBDAS[: len(sched["lrs"])]
    scheduler = SCHEDULERS[sched["scheduler"]](opt, **kwargs)
    ref = FX[f"{sched['name']}__lr"]
    got = [scheduler.get_last_lr()]
    for _ in range(ref.shape[0] - 1):
        opt.step()
        scheduler.step()
        got.append(scheduler.get_last_lr())
    # Python floats on both sides, the same operations in the same order: equal to ~1 ulp.
    np.testing.assert_allclose(np.array(got), ref, rtol=1e-12, atol=0)
    assert [g["lr"] for g in opt.param_groups] == got[-1]


@pytest.mark.parametrize("clip", CLIPS, ids=[c["name"] for c in CLIPS])
def test_clip_grad_norm_matches_torch(clip: dict) -> None:
    n = sum(1 for k in FX if k.startswith("clip__grads__"))
    params = []
    for i in range(n):
        p = Tensor(np.zeros_like(FX[f"clip__grads__{i}"]), requires_grad=True)
        p.grad = Tensor(FX[f"clip__grads__{i}"].copy())
        params.append(p)
    norm = clip_grad_norm_(params, clip["max_norm"], norm_type=float(clip["norm_type"]))
    assert norm.dtype == np.float32
    np.testing.assert_allclose(norm.data, FX[f"{clip['name']}__norm"], rtol=1e-6)
    for i, p in enumerate(params):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, FX[f"{clip['name']}__grads__{i}"], rtol=1e-6, atol=1e-7)

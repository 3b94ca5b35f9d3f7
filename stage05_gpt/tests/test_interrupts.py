"""Ctrl-C at any iteration and kill -9 at any moment, then --resume: the same run as one never broken.

"The same" means best.npz and last.npz equal array for array (weights, AdamW's moments) and
entry for entry (iteration, losses, generator states), and metrics.csv's rows equal but for
the timing columns.
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import numpygpt.train as train_mod
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.models import GPT
from numpygpt.train import train


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in flatten(value, f"{prefix}/{key}").items()}
    if isinstance(obj, (list, tuple)):
        return {k: v for i, value in enumerate(obj) for k, v in flatten(value, f"{prefix}/{i}").items()}
    return {prefix: obj}


def assert_same_run(expected: TrainConfig, actual: TrainConfig) -> None:
    """best.npz, last.npz, metrics.csv and diagnostics.csv of `actual` are those of `expected`, the unbroken run."""
    for name in ("best.npz", "last.npz"):
        a = flatten(load_checkpoint(Path(expected.out_dir) / name))
        b = flatten(load_checkpoint(Path(actual.out_dir) / name))
        where_and_how = {"/train_config/out_dir", "/train_config/resume"}
        assert a.keys() == b.keys(), name
        for k in a.keys() - where_and_how:
            if isinstance(a[k], np.ndarray):
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}: {k}")
            else:
                assert a[k] == b[k], f"{name}: {k}"

    def rows(run: TrainConfig) -> list[list[str]]:
        lines = (Path(run.out_dir) / "metrics.csv").read_text().splitlines()
        return [r[:3] + r[5:] for r in (line.split(",") for line in lines)]  # without ms_per_iter, tokens_per_s

    assert rows(actual) == rows(expected)
    # diagnostics.csv: the rows of every logged step once, as the unbroken run wrote them
    assert (Path(actual.out_dir) / "diagnostics.csv").read_text() == (
        Path(expected.out_dir) / "diagnostics.csv"
    ).read_text()


@pytest.fixture
def unbroken(cfg: TrainConfig, tmp_path: Path) -> TrainConfig:
    """The same run as cfg, trained without a break, in a folder of its own."""
    run = dataclasses.replace(cfg, out_dir=str(tmp_path / "unbroken"))
    train(run)
    return run


# ----- 4. Ctrl-C at any iteration, then --resume -----------------------------------------------

# cfg: evaluations at 0, 6 and 12 (max_iters), log lines at 3, 6, 9, 12.
BOUNDARIES = [
    ("evaluation", 0),  # during the first evaluation, before any step
    ("step", 1),
    ("step", 3),  # a logged step
    ("step", 5),
    ("step", 6),  # the step that reaches an evaluation iteration, before that evaluation
    ("evaluation", 6),  # during it
    ("step", 11),
    ("step", 12),  # the step that reaches max_iters
    ("evaluation", 12),  # during the last evaluation
]


@pytest.mark.training
@pytest.mark.parametrize("when, at", BOUNDARIES, ids=[f"{w}-{i}" for w, i in BOUNDARIES])
def test_ctrl_c_at_any_iteration_then_resume_equals_the_unbroken_run(
    cfg: TrainConfig, unbroken: TrainConfig, monkeypatch: pytest.MonkeyPatch, when: str, at: int
) -> None:
    def ctrl_c_after_step(it: int, loss: float, model: GPT) -> None:
        if it == at:
            signal.raise_signal(signal.SIGINT)

    real_estimate = train_mod.estimate_loss

    def ctrl_c_in_evaluation(model, splits, cfg, it):
        if it == at:
            signal.raise_signal(signal.SIGINT)
        return real_estimate(model, splits, cfg, it)

    if when == "evaluation":
        monkeypatch.setattr(train_mod, "estimate_loss", ctrl_c_in_evaluation)
    summary = train(cfg, on_step=ctrl_c_after_step if when == "step" else None)
    monkeypatch.undo()
    assert summary["iter"] == at and summary["interrupted"] == (at < cfg.max_iters)
    assert load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == at
    train(dataclasses.replace(cfg, resume=True))
    assert_same_run(unbroken, cfg)


@pytest.mark.cli
def test_a_real_ctrl_c_stops_the_command_and_resume_finishes_the_same_run(
    cfg: TrainConfig, argv, start, tmp_path: Path
) -> None:
    cfg.max_iters = cfg.lr_decay_iters = 200
    cfg.eval_interval, cfg.log_interval = 50, 10
    unbroken = dataclasses.replace(cfg, out_dir=str(tmp_path / "unbroken"))
    train(unbroken)
    proc = start("train", *argv(cfg))
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("iter 30: loss"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    stopped = int(re.search(r"stopped at iteration (\d+): \S+last\.npz holds it; continue with --resume", out)[1])
    assert 30 <= stopped < 200 and load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == stopped
    resumed = start("train", *argv(cfg, resume=True))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"resuming from {cfg.out_dir}/last.npz at iteration {stopped}" in out
    assert_same_run(unbroken, cfg)


# ----- 5. kill -9 at any moment ---------------------------------------------------------------

# Trains cfg (JSON) in a process that kills itself with SIGKILL: in the middle of the
# second write of last.npz ("save"), or right after step N ("step N").
KILLER = """
import json, os, signal, sys
import numpy as np
import numpygpt.train as train_mod
from numpygpt.configs import TrainConfig

cfg, where = TrainConfig(**json.loads(sys.argv[1])), sys.argv[2]
real_save, real_savez, last_saves = train_mod.save_checkpoint, np.savez, []

def counting_save(path, state):
    if path.name == "last.npz":
        last_saves.append(path)
    real_save(path, state)

def savez_killed_mid_write(f, **arrays):
    if where == "save" and len(last_saves) == 2:
        f.write(b"PK\\x03\\x04 the first bytes of a zip")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_savez(f, **arrays)

def killed_after_step(it, loss, model):
    if where == f"step {it}":
        os.kill(os.getpid(), signal.SIGKILL)

train_mod.save_checkpoint, np.savez = counting_save, savez_killed_mid_write
train_mod.train(cfg, on_step=killed_after_step)
"""


@pytest.mark.training
@pytest.mark.parametrize("where", ["save", "step 10", "step 12"])
def test_kill_9_then_resume_cleans_up_and_equals_the_unbroken_run(
    cfg: TrainConfig, unbroken: TrainConfig, where: str
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, json.dumps(dataclasses.asdict(cfg)), where], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    out_dir = Path(cfg.out_dir)
    ck = load_checkpoint(out_dir / "last.npz")  # whole, whenever the kill came
    assert ck["iter"] == (0 if where == "save" else 6)
    stale = sorted(p.name for p in out_dir.glob(".last.npz.*.tmp"))
    assert len(stale) == (1 if where == "save" else 0)
    iters = [line.split(",")[0] for line in (out_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert len(iters) > ck["metrics_rows"], "rows written after the checkpoint, to be dropped"

    summary = train(dataclasses.replace(cfg, resume=True))
    assert summary["iter"] == 12
    assert not list(out_dir.glob(".*.tmp")), "the crash's temporary file is gone"
    assert_same_run(unbroken, cfg)

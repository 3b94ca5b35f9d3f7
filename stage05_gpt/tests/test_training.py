"""The training loop: it learns, saves, resumes bit-identically, and samples from what it saved.

The scenarios a user lives through (a second run, resuming with changes, divergence,
Ctrl-C, kill -9, mistakes on the command line) are in test_runs.py.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.train as train_mod
from numpygpt.autograd import Tensor
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.models import GPT, GPTConfig
from numpygpt.optim import AdamW
from numpygpt.optim.lr_scheduler import WarmupCosineLR
from numpygpt.train import train


def arrays(path: Path) -> dict[str, np.ndarray]:
    ck = load_checkpoint(path)
    out = {f"model/{k}": v for k, v in ck["model"].items()}
    for i, st in ck["optimizer"]["state"].items():
        out.update({f"optim/{i}/{k}": np.asarray(v) for k, v in st.items()})
    return out


@pytest.mark.training
def test_a_tiny_model_overfits_a_short_text() -> None:
    nn.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=20, n_layer=2, n_head=2, n_embd=32))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (4, 16))
    y = np.roll(x, -1, axis=1)
    opt = AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(150):
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < 0.05


@pytest.mark.training
def test_training_writes_checkpoints_metrics_and_learns(cfg: TrainConfig) -> None:
    cfg.max_iters, cfg.lr_decay_iters, cfg.learning_rate = 60, 60, 3e-3
    summary = train(cfg)
    out = Path(cfg.out_dir)
    assert {"best.npz", "last.npz", "metrics.csv"} <= {p.name for p in out.iterdir()}
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "iter,loss,lr,ms_per_iter,tokens_per_s,train_loss,val_loss"
    evals = [r for r in rows[1:] if r.split(",")[-1]]
    first_val, last_val = float(evals[0].split(",")[-1]), float(evals[-1].split(",")[-1])
    assert last_val < first_val - 0.5, "training should lower the validation loss"
    ck = load_checkpoint(out / "last.npz")
    assert ck["iter"] == 60 and ck["best_val_loss"] == pytest.approx(summary["best_val_loss"])
    assert ck["tokenizer"]["type"] == "char"
    assert ck["metrics_rows"] == len(rows) - 1, "the checkpoint counts the metrics rows written before it"
    assert TrainConfig(**ck["train_config"]) == cfg, "the checkpoint holds the whole run configuration"


@pytest.mark.training
def test_a_training_step_by_hand(cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """What train() does in one iteration, in order: a batch from the train split, backward, clipping,
    the optimizer's step at this iteration's lr, the gradients cleared, then the schedule's step."""
    cfg.max_iters, cfg.grad_clip, cfg.eval_interval = 4, 0.5, 100
    events: list[tuple] = []
    evaluating = [False]
    names: dict[int, str] = {}
    real_build, real_estimate = train_mod.build, train_mod.estimate_loss
    real_batch, real_clip = train_mod.get_batch, train_mod.clip_grad_norm_

    def build(cfg: TrainConfig, pretrained: bool = False):  # type: ignore[no-untyped-def]
        model, optimizer, scheduler, tokenizer, splits = real_build(cfg, pretrained)
        names.update({id(data): split for split, data in splits.items()})
        step, zero, sched_step = optimizer.step, optimizer.zero_grad, scheduler.step
        params = list(model.parameters())

        def optimizer_step(*a: object, **k: object) -> object:
            events.append(("optimizer.step", optimizer.param_groups[0]["lr"], all(p.grad is not None for p in params)))
            return step(*a, **k)

        optimizer.step = optimizer_step  # type: ignore[method-assign]
        optimizer.zero_grad = lambda *a, **k: (events.append(("zero_grad",)), zero(*a, **k))[1]  # type: ignore[method-assign]
        scheduler.step = lambda *a, **k: (events.append(("scheduler.step",)), sched_step(*a, **k))[1]  # type: ignore[method-assign]
        events.clear()  # what building did is not a step
        return model, optimizer, scheduler, tokenizer, splits

    def estimate_loss(*a: object, **k: object) -> dict[str, float]:
        evaluating[0] = True
        try:
            return real_estimate(*a, **k)
        finally:
            evaluating[0] = False

    def get_batch(data: np.ndarray, *a: object, **k: object) -> tuple[np.ndarray, np.ndarray]:
        if not evaluating[0]:
            events.append(("batch", names.get(id(data), "?")))
        return real_batch(data, *a, **k)

    def clip(parameters: object, max_norm: float, *a: object, **k: object) -> object:
        params = list(parameters)  # type: ignore[call-overload]
        events.append(("clip", max_norm, all(p.grad is not None for p in params)))
        return real_clip(params, max_norm, *a, **k)

    for name, fake in (
        ("build", build),
        ("estimate_loss", estimate_loss),
        ("get_batch", get_batch),
        ("clip_grad_norm_", clip),
    ):
        monkeypatch.setattr(train_mod, name, fake)
    train(cfg)

    schedule = WarmupCosineLR(
        AdamW([Tensor(np.zeros(1), requires_grad=True)], lr=cfg.learning_rate),
        cfg.warmup_iters,
        cfg.lr_decay_iters,
        cfg.min_lr or cfg.learning_rate / 10,
    )
    steps = [e for e in events if e[0] == "optimizer.step"]
    assert len(steps) == 4, f"train() made {len(steps)} optimizer steps for max_iters=4"
    batches = [e[1] for e in events if e[0] == "batch"]
    assert set(batches) == {"train"}, (
        f"train() drew its training batches from {sorted(set(batches))}: it trains on the train split only; the "
        "val split only measures what the model learned"
    )
    clips = [e for e in events if e[0] == "clip"]
    assert len(clips) == 4, (
        f"train() clipped the gradients {len(clips)} times in 4 steps: clip_grad_norm_(model.parameters(), "
        "cfg.grad_clip) once per step, after backward and before optimizer.step()"
    )
    assert all(c[1] == 0.5 for c in clips), f"train() clipped to {clips[0][1]}, not to cfg.grad_clip (0.5)"
    assert all(c[2] for c in clips), "train() clipped before backward: there were no gradients yet to clip"
    per_step = [e[0] for e in events if e[0] in ("clip", "optimizer.step", "zero_grad", "scheduler.step")]
    assert per_step == ["clip", "optimizer.step", "zero_grad", "scheduler.step"] * 4, (
        f"one training step ran {per_step[:4]}: clip, then optimizer.step(), then zero_grad(), then "
        "scheduler.step() (the schedule after the optimizer, as PyTorch requires: the first step uses the first lr)"
    )
    assert [s[1] for s in steps] == pytest.approx([schedule.lr_at(i, cfg.learning_rate) for i in range(4)]), (
        f"the steps used the learning rates {[round(s[1], 6) for s in steps]}: step i uses the schedule's lr of "
        "iteration i, so the schedule steps after the optimizer"
    )


def explain_resume(straight: Path, resumed: Path) -> str:
    """Why a resumed run's last.npz differs from an unbroken one's: the first of its parts that differs."""
    a, b = load_checkpoint(straight / "last.npz"), load_checkpoint(resumed / "last.npz")
    if a["rng"]["data"] != b["rng"]["data"]:
        return (
            "the training batches' generator ended elsewhere, so the resumed run drew other batches: resuming "
            "restores its state from the checkpoint (rng/data)"
        )
    steps = lambda ck: sorted({int(np.asarray(s["step"])) for s in ck["optimizer"]["state"].values()})  # noqa: E731
    if steps(a) != steps(b):
        return (
            f"AdamW's step count is {steps(b)}, not {steps(a)}: its moments and steps started afresh at the resume; "
            "load the optimizer's state from the checkpoint"
        )
    lrs = [[r.split(",")[2] for r in (d / "metrics.csv").read_text().splitlines()[1:]] for d in (straight, resumed)]
    if lrs[0] != lrs[1]:
        return (
            f"the learning rates logged differ ({lrs[0]} against {lrs[1]}): after a resume the schedule must "
            "continue at the checkpoint's iteration, not start over"
        )
    if repr(a["rng"]["nn"]) != repr(b["rng"]["nn"]):
        return (
            "the dropout masks' generator (numpygpt.nn's) ended elsewhere, so the resumed run dropped other units: "
            "restore it from the checkpoint too (rng/nn)"
        )
    for k, v in a["model"].items():
        if not np.array_equal(v, b["model"][k]):
            d = np.abs(v - b["model"][k])
            return f"model/{k} differs ({int((d > 0).sum())} of {d.size} values, by up to {d.max():.3g})"
    return "the checkpoints differ"


@pytest.mark.training
def test_interrupt_then_resume_is_bit_identical_to_an_unbroken_run(cfg: TrainConfig, tmp_path: Path) -> None:
    straight = TrainConfig(**{**cfg.__dict__, "out_dir": str(tmp_path / "straight")})
    train(straight)

    def ctrl_c_at_5(it: int, loss: float, model: GPT) -> None:
        if it == 5:
            signal.raise_signal(signal.SIGINT)

    summary = train(cfg, on_step=ctrl_c_at_5)
    assert summary["interrupted"] and summary["iter"] == 5
    assert load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == 5
    cfg.resume = True
    train(cfg)
    a, b = arrays(Path(straight.out_dir) / "last.npz"), arrays(Path(cfg.out_dir) / "last.npz")
    assert a.keys() == b.keys()
    if any(not np.array_equal(a[k], b[k]) for k in a):
        raise AssertionError(
            "interrupted at iteration 5 and resumed, the run does not end as the unbroken one: "
            + explain_resume(Path(straight.out_dir), Path(cfg.out_dir))
        )


@pytest.mark.cli
def test_sample_streams_text_from_a_checkpoint(cfg: TrainConfig, run_sample) -> None:
    train(cfg)
    args = ["--out_dir", cfg.out_dir, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]
    code, out, _ = run_sample(args)
    assert code == 0 and out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 40 + 1
    assert run_sample(args)[1] == out, "the same seed gives the same sample"
    assert run_sample(["--checkpoint", str(Path(cfg.out_dir) / "last.npz"), *args[2:]])[0] == 0

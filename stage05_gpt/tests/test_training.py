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
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.models import GPT, GPTConfig
from numpygpt.optim import AdamW
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
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.cli
def test_sample_streams_text_from_a_checkpoint(cfg: TrainConfig, run_sample) -> None:
    train(cfg)
    args = ["--out_dir", cfg.out_dir, "--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "1"]
    code, out, _ = run_sample(args)
    assert code == 0 and out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 40 + 1
    assert run_sample(args)[1] == out, "the same seed gives the same sample"
    assert run_sample(["--checkpoint", str(Path(cfg.out_dir) / "last.npz"), *args[2:]])[0] == 0

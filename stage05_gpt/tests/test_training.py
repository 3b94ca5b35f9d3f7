"""The training loop: it learns, saves, resumes bit-identically, survives Ctrl-C and bad data."""

from __future__ import annotations

import hashlib
import math
import signal
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.train as train_mod
from numpygpt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numpygpt.configs import TrainConfig, parse_args
from numpygpt.models import GPT, GPTConfig
from numpygpt.optim import AdamW
from numpygpt.train import TrainingDiverged, train

TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nJULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n"
) * 40


@pytest.fixture
def cfg(tmp_path: Path) -> TrainConfig:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(TEXT.encode())
    return TrainConfig(
        data_dir=str(tmp_path / "data"),
        data_source=str(corpus),
        data_sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=16,
        batch_size=4,
        max_iters=12,
        warmup_iters=2,
        lr_decay_iters=12,
        eval_interval=6,
        eval_iters=2,
        log_interval=3,
        out_dir=str(tmp_path / "out"),
        dropout=0.1,
        sample_tokens=0,
    )


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


@pytest.mark.training
def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(cfg: TrainConfig) -> None:
    def poison(it: int, loss: float, model: GPT) -> None:
        if it == 3:
            model.transformer.wte.weight.data[:] = np.nan

    with pytest.raises(TrainingDiverged, match=r"iteration 3: the loss is nan; stopping.*last\.npz"):
        train(cfg, on_step=poison)
    ck = load_checkpoint(Path(cfg.out_dir) / "last.npz")
    assert ck["iter"] == 0 and all(np.isfinite(v).all() for v in ck["model"].values())


@pytest.mark.training
def test_an_interrupted_save_leaves_the_previous_checkpoint_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.npz"
    save_checkpoint(path, {"iter": 1, "w": np.arange(5.0)})

    def savez_then_ctrl_c(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"iter": 2, "w": np.zeros(5)})
    ck = load_checkpoint(path)
    assert ck["iter"] == 1 and np.array_equal(ck["w"], np.arange(5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"], "no temporary file is left behind"


@pytest.mark.training
def test_checkpoint_round_trip_keeps_types(tmp_path: Path) -> None:
    state = {
        "iter": 3,
        "betas": (0.9, 0.99),
        "state": {0: {"step": 2, "m": np.ones(3, np.float32)}},
        "s": "x",
        "f": math.inf,
    }
    save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(tmp_path / "c.npz")
    assert back["betas"] == (0.9, 0.99) and back["state"][0]["step"] == 2 and back["s"] == "x" and back["f"] == math.inf
    assert back["state"][0]["m"].dtype == np.float32


@pytest.mark.cli
def test_missing_truncated_and_incompatible_checkpoints_are_clear_errors(
    cfg: TrainConfig, tmp_path: Path, capsys
) -> None:
    from numpygpt.sample import load_model
    from numpygpt.sample import main as sample_main

    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.npz")
    train(cfg)
    good = Path(cfg.out_dir) / "best.npz"
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or not a numpygpt checkpoint"):
        load_model(truncated)
    ck = load_checkpoint(good)
    ck["model_config"]["n_embd"] = 32
    save_checkpoint(tmp_path / "other.npz", ck)
    with pytest.raises(CheckpointError, match="does not fit.*shape mismatch"):
        load_model(tmp_path / "other.npz")
    assert sample_main(["--checkpoint", str(truncated)]) == 2
    assert "damaged" in capsys.readouterr().err


@pytest.mark.cli
def test_sample_streams_text_from_a_checkpoint(cfg: TrainConfig, capsys) -> None:
    from numpygpt.sample import main as sample_main

    train(cfg)
    capsys.readouterr()
    code = sample_main(
        [
            "--checkpoint",
            str(Path(cfg.out_dir) / "best.npz"),
            "--prompt",
            "ROMEO:",
            "--max-new-tokens",
            "40",
            "--seed",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 40 + 1
    sample_main(
        [
            "--checkpoint",
            str(Path(cfg.out_dir) / "best.npz"),
            "--prompt",
            "ROMEO:",
            "--max-new-tokens",
            "40",
            "--seed",
            "1",
        ]
    )
    assert capsys.readouterr().out == out, "the same seed gives the same sample"


@pytest.mark.cli
def test_command_line_overrides_and_their_errors(capsys) -> None:
    cfg = parse_args(["--config", "smoke", "--n_layer", "3", "--learning-rate", "5e-4", "--resume", "--bias", "false"])
    assert (cfg.n_layer, cfg.learning_rate, cfg.resume, cfg.bias, cfg.n_embd) == (3, 5e-4, True, False, 64)
    assert parse_args([]) == TrainConfig()
    for bad in (["--n_layer", "two"], ["--no_such_field", "1"], ["--config", "huge"], ["--bias", "maybe"]):
        with pytest.raises(SystemExit) as e:
            parse_args(bad)
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert (
        "invalid int value: 'two'" in err
        and "unrecognized arguments: --no_such_field" in err
        and "expected true or false" in err
    )


@pytest.mark.cli
def test_resume_without_a_checkpoint_is_a_clear_error(cfg: TrainConfig) -> None:
    cfg.resume = True
    with pytest.raises(CheckpointError, match="last.npz does not exist"):
        train(cfg)


@pytest.mark.cli
def test_main_reports_a_missing_resume_checkpoint_without_a_traceback(cfg: TrainConfig, capsys) -> None:
    args = [f"--{k}={v}" for k, v in cfg.__dict__.items()] + ["--resume"]
    assert train_mod.main(args) == 2
    assert "last.npz does not exist" in capsys.readouterr().err

"""A run folder's life through the training command: a second run, resuming with changes, divergence.

Each test drives `python -m numpygpt.train` (its main(), in this process) as a user would and
checks what is on disk afterwards and what the user was told.
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import shlex
import signal
from pathlib import Path

import numpy as np
import pytest

import numpygpt.train as train_mod
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig, parse_args
from numpygpt.models import GPT
from numpygpt.sample import SampleConfig
from numpygpt.train import TrainingDiverged, train


def snapshot(folder: str | Path) -> dict[str, bytes]:
    """Every run file in the folder, byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if not p.name.startswith(".")}


def metrics(folder: str | Path) -> list[list[str]]:
    return [row.split(",") for row in (Path(folder) / "metrics.csv").read_text().splitlines()[1:]]


# ----- 1. a run never destroys a trained run --------------------------------------------------


@pytest.mark.cli
def test_a_second_run_in_the_same_folder_is_refused_and_changes_nothing(cfg: TrainConfig, argv, run_train) -> None:
    assert run_train(argv(cfg))[0] == 0
    before = snapshot(cfg.out_dir)
    code, out, err = run_train(argv(cfg, max_iters=50))  # "override any setting", as the README says
    assert code == 2 and out == ""
    assert err.count("\n") == 1, "one line"
    assert err.startswith(
        f"error: --out_dir {cfg.out_dir} already holds a run (last.npz at iteration 12, best val loss "
    )
    for way in ("continue it with --resume", "elsewhere with --out_dir DIR", "replace it with --overwrite"):
        assert way in err
    assert snapshot(cfg.out_dir) == before, "nothing in the trained run changed"


@pytest.mark.cli
def test_overwrite_replaces_the_run_and_says_what_it_deleted(cfg: TrainConfig, argv, run_train) -> None:
    assert run_train(argv(cfg))[0] == 0
    code, out, _ = run_train(argv(cfg, max_iters=6, overwrite=True))
    assert code == 0 and f"overwrite: deleting the run in {cfg.out_dir} (last.npz at iteration 12" in out
    assert load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == 6
    assert max(int(row[0]) for row in metrics(cfg.out_dir)) == 6, "no row of the old run is left"


@pytest.mark.cli
def test_the_default_run_folder_follows_the_preset_and_the_tokenizer() -> None:
    def folder(*args: str) -> Path:
        return parse_args(list(args))[0].run_dir

    assert folder() == Path("out/shakespeare_char")
    assert folder("--tokenizer", "bpe") == folder("--config", "shakespeare_bpe") == Path("out/shakespeare_bpe512")
    assert folder("--tokenizer", "bpe", "--bpe_vocab_size", "1024") == Path("out/shakespeare_bpe1024")
    assert folder("--config", "smoke") == Path("out/smoke_char")
    assert folder("--config", "smoke", "--tokenizer", "bpe") == Path("out/smoke_bpe512")
    assert folder("--out_dir", "runs/a") == Path("runs/a")
    assert SampleConfig().out_dir == str(folder()), "sample reads where train writes by default"


@pytest.mark.cli
def test_a_char_run_and_a_bpe_run_with_default_folders_never_share_one(
    cfg: TrainConfig, argv, run_train, run_sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    default = TrainConfig().out_dir
    assert run_train(argv(cfg, out_dir=default))[0] == 0
    char_run = snapshot("out/shakespeare_char")
    assert run_train(argv(cfg, out_dir=default, tokenizer="bpe", bpe_vocab_size=256))[0] == 0
    assert snapshot("out/shakespeare_char") == char_run
    assert load_checkpoint("out/shakespeare_bpe256/best.npz")["tokenizer"]["type"] == "bpe"
    code, out, _ = run_sample(["--max_new_tokens", "30", "--seed", "1"])
    assert code == 0 and set(out) <= set(cfg_text(cfg)) | {"\n"}, "sample reads the char run by default"


def cfg_text(cfg: TrainConfig) -> str:
    return Path(cfg.data_source).read_text()


@pytest.mark.cli
def test_a_second_run_while_one_is_training_in_the_folder_is_refused(cfg: TrainConfig, argv, run_train) -> None:
    Path(cfg.out_dir).mkdir(parents=True)
    with open(Path(cfg.out_dir) / ".lock", "a+") as lock:  # as a run in another process holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4242")
        lock.flush()
        code, out, err = run_train(argv(cfg))
    assert code == 2 and out == ""
    assert err == (
        f"error: --out_dir {cfg.out_dir}: another training run (pid 4242) is using this folder; "
        "wait for it to finish, or choose another --out_dir\n"
    )
    assert snapshot(cfg.out_dir) == {}


# ----- 2. --resume means resume -------------------------------------------------------------


@pytest.mark.cli
def test_resume_refuses_a_different_model_tokenizer_or_data_one_line_per_field(
    cfg: TrainConfig, argv, run_train
) -> None:
    assert run_train(argv(cfg, max_iters=6))[0] == 0
    before = snapshot(cfg.out_dir)
    code, out, err = run_train(
        argv(cfg, n_head=4, n_layer=2, tokenizer="bpe", position="rope", n_kv_head=1, resume=True)
    )
    assert code == 2
    assert err.splitlines() == [
        "error: --tokenizer: the checkpoint has 'char', asked 'bpe'",
        "error: --n_layer: the checkpoint has 1, asked 2",
        "error: --n_head: the checkpoint has 2, asked 4",
        "error: --position: the checkpoint has 'learned', asked 'rope'",
        "error: --n_kv_head: the checkpoint has None, asked 1",
        f"error: --resume keeps the model, tokenizer and data of the run in {cfg.out_dir}: drop these options, "
        "or start a new run with another --out_dir",
    ]
    assert snapshot(cfg.out_dir) == before
    assert not (Path(cfg.data_dir) / "shakespeare_bpe512").exists(), "refused before any work"
    with pytest.raises(ValueError, match="--n_layer: the checkpoint has 1, asked 2"):
        train(dataclasses.replace(cfg, n_layer=2, resume=True))


@pytest.mark.cli
def test_resume_with_a_new_learning_rate_says_so_and_trains_with_it(cfg: TrainConfig, argv, run_train) -> None:
    cfg.dropout = 0.0
    assert run_train(argv(cfg, max_iters=6))[0] == 0
    w6 = load_checkpoint(Path(cfg.out_dir) / "last.npz")["model"]
    # min_lr is not given: its default, learning_rate / 10, follows the new learning rate down.
    code, out, _ = run_train(["--out_dir", cfg.out_dir, "--resume", "--max_iters", "12", "--learning_rate", "1e-06"])
    assert code == 0
    lines = out.splitlines()
    for change in ("max_iters: 6 -> 12", "learning_rate: 0.001 -> 1e-06"):
        assert f"resume: {change}" in lines
    ck = load_checkpoint(Path(cfg.out_dir) / "last.npz")
    assert ck["iter"] == 12 and ck["train_config"]["learning_rate"] == 1e-6
    assert all(1e-7 <= group["lr"] <= 1e-6 for group in ck["optimizer"]["param_groups"])
    logged = [float(row[2]) for row in metrics(cfg.out_dir) if row[2] and int(row[0]) > 6]
    assert logged and all(1e-7 <= lr <= 1e-6 for lr in logged), "the schedule runs on the new learning rate"
    moved = max(float(np.abs(ck["model"][k] - w6[k]).max()) for k in w6)
    assert moved < 1e-5, "six AdamW steps at lr <= 1e-6 move no weight by more than about 6e-6"


@pytest.mark.cli
def test_resume_alone_takes_every_setting_from_the_checkpoint(
    cfg: TrainConfig, argv, run_train, tmp_path: Path
) -> None:
    straight = dataclasses.replace(cfg, out_dir=str(tmp_path / "straight"))
    train(straight)

    def ctrl_c_at_4(it: int, loss: float, model: GPT) -> None:
        if it == 4:
            signal.raise_signal(signal.SIGINT)

    train(cfg, on_step=ctrl_c_at_4)
    Path(cfg.data_source).unlink()  # the corpus was copied into data_dir: a resumed run needs only that
    code, out, _ = run_train(["--out_dir", cfg.out_dir, "--resume"])
    assert code == 0 and "resuming from" in out and "resume:" not in out, "nothing changed, nothing to report"
    a, b = load_checkpoint(Path(straight.out_dir) / "last.npz"), load_checkpoint(Path(cfg.out_dir) / "last.npz")
    assert b["iter"] == 12
    assert b["train_config"] == {**a["train_config"], "out_dir": cfg.out_dir, "resume": True, "data_source": ""}, (
        "all from the checkpoint but where the run is, and the corpus: its verified copy in data_dir"
    )
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k], err_msg=k)


# ----- 3. divergence ------------------------------------------------------------------------


@pytest.mark.training
def test_a_diverging_run_saves_nothing_and_the_advice_it_prints_works(cfg: TrainConfig, argv, run_train) -> None:
    assert run_train(argv(cfg, max_iters=6, grad_clip=0.0))[0] == 0
    good = snapshot(cfg.out_dir)
    code, _, err = run_train(["--out_dir", cfg.out_dir, "--resume", "--max_iters", "12", "--learning_rate", "1e4"])
    assert code == 1
    first, advice = err.splitlines()
    assert first.startswith("error: iteration ") and "is not finite; stopped, nothing saved" in first
    assert f"the newest good checkpoint is {cfg.out_dir}/last.npz, at iteration 6." in first
    assert (
        snapshot(cfg.out_dir)["last.npz"] == good["last.npz"] and snapshot(cfg.out_dir)["best.npz"] == good["best.npz"]
    )
    flags = shlex.split(advice.split("run with: ", 1)[1])
    assert flags == [
        "--out_dir",
        cfg.out_dir,
        "--resume",
        "--max_iters",
        "12",
        "--learning_rate",
        "1000",
    ]
    code, out, err = run_train(flags)  # the advice, followed literally
    assert code == 0 and err == ""
    ck = load_checkpoint(Path(cfg.out_dir) / "last.npz")
    assert ck["iter"] == 12 and all(np.isfinite(w).all() for w in ck["model"].values())
    rows = metrics(cfg.out_dir)
    assert all(math.isfinite(float(x)) for row in rows for x in row if x), "the diverged run's rows were dropped"
    assert [r[0] for r in rows] == ["0", "3", "6", "6", "9", "12", "12"], "no row doubled or missing"


@pytest.mark.training
def test_a_non_finite_training_loss_stops_and_keeps_the_last_good_checkpoint(cfg: TrainConfig) -> None:
    def poison(it: int, loss: float, model: GPT) -> None:
        if it == 8:
            model.transformer.wte.weight.data[:] = np.nan

    with pytest.raises(TrainingDiverged, match=r"iteration 8: the training loss \(nan\) is not finite.*iteration 6"):
        train(cfg, on_step=poison)
    ck = load_checkpoint(Path(cfg.out_dir) / "last.npz")
    assert ck["iter"] == 6 and all(np.isfinite(v).all() for v in ck["model"].values())


@pytest.mark.training
def test_a_non_finite_evaluation_is_never_saved(cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    real = train_mod.estimate_loss

    def infinite_at_12(model, splits, cfg, it):
        return {"train": math.inf, "val": math.inf} if it == 12 else real(model, splits, cfg, it)

    monkeypatch.setattr(train_mod, "estimate_loss", infinite_at_12)
    with pytest.raises(TrainingDiverged, match=r"iteration 12: the estimated loss \(train inf, val inf\)"):
        train(cfg)
    assert load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == 6
    assert load_checkpoint(Path(cfg.out_dir) / "best.npz")["iter"] == 6


@pytest.mark.training
def test_ctrl_c_after_the_weights_blew_up_saves_nothing(cfg: TrainConfig) -> None:
    def blow_up_then_ctrl_c(it: int, loss: float, model: GPT) -> None:
        if it == 8:
            model.transformer.wpe.weight.data[0, 0] = np.inf
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(TrainingDiverged, match=r"iteration 8: a weight \(transformer.wpe.weight holds 0 NaN and 1"):
        train(cfg, on_step=blow_up_then_ctrl_c)
    assert load_checkpoint(Path(cfg.out_dir) / "last.npz")["iter"] == 6

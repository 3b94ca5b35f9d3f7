"""python -m numpygpt.experiment: variants trained alike, the CSV and PNG, run again, interrupted, failed."""

from __future__ import annotations

import csv
import dataclasses
import re
import signal
from pathlib import Path

import numpy as np
import pytest

import numpygpt.experiment as experiment
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.experiment import EXPERIMENT_COLUMNS, ExperimentConfig, main, run_experiment
from numpygpt.models import GPT, GPTConfig

pytestmark = [pytest.mark.variants, pytest.mark.cli]
# Seconds: 12 iterations of a 1-layer model of 2 heads (gqa: one key/value head) on the 4 KB corpus.
VARIANTS = "baseline,rope,gqa"
TIMING = ("ms_per_iter", "ms_per_iter_min", "train_seconds")


@pytest.fixture(autouse=True)
def no_pictures(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib takes most of a tiny experiment's time: each run's own loss.png and diagnostics.png
    are train.py's (tested there), and experiment.png is drawn only where a test looks at it."""
    monkeypatch.setattr(experiment, "draw", lambda cfg: None)
    if "png" not in request.node.name:
        monkeypatch.setattr(experiment, "plot_experiment", lambda rows, png: False)


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "experiment.csv", newline="") as f:
        return list(csv.DictReader(f))


def losses(folder: Path) -> list[tuple[str, ...]]:
    """The CSV without its timing columns (which depend on the machine)."""
    return [tuple(v for k, v in r.items() if k not in TIMING) for r in rows(folder)]


def test_the_csv_and_png_hold_every_variant_s_evaluations_and_model_figures(cfg: TrainConfig, tmp_path: Path) -> None:
    runs = run_experiment(ExperimentConfig(variants=VARIANTS, out_dir=str(tmp_path / "exp")), cfg)
    assert [(r.variant, r.seed, r.status) for r in runs] == [(v, 1337, "done") for v in VARIANTS.split(",")]
    table = rows(tmp_path / "exp")
    assert list(table[0]) == list(EXPERIMENT_COLUMNS)
    assert [(r["variant"], r["iter"]) for r in table] == [
        (v, it) for v in VARIANTS.split(",") for it in ["0", "6", "12"]
    ]
    baseline = load_checkpoint(tmp_path / "exp" / "baseline-s1337" / "last.npz")["train_config"]
    for r in runs:
        ck = load_checkpoint(r.folder / "last.npz")
        model = GPT(GPTConfig(**ck["model_config"]))
        mine = [row for row in table if row["variant"] == r.variant]
        assert {row["parameters"] for row in mine} == {str(model.num_parameters())}
        assert {row["flops_per_token"] for row in mine} == {f"{model.flops_per_token():.0f}"}
        metrics = (r.folder / "metrics.csv").read_text().splitlines()[1:]
        vals = [line.split(",")[-1] for line in metrics if line.split(",")[-1]]
        assert [float(row["val_loss"]) for row in mine] == pytest.approx([float(v) for v in vals], abs=1e-4)
        seconds = [float(row["train_seconds"]) for row in mine]
        assert seconds[0] == 0 and seconds == sorted(seconds)
        logged = [float(line.split(",")[3]) for line in metrics if line.split(",")[1]]
        assert {row["ms_per_iter"] for row in mine} == {f"{np.median(logged):.2f}"}
        assert {row["ms_per_iter_min"] for row in mine} == {f"{min(logged):.2f}"}
        # Trained alike: the same settings (seed, data, budget, schedule) but for the variant's own options.
        differ = {k for k, v in ck["train_config"].items() if baseline[k] != v}
        assert differ <= {"out_dir", *experiment.variant_options(r.variant, cfg.n_head)}, r.variant
    assert {r["parameters"] for r in table if r["variant"] == "gqa"} != {
        r["parameters"] for r in table if r["variant"] == "baseline"
    }
    assert (tmp_path / "exp" / "experiment.png").stat().st_size > 0


def test_run_again_trains_only_what_is_missing_and_an_interrupted_run_resumes_exactly(
    cfg: TrainConfig, tmp_path: Path
) -> None:
    unbroken = tmp_path / "unbroken"
    run_experiment(ExperimentConfig(variants=VARIANTS, out_dir=str(unbroken)), cfg)
    exp = ExperimentConfig(variants=VARIANTS, out_dir=str(tmp_path / "exp"))
    calls: list[str] = []

    def ctrl_c_in_the_second_run(it: int, loss: float, model: GPT) -> None:
        calls.append(model.config.position)
        if model.config.position == "rope" and it == 5:
            signal.raise_signal(signal.SIGINT)

    runs = run_experiment(exp, cfg, on_step=ctrl_c_in_the_second_run)
    assert [r.status for r in runs] == ["done", "interrupted", "pending"]
    assert load_checkpoint(runs[1].folder / "last.npz")["iter"] == 5
    assert {r["variant"]: r["status"] for r in rows(tmp_path / "exp")} == dict(
        baseline="done", rope="interrupted", gqa="pending"
    )
    first = runs[0].folder / "last.npz"
    stamp = (first.stat().st_mtime_ns, (runs[0].folder / "metrics.csv").read_text())

    calls.clear()
    runs = run_experiment(exp, cfg, on_step=ctrl_c_in_the_second_run)  # run again: rope from 5, then gqa
    assert [r.status for r in runs] == ["done"] * 3
    assert calls == ["rope"] * 7 + ["learned"] * 12, "baseline is not trained again; rope resumes at 6"
    assert (first.stat().st_mtime_ns, (runs[0].folder / "metrics.csv").read_text()) == stamp
    assert losses(tmp_path / "exp") == losses(unbroken), "as if never interrupted"
    a, b = (load_checkpoint(folder / "rope-s1337" / "last.npz")["model"] for folder in (unbroken, tmp_path / "exp"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_failed_variant_is_reported_and_the_others_go_on(
    cfg: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_train = experiment.train

    def rope_blows_up(run_cfg: TrainConfig, on_step=None) -> dict:
        def poison(it: int, loss: float, model: GPT) -> None:
            if it == 3:
                model.transformer.wte.weight.data[...] = np.nan

        return real_train(run_cfg, on_step=poison if run_cfg.position == "rope" else None)

    monkeypatch.setattr(experiment, "train", rope_blows_up)
    seeds = dict(seeds="1337,7")
    runs = run_experiment(ExperimentConfig(variants=VARIANTS, out_dir=str(tmp_path / "exp"), **seeds), cfg)
    assert [(r.variant, r.status) for r in runs] == [
        ("baseline", "done"),
        ("baseline", "done"),
        ("rope", "failed"),
        ("rope", "failed"),
        ("gqa", "done"),
        ("gqa", "done"),
    ]
    assert runs[2].message.startswith("iteration 3: the training loss (nan) is not finite")
    out = capsys.readouterr().out
    assert "rope, seed 1337 failed: iteration 3: the training loss (nan) is not finite" in out
    table = rows(tmp_path / "exp")
    assert [r["status"] for r in table if r["variant"] == "rope"] == ["failed", "failed"], "its evaluation at 0"
    assert {r["seed"] for r in table if r["variant"] == "gqa" and r["iter"] == "12"} == {"1337", "7"}
    code = main(_argv(cfg, tmp_path / "exp", variants=VARIANTS, seeds="1337,7"))
    assert code == 1, "a failed variant fails the command"


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(n_layer=2), "holds another experiment \\(baseline-s1337: n_layer: the checkpoint has 1, asked 2\\)"),
        (dict(max_iters=6, lr_decay_iters=6), "--max_iters 6: .*baseline-s1337 has run 12 iterations already"),
    ],
)
def test_a_folder_of_another_experiment_is_refused_before_any_work(
    cfg: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict, message: str
) -> None:
    run_experiment(ExperimentConfig(variants="baseline", out_dir=str(tmp_path / "exp")), cfg)
    before = (tmp_path / "exp" / "baseline-s1337" / "metrics.csv").read_text()
    capsys.readouterr()
    code = main(_argv(dataclasses.replace(cfg, **change), tmp_path / "exp", variants="baseline,rope"))
    err = capsys.readouterr().err
    assert code == 2 and re.search(message, err) and err.count("\n") == 1, err
    assert err.rstrip().endswith("choose another --out_dir, or --overwrite to train its runs anew")
    assert not (tmp_path / "exp" / "rope-s1337").exists()
    assert (tmp_path / "exp" / "baseline-s1337" / "metrics.csv").read_text() == before
    code = main([*_argv(dataclasses.replace(cfg, **change), tmp_path / "exp", variants="baseline"), "--overwrite"])
    ck = load_checkpoint(tmp_path / "exp" / "baseline-s1337" / "last.npz")
    assert code == 0 and ck["iter"] == change.get("max_iters", cfg.max_iters), "--overwrite trains it anew"
    assert ck["model_config"]["n_layer"] == change.get("n_layer", cfg.n_layer)


def _argv(base: TrainConfig, out_dir: Path, **exp: str) -> list[str]:
    keep = (
        "data_dir",
        "data_source",
        "data_sha256",
        "n_layer",
        "n_head",
        "n_embd",
        "block_size",
        "batch_size",
        "dropout",
    )
    keep += ("max_iters", "warmup_iters", "lr_decay_iters", "eval_interval", "eval_iters", "log_interval")
    args = [f"--{k}={getattr(base, k)}" for k in keep] + [f"--out_dir={out_dir}"]
    return args + [f"--{k}={v}" for k, v in exp.items()]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--variants", "baseline,alibi"], "--variants alibi: unknown; the variants are baseline, rmsnorm, rope"),
        (["--variants", "rope,rope"], "--variants 'rope,rope': must be a comma-separated list, each entry once"),
        (["--variants", ""], "--variants '': must be a comma-separated list"),
        (["--seeds", "1,x"], "--seeds '1,x': must be comma-separated integers >= 0"),
        (["--seeds", "-1"], "--seeds '-1': must be comma-separated integers >= 0"),
        (
            ["--variants", "gqa", "--n_head", "1", "--n_embd", "8"],
            "--variants gqa: grouped-query attention needs --n_head >= 2",
        ),
        (
            ["--variants", "rope", "--n_head", "4", "--n_embd", "12"],
            r"--variants rope: --position 'rope': must be learned, or rope with an even head size \(--n_embd / --n_head = 12 / 4\)",
        ),
        (["--n_head", "3"], r"--n_head 3: must be a divisor of --n_embd \(16\)"),
        (["--position", "rope"], "unrecognized arguments: --position rope"),
        (["--config", "finetune_shakespeare"], "argument --config: invalid choice: 'finetune_shakespeare'"),
    ],
)
def test_a_mistake_is_one_line_before_any_work(
    cfg: TrainConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    try:
        code = main([*_argv(cfg, tmp_path / "exp"), *args])
    except SystemExit as e:  # argparse's own errors
        code = int(e.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "exp").exists(), "nothing trained, nothing written"


def test_help_lists_the_variants_and_the_training_options_it_does_not_set(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    options = set(re.findall(r"^  (--\w+)", out, re.MULTILINE))  # each option starts a line, two spaces in
    assert {
        "--variants",
        "--seeds",
        "--out_dir",
        "--overwrite",
        "--max_iters",
        "--n_layer",
        "--learning_rate",
    } <= options
    assert all(variant in out for variant in experiment.VARIANTS)
    managed = {"--norm", "--mlp", "--position", "--n_kv_head", "--seed", "--resume", "--init_from", "--sample_tokens"}
    assert not options & managed, "the experiment sets these itself"


def test_lr_decay_follows_max_iters_unless_given() -> None:
    _, base = experiment.parse_args(["--max_iters", "300"])
    assert base.max_iters == base.lr_decay_iters == 300 and base.sample_tokens == 0
    _, base = experiment.parse_args(["--max_iters", "300", "--lr_decay_iters", "200"])
    assert base.lr_decay_iters == 200
    assert dataclasses.asdict(experiment.parse_args([])[1]) == dataclasses.asdict(
        dataclasses.replace(TrainConfig(), sample_tokens=0)
    ), "without options, every run is the default training run"

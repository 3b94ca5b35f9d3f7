"""Is my loss normal? The reference curve, which runs it applies to, and what the log line says."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

import numpygpt.reference as reference_mod
from numpygpt.configs import TrainConfig
from numpygpt.plot import plot_metrics
from numpygpt.reference import FREE_FIELDS, REFERENCE_PATH, Band, ReferenceCurve, effective_settings, reference_for

pytestmark = pytest.mark.training


def record(**config_changes: Any) -> dict[str, Any]:
    config = {k: v for k, v in effective_settings(TrainConfig()).items() if k not in FREE_FIELDS}
    config.update(config_changes)
    stats = {"mean": 1.9, "std": 0.01, "min": 1.89, "max": 1.91, "lo": 1.87, "hi": 1.93}
    return {
        "config": config,
        "seeds": [1, 2, 3],
        "evaluations": [{"iter": 2000, "train": stats, "val": stats, "val_by_seed": [1.89, 1.9, 1.91]}],
    }


def test_the_verdict_says_where_the_val_loss_is() -> None:
    band = Band(iter=2000, lo=1.881, hi=1.905, mean=1.893)
    assert band.verdict(1.893) == "reference 1.881–1.905 at iter 2000: inside"
    assert band.verdict(1.881) == "reference 1.881–1.905 at iter 2000: inside"
    assert band.verdict(1.87) == "reference 1.881–1.905 at iter 2000: below"
    assert band.verdict(2.5) == "reference 1.881–1.905 at iter 2000: above"


def test_seed_folders_and_logging_do_not_make_another_config() -> None:
    curve = ReferenceCurve(record())
    same = dataclasses.replace(
        TrainConfig(), seed=7, out_dir="elsewhere", log_interval=1, eval_interval=100, max_iters=500, sample_tokens=0
    )
    assert curve.matches(TrainConfig()) and curve.matches(same)
    assert curve.matches(dataclasses.replace(TrainConfig(), min_lr=1e-4)), "min_lr as the default's learning_rate / 10"
    assert curve.band_at(2000) == Band(2000, 1.87, 1.93, 1.9) and curve.band_at(1000) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_layer": 6}, "n_layer=6 (reference: 4)"),
        ({"learning_rate": 3e-2}, "learning_rate=0.03 (reference: 0.001)|min_lr=0.003 (reference: 0.0001)"),
        ({"eval_iters": 200}, "eval_iters=200 (reference: 20)"),  # the band's spread holds 20-batch estimates
        ({"tokenizer": "bpe"}, "tokenizer='bpe' (reference: 'char')"),
        ({"lr_decay_iters": 5000}, "lr_decay_iters=5000 (reference: 2000)"),
        ({"min_lr": 3e-4}, "min_lr=0.0003 (reference: 0.0001)"),
        ({"learning_rate": 2e-3, "min_lr": 1e-4}, "learning_rate=0.002 (reference: 0.001)"),
        ({"gradient_accumulation_steps": 2}, "gradient_accumulation_steps=2 (reference: 1)"),
        ({"init_from": "gpt2"}, "init_from='gpt2' (reference: 'scratch')"),
    ],
)
def test_any_other_setting_makes_another_config(change: dict[str, Any], message: str) -> None:
    curve = ReferenceCurve(record())
    cfg = dataclasses.replace(TrainConfig(), **change)
    assert curve.differences(cfg) == message.split("|")
    assert not curve.matches(cfg)


def test_a_setting_the_reference_does_not_record_must_keep_its_default() -> None:
    rec = record()
    del rec["config"]["dropout"]  # as if dropout had been added to TrainConfig after the reference was made
    curve = ReferenceCurve(rec)
    assert curve.matches(TrainConfig())
    assert curve.differences(dataclasses.replace(TrainConfig(), dropout=0.1)) == ["dropout=0.1 (reference: 0.0)"]


def test_reference_for_only_a_matching_config_and_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "ref.json"
    assert reference_for(TrainConfig(), path) is None
    path.write_text(json.dumps(record()))
    assert isinstance(reference_for(TrainConfig(), path), ReferenceCurve)
    assert reference_for(dataclasses.replace(TrainConfig(), n_embd=64), path) is None


def test_the_recorded_reference_is_the_default_config_at_every_evaluation() -> None:
    if not REFERENCE_PATH.is_file():
        pytest.skip("the reference curve is not recorded yet")
    curve = ReferenceCurve.load()
    assert curve.matches(TrainConfig()), curve.differences(TrainConfig())
    assert len(curve.seeds) >= 3
    cfg = TrainConfig()
    assert sorted(curve.bands) == list(range(0, cfg.max_iters + 1, cfg.eval_interval))
    for band in (*curve.bands.values(), *curve.train_bands.values()):
        assert band.lo < band.mean < band.hi
    assert 1.8 < curve.bands[cfg.max_iters].mean < 2.0 and 4.1 < curve.bands[0].mean < 4.3


# ----- in a run: the log line and loss.png --------------------------------------------------------
def band_file(tmp_path: Path, cfg: TrainConfig, bands: dict[int, tuple[float, float]]) -> Path:
    """A reference curve recorded for cfg's settings, with the given val bands."""
    rec = record()
    rec["config"] = {k: v for k, v in effective_settings(cfg).items() if k not in FREE_FIELDS}
    rec["evaluations"] = [
        {
            "iter": it,
            "train": {"mean": (lo + hi) / 2, "lo": lo, "hi": hi},
            "val": {"mean": (lo + hi) / 2, "lo": lo, "hi": hi},
        }
        for it, (lo, hi) in bands.items()
    ]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(rec))
    return path


@pytest.mark.cli
def test_each_evaluation_of_the_reference_config_says_where_its_val_loss_is(
    cfg: TrainConfig, tmp_path: Path, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_mod, "REFERENCE_PATH", band_file(tmp_path, cfg, {0: (3.0, 5.0), 6: (0.0, 0.1)}))
    code, out, err = run_train(argv(cfg, seed=7, log_interval=4))  # another seed, another log: the same config
    assert code == 0, err
    assert "the default config: each val loss is compared with its reference curve (3 seeds)" in out
    evals = [line for line in out.splitlines() if ": train loss " in line]
    assert re.fullmatch(
        r"iter 0: train loss [\d.]+, val loss [\d.]+ \(reference 3\.000–5\.000 at iter 0: inside\)", evals[0]
    )
    assert evals[1].endswith("(reference 0.000–0.100 at iter 6: above)")
    assert evals[2].endswith(re.search(r"val loss [\d.]+", evals[2])[0]), "no band recorded at iteration 12"


@pytest.mark.cli
def test_another_config_is_not_compared(
    cfg: TrainConfig, tmp_path: Path, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_mod, "REFERENCE_PATH", band_file(tmp_path, cfg, {0: (4.0, 5.0)}))
    code, out, err = run_train(argv(cfg, n_embd=8))
    assert code == 0, err
    assert "reference" not in out


def test_loss_png_draws_the_band(cfg: TrainConfig, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        "iter,loss,lr,ms_per_iter,tokens_per_s,train_loss,val_loss\n0,,,,,4.2,4.2\n10,3.0,0.001,50,1000,,\n"
    )
    curve = ReferenceCurve.load(band_file(tmp_path, cfg, {0: (3.0, 4.5), 10: (2.0, 3.5)}))
    assert plot_metrics(metrics, tmp_path / "plain.png") and plot_metrics(metrics, tmp_path / "band.png", curve)
    plain, band = imread(tmp_path / "plain.png"), imread(tmp_path / "band.png")
    assert plain.shape == (400, 700, 4) and band.shape == (400, 1200, 4), "with the band, a close-up panel beside"

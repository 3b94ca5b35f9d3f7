"""Training diagnostics: every statistic against a hand computation on a tiny GPT; the CSV, the PNG, the command."""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
import numpygpt.nn.functional as F
import numpygpt.train as train_mod
from numpygpt.autograd import Tensor
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.diagnostics import (
    GELU_TAIL,
    DiagnosticsLog,
    Probe,
    attention_entropy,
    attention_probs,
    main,
    plot_diagnostics,
    read_diagnostics,
    update_ratio,
)
from numpygpt.models import GPT, GPTConfig
from numpygpt.models.heads import split_heads
from numpygpt.optim import AdamW
from numpygpt.train import train

pytestmark = pytest.mark.diagnostics


def tiny_gpt(seed: int = 0, dropout: float = 0.0) -> GPT:
    nn.manual_seed(seed)
    return GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8, dropout=dropout))


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 11, (3, 8))
    return x, np.roll(x, -1, axis=1)


# ----- attention: the recomputed probabilities are the fused op's ------------------------------
def test_attention_probs_of_the_lesson_example_by_hand() -> None:
    # One head, hs = 2, queries = keys = [[1,0],[0,1],[1,1]] (stage05's lesson): scores q k^T / sqrt(2).
    qk = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)[None, None]  # (1, 1, 3, 2): one head
    s = 1 / math.sqrt(2)
    row1 = [1 / (1 + math.exp(s)), math.exp(s) / (1 + math.exp(s)), 0.0]
    z = 2 * math.exp(s) + math.exp(2 * s)
    row2 = [math.exp(s) / z, math.exp(s) / z, math.exp(2 * s) / z]
    np.testing.assert_allclose(attention_probs(qk, qk)[0, 0], [[1, 0, 0], row1, row2], rtol=1e-6, atol=1e-7)


def test_attention_probs_equal_what_the_fused_op_uses() -> None:
    rng = np.random.default_rng(1)
    qkv = rng.standard_normal((2, 7, 3 * 12)).astype(np.float32)
    q, k, v = split_heads(Tensor(qkv, requires_grad=True), 3)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    p = attention_probs(q.data, k.data)
    assert p.shape == (2, 3, 7, 7) and p.dtype == np.float32
    np.testing.assert_allclose(p, y.creator.p, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p @ v.data, y.data, rtol=1e-5, atol=1e-6)


def test_attention_entropy_of_the_lesson_example_by_hand() -> None:
    qk = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float64)[None, None]  # one head: rows 1, (a, b), (c, c, d)
    s = 1 / math.sqrt(2)
    a, b = 1 / (1 + math.exp(s)), math.exp(s) / (1 + math.exp(s))
    z = 2 * math.exp(s) + math.exp(2 * s)
    c, d = math.exp(s) / z, math.exp(2 * s) / z
    rows = [0.0, -(a * math.log(a) + b * math.log(b)), -(2 * c * math.log(c) + d * math.log(d))]
    np.testing.assert_allclose(attention_entropy(qk, qk), [sum(rows) / 3], rtol=1e-12)


def test_attention_entropy_is_that_of_the_probabilities() -> None:
    rng = np.random.default_rng(2)
    q, k = 3 * rng.standard_normal((2, 2, 2, 9, 4))  # large scores: some weights underflow to 0
    p = attention_probs(q, k)
    assert (p[..., np.tril_indices(9)[0], np.tril_indices(9)[1]] < 1e-12).any()
    want = -(p * np.log(np.where(p > 0, p, 1))).sum(-1).mean(axis=(0, 2))
    np.testing.assert_allclose(attention_entropy(q, k), want, rtol=1e-10)


def test_update_ratio_by_hand() -> None:
    before = np.array([3.0, 4.0], dtype=np.float32)  # RMS sqrt(12.5)
    after = np.array([3.003, 4.004], dtype=np.float32)  # the update: 1/1000 of each weight
    assert update_ratio(before, after) == pytest.approx(-3.0, abs=1e-4)
    assert math.isnan(update_ratio(np.zeros(3), np.ones(3))), "no ratio for zero weights"
    assert math.isnan(update_ratio(before, before)), "no ratio for a tensor that did not move"


# ----- the Probe in a real step -----------------------------------------------------------------
def test_probe_statistics_equal_a_hand_computation_on_a_tiny_gpt(fused_attention_probs) -> None:
    model = tiny_gpt()
    for block in model.transformer.h:
        block.mlp.c_fc.weight.data *= 60  # push some GELU inputs into its flat tail
    x, y = batch()
    tr = model.transformer
    # By hand, with the model's own layers: the stream, each sublayer's output, GELU's inputs.
    want: dict[tuple[str, str], float] = {}
    h = tr.wte(x) + tr.wpe(np.arange(8))
    for i, block in enumerate(tr.h):
        name = f"transformer.h.{i}"
        a = block.attn(block.ln_1(h))
        h = h + a
        u = block.mlp.c_fc(block.ln_2(h)).data
        m = block.mlp(block.ln_2(h))
        h = h + m
        for where, t in ((f"{name}.attn", a), (f"{name}.mlp", m), (name, h)):
            want[where, "mean"], want[where, "std"] = float(t.data.mean()), float(t.data.std())
        want[f"{name}.mlp.gelu", "tail_fraction"] = float((u < GELU_TAIL).sum()) / u.size
    assert 0.05 < want["transformer.h.0.mlp.gelu", "tail_fraction"] < 0.6, "the test needs some inputs in the tail"

    probe = Probe(model)
    _, loss = model(x, y)
    fused = fused_attention_probs(loss)
    loss.backward()
    grads = {n: p.grad.data.copy() for n, p in model.named_parameters()}
    probe.gradients()
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    AdamW(model.parameters(), lr=1e-3, weight_decay=0.0).step()
    probe.update()
    got = {(n, s): v for n, s, v in probe.rows}

    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key
    for i, p in enumerate(fused):  # the entropy of the probabilities attention really used
        ent = -(p * np.log(np.where(p > 0, p, 1))).sum(-1).mean(axis=(0, 2))
        for head in range(2):
            assert got[f"transformer.h.{i}.attn", f"entropy_head{head}"] == pytest.approx(float(ent[head]), rel=1e-5)
    for n, g in grads.items():
        assert got[n, "grad_norm"] == pytest.approx(math.sqrt(sum(float(v) ** 2 for v in g.ravel())), rel=1e-5), n
        w = before[n]
        assert got[n, "weight_norm"] == pytest.approx(math.sqrt(sum(float(v) ** 2 for v in w.ravel())), rel=1e-5), n
    # Adam's first step (bias-corrected m = g, v = g^2) moves each weight by lr g / (|g| + eps):
    # by lr wherever |g| >> eps = 1e-8, so the ratio is about log10(lr / RMS(weights)).
    for n in ("transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_proj.weight", "transformer.wte.weight"):
        w, g = before[n].ravel(), grads[n].ravel()
        rms_w = math.sqrt(sum(float(v) ** 2 for v in w) / w.size)
        rms_u = math.sqrt(sum((1e-3 * abs(float(v)) / (abs(float(v)) + 1e-8)) ** 2 for v in g) / g.size)
        assert got[n, "update_ratio"] == pytest.approx(math.log10(rms_u / rms_w), abs=1e-5), n
    assert len(probe.rows) == len(got), "one value per (name, statistic)"


def test_watching_changes_nothing_and_leaves_no_hook_behind() -> None:
    def run(watch: bool) -> GPT:
        model = tiny_gpt(dropout=0.2)
        opt = AdamW(model.parameters(), lr=1e-2)
        for step in range(4):
            probe = Probe(model) if watch else None
            _, loss = model(*batch(step))
            loss.backward()
            if probe is not None:
                probe.gradients()
            opt.step()
            opt.zero_grad()
            if probe is not None:
                probe.update()
        return model

    plain, watched = run(False).state_dict(), run(True).state_dict()
    for k in plain:
        np.testing.assert_array_equal(plain[k], watched[k], err_msg=k)


def test_one_forward_pass_is_watched_the_first_of_an_accumulated_step() -> None:
    model = tiny_gpt()
    probe = Probe(model)
    model(*batch(0))
    assert not any(m._forward_hooks for m in model.modules()), "the hooks come off after one forward pass"
    rows = list(probe.rows)
    model(*batch(1))
    assert probe.rows == rows and len({(n, s) for n, s, _ in rows}) == len(rows), "each statistic once"


# ----- diagnostics.csv, diagnostics.png, the command --------------------------------------------
ROWS = [("transformer.h.0.attn.c_attn.weight", "update_ratio", -2.95), ("transformer.h.0", "std", 0.5)]


def write_log(path: Path, iters: list[int], resume_iter: int | None = None) -> None:
    with DiagnosticsLog(path, resume_iter) as log:
        for it in iters:
            log.write(it, [(n, s, v + it / 1000) for n, s, v in ROWS])


def test_the_log_is_a_csv_a_resume_keeps_rows_up_to_its_iteration(tmp_path: Path) -> None:
    path = tmp_path / "diagnostics.csv"
    write_log(path, [10, 20, 30])
    lines = path.read_text().splitlines()
    assert lines[0] == "iter,name,stat,value"
    assert lines[1] == "10,transformer.h.0.attn.c_attn.weight,update_ratio,-2.94"
    write_log(path, [30, 40], resume_iter=20)  # a run resumed from its checkpoint at iteration 20
    series = read_diagnostics(path)
    assert series["transformer.h.0", "std"] == ([10, 20, 30, 40], [0.51, 0.52, 0.53, 0.54])
    write_log(path, [10])  # a new run starts a new file
    assert read_diagnostics(path)["transformer.h.0", "std"] == ([10], [0.51])


def make_run(tmp_path: Path) -> Path:
    """A run folder holding the diagnostics.csv of a few watched steps of a tiny GPT."""
    model = tiny_gpt()
    opt = AdamW(model.parameters(), lr=1e-2)
    with DiagnosticsLog(tmp_path / "diagnostics.csv") as log:
        for it in (1, 2, 3):
            probe = Probe(model)
            _, loss = model(*batch(it))
            loss.backward()
            probe.gradients()
            opt.step()
            opt.zero_grad()
            probe.update()
            log.write(it, probe.rows)
    return tmp_path


def test_plot_diagnostics_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run = make_run(tmp_path)
    assert plot_diagnostics(run / "diagnostics.csv", run / "diagnostics.png")
    from matplotlib.image import imread

    assert imread(run / "diagnostics.png").shape[:2] == (800, 1500)


def test_plot_diagnostics_without_matplotlib_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert not plot_diagnostics(make_run(tmp_path) / "diagnostics.csv", tmp_path / "d.png")
    assert "matplotlib is not installed (pip install matplotlib)" in capsys.readouterr().out
    assert not (tmp_path / "d.png").exists()


@pytest.mark.cli
def test_the_command_summarises_the_last_step_and_draws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    run = make_run(tmp_path)
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "iteration 3" in out and "block 0" in out and "block 1" in out
    series = read_diagnostics(run / "diagnostics.csv")
    std = series["transformer.h.1", "std"][1][-1]
    assert f"{std:.3f}" in next(line for line in out.splitlines() if line.startswith("block 1"))
    assert (run / "diagnostics.png").is_file()


@pytest.mark.cli
def test_the_command_without_a_csv_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'diagnostics.csv'} does not exist: a training run writes it unless --diagnostics false\n"
    )
    (tmp_path / "diagnostics.csv").write_text("iter,name,stat,value\n")
    assert main([str(tmp_path / "diagnostics.csv")]) == 2
    assert "holds no rows yet" in capsys.readouterr().err


# ----- in a training run ------------------------------------------------------------------------
@pytest.mark.training
def test_a_run_records_every_logged_step_and_draws_it(cfg: TrainConfig) -> None:
    summary = train(cfg)  # cfg: 12 iterations, a log line every 3
    series = read_diagnostics(Path(cfg.out_dir) / "diagnostics.csv")
    for n, _ in summary["model"].named_parameters():
        for stat in ("grad_norm", "weight_norm", "update_ratio"):
            assert series[n, stat][0] == [3, 6, 9, 12], (n, stat)
    for stat in ("mean", "std"):
        assert series["transformer.h.0.attn", stat][0] == [3, 6, 9, 12]
    assert series["transformer.h.0.mlp.gelu", "tail_fraction"][0] == [3, 6, 9, 12]
    assert series["transformer.h.0.attn", "entropy_head1"][0] == [3, 6, 9, 12]
    pytest.importorskip("matplotlib")
    train_mod.draw(summary["config"])
    assert (Path(cfg.out_dir) / "diagnostics.png").is_file() and (Path(cfg.out_dir) / "loss.png").is_file()


@pytest.mark.training
def test_diagnostics_false_records_nothing_and_the_run_is_the_same(cfg: TrainConfig, tmp_path: Path) -> None:
    train(cfg)
    off = dataclasses.replace(cfg, out_dir=str(tmp_path / "off"), diagnostics=False)
    train(off)
    assert not (tmp_path / "off" / "diagnostics.csv").exists()
    a, b = load_checkpoint(Path(cfg.out_dir) / "last.npz"), load_checkpoint(tmp_path / "off" / "last.npz")
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k], err_msg=k)


@pytest.mark.cli
def test_ctrl_c_draws_the_pictures_of_the_run_so_far(
    cfg: TrainConfig, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    real_estimate = train_mod.estimate_loss

    def ctrl_c_at_6(model, splits, cfg, it):
        if it == 6:
            signal.raise_signal(signal.SIGINT)
        return real_estimate(model, splits, cfg, it)

    monkeypatch.setattr(train_mod, "estimate_loss", ctrl_c_at_6)
    code, out, _ = run_train(argv(cfg))
    assert code == 130
    assert f"diagnostics: {cfg.out_dir}/diagnostics.png" in out and f"loss curve: {cfg.out_dir}/loss.png" in out
    assert read_diagnostics(Path(cfg.out_dir) / "diagnostics.csv")["transformer.h.0", "std"][0] == [3, 6]

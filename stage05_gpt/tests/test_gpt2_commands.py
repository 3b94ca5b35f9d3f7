"""The GPT-2 commands, offline: sample --init_from, train --init_from (fine-tuning) with gradient
accumulation, and export to Hugging Face's layout. The pretrained model is the tiny GPT-2 of
tests/fixtures/hf_gpt2_tiny (made by transformers) with a small byte-level tokenizer beside it."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import numpygpt.export as export_mod
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.models import GPT
from numpygpt.models import pretrained as pretrained_mod
from numpygpt.models.pretrained import DownloadError
from numpygpt.sample import load_model
from numpygpt.tokenizer import BPETokenizer, GPT2Tokenizer
from numpygpt.train import train

pytest.importorskip("safetensors.numpy", reason="the stage's [hub] extra is not installed")
pytest.importorskip("regex", reason="GPT-2's tokenizer needs stage04's [gpt2] extra")

pytestmark = pytest.mark.cli

FIXTURE = Path(__file__).parent / "fixtures" / "hf_gpt2_tiny"


@pytest.fixture
def gpt2_folder(tmp_path: Path) -> Path:
    """A pretrained GPT-2 in Hugging Face's layout, with GPT-2-style tokenizer files (264 tokens)."""
    folder = tmp_path / "tiny-gpt2"
    shutil.copytree(FIXTURE, folder)
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\n" * 3
    BPETokenizer.train(text, 264).save_pretrained(folder)
    return folder


def test_sample_from_a_pretrained_folder(gpt2_folder: Path, run_sample: Callable) -> None:
    code, out, err = run_sample(
        ["--init_from", str(gpt2_folder), "--prompt", "ROMEO:", "--max_new_tokens", "6", "--temperature", "0"]
    )
    assert code == 0, err
    model, tokenizer = GPT.from_pretrained(gpt2_folder), GPT2Tokenizer.from_pretrained(gpt2_folder)
    prompt = np.array([tokenizer.encode("ROMEO:")])
    expected = tokenizer.decode(model.generate(prompt, 6, temperature=0)[0].tolist())
    assert out == expected + "\n"


def test_sample_init_from_mistakes_are_one_line(tmp_path: Path, run_sample: Callable) -> None:
    code, _, err = run_sample(["--init_from", str(tmp_path)])
    assert code == 1 and "has no config.json and no model.safetensors" in err


def finetune_cfg(cfg: TrainConfig, folder: Path, **changes: object) -> TrainConfig:
    return dataclasses.replace(cfg, init_from=str(folder), block_size=8, max_iters=2, eval_interval=2, **changes)


def test_fine_tuning_starts_from_the_pretrained_weights(cfg: TrainConfig, gpt2_folder: Path) -> None:
    summary = train(finetune_cfg(cfg, gpt2_folder, gradient_accumulation_steps=2, learning_rate=1e-4, min_lr=1e-5))
    run = summary["config"]
    assert (run.tokenizer, run.n_layer, run.n_head, run.n_embd) == ("gpt2", 2, 4, 32), "sizes come from config.json"
    tuned, tokenizer = load_model(summary["last"])
    assert isinstance(tokenizer, GPT2Tokenizer) and tuned.config.block_size == 8
    pretrained = GPT.from_pretrained(gpt2_folder)
    pretrained.crop_block_size(8)
    for name, weights in pretrained.state_dict().items():
        moved = np.abs(tuned.state_dict()[name] - weights).max()
        # AdamW moves each weight by at most about lr per step (plus weight decay): 2 steps at 1e-4
        assert 0 < moved < 3e-4, f"{name} moved {moved}: fine-tuning must start from the pretrained weights"


def test_gradient_accumulation_is_one_step_over_all_passes(cfg: TrainConfig) -> None:
    # 2 passes of 2 sequences must make the step that 1 pass of the same 4 sequences makes.
    base = dataclasses.replace(cfg, max_iters=1, eval_interval=1, dropout=0.0)
    one = train(dataclasses.replace(base, batch_size=4, out_dir=cfg.out_dir + "_one"))
    two = train(dataclasses.replace(base, batch_size=2, gradient_accumulation_steps=2, out_dir=cfg.out_dir + "_two"))
    a, b = load_checkpoint(one["last"])["model"], load_checkpoint(two["last"])["model"]
    for name in a:
        np.testing.assert_allclose(
            b[name],
            a[name],
            rtol=1e-5,
            atol=1e-7,
            err_msg=f"{name}: the passes' gradients must add up to the mean over all",
        )


def test_init_from_sets_the_sizes_and_the_tokenizer(cfg: TrainConfig, gpt2_folder: Path, run_train: Callable) -> None:
    data = [f"--{k}={getattr(cfg, k)}" for k in ("data_dir", "data_source", "data_sha256", "out_dir")]
    small = [*data, "--max_iters=1", "--eval_iters=1", "--batch_size=2", "--sample_tokens=0"]
    code, _, err = run_train([*small, f"--init_from={gpt2_folder}", "--block_size=8", "--n_layer=3", "--gelu=none"])
    assert code == 2 and "--n_layer, --gelu: set by the pretrained model of --init_from" in err
    code, _, err = run_train([*small, f"--init_from={gpt2_folder}", "--block_size=8", "--position=rope"])
    assert code == 2 and "--position: set by the pretrained model of --init_from" in err, "GPT-2 has learned positions"
    code, _, err = run_train([*small, "--tokenizer=gpt2"])
    assert code == 2 and "gpt2 comes with --init_from" in err
    code, _, err = run_train([*small, f"--init_from={gpt2_folder}", "--block_size=32"])
    assert code == 2 and "--block_size 32: must be at most the 16 positions of" in err
    code, out, err = run_train([*small, f"--init_from={gpt2_folder}", "--block_size=8", "--tokenizer=gpt2"])
    assert code == 0, err


@pytest.mark.parametrize("tokenizer", ["bpe", "char"])
def test_export_writes_what_from_pretrained_reads_back(
    cfg: TrainConfig, tmp_path: Path, tokenizer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = train(dataclasses.replace(cfg, tokenizer=tokenizer, bpe_vocab_size=280, max_iters=2, eval_interval=2))
    folder = tmp_path / "hf"
    assert export_mod.main([str(summary["config"].run_dir), str(folder)]) == 0
    out = capsys.readouterr().out
    ours, ours_tokenizer = load_model(summary["best"])
    back = GPT.from_pretrained(folder)
    idx = np.array([[1, 2, 3, 4]])
    np.testing.assert_allclose(back(idx)[0].data, ours(idx)[0].data, rtol=1e-6, atol=1e-7)
    if tokenizer == "bpe":
        assert GPT2Tokenizer.from_pretrained(folder).encode("ROMEO: wherefore") == ours_tokenizer.encode(
            "ROMEO: wherefore"
        )
    else:
        assert not (folder / "vocab.json").exists() and "a character tokenizer has no Hugging Face form" in out
    assert export_mod.main([str(summary["best"]), str(folder)]) == 2
    assert "already holds config.json, model.safetensors" in capsys.readouterr().err
    assert export_mod.main([str(summary["best"]), str(folder), "--overwrite"]) == 0
    assert export_mod.main([str(tmp_path / "nothing.npz"), str(folder)]) == 2
    assert "checkpoint" in capsys.readouterr().err


def test_offline_the_commands_say_so_in_one_line(
    cfg: TrainConfig, monkeypatch: pytest.MonkeyPatch, run_train: Callable, run_sample: Callable
) -> None:
    def offline(repo_id: str, files: tuple[str, ...], name: str) -> Path:
        raise DownloadError(
            f"from_pretrained: could not get {files[0]} of {name!r} from the Hugging Face hub (offline)"
        )

    monkeypatch.setattr(pretrained_mod, "download", offline)
    data = [f"--{k}={getattr(cfg, k)}" for k in ("data_dir", "data_source", "data_sha256", "out_dir")]
    code, _, err = run_train([*data, "--init_from=gpt2", "--block_size=8", "--max_iters=1"])
    assert code == 1 and err.startswith("error: from_pretrained: could not get config.json of 'gpt2'"), err
    code, _, err = run_sample(["--init_from=gpt2-medium"])
    assert code == 1 and "could not get config.json of 'gpt2-medium'" in err and err.count("\n") == 1


def test_a_fine_tuning_run_resumes_from_its_own_checkpoint(cfg: TrainConfig, gpt2_folder: Path) -> None:
    first = train(finetune_cfg(cfg, gpt2_folder))
    # --resume with only the run folder and a new end: model, tokenizer and init_from come from last.npz
    resumed = train(dataclasses.replace(cfg, resume=True, max_iters=4), given={"max_iters": 4})
    run = resumed["config"]
    assert resumed["iter"] == 4 and run.init_from == str(gpt2_folder) and run.tokenizer == "gpt2"
    assert (run.n_layer, run.n_embd, run.block_size) == (2, 32, 8)
    assert load_checkpoint(resumed["last"])["iter"] == 4 and first["iter"] == 2

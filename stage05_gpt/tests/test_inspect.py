"""python -m numpygpt.inspect: attention maps, next-token tables and embedding neighbours, by hand on tiny models."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import numpygpt.nn as nn
from numpygpt.checkpoint import save_checkpoint
from numpygpt.inspect import (
    attention_maps,
    main,
    nearest_tokens,
    positions_to_show,
    report,
    token_label,
    top_next_tokens,
)
from numpygpt.models import GPT, GPTConfig
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, GPT2Tokenizer
from numpygpt.tokenizer.byte_level import bytes_to_unicode

pytestmark = pytest.mark.inspect

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks?\n"


def model_for(vocab_size: int, n_layer: int = 2, n_head: int = 2, seed: int = 0) -> GPT:
    nn.manual_seed(seed)
    return GPT(GPTConfig(block_size=16, vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=8)).eval()


def test_top_next_tokens_by_hand() -> None:
    assert top_next_tokens(np.array([0.1, 0.5, 0.2, 0.2]), 3) == [(1, 0.5), (2, 0.2), (3, 0.2)]


def test_nearest_tokens_by_cosine_similarity_by_hand() -> None:
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]], dtype=np.float32)
    got = nearest_tokens(emb, 0, 3)
    assert [i for i, _ in got] == [2, 1, 3], "most similar first, the token itself left out"
    np.testing.assert_allclose([s for _, s in got], [1 / math.sqrt(2), 0.0, -1.0], atol=1e-7)


def test_positions_spread_over_the_prompt_and_end_at_its_last_token() -> None:
    assert positions_to_show(6, 4) == [0, 2, 3, 5]
    assert positions_to_show(3, 4) == [0, 1, 2]
    assert positions_to_show(1, 4) == [0]


def test_attention_maps_are_the_probabilities_the_model_used(fused_attention_probs) -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = model_for(tok.vocab_size, n_layer=2, n_head=4)
    ids = np.array(tok.encode("ROMEO: But"))
    maps, probs = attention_maps(model, ids)
    logits, _ = model(ids[None, :])
    used = fused_attention_probs(logits)
    assert len(maps) == 2 and [m.shape for m in maps] == [(4, 10, 10)] * 2
    for mine, theirs in zip(maps, used, strict=True):
        np.testing.assert_allclose(mine, theirs[0], rtol=1e-5, atol=1e-7)
    z = logits.data[0].astype(np.float64)
    want = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(probs, want / want.sum(-1, keepdims=True), rtol=1e-9)
    assert not any(m._forward_hooks for m in model.modules()), "no hook is left behind"


def test_report_of_a_char_model() -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = model_for(tok.vocab_size)
    maps, labels, lines = report(model, tok, "ROMEO:\nBut", positions=3, top=2, neighbours=2)
    assert labels == ["R", "O", "M", "E", "O", ":", "↵", "B", "u", "t"]
    assert lines[0] == "next-token probabilities (top 2) after position t of the prompt:"
    rows = lines[1:4]
    assert [r.split()[0] for r in rows] == ["t=0", "t=4", "t=9"]
    _, probs = attention_maps(model, np.array(tok.encode("ROMEO:\nBut")))
    (a, pa), (b, pb) = top_next_tokens(probs[9], 2)
    assert rows[2].endswith(f"ROMEO:↵But -> {token_label(tok, a)!r} {pa:.3f}  {token_label(tok, b)!r} {pb:.3f}")
    assert lines[4].startswith("nearest tokens in embedding space")
    (n1, s1), _ = nearest_tokens(model.transformer.wte.weight.data, tok.encode("R")[0], 2)
    assert lines[5].strip().startswith(f"'R' ~ {token_label(tok, n1)!r} {s1:+.2f}")
    assert [line.split()[0] for line in lines[5:]] == ["'R'", "'O'", "'M'"], "the first distinct tokens"


def test_report_keeps_the_last_block_size_tokens_of_a_long_prompt() -> None:
    tok = CharTokenizer.from_text(TEXT)
    maps, labels, lines = report(model_for(tok.vocab_size), tok, TEXT[:20])
    assert lines[0] == "the prompt has 20 tokens; the model sees 16: keeping the last ones"
    assert "".join(labels) == TEXT[4:20].replace("\n", "↵").replace(" ", "␣")
    assert maps[0].shape == (2, 16, 16)


def test_report_of_a_bpe_model_labels_whole_tokens() -> None:
    tok = BPETokenizer.train(TEXT * 4, 300)
    model = model_for(tok.vocab_size)
    maps, labels, _ = report(model, tok, "what light")
    assert "".join(labels) == "what␣light" and len(labels) < len("what light"), "merged tokens, one label each"
    assert maps[0].shape[-1] == len(labels)


def test_report_of_a_gpt2_tokenizer_model() -> None:
    pytest.importorskip("regex")  # GPT-2's pre-split pattern (stage04's gpt2 extra)
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    merges = [("Ġ", "l"), ("Ġl", "i"), ("g", "h"), ("Ġli", "gh")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tok = GPT2Tokenizer(vocab, merges)
    model = model_for(tok.vocab_size)
    _, labels, lines = report(model, tok, "what light")
    assert labels == ["w", "h", "a", "t", "␣ligh", "t"]
    assert len(lines) == 1 + 4 + 1 + 4


def test_an_empty_prompt_is_a_clear_error() -> None:
    tok = CharTokenizer.from_text(TEXT)
    with pytest.raises(ValueError, match="inspect: --prompt encodes to no tokens"):
        report(model_for(tok.vocab_size), tok, "")


# ----- the command ------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    tok = CharTokenizer.from_text(TEXT)
    model = model_for(tok.vocab_size)
    path = tmp_path / "run" / "best.npz"
    path.parent.mkdir()
    save_checkpoint(
        path,
        {"iter": 0, "model_config": model.config_dict(), "model": dict(model.state_dict()), "tokenizer": tok.to_dict()},
    )
    return path


@pytest.mark.cli
def test_the_command_prints_the_tables_and_draws_beside_the_checkpoint(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    assert main([str(checkpoint), "--prompt", "ROMEO:", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "next-token probabilities (top 3)" in out and "nearest tokens in embedding space" in out
    assert f"attention maps: {checkpoint.with_name('attention.png')}" in out
    from matplotlib.image import imread

    assert imread(checkpoint.with_name("attention.png")).ndim == 3
    assert main([str(checkpoint), "--out", str(checkpoint.with_name("a.png"))]) == 0
    assert checkpoint.with_name("a.png").is_file()


@pytest.mark.cli
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "ROMEO: ~"], "error: .*'~'"),
        (["--prompt", ""], "error: inspect: --prompt encodes to no tokens"),
    ],
)
def test_the_command_reports_mistakes_in_one_line(
    checkpoint: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(checkpoint), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.cli
def test_the_command_without_a_checkpoint_says_which_command_makes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "none.npz")]) == 2
    assert f"error: checkpoint {tmp_path / 'none.npz'} does not exist: train a model first" in capsys.readouterr().err
    assert main(["--out_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: checkpoint {tmp_path / 'best.npz'} does not exist" in err and f"--out_dir {tmp_path}" in err


@pytest.mark.cli
def test_a_run_folder_names_its_best_checkpoint(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    assert main(["--out_dir", str(checkpoint.parent), "--prompt", "But"]) == 0
    assert f"attention maps: {checkpoint.with_name('attention.png')}" in capsys.readouterr().out


@pytest.mark.cli
@pytest.mark.parametrize("name", ["positions", "top", "neighbours"])
def test_counts_must_be_positive(checkpoint: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(checkpoint), f"--{name}", "0"]) == 2
    assert capsys.readouterr().err == f"error: --{name} 0: must be >= 1\n"


@pytest.mark.cli
def test_a_gpt2_in_hugging_faces_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    pytest.importorskip("regex")
    pytest.importorskip("safetensors.numpy")
    pytest.importorskip("matplotlib")
    folder = tmp_path / "gpt2"
    shutil.copytree(Path(__file__).parent / "fixtures" / "hf_gpt2_tiny", folder)  # a tiny random GPT-2, 264 tokens
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "l"), ("i", "g"), ("Ġl", "ig"), ("Ġlig", "h")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    GPT2Tokenizer(vocab, merges).save_pretrained(folder)
    monkeypatch.chdir(tmp_path)
    assert main(["--init_from", str(folder), "--prompt", "the light"]) == 0
    out = capsys.readouterr().out
    assert "next-token probabilities (top 5)" in out and "t=3" in out, "4 tokens: t, he, ␣ligh, t"
    assert "'␣ligh'" in out, "GPT-2's tokens, spaces shown"
    assert (tmp_path / "attention.png").is_file(), "written here: never into the model's folder"
    assert not (folder / "attention.png").exists()
    assert main(["--init_from", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: from_pretrained: could not get config.json of '{tmp_path / 'nothing'}'"
    )

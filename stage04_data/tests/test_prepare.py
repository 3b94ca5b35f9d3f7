"""The data step end to end on a small text: files, checksums, no-op reruns, interruptions, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numpygpt.utils.data as data_pkg
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, load_tokenizer
from numpygpt.utils.data import ChecksumError, load_meta, load_split, prepare
from numpygpt.utils.data.prepare import main

pytestmark = pytest.mark.prepare

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
) * 5 + "Ends with \u00e9t\u00e9 \r\n"  # non-ASCII and a CRLF that must survive byte for byte
SHA = hashlib.sha256(TEXT.encode("utf-8")).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "small.txt"
    path.write_bytes(TEXT.encode("utf-8"))
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file: equal snapshots mean nothing was rewritten."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_char_dataset_files(tmp_path, source, capsys) -> None:
    out = prepare("shakespeare", tmp_path / "data", source=source, sha256=SHA)
    assert out == tmp_path / "data" / "shakespeare_char"
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "tokenizer.json", "train.bin", "val.bin"]
    assert (tmp_path / "data" / "tinyshakespeare.txt").read_bytes() == TEXT.encode("utf-8")
    meta = load_meta(out)
    train, val = load_split(out, "train"), load_split(out, "val")
    n = len(TEXT)
    assert (meta["train_tokens"], meta["val_tokens"]) == (len(train), len(val)) == (int(n * 0.9), n - int(n * 0.9))
    assert meta["vocab_size"] == len(set(TEXT)) and meta["corpus_sha256"] == SHA and meta["tokenizer"] == "char"
    tok = load_tokenizer(out / "tokenizer.json")
    assert isinstance(tok, CharTokenizer) and tok == CharTokenizer.from_text(TEXT)
    assert tok.decode(np.concatenate([train, val])) == TEXT  # first 90% then last 10%, nothing lost
    assert "vocab_size" in capsys.readouterr().out


def test_bpe_dataset_files(tmp_path, source) -> None:
    out = prepare("shakespeare", tmp_path, source=source, sha256=SHA, tokenizer="bpe", vocab_size=300, verbose=False)
    assert out.name == "shakespeare_bpe300"
    tok = load_tokenizer(out / "tokenizer.json")
    assert isinstance(tok, BPETokenizer) and tok == BPETokenizer.train(TEXT, 300)
    ids = np.concatenate([load_split(out, "train"), load_split(out, "val")])
    assert tok.decode(ids) == TEXT
    meta = load_meta(out)
    assert meta["vocab_size"] == 300 and meta["requested_vocab_size"] == 300
    assert meta["train_tokens"] == int(len(ids) * 0.9)


def test_second_run_is_a_verified_no_op(tmp_path, source, capsys) -> None:
    out = prepare("shakespeare", tmp_path, source=source, sha256=SHA)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert prepare("shakespeare", tmp_path, source=source, sha256=SHA) == out
    assert "is up to date (all checksums verified); nothing to do" in capsys.readouterr().out
    assert snapshot(tmp_path) == before


def test_a_damaged_token_file_is_rebuilt(tmp_path, source, capsys) -> None:
    out = prepare("shakespeare", tmp_path, source=source, sha256=SHA, verbose=False)
    good = (out / "val.bin").read_bytes()
    (out / "val.bin").write_bytes(good[:-2])
    prepare("shakespeare", tmp_path, source=source, sha256=SHA)
    assert "val.bin is missing or does not match its checksum" in capsys.readouterr().out
    assert (out / "val.bin").read_bytes() == good


def test_interrupted_prepare_leaves_no_partial_files_and_reruns(tmp_path, source, monkeypatch) -> None:
    real_replace = os.replace
    calls = []

    def interrupted_replace(src, dst):  # the second rename (val.bin) never happens: Ctrl-C
        calls.append(Path(dst).name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        prepare("shakespeare", tmp_path, source=source, sha256=SHA, verbose=False)
    monkeypatch.setattr(os, "replace", real_replace)
    assert calls == ["tinyshakespeare.txt", "train.bin", "val.bin"]
    out = tmp_path / "shakespeare_char"
    assert sorted(p.name for p in out.iterdir()) == ["train.bin"]  # no val.bin, no temp file, no meta.json
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    prepare("shakespeare", tmp_path, source=source, sha256=SHA, verbose=False)
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "tokenizer.json", "train.bin", "val.bin"]


def test_prepare_downloads_from_a_loopback_server(tmp_path, http_server) -> None:
    http_server.routes["/input.txt"] = TEXT.encode("utf-8")
    out = prepare("shakespeare", tmp_path, url=http_server.url("/input.txt"), sha256=SHA, verbose=False)
    assert http_server.requests == ["/input.txt"]
    assert load_meta(out)["train_tokens"] == int(len(TEXT) * 0.9)
    prepare("shakespeare", tmp_path, url=http_server.url("/input.txt"), sha256=SHA, verbose=False)
    assert http_server.requests == ["/input.txt"]  # the verified copy is reused, not fetched again


@pytest.mark.errors
def test_prepare_refuses_a_wrong_corpus(tmp_path, source) -> None:
    real = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    with pytest.raises(ChecksumError, match=rf"checksum mismatch for .*small\.txt: expected sha256 {real}"):
        prepare("shakespeare", tmp_path / "data", source=source)  # the real checksum: not this text
    assert not (tmp_path / "data").exists()


@pytest.mark.errors
def test_prepare_argument_errors(tmp_path, source) -> None:
    with pytest.raises(ValueError, match=r"prepare: unknown dataset 'wikitext', expected one of \['shakespeare'\]"):
        prepare("wikitext", tmp_path)
    with pytest.raises(ValueError, match=r"prepare: tokenizer must be one of \('char', 'bpe', 'gpt2'\), got 'word'"):
        prepare("shakespeare", tmp_path, tokenizer="word")
    with pytest.raises(ValueError, match=r"prepare: vocab_size must be in 256\.\.65536 for BPE .*got 70000"):
        prepare("shakespeare", tmp_path, tokenizer="bpe", vocab_size=70000)


@pytest.mark.errors
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", r"prepare: the corpus .* is empty"), (b"abc", r"prepare: the corpus has only 3 tokens, too few")],
)
def test_prepare_refuses_an_empty_or_tiny_corpus(tmp_path, content: bytes, message: str) -> None:
    (tmp_path / "t.txt").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        prepare("shakespeare", tmp_path / "d", source=tmp_path / "t.txt", sha256=hashlib.sha256(content).hexdigest())


def test_cli_in_process(tmp_path, source, capsys) -> None:
    argv = ["shakespeare", "--source", str(source), "--data-dir", str(tmp_path), "--sha256", SHA]
    assert main(argv + ["--tokenizer", "bpe", "--vocab-size", "280"]) == 0
    assert "shakespeare_bpe280: bpe tokenizer, vocab_size 280" in capsys.readouterr().out
    assert json.loads((tmp_path / "shakespeare_bpe280" / "meta.json").read_text())["vocab_size"] == 280
    assert main(["shakespeare", "--source", str(source), "--data-dir", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prepare: error: checksum mismatch for") and SHA in err


def test_cli_as_a_module(tmp_path, source) -> None:
    # `python -m` must run cleanly: no RuntimeWarning about the module being imported twice.
    src_dir = Path(data_pkg.__file__).parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_dir), os.environ.get("PYTHONPATH", "")])}
    env.pop("NUMPYGPT_DATA", None)
    cmd = [
        sys.executable,
        "-m",
        "numpygpt.utils.data.prepare",
        "shakespeare",
        "--source",
        str(source),
        "--data-dir",
        str(tmp_path),
        "--sha256",
        SHA,
    ]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "char tokenizer, vocab_size" in run.stdout
    assert (tmp_path / "shakespeare_char" / "meta.json").is_file()

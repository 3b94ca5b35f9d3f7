"""The data step: corpus -> tokenizer -> train.bin / val.bin, once, verified, atomically.

    python -m numpygpt.utils.data.prepare shakespeare                     # download (or reuse) and encode
    python -m numpygpt.utils.data.prepare shakespeare --source PATH       # from a local copy
    python -m numpygpt.utils.data.prepare shakespeare --tokenizer bpe --vocab-size 512
    python -m numpygpt.utils.data.prepare shakespeare --tokenizer gpt2 --tokenizer-dir PATH   # GPT-2's own

or from Python, ``prepare("shakespeare")``. It writes, under `data_dir`:

    tinyshakespeare.txt          the verified corpus (see corpus.fetch_corpus for where it comes from)
    shakespeare_char/            one folder per tokenizer (shakespeare_bpe512/ for BPE with 512 tokens,
                                 shakespeare_gpt2/ for GPT-2's tokenizer read from --tokenizer-dir)
        train.bin, val.bin       uint16 token ids: the first 90% and the last 10% of the encoded corpus
        tokenizer.json           the tokenizer (numpygpt.tokenizer.load_tokenizer reads it)
        meta.json                vocab size, token counts, the corpus's and every file's SHA-256

meta.json is written last, so it only exists once everything it describes does; a second run
that finds every checksum in it right does nothing. (This module is a package with a __main__.py
so that `python -m` can run it while numpygpt.utils.data imports `prepare` at package level.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numpygpt.autograd.checks import check_bool, check_int, is_int, show
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, GPT2Tokenizer
from numpygpt.tokenizer._checks import read_text
from numpygpt.tokenizer.byte_level import find_files

from ..corpus import (
    TINY_SHAKESPEARE_BYTES,
    TINY_SHAKESPEARE_SHA256,
    TINY_SHAKESPEARE_URL,
    _check_file_name,
    _check_folder,
    _check_sha256,
    _check_url,
    atomic_write_bytes,
    fetch_corpus,
    sha256_file,
)

FORMAT_VERSION = 1
VAL_FRACTION = 0.1  # the last 10% of the tokens are the validation split, as in nanoGPT
TOKENIZERS = ("char", "bpe", "gpt2")


@dataclass(frozen=True)
class CorpusSpec:
    """Where a named corpus comes from and how to recognise it."""

    filename: str  # its name under data_dir
    url: str  # canonical download address
    sha256: str  # hex SHA-256 of the exact file
    size: int  # its size in bytes (documentation; the checksum is what is checked)

    def __post_init__(self) -> None:
        _check_file_name(self.filename, "filename", "CorpusSpec")
        _check_url(self.url, "CorpusSpec")
        _check_sha256(self.sha256, "sha256", "CorpusSpec")
        check_int("CorpusSpec", "size", self.size, min=0)


DATASETS: dict[str, CorpusSpec] = {
    "shakespeare": CorpusSpec(
        "tinyshakespeare.txt", TINY_SHAKESPEARE_URL, TINY_SHAKESPEARE_SHA256, TINY_SHAKESPEARE_BYTES
    ),
}


def _check_choice(name: Any, argument: str, where: str) -> str:
    """`name` if it is the name of a corpus in DATASETS."""
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"{where}: unknown dataset {show(name)}, expected one of {sorted(DATASETS)} ({argument})")
    return name


def dataset_dir_name(name: str, tokenizer: str, vocab_size: int) -> str:
    """The prepared folder's name: ``shakespeare_char``, ``shakespeare_bpe512`` or ``shakespeare_gpt2``."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"dataset_dir_name: name must be a dataset's name such as 'shakespeare', got {show(name)}")
    if not isinstance(tokenizer, str) or tokenizer not in TOKENIZERS:
        raise ValueError(f"dataset_dir_name: tokenizer must be one of {TOKENIZERS}, got {show(tokenizer)}")
    if tokenizer == "bpe":
        check_int("dataset_dir_name", "vocab_size", vocab_size, min=256)
    return f"{name}_bpe{vocab_size}" if tokenizer == "bpe" else f"{name}_{tokenizer}"


def _up_to_date(out: Path, expected: dict[str, Any]) -> str | None:
    """None if `out` holds what `expected` describes with every checksum right, else the reason why not."""
    meta_path = out / "meta.json"
    if not meta_path.is_file():
        return "no meta.json yet"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "meta.json is unreadable"
    for key, value in expected.items():
        if meta.get(key) != value:
            return f"meta.json has {key}={meta.get(key)!r}, wanted {value!r}"
    for filename, digest in meta.get("files", {}).items():
        path = out / filename
        if not path.is_file() or sha256_file(path) != digest:
            return f"{filename} is missing or does not match its checksum"
    if set(meta.get("files", {})) != {"train.bin", "val.bin", "tokenizer.json"}:
        return "meta.json does not list train.bin, val.bin and tokenizer.json"
    return None


def prepare(
    name: str = "shakespeare",
    data_dir: str | Path = "data",
    source: str | Path | None = None,
    tokenizer: str = "char",
    vocab_size: int = 512,
    *,
    tokenizer_dir: str | Path | None = None,
    url: str | None = None,
    sha256: str | None = None,
    verbose: bool = True,
) -> Path:
    """Fetch and verify the corpus, tokenize it, and write the train/val token files.

    Args:
        name: which corpus (a key of DATASETS: "shakespeare").
        data_dir: the data folder; the corpus and the prepared folder go inside it.
        source: a local copy of the corpus to use instead of downloading (also: $NUMPYGPT_DATA).
        tokenizer: "char" (one token per character), "bpe" (byte-level BPE trained on the corpus), or
            "gpt2" (GPT-2's tokenizer, read from `tokenizer_dir`: the vocabulary a pretrained GPT-2 knows).
        vocab_size: the BPE vocabulary size, 256..65536 (used for "bpe" only).
        tokenizer_dir: for "gpt2", the folder of its vocab.json + merges.txt (or encoder.json + vocab.bpe).
        url, sha256: override the corpus's download address and checksum (a mirror; tests).
        verbose: print what happens on stdout.
    Returns:
        the prepared folder, e.g. ``data/shakespeare_char``. A no-op (saying so) when that folder
        already holds everything, matching the verified corpus.

    Both tokenizers are built from the whole corpus: the vocabulary (or the merges) see the
    validation text too, as in nanoGPT; the ids are then split 90/10.
    """
    _check_choice(name, "name", "prepare")
    if not isinstance(tokenizer, str) or tokenizer not in TOKENIZERS:
        raise ValueError(f"prepare: tokenizer must be one of {TOKENIZERS}, got {show(tokenizer)}")
    if not is_int(vocab_size):
        raise TypeError(f"prepare: vocab_size must be an int, got {show(vocab_size)}")
    if tokenizer == "bpe" and not 256 <= vocab_size <= 65536:
        raise ValueError(
            f"prepare: vocab_size must be in 256..65536 for BPE (ids are stored as uint16), got {vocab_size}"
        )
    data_dir = _check_folder(data_dir, "data_dir", "prepare")
    if sha256 is not None:
        _check_sha256(sha256, "sha256", "prepare")
    if url is not None:
        _check_url(url, "prepare")
    verbose = check_bool("prepare", "verbose", verbose)
    if (tokenizer == "gpt2") != (tokenizer_dir is not None):
        raise ValueError(
            "prepare: tokenizer_dir is for tokenizer='gpt2', which needs it (the folder of vocab.json + merges.txt)"
        )
    say = print if verbose else (lambda *_: None)
    start = time.perf_counter()
    spec = DATASETS[name]
    expected_sha = (sha256 or spec.sha256).lower()
    corpus = fetch_corpus(
        data_dir, source, filename=spec.filename, url=url or spec.url, sha256=expected_sha, verbose=verbose
    )

    out = Path(data_dir) / dataset_dir_name(name, tokenizer, vocab_size)
    expected: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "corpus_sha256": expected_sha,
        "tokenizer": tokenizer,
        "requested_vocab_size": vocab_size if tokenizer == "bpe" else None,
    }
    if tokenizer_dir is not None:  # another GPT-2 vocabulary is another encoding: its files' checksums say which
        expected["tokenizer_files_sha256"] = [sha256_file(f) for f in find_files(tokenizer_dir, "prepare")]
    reason = _up_to_date(out, expected)
    if reason is None:
        say(f"prepare: {out} is up to date (all checksums verified); nothing to do")
        return out
    say(f"prepare: building {out} ({reason})")

    # Bytes, then decode: text-mode reading would turn "\r\n" into "\n" and change the corpus.
    text = read_text(corpus, "corpus", "prepare")
    if not text:
        raise ValueError(f"prepare: the corpus {corpus} is empty")
    tok: CharTokenizer | BPETokenizer | GPT2Tokenizer
    if tokenizer == "char":
        tok = CharTokenizer.from_text(text)
    elif tokenizer == "bpe":
        tok = BPETokenizer.train(text, vocab_size)
    else:
        assert tokenizer_dir is not None
        tok = GPT2Tokenizer.from_pretrained(tokenizer_dir)
    if tok.vocab_size > 65536:
        raise ValueError(f"prepare: vocab_size {tok.vocab_size} does not fit uint16 token files (at most 65536)")
    ids = tok.encode_array(text, dtype=np.uint16)  # (N,)
    n_train = int(len(ids) * (1 - VAL_FRACTION))
    if min(n_train, len(ids) - n_train) < 2:  # a split needs 2 tokens for one (x, y) window
        raise ValueError(
            f"prepare: the corpus has only {len(ids)} tokens, too few for a 90/10 train/val split "
            f"with at least 2 tokens in each"
        )
    splits = {"train.bin": ids[:n_train], "val.bin": ids[n_train:]}

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for filename, arr in splits.items():
        atomic_write_bytes(out / filename, arr.tobytes())
        files[filename] = sha256_file(out / filename)
    atomic_write_bytes(out / "tokenizer.json", json.dumps(tok.to_dict(), ensure_ascii=False).encode("utf-8"))
    files["tokenizer.json"] = sha256_file(out / "tokenizer.json")
    meta = {
        **expected,
        "corpus": spec.filename,
        "corpus_bytes": corpus.stat().st_size,
        "vocab_size": tok.vocab_size,
        "dtype": "uint16",
        "train_tokens": int(n_train),
        "val_tokens": int(len(ids) - n_train),
        "files": files,
    }
    # meta.json last: its presence says every file it lists is complete.
    atomic_write_bytes(out / "meta.json", (json.dumps(meta, indent=1) + "\n").encode("utf-8"))
    say(
        f"prepare: {out}: {tokenizer} tokenizer, vocab_size {tok.vocab_size}, "
        f"{meta['train_tokens']:,} train + {meta['val_tokens']:,} val tokens "
        f"({len(text) / len(ids):.2f} characters per token) in {time.perf_counter() - start:.1f} s"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 error, 2 bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="python -m numpygpt.utils.data.prepare",
        description="Fetch, verify and tokenize a corpus into train.bin / val.bin (uint16) under DATA_DIR.",
    )
    parser.add_argument("name", nargs="?", default="shakespeare", choices=sorted(DATASETS), help="the corpus")
    parser.add_argument("--source", help="a local copy of the corpus (default: $NUMPYGPT_DATA, else download)")
    parser.add_argument("--data-dir", default="data", help="the data folder (default: ./data)")
    parser.add_argument("--tokenizer", default="char", choices=TOKENIZERS, help="token kind (default: char)")
    parser.add_argument("--vocab-size", type=int, default=512, help="BPE vocabulary size (default: 512)")
    parser.add_argument("--tokenizer-dir", help="for --tokenizer gpt2: the folder of GPT-2's vocab.json + merges.txt")
    parser.add_argument("--url", help="download from this mirror instead of the canonical address")
    parser.add_argument("--sha256", help="expect this checksum instead of the known one (another text)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    if argv is not None and (not isinstance(argv, list) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(
            f"prepare.main: argv must be a list of str (the command line's words) or None, got {show(argv)}"
        )
    args = parser.parse_args(argv)
    try:
        prepare(
            args.name,
            data_dir=args.data_dir,
            source=args.source,
            tokenizer=args.tokenizer,
            vocab_size=args.vocab_size,
            tokenizer_dir=args.tokenizer_dir,
            url=args.url,
            sha256=args.sha256,
            verbose=not args.quiet,
        )
    except (ValueError, OSError) as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 1
    return 0

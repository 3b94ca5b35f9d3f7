"""GPT-2's byte-to-unicode table, and the vocab.json + merges.txt files of Hugging Face (and OpenAI).

A byte-level BPE token is a string of *bytes*, but the files that store a vocabulary are
JSON and text, which want printable characters. GPT-2's answer is a table that gives each of
the 256 byte values a printable Unicode character:

- the 188 bytes that already print as themselves in Latin-1 (``!`` to ``~``, ``¡`` to ``¬``,
  ``®`` to ``ÿ``) keep their own character;
- the other 68 (the controls, the space, DEL, the non-breaking space, the soft hyphen) are
  moved to ``chr(256)``, ``chr(257)``, ... in byte order.

So the space (byte 32) becomes ``Ġ`` (U+0120) and the newline (byte 10) ``Ċ`` (U+010A): the
token " the" is stored as ``"Ġthe"``. Every token string in these files is the table applied
to the token's bytes, one character per byte.

Files: ``vocab.json`` (Hugging Face; OpenAI's name is ``encoder.json``) maps each token string
to its id; ``merges.txt`` (OpenAI: ``vocab.bpe``) lists the merges, one ``"a b"`` per line, in
rank order (the first line may be a ``#version`` comment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from numpygpt.autograd.checks import show

from ._checks import check_path, read_json, read_text, reraise_os_error

# Where a folder keeps its tokenizer, Hugging Face's names first: (vocabulary, merges).
FILE_NAMES = (("vocab.json", "merges.txt"), ("encoder.json", "vocab.bpe"))
MERGES_HEADER = "#version: 0.2"


@cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: byte value (0..255) -> the printable character that stands for it."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    moved = (b for b in range(256) if b not in table)
    table.update({b: chr(256 + n) for n, b in enumerate(moved)})
    return dict(sorted(table.items()))


@cache
def unicode_to_bytes() -> dict[str, int]:
    """The inverse table: printable character -> byte value."""
    return {c: b for b, c in bytes_to_unicode().items()}


def token_to_string(token: bytes) -> str:
    """A token's bytes as the string the files store (b" the" -> "Ġthe")."""
    if not isinstance(token, (bytes, bytearray)):
        raise TypeError(f"token_to_string: token must be bytes, got {show(token)}")
    table = bytes_to_unicode()
    return "".join(table[b] for b in token)


def string_to_token(s: str) -> bytes | None:
    """The bytes a file's token string stands for, or None if it is not made of table characters
    (a special token such as "<|endoftext|>" is; its bytes are then its UTF-8)."""
    if not isinstance(s, str):
        raise TypeError(f"string_to_token: s must be a str (a token as the files write it), got {show(s)}")
    table = unicode_to_bytes()
    try:
        return bytes(table[c] for c in s)
    except KeyError:
        return None


def find_files(folder: str | Path, where: str) -> tuple[Path, Path]:
    """The (vocabulary, merges) files of `folder`: vocab.json + merges.txt, else encoder.json + vocab.bpe."""
    folder = check_path(folder, "folder", where)
    for vocab_name, merges_name in FILE_NAMES:
        if (folder / vocab_name).is_file() and (folder / merges_name).is_file():
            return folder / vocab_name, folder / merges_name
    raise FileNotFoundError(
        f"{where}: folder {folder} holds neither vocab.json + merges.txt (Hugging Face) nor encoder.json + vocab.bpe (OpenAI)"
    )


def read_vocab_and_merges(folder: str | Path, where: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Read a folder's vocabulary (token string -> id) and merges (pairs of token strings, in rank order)."""
    vocab_path, merges_path = find_files(folder, where)
    vocab: Any = read_json(vocab_path, "folder's", where)
    if not isinstance(vocab, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in vocab.items()
    ):
        raise ValueError(f"{where}: {vocab_path} must map token strings to integer ids")
    merges: list[tuple[str, str]] = []
    for n, line in enumerate(read_text(merges_path, "folder's", where).split("\n"), start=1):
        if not line or (n == 1 and line.startswith("#version")):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{where}: {merges_path} line {n} should be two tokens separated by a space, got {line!r}")
        merges.append((parts[0], parts[1]))
    return vocab, merges


def write_vocab_and_merges(
    folder: str | Path,
    vocab: Mapping[str, int],
    merges: Sequence[tuple[str, str]],
    special_tokens: Sequence[str] = (),
    where: str = "write_vocab_and_merges",
) -> None:
    """Write vocab.json, merges.txt and tokenizer_config.json into `folder` (created if needed).

    tokenizer_config.json tells Hugging Face's AutoTokenizer which class reads the other two
    (GPT2Tokenizer, no space added before the text) and which special token, if any (the first
    of `special_tokens`, e.g. "<|endoftext|>"), marks the beginning and the end of a text.
    """
    # NOTE: imported here: numpygpt.utils.data imports the tokenizers, so a module-level import is a cycle.
    from numpygpt.utils.data.corpus import atomic_write_bytes

    folder = check_path(folder, "folder", where)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reraise_os_error(e, folder, "folder", where)
    atomic_write_bytes(folder / "vocab.json", json.dumps(dict(vocab), ensure_ascii=False).encode("utf-8"))
    lines = [MERGES_HEADER, *(f"{a} {b}" for a, b in merges)]
    atomic_write_bytes(folder / "merges.txt", ("\n".join(lines) + "\n").encode("utf-8"))
    # NOTE: without a special token the three must be null: Hugging Face's default, "<|endoftext|>",
    # would otherwise be added as one more token, past the end of the model's vocabulary.
    special = special_tokens[0] if special_tokens else None
    config = {
        "tokenizer_class": "GPT2Tokenizer",
        "add_prefix_space": False,
        **{name: special for name in ("bos_token", "eos_token", "unk_token")},
    }
    atomic_write_bytes(folder / "tokenizer_config.json", json.dumps(config, indent=1).encode("utf-8"))

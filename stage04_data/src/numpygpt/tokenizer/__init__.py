"""numpygpt.tokenizer: turning text into integer token ids and back.

CharTokenizer        one token per character (tiny Shakespeare: 65 tokens)
BPETokenizer         byte-level byte-pair encoding, as in GPT-2 (256 bytes + learned merges)
GPT2Tokenizer        GPT-2's own tokenizer, read from its vocab.json + merges.txt (needs `regex`)
load_tokenizer       read any of them from its JSON file
tokenizer_from_dict  rebuild any of them from its to_dict() output (as stored in a checkpoint)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from numpygpt.autograd.checks import show

from ._checks import from_json_file
from .bpe import GPT2_SPLIT_PATTERN, BPETokenizer
from .char import CharTokenizer
from .gpt2 import GPT2_PATTERN, GPT2Tokenizer

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "GPT2Tokenizer",
    "GPT2_PATTERN",
    "GPT2_SPLIT_PATTERN",
    "Tokenizer",
    "load_tokenizer",
    "tokenizer_from_dict",
]


@runtime_checkable
class Tokenizer(Protocol):
    """What the data step and the training script need from a tokenizer."""

    @property
    def vocab_size(self) -> int: ...

    def encode(self, s: str) -> list[int]: ...

    def encode_array(self, s: str, dtype: npt.DTypeLike = np.int64) -> np.ndarray: ...

    def decode(self, ids: Sequence[int] | np.ndarray) -> str: ...

    def save(self, path: str | Path) -> None: ...

    def to_dict(self) -> dict[str, Any]: ...


AnyTokenizer = CharTokenizer | BPETokenizer | GPT2Tokenizer
_TYPES: dict[str, type[AnyTokenizer]] = {"char": CharTokenizer, "bpe": BPETokenizer, "gpt2": GPT2Tokenizer}


def tokenizer_from_dict(d: dict[str, Any]) -> AnyTokenizer:
    """Rebuild any tokenizer here from its `to_dict()` output (e.g. stored in a checkpoint); "type" picks the class."""
    if not isinstance(d, dict):
        raise TypeError(f"tokenizer_from_dict: d must be a dict as a tokenizer's to_dict() returns, got {show(d)}")
    kind = d.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ValueError(f"tokenizer_from_dict: unknown tokenizer type {kind!r}, expected one of {sorted(_TYPES)}")
    return _TYPES[kind].from_dict(d)


def load_tokenizer(path: str | Path) -> AnyTokenizer:
    """Read a tokenizer saved by any class here (its JSON file); the "type" field picks the class."""
    return from_json_file(path, tokenizer_from_dict, "load_tokenizer")

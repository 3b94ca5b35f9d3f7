"""A character-level tokenizer: one token per Unicode character of the training text.

The vocabulary is the sorted set of characters seen in a text, so token ids follow code-point
order (for tiny Shakespeare: '\\n' is 0, ' ' is 1, ..., 'z' is 64). Encoding is a dictionary
look-up per character; `encode_array` does the same look-up for a whole string at once with
NumPy, which is what the data step uses on a megabyte corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def _as_id_array(ids: Sequence[int] | np.ndarray, where: str) -> np.ndarray:
    """Check that `ids` is a 1-D sequence of integers and return it as an int64 array."""
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise TypeError(f"{where}: expected a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{where}: token ids must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_id_range(ids: np.ndarray, vocab_size: int, where: str) -> None:
    """Raise a ValueError naming the first id outside [0, vocab_size) and its position."""
    bad = np.flatnonzero((ids < 0) | (ids >= vocab_size))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"{where}: token id {int(ids[pos])} at position {pos} is outside the vocabulary "
            f"(valid ids are 0..{vocab_size - 1})"
        )


class CharTokenizer:
    """Map each character of a fixed vocabulary to an integer id and back.

    Args:
        chars: the vocabulary; duplicates are dropped and the rest sorted by code point.
        unk: optional replacement character. ``None`` (the default) makes an unknown character a
            ``ValueError`` naming it and its position. A character here makes every unknown
            character encode to ``unk``'s id instead (``unk`` is added to the vocabulary if it is
            not already in it). Decoding never produces unknown characters, so with ``unk`` set
            ``decode(encode(s)) == s`` holds only for strings over the vocabulary.

    Example::

        >>> tok = CharTokenizer.from_text("hello")
        >>> tok.chars, tok.encode("hole")
        (['e', 'h', 'l', 'o'], [1, 3, 2, 0])
    """

    def __init__(self, chars: Iterable[str], unk: str | None = None) -> None:
        vocab = set(chars)
        for c in vocab:
            if not isinstance(c, str) or len(c) != 1:
                raise TypeError(f"CharTokenizer: vocabulary entries must be single characters, got {c!r}")
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise TypeError(f"CharTokenizer: unk must be a single character or None, got {unk!r}")
            vocab.add(unk)
        if not vocab:
            raise ValueError("CharTokenizer: the vocabulary is empty (was the text empty?)")
        self.chars: list[str] = sorted(vocab)
        self.unk = unk
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.itos: dict[int, str] = dict(enumerate(self.chars))
        # Code points in id order: sorted, so np.searchsorted turns characters into ids at once.
        self._codepoints = np.array([ord(c) for c in self.chars], dtype=np.int64)

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """Build the vocabulary from the distinct characters of `text` (sorted by code point)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.from_text: expected a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharTokenizer.from_text: the text is empty, there is no vocabulary to build")
        return cls(set(text), unk=unk)

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens (ids run from 0 to vocab_size - 1)."""
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        """Encode a string into a list of ids, one per character: ``len(encode(s)) == len(s)``."""
        if not isinstance(s, str):
            raise TypeError(f"CharTokenizer.encode: expected a str, got {type(s).__name__}")
        # exercise 4.1: CharTokenizer.encode: one id per character via stoi; an unknown character becomes unk, or a ValueError naming it and its position
        unk_id = None if self.unk is None else self.stoi[self.unk]
        ids = []
        for pos, c in enumerate(s):
            i = self.stoi.get(c, unk_id)
            if i is None:
                raise ValueError(
                    f"CharTokenizer.encode: unknown character {c!r} at position {pos} "
                    f"(not in the {self.vocab_size}-character vocabulary; pass unk=... to replace it)"
                )
            ids.append(i)
        return ids
        # end exercise 4.1

    def encode_array(self, s: str, dtype: npt.DTypeLike = np.int64) -> np.ndarray:
        """Encode a string into an array of ids, shape (len(s),), vectorised with NumPy.

        Same ids and the same errors as `encode`, but with no Python loop per character: the
        string's code points (read from its UTF-32 bytes) are looked up by binary search in the
        sorted vocabulary. `dtype` is the dtype of the result (the data step writes uint16).
        """
        if not isinstance(s, str):
            raise TypeError(f"CharTokenizer.encode_array: expected a str, got {type(s).__name__}")
        cps = np.frombuffer(s.encode("utf-32-le"), dtype="<u4").astype(np.int64)  # (N,)
        ids = np.searchsorted(self._codepoints, cps)  # (N,) where each code point would go
        found = ids < len(self._codepoints)
        found[found] = self._codepoints[ids[found]] == cps[found]
        if not found.all():
            if self.unk is None:
                pos = int(np.flatnonzero(~found)[0])
                raise ValueError(
                    f"CharTokenizer.encode_array: unknown character {s[pos]!r} at position {pos} "
                    f"(not in the {self.vocab_size}-character vocabulary; pass unk=... to replace it)"
                )
            ids[~found] = self.stoi[self.unk]
        return ids.astype(dtype)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Turn a 1-D sequence of ids (list or ndarray, shape (N,)) back into a string of N characters."""
        arr = _as_id_array(ids, "CharTokenizer.decode")
        _check_id_range(arr, self.vocab_size, "CharTokenizer.decode")
        # Gather the code points and let the UTF-32 codec build the string in one call.
        return self._codepoints[arr].astype("<u4").tobytes().decode("utf-32-le")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready description that `save` writes and `from_dict` reads."""
        return {"type": "char", "version": 1, "chars": self.chars, "unk": self.unk}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharTokenizer:
        """Rebuild a tokenizer from `to_dict`'s output."""
        if d.get("type") != "char":
            raise ValueError(f"CharTokenizer.from_dict: expected type 'char', got {d.get('type')!r}")
        return cls(d["chars"], unk=d.get("unk"))

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to `path` as JSON (``{"type": "char", "chars": [...], ...}``)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Read a tokenizer written by `save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"

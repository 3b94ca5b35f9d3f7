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

from numpygpt.autograd.checks import show

from ._checks import from_json_file, write_text

INT64_MAX = np.iinfo(np.int64).max


def _check_text(text: Any, where: str) -> str:
    """`text` if it is a str of Unicode characters; a TypeError for anything else, a ValueError
    naming the first lone surrogate and its position.

    A lone surrogate ('\\ud800'..'\\udfff' on its own) is half of a UTF-16 pair, not a character.
    Python lets a str hold one (text decoded with errors="surrogateescape" or "surrogatepass",
    or JSON's "\\ud800"), but it has no UTF-8 bytes: it can be neither tokenized into bytes nor
    saved in a UTF-8 file. Refusing it, with its position, beats losing it without a word.
    """
    if not isinstance(text, str):
        raise TypeError(f"{where}: expected a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _surrogate_error(e, where) from None
    return text


def _surrogate_error(e: UnicodeEncodeError, where: str) -> ValueError:
    """The ValueError for a str that holds a lone surrogate (what `e`, from encoding it, found)."""
    return ValueError(
        f"{where}: the text holds a lone surrogate {e.object[e.start]!r} at position {e.start}: half of a "
        "UTF-16 pair, not a character, with no UTF-8 bytes (decode the bytes it came from as UTF-8, or "
        "replace it: text.encode('utf-8', 'replace').decode())"
    )


def _check_id_dtype(dtype: Any, vocab_size: int, where: str) -> np.dtype:
    """`dtype` as an integer np.dtype that holds every id of a `vocab_size`-token vocabulary.

    Casting ids to a smaller dtype wraps them silently (id 300 as uint8 is 44): refused here.
    """
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: dtype must be an integer dtype such as np.uint16 or np.int64, got {show(dtype)}"
        ) from None
    if dt.kind not in "iu":
        raise TypeError(f"{where}: dtype must be an integer dtype such as np.uint16 or np.int64, got {dt}")
    if np.iinfo(dt).max < vocab_size - 1:
        raise ValueError(
            f"{where}: dtype {dt} holds ids up to {np.iinfo(dt).max}, but the vocabulary has {vocab_size} tokens "
            f"(ids up to {vocab_size - 1}): its ids would wrap; use "
            + ("np.uint16 (up to 65536 tokens) or np.int64" if vocab_size <= 65536 else "np.int32 or np.int64")
        )
    return dt


def _check_dict(d: Any, kind: str, keys: Sequence[str], where: str) -> None:
    """`d` must be a tokenizer's to_dict() output: a dict of type `kind` holding `keys`."""
    if not isinstance(d, dict):
        raise TypeError(f"{where}: d must be a dict as to_dict() returns, got {show(d)}")
    if d.get("type") != kind:
        raise ValueError(f"{where}: expected type {kind!r}, got {d.get('type')!r}")
    lacks = [k for k in keys if k not in d]
    if lacks:
        raise ValueError(f"{where}: d has no {' or '.join(map(repr, lacks))}: it is not a whole to_dict() output")


def _as_id_array(ids: Sequence[int] | np.ndarray, where: str) -> np.ndarray:
    """Check that `ids` is a 1-D sequence of integers and return it as an int64 array."""
    try:
        arr = np.asarray(ids)
    except ValueError:  # a ragged list: [1, [2, 3]]
        raise TypeError(f"{where}: expected a 1-D sequence of token ids, got {show(ids)}") from None
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1:
        raise TypeError(f"{where}: expected a 1-D sequence of token ids, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{where}: token ids must be integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.max() > INT64_MAX:
        pos = int(np.argmax(arr > INT64_MAX))
        raise ValueError(f"{where}: token id {int(arr[pos])} at position {pos} is outside the vocabulary")
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
        if isinstance(chars, str):
            vocab = set(_check_text(chars, "CharTokenizer: chars"))
        else:
            try:
                entries = list(chars)
            except TypeError:
                raise TypeError(f"CharTokenizer: chars must be an iterable of characters, got {show(chars)}") from None
            for c in entries:
                if not isinstance(c, str) or len(c) != 1:
                    raise TypeError(f"CharTokenizer: vocabulary entries must be single characters, got {show(c)}")
            vocab = set(_check_text("".join(entries), "CharTokenizer: chars"))
        if unk is not None:
            if not isinstance(unk, str) or len(unk) != 1:
                raise TypeError(f"CharTokenizer: unk must be a single character or None, got {show(unk)}")
            vocab.add(_check_text(unk, "CharTokenizer: unk"))
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
        if not _check_text(text, "CharTokenizer.from_text"):
            raise ValueError("CharTokenizer.from_text: the text is empty, there is no vocabulary to build")
        return cls(set(text), unk=unk)

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens (ids run from 0 to vocab_size - 1)."""
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        """Encode a string into a list of ids, one per character: ``len(encode(s)) == len(s)``."""
        _check_text(s, "CharTokenizer.encode")
        # exercise 4.1: CharTokenizer.encode: the ids of a string's characters, and what happens to an unknown one
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
        sorted vocabulary. `dtype` is the dtype of the result (the data step writes uint16): an
        integer dtype that holds every id of the vocabulary (uint8 for 300 tokens is an error).
        """
        where = "CharTokenizer.encode_array"
        dt = _check_id_dtype(dtype, self.vocab_size, where)
        if not isinstance(s, str):
            raise TypeError(f"{where}: expected a str, got {type(s).__name__}")
        try:
            utf32 = s.encode("utf-32-le")
        except UnicodeEncodeError as e:  # no extra pass over the text: the codec finds it
            raise _surrogate_error(e, where) from None
        cps = np.frombuffer(utf32, dtype="<u4").astype(np.int64)  # (N,)
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
        return ids.astype(dt)

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
        _check_dict(d, "char", ("chars",), "CharTokenizer.from_dict")
        return cls(d["chars"], unk=d.get("unk"))

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to `path` as JSON (``{"type": "char", "chars": [...], ...}``)."""
        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1), "path", "CharTokenizer.save")

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Read a tokenizer written by `save`."""
        return from_json_file(path, cls.from_dict, "CharTokenizer.load")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"

"""GPT-2's tokenizer, exactly: byte-level BPE with OpenAI's vocabulary files.

Three things make a tokenizer GPT-2's rather than just "a byte-level BPE":

1. **The pattern.** Text is pre-split into chunks by GPT2_PATTERN, whose classes ``\\p{L}``
   (any letter) and ``\\p{N}`` (any number) are Unicode properties that Python's `re` does not
   know; the `regex` package (which GPT-2, tiktoken and minbpe use) does. Merges never cross a
   chunk boundary.
2. **The vocabulary.** Token ids come from vocab.json (OpenAI: encoder.json) and the merges,
   in rank order, from merges.txt (vocab.bpe); token strings there are written with GPT-2's
   byte-to-unicode table (byte_level.py). The ids of the 256 byte tokens are whatever the
   file says (in GPT-2, "!" is 0 and the space, "Ġ", is 220).
3. **Special tokens.** ``<|endoftext|>`` (id 50256) separates documents. Text that happens to
   contain that string is *not* turned into the special token unless asked: `encode` follows
   tiktoken, raising a ValueError for a special token's text unless it is in `allowed_special`
   (then it becomes the special token) or left out of `disallowed_special` (then it is plain
   text).

The merge loop and the per-chunk cache are BPETokenizer's own (bpe.py: ByteLevelBPE).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from numpygpt.autograd.checks import is_int, show

from ._checks import as_list, from_json_file, write_text
from .bpe import ByteLevelBPE, Pair
from .byte_level import bytes_to_unicode, read_vocab_and_merges, string_to_token, write_vocab_and_merges
from .char import _check_dict

# GPT-2's pre-tokenization pattern (OpenAI's encoder.py; tiktoken's "gpt2" pat_str): contractions,
# an optional space then letters, an optional space then numbers, an optional space then anything
# else but space, letters and numbers; runs of whitespace, leaving the last space to the next word.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
INSTALL_HINT = "pip install 'numpygpt-stage04-data[gpt2]' (or: pip install regex)"


def compile_pattern(pattern: str) -> Any:
    """`pattern` compiled by the `regex` package, with an error naming the install when it is missing."""
    if not isinstance(pattern, str):
        raise TypeError(f"GPT2Tokenizer: pattern must be a regular expression (a str), got {show(pattern)}")
    try:
        import regex
    except ImportError as e:
        raise ImportError(f"GPT2Tokenizer needs the `regex` package for \\p{{L}} and \\p{{N}}: {INSTALL_HINT}") from e
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise ValueError(f"GPT2Tokenizer: pattern {pattern!r} is not a regular expression: {e}") from None


class GPT2Tokenizer(ByteLevelBPE):
    """GPT-2's byte-level BPE tokenizer, from a vocabulary and merges in GPT-2's file format.

    Args:
        vocab: token string (byte-to-unicode form, e.g. "Ġthe") -> id; ids must be 0..len(vocab)-1.
        merges: pairs of token strings in rank order; each pair's concatenation must be in vocab.
        pattern: the pre-split pattern, compiled with the `regex` package (default: GPT-2's).

    Tokens that are neither a byte nor the product of a merge (``<|endoftext|>``) are the special
    tokens, `special_tokens` maps their text to their id. Usually built with
    ``GPT2Tokenizer.from_pretrained(folder)``.
    """

    def __init__(
        self, vocab: Mapping[str, int], merges: Sequence[tuple[str, str]], pattern: str = GPT2_PATTERN
    ) -> None:
        if not isinstance(vocab, Mapping) or not all(isinstance(k, str) and is_int(i) for k, i in vocab.items()):
            raise TypeError(f"GPT2Tokenizer: vocab must be a dict of token string -> integer id, got {show(vocab)}")
        merges = as_list(merges, "merges", "a list of pairs of token strings", "GPT2Tokenizer")
        for rank, m in enumerate(merges):
            if not (isinstance(m, (tuple, list)) and len(m) == 2 and all(isinstance(t, str) for t in m)):
                raise TypeError(f"GPT2Tokenizer: merge {rank} must be a pair of token strings, got {show(m)}")
        ids = sorted(vocab.values())
        if ids != list(range(len(ids))):
            raise ValueError(f"GPT2Tokenizer: the vocabulary's ids must be 0..{len(ids) - 1}, each once")
        self.pattern = pattern
        self._regex = compile_pattern(pattern)
        self.token_strings: dict[str, int] = dict(vocab)
        self.vocab = {i: string_to_token(s) or s.encode("utf-8") for s, i in vocab.items()}
        table = bytes_to_unicode()
        missing = [table[b] for b in range(256) if table[b] not in vocab]
        if missing:
            raise ValueError(
                f"GPT2Tokenizer: the vocabulary lacks the byte tokens {missing[:8]} ({len(missing)} in all)"
            )
        self.byte_ids = [vocab[table[b]] for b in range(256)]
        self.ranks: dict[Pair, int] = {}
        self.merges: dict[Pair, int] = {}
        for rank, (a, b) in enumerate(merges):
            if a not in vocab or b not in vocab or a + b not in vocab:
                unknown = next(t for t in (a, b, a + b) if t not in vocab)
                raise ValueError(f"GPT2Tokenizer: merge {rank} ({a!r}, {b!r}) needs {unknown!r}, which is not in vocab")
            pair = (vocab[a], vocab[b])
            if pair in self.ranks:
                raise ValueError(f"GPT2Tokenizer: merge {rank} ({a!r}, {b!r}) is a duplicate")
            self.ranks[pair] = rank
            self.merges[pair] = vocab[a + b]
        made = set(self.byte_ids) | set(self.merges.values())
        self.special_tokens: dict[str, int] = {s: i for s, i in vocab.items() if i not in made}
        self._special_regex: dict[frozenset[str], Any] = {}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> GPT2Tokenizer:
        """Read vocab.json + merges.txt (Hugging Face) or encoder.json + vocab.bpe (OpenAI) from `folder`."""
        where = "GPT2Tokenizer.from_pretrained"
        vocab, merges = read_vocab_and_merges(folder, where)
        try:
            return cls(vocab, merges)
        except (TypeError, ValueError) as e:  # the files are there, but not a vocabulary GPT-2's way
            raise type(e)(f"{where}: folder {folder}: {e}") from e

    def save_pretrained(self, folder: str | Path) -> None:
        """Write vocab.json, merges.txt and tokenizer_config.json into `folder` (Hugging Face's layout)."""
        write_vocab_and_merges(
            folder,
            self.token_strings,
            self._merge_strings(),
            list(self.special_tokens),
            "GPT2Tokenizer.save_pretrained",
        )

    def _merge_strings(self) -> list[tuple[str, str]]:
        """The merges as pairs of token strings, in rank order."""
        names = {i: s for s, i in self.token_strings.items()}
        return [(names[a], names[b]) for a, b in sorted(self.ranks, key=self.ranks.__getitem__)]

    @property
    def eot_token(self) -> int | None:
        """The id of <|endoftext|>, the document separator (None if the vocabulary has none)."""
        return self.special_tokens.get("<|endoftext|>")

    def encode(
        self,
        text: str,
        *,
        allowed_special: Literal["all"] | Collection[str] = frozenset(),
        disallowed_special: Literal["all"] | Collection[str] = "all",
    ) -> list[int]:
        """Encode a string into GPT-2's token ids, special tokens as tiktoken does.

        Args:
            allowed_special: special tokens (their text, e.g. "<|endoftext|>") that become their
                own id where the text contains them; "all" for every one.
            disallowed_special: special tokens whose text is an error ("all": every one not
                allowed); the text of a special token in neither set is encoded as plain text.

        Lone surrogates (not valid in UTF-8) are replaced by U+FFFD, as tiktoken does.
        """
        if not isinstance(text, str):
            raise TypeError(f"GPT2Tokenizer.encode: expected a str, got {type(text).__name__}")
        allowed = self._special_set(allowed_special, "allowed_special")
        disallowed = self._special_set(disallowed_special, "disallowed_special") - (
            allowed if isinstance(disallowed_special, str) and disallowed_special == "all" else frozenset()
        )
        if disallowed and (found := self._find_special(disallowed, text)) is not None:
            raise ValueError(
                f"GPT2Tokenizer.encode: the text contains the special token {found.group()!r} at position "
                f"{found.start()}; pass allowed_special={{{found.group()!r}}} to encode it as that token, or "
                "disallowed_special=() to encode it as plain text"
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 bytes to tokenize
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return self._encode_with_specials(text, allowed)

    def _encode_with_specials(self, text: str, allowed: frozenset[str]) -> list[int]:
        """Plain BPE between the allowed special tokens, each of which becomes its own id."""
        if not allowed:
            return self.encode_ordinary(text)
        ids: list[int] = []
        start = 0
        while (found := self._find_special(allowed, text, start)) is not None:
            ids += self.encode_ordinary(text[start : found.start()])
            ids.append(self.special_tokens[found.group()])
            start = found.end()
        return ids + self.encode_ordinary(text[start:])

    def _special_set(self, value: Literal["all"] | Collection[str], name: str) -> frozenset[str]:
        """allowed_special / disallowed_special as a set of special tokens, checked."""
        if isinstance(value, str) and value == "all":
            return frozenset(self.special_tokens)
        allowed = "'all' or a collection of special tokens (their text)"
        tokens = as_list(value if isinstance(value, Collection) else None, name, allowed, "GPT2Tokenizer.encode")
        if not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"GPT2Tokenizer.encode: {name} must be {allowed}, got {show(value)}")
        unknown = sorted(set(tokens) - set(self.special_tokens))
        if unknown:
            raise ValueError(
                f"GPT2Tokenizer.encode: {name} names {unknown}, which are not special tokens "
                f"(this vocabulary has {sorted(self.special_tokens)})"
            )
        return frozenset(tokens)

    def _find_special(self, tokens: frozenset[str], text: str, start: int = 0) -> Any:
        """The first occurrence of any of `tokens` in text[start:] (a match object), or None."""
        if tokens not in self._special_regex:
            # Longest first, so that a special token that begins another never hides it.
            alternatives = sorted(tokens, key=len, reverse=True)
            self._special_regex[tokens] = compile_pattern("|".join(re.escape(t) for t in alternatives))
        return self._special_regex[tokens].search(text, start)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready description (as stored in a checkpoint) that `from_dict` reads."""
        return {
            "type": "gpt2",
            "version": 1,
            "pattern": self.pattern,
            "vocab": self.token_strings,
            "merges": [f"{a} {b}" for a, b in self._merge_strings()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPT2Tokenizer:
        """Rebuild a tokenizer from `to_dict`'s output."""
        where = "GPT2Tokenizer.from_dict"
        _check_dict(d, "gpt2", ("vocab", "merges", "pattern"), where)
        lines = d["merges"]
        if not isinstance(lines, list) or not all(isinstance(m, str) and len(m.split(" ")) == 2 for m in lines):
            raise ValueError(f"{where}: d['merges'] must be a list of 'a b' strings, got {show(lines)}")
        merges = [(a, b) for a, b in (m.split(" ") for m in lines)]
        return cls(d["vocab"], merges, pattern=d["pattern"])

    def save(self, path: str | Path) -> None:
        """Write `to_dict()` to `path` as JSON (one file; `save_pretrained` writes GPT-2's files)."""
        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False), "path", "GPT2Tokenizer.save")

    @classmethod
    def load(cls, path: str | Path) -> GPT2Tokenizer:
        """Read a tokenizer written by `save`."""
        return from_json_file(path, cls.from_dict, "GPT2Tokenizer.load")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GPT2Tokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"GPT2Tokenizer(vocab_size={self.vocab_size}, special_tokens={self.special_tokens})"

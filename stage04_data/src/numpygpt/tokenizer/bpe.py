"""Byte-level byte-pair encoding (BPE), the tokenizer family of GPT-2.

The idea in three lines:
  1. Start from bytes: every text is a sequence of UTF-8 bytes, so 256 base tokens cover any
     string and nothing is ever "unknown".
  2. Training repeatedly finds the most frequent pair of adjacent tokens and gives it a new id
     (merge number k creates token 256 + k), until the vocabulary has `vocab_size` tokens.
  3. Encoding replays the learned merges on a new text; decoding concatenates each token's bytes.

Like GPT-2, the text is first split into chunks (words with their leading space, runs of digits,
runs of punctuation, whitespace) and merges never cross a chunk boundary, so " the" can become one
token but "e t" cannot. Counting pairs once per *distinct* chunk, weighted by how often it occurs,
and updating only the chunks a merge touches, is what makes training fast: `train_merges` does
that; `train_merges_naive` recounts everything every step and is kept as the readable reference.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from numpygpt.autograd.checks import check_bool, check_int, is_int, show

from ._checks import as_list, from_json_file, write_text
from .byte_level import token_to_string, write_vocab_and_merges
from .char import _as_id_array, _check_dict, _check_id_dtype, _check_id_range, _check_text

Pair = tuple[int, int]

# GPT-2's pattern is r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
# which needs the third-party `regex` module for \p{L} (letter) and \p{N} (number). With the standard
# `re` module we approximate: a letter is a word character that is neither a digit nor '_'
# ([^\W\d_]), a number is \d, and "other" is anything neither space nor word character, or '_'.
# Every character falls in exactly one class, so the chunks always concatenate back to the text.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""

_CACHE_SIZE = 1 << 16  # distinct chunks remembered by `encode`; tiny Shakespeare has about 14k
_NEVER = float("inf")  # the rank of a pair that was never merged


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, scanning left to right, by `new_id`.

    >>> merge([97, 97, 97, 98], (97, 97), 256)   # "aaab": the scan takes the first "aa"
    [256, 97, 98]
    """
    # NOTE: checks that cost no pass over ids: merge runs once per chunk and merge in training.
    if isinstance(ids, str) or not isinstance(ids, (Sequence, np.ndarray)) or getattr(ids, "ndim", 1) != 1:
        raise TypeError(f"merge: ids must be a sequence of token ids (a list), got {show(ids)}")
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and is_int(pair[0]) and is_int(pair[1])):
        raise TypeError(f"merge: pair must be a pair of token ids (a, b), got {show(pair)}")
    check_int("merge", "new_id", new_id, min=0)
    # exercise 4.2: merge: replace every occurrence of a pair of adjacent ids by a new id
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    # end exercise 4.2


def apply_merges(ids: list[int], ranks: Mapping[Pair, int], merges: Mapping[Pair, int]) -> list[int]:
    """Encode one chunk: repeatedly merge the pair with the lowest rank present, until none is left.

    Args:
        ids: the chunk's byte tokens.
        ranks: pair -> its rank (the merge learned first has the lowest rank).
        merges: pair -> the id of the token it creates.

    Merging the lowest-ranked pair first gives the same result as replaying all merges in
    training order, but only looks at pairs that actually occur in the chunk.
    """
    if not isinstance(ids, list) or not isinstance(ranks, Mapping) or not isinstance(merges, Mapping):
        raise TypeError(
            f"apply_merges: ids must be a list and ranks and merges dicts, got {show(ids)}, {show(ranks)}, {show(merges)}"
        )
    while len(ids) >= 2:
        try:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, _NEVER))
        except TypeError:  # an unhashable id: [1, [2, 3]]
            raise TypeError(f"apply_merges: ids must be a list of token ids (ints), got {show(ids)}") from None
        if pair not in ranks:
            break  # no pair in this chunk was ever merged
        if pair not in merges:
            raise ValueError(
                f"apply_merges: ranks has the pair {pair}, which merges lacks: they must hold the same pairs"
            )
        ids = merge(ids, pair, merges[pair])
    return ids


def best_pair(stats: dict[Pair, int]) -> Pair:
    """The pair to merge next: the most frequent; on a tie, the smallest ids (lexicographically).

    The explicit tie-break makes training deterministic and independent of dictionary order, so
    the naive and the incremental trainer learn the very same merges.
    """
    if not isinstance(stats, Mapping) or not stats:
        raise ValueError(f"best_pair: stats must be a non-empty dict of pair -> count, got {show(stats)}")
    return min(stats, key=lambda p: (-stats[p], p))


def _compile_split_pattern(pattern: Any, where: str) -> re.Pattern[str]:
    """`pattern` compiled by `re`, or an error naming it: a str the `re` module reads."""
    if not isinstance(pattern, str):
        raise TypeError(f"{where}: pattern must be a regular expression (a str), got {show(pattern)}")
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{where}: pattern {pattern!r} is not a regular expression: {e}") from None


def _check_cover(chunks: list[str], text: str, pattern: str, where: str) -> None:
    """The chunks must be all of `text`: a pattern that skips characters would drop them silently."""
    covered = 0
    for chunk in chunks:
        if text.startswith(chunk, covered) and chunk:
            covered += len(chunk)
            continue
        if chunk:
            break
    if covered != len(text):
        raise ValueError(
            f"{where}: pattern {pattern!r} leaves out the character {text[covered]!r} at position {covered}: "
            "the chunks must add up to the whole text (end the pattern with an alternative that matches anything)"
        )


def split_chunks(text: str, pattern: str = GPT2_SPLIT_PATTERN) -> Counter[bytes]:
    """Pre-split `text` with `pattern` and count each distinct chunk's UTF-8 bytes."""
    where = "split_chunks"
    _check_text(text, where)
    chunks = _compile_split_pattern(pattern, where).findall(text)
    _check_cover(chunks, text, pattern, where)
    return Counter(chunk.encode("utf-8") for chunk in chunks)


def _check_chunks(chunks: Any, n_merges: Any, where: str) -> int:
    """`chunks` must map distinct chunks (bytes) to counts >= 1; returns n_merges checked (an int >= 0)."""
    if not isinstance(chunks, Mapping):
        raise TypeError(
            f"{where}: chunks must be a dict of chunk (bytes) -> count, as split_chunks returns, got {show(chunks)}"
        )
    for chunk, count in chunks.items():
        if not isinstance(chunk, bytes) or not is_int(count) or count < 1:
            raise ValueError(f"{where}: chunks must map bytes to counts >= 1, got {show(chunk)}: {show(count)}")
    return check_int(where, "n_merges", n_merges, min=0)


def train_merges_naive(chunks: dict[bytes, int], n_merges: int) -> list[Pair]:
    """The readable reference trainer: recount every pair in every chunk before each merge.

    Args:
        chunks: distinct chunk -> how many times it occurs in the text.
        n_merges: how many merges to learn (fewer if no pair is left to merge).
    Returns:
        the merges in order; merge k creates token id 256 + k.
    """
    n_merges = _check_chunks(chunks, n_merges, "train_merges_naive")
    # exercise 4.3: train_merges_naive: learn n_merges merges from the chunks of a text, recounting every time
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    merges: list[Pair] = []
    for k in range(n_merges):
        stats: Counter[Pair] = Counter()
        for w, f in zip(words, freqs, strict=True):
            for p in pairwise(w):
                stats[p] += f
        if not stats:
            break
        pair = best_pair(stats)
        words = [merge(w, pair, 256 + k) for w in words]
        merges.append(pair)
    return merges
    # end exercise 4.3


def train_merges(chunks: dict[bytes, int], n_merges: int, verbose: bool = False) -> list[Pair]:
    """Learn the same merges as `train_merges_naive`, updating the pair counts incrementally.

    `stats` holds the count of every adjacent pair over all chunks (weighted by frequency) and
    `where` which chunks contain each pair. A merge only changes the chunks that contain its pair:
    for each of them we subtract the counts of its old pairs, merge, and add the counts of its new
    pairs. Every other count stays right, so no step recounts the whole corpus.

    Args:
        chunks: distinct chunk -> how many times it occurs in the text.
        n_merges: how many merges to learn (fewer if no pair is left to merge).
        verbose: print each merge as it is learned.
    Returns:
        the merges in order; merge k creates token id 256 + k.
    """
    n_merges = _check_chunks(chunks, n_merges, "train_merges")
    verbose = check_bool("train_merges", "verbose", verbose)
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    stats: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)
    for wi, (w, f) in enumerate(zip(words, freqs, strict=True)):
        for p in pairwise(w):
            stats[p] += f
            where[p].add(wi)

    vocab = {i: bytes([i]) for i in range(256)}  # only for the verbose printout
    merges: list[Pair] = []
    for k in range(n_merges):
        if not stats:
            break
        pair = best_pair(stats)
        new_id = 256 + k
        count = stats[pair]
        for wi in where.pop(pair):
            old, f = words[wi], freqs[wi]
            new = merge(old, pair, new_id)
            for p in pairwise(old):
                stats[p] -= f
                # NOTE: drop exhausted pairs so best_pair never picks a pair that no longer exists.
                if stats[p] == 0:
                    del stats[p]
            for p in pairwise(new):
                stats[p] += f
            old_pairs, new_pairs = set(pairwise(old)), set(pairwise(new))
            for p in old_pairs - new_pairs:
                if p in where:  # `pair` itself was popped above
                    where[p].discard(wi)
            for p in new_pairs - old_pairs:
                where[p].add(wi)
            words[wi] = new
        merges.append(pair)
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        if verbose:
            a, b = vocab[pair[0]], vocab[pair[1]]
            print(f"merge {k + 1:3d}: {a!r} + {b!r} -> {new_id} {vocab[new_id]!r} (count {count})")
    return merges


class ByteLevelBPE:
    """What every byte-level BPE tokenizer here shares: split, encode each distinct chunk once, decode.

    A subclass sets, in its __init__:
        pattern, _regex  the pre-split pattern and its compiled form (anything with .findall)
        byte_ids         byte value -> the id of its one-byte token (256 ints)
        ranks            pair of ids -> its merge rank (lower merges first)
        merges           pair of ids -> the id of the token it creates
        vocab            id -> the token's bytes
    """

    pattern: str
    _regex: Any
    byte_ids: list[int]
    ranks: Mapping[Pair, int]
    merges: dict[Pair, int]
    vocab: dict[int, bytes]
    _cache: dict[str, list[int]]  # chunk -> its ids, filled by encode_ordinary

    def split(self, text: str) -> list[str]:
        """The chunks `encode` works on; ``"".join(split(text)) == text``."""
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.split: expected a str, got {type(text).__name__}")
        return self._regex.findall(text)

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """Encode one chunk's bytes: its byte tokens, merged by rank (`apply_merges`)."""
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(
                f"{type(self).__name__}.encode_chunk: chunk must be bytes (a chunk's UTF-8), got {show(chunk)}"
            )
        byte_ids = self.byte_ids
        return apply_merges([byte_ids[b] for b in chunk], self.ranks, self.merges)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode a string chunk by chunk, each distinct chunk once (its ids are remembered).

        Every character must fall in a chunk (a custom pattern that skips some is an error, not a
        silent loss) and be a Unicode character (a lone surrogate has no UTF-8 bytes: an error
        naming its position).
        """
        where = f"{type(self).__name__}.encode"
        if not isinstance(text, str):
            raise TypeError(f"{where}: expected a str, got {type(text).__name__}")
        ids: list[int] = []
        cache = self._cache
        covered = 0
        for chunk in self._regex.findall(text):
            covered += len(chunk)
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                try:
                    chunk_bytes = chunk.encode("utf-8")
                except UnicodeEncodeError:
                    _check_text(text, where)  # raises, naming the surrogate's position in the whole text
                    raise
                chunk_ids = self.encode_chunk(chunk_bytes)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()  # bounded memory on endless streams of new chunks
                cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        if covered != len(text):
            _check_cover(self._regex.findall(text), text, self.pattern, where)
        return ids

    @property
    def vocab_size(self) -> int:
        """Number of tokens (ids run from 0 to vocab_size - 1)."""
        return len(self.vocab)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Concatenate the bytes of each id (list or ndarray, shape (N,)) and decode them as UTF-8."""
        where = f"{type(self).__name__}.decode"
        arr = _as_id_array(ids, where)
        _check_id_range(arr, self.vocab_size, where)
        vocab = self.vocab
        return b"".join(vocab[i] for i in arr.tolist()).decode("utf-8", errors="replace")

    def encode_array(self, text: str, dtype: npt.DTypeLike = np.int64) -> np.ndarray:
        """Encode a string into an array of token ids, shape (number of tokens,), of an integer
        `dtype` that holds every id of the vocabulary (uint8 for 300 tokens is an error)."""
        dt = _check_id_dtype(dtype, self.vocab_size, f"{type(self).__name__}.encode_array")
        return np.array(self.encode(text), dtype=dt)

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError


class BPETokenizer(ByteLevelBPE):
    """A byte-level BPE tokenizer: 256 byte tokens plus one token per learned merge.

    Args:
        merges: the learned merges in order; merge k joins two existing tokens into token 256 + k.
            An empty list gives a plain byte tokenizer (vocab_size 256).
        pattern: the regular expression that pre-splits text into chunks (see GPT2_SPLIT_PATTERN).

    Build one with `BPETokenizer.train(text, vocab_size)` or `BPETokenizer.load(path)`.
    ``decode(encode(s)) == s`` for every string s of Unicode characters (a lone surrogate, which has
    no UTF-8 bytes, is a ValueError naming its position); a slice of ids that cuts a multi-byte
    character in two decodes that character as U+FFFD. `save_pretrained(folder)` writes it
    in GPT-2's files, which Hugging Face's tokenizers read.
    """

    def __init__(self, merges: Iterable[Sequence[int]] = (), pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self._regex = _compile_split_pattern(pattern, "BPETokenizer")
        self.pattern = pattern
        self.byte_ids = list(range(256))  # byte b is token b
        self.merges: dict[Pair, int] = {}  # pair -> the id it creates; insertion order = merge order
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for new_id, pair in enumerate(as_list(merges, "merges", "a list of pairs of token ids", "BPETokenizer"), 256):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"BPETokenizer: merge {new_id - 256} must be a pair of ids, got {show(pair)}")
            if not (is_int(pair[0]) and is_int(pair[1])):
                raise TypeError(f"BPETokenizer: merge {new_id - 256} must be a pair of integer ids, got {show(pair)}")
            a, b = int(pair[0]), int(pair[1])
            if not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(
                    f"BPETokenizer: merge {new_id - 256} ({a}, {b}) uses an id that does not exist yet "
                    f"(ids before it are 0..{new_id - 1})"
                )
            if (a, b) in self.merges:
                raise ValueError(f"BPETokenizer: merge {new_id - 256} ({a}, {b}) is a duplicate")
            self.merges[(a, b)] = new_id
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        self.ranks = self.merges  # merge k creates id 256 + k: ids are in rank order already
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls, text: str, vocab_size: int, pattern: str = GPT2_SPLIT_PATTERN, verbose: bool = False
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from `text` and return the trained tokenizer.

        Training stops early, with a smaller vocabulary, when no adjacent pair is left (a text
        shorter than the merges asked for); check `vocab_size` on the result.
        """
        where = "BPETokenizer.train"
        if not _check_text(text, where):
            raise ValueError(f"{where}: the text is empty, there is nothing to learn merges from")
        if not is_int(vocab_size):
            raise TypeError(f"{where}: vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < 256:
            raise ValueError(f"{where}: vocab_size must be at least 256 (the byte tokens), got {vocab_size}")
        verbose = check_bool(where, "verbose", verbose)
        regex = _compile_split_pattern(pattern, where)
        chunks = regex.findall(text)
        _check_cover(chunks, text, pattern, where)
        merges = train_merges(Counter(c.encode("utf-8") for c in chunks), int(vocab_size) - 256, verbose=verbose)
        return cls(merges, pattern=pattern)

    def encode(self, text: str) -> list[int]:
        """Encode a string into a list of token ids."""
        return self.encode_ordinary(text)

    def save_pretrained(self, folder: str | Path) -> None:
        """Write vocab.json, merges.txt and tokenizer_config.json, GPT-2's files, into `folder`.

        Hugging Face's GPT2Tokenizer (and AutoTokenizer) reads them. It splits text with GPT-2's
        own pattern, which this tokenizer's default GPT2_SPLIT_PATTERN imitates with the standard
        `re` module: both give the same ids except on characters that the two patterns class
        differently (numbers that are not decimal digits, such as '²' or '½').
        """
        vocab = {token_to_string(b): i for i, b in self.vocab.items()}
        merges = [(token_to_string(self.vocab[a]), token_to_string(self.vocab[b])) for a, b in self.merges]
        write_vocab_and_merges(folder, vocab, merges, where="BPETokenizer.save_pretrained")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready description that `save` writes and `from_dict` reads."""
        return {"type": "bpe", "version": 1, "pattern": self.pattern, "merges": [list(p) for p in self.merges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BPETokenizer:
        """Rebuild a tokenizer from `to_dict`'s output."""
        _check_dict(d, "bpe", ("merges", "pattern"), "BPETokenizer.from_dict")
        return cls(d["merges"], pattern=d["pattern"])

    def save(self, path: str | Path) -> None:
        """Write the pattern and the merges (in order) to `path` as JSON."""
        write_text(path, json.dumps(self.to_dict()), "path", "BPETokenizer.save")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a tokenizer written by `save`."""
        return from_json_file(path, cls.from_dict, "BPETokenizer.load")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BPETokenizer) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"

"""Random next-token windows from a token stream, as GPT training scripts draw them.

Language-model training does not walk the corpus in epochs: each step cuts `batch_size` windows
of `block_size + 1` tokens at random offsets; the first `block_size` tokens are the input x, the
last `block_size` (the same window shifted by one) are the targets y. `load_split` opens the token
files the data step wrote as a memory map, so only the windows drawn are ever read from disk.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import numpy as np

from numpygpt.autograd.checks import MAX_ELEMENTS, show
from numpygpt.tokenizer._checks import check_path, os_error, read_json

SPLITS = ("train", "val")


def get_batch(
    data: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `batch_size` random windows from `data` and return inputs and next-token targets.

    Args:
        data: 1-D integer array of token ids, shape (N,); an np.memmap from `load_split` works.
        batch_size: B, windows per batch (>= 1).
        block_size: T, tokens per window (1 <= T < N).
        rng: the generator the offsets come from.
    Returns:
        (x, y), both int64 ndarrays of shape (B, T), with ``y[b, t] == data[start_b + t + 1]`` where
        ``x[b, t] == data[start_b + t]``: y is x shifted left by one token.

    Randomness: exactly one call, ``rng.integers(0, N - T, size=B)``, per batch; nothing else is
    drawn. So saving ``rng.bit_generator.state`` with a checkpoint and restoring it resumes the very
    same sequence of batches. Every start from 0 to N - T - 1 is equally likely, which makes the last
    window end exactly at the last token.
    """
    if not isinstance(data, np.ndarray) or data.ndim != 1:
        raise TypeError(
            f"get_batch: data must be a 1-D ndarray of token ids, got {type(data).__name__} "
            f"with shape {getattr(data, 'shape', None)}"
        )
    if data.dtype == np.bool_ or not np.issubdtype(data.dtype, np.integer):
        raise TypeError(f"get_batch: data must hold integer token ids, got dtype {data.dtype}")
    if len(data) == 0:
        raise ValueError("get_batch: data is empty (an empty corpus has no windows)")
    for name, value in (("batch_size", batch_size), ("block_size", block_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"get_batch: {name} must be an int, got {value!r}")
        if value <= 0:
            raise ValueError(f"get_batch: {name} must be positive, got {value}")
    batch_size, block_size = int(batch_size), int(block_size)  # NumPy ints as Python ints: no int32 overflow below
    if block_size >= len(data):
        raise ValueError(
            f"get_batch: block_size={block_size} must be smaller than the number of tokens ({len(data)}): "
            f"a window needs block_size + 1 tokens"
        )
    if batch_size > MAX_ELEMENTS // (block_size + 1):
        raise ValueError(
            f"get_batch: batch_size={batch_size} windows of block_size + 1 = {block_size + 1} tokens are more ids "
            "than an array can hold"
        )
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"get_batch: rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )

    # exercise 4.5: get_batch: batch_size random windows of the stream as inputs and targets, from one draw of rng
    starts = rng.integers(0, len(data) - block_size, size=batch_size)  # (B,)
    index = starts[:, None] + np.arange(block_size + 1)  # (B, T+1) one row of positions per window
    # Fancy indexing gathers all windows in one call; on a memmap it reads just those pages.
    windows = np.asarray(data[index], dtype=np.int64)  # (B, T+1)
    x = np.ascontiguousarray(windows[:, :-1])  # (B, T)
    y = np.ascontiguousarray(windows[:, 1:])  # (B, T)
    return x, y
    # end exercise 4.5


def load_split(dataset_dir: str | Path, split: str) -> np.memmap:
    """Open ``dataset_dir/{split}.bin`` (uint16 token ids written by the data step) read-only.

    Returns a 1-D np.memmap of dtype uint16, shape (number of tokens,): it behaves like an array,
    but the tokens stay on disk until indexed.
    """
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"load_split: split must be one of {SPLITS}, got {show(split)}")
    path = check_path(dataset_dir, "dataset_dir", "load_split") / f"{split}.bin"
    if path.exists() and not path.is_file():
        raise os_error(errno.EISDIR, "the split's file is a folder (in dataset_dir)", path, "split", "load_split")
    if not path.is_file():
        raise FileNotFoundError(
            f"load_split: {path} (in dataset_dir) does not exist; run `python -m numpygpt.utils.data.prepare "
            "shakespeare` first"
        )
    size = path.stat().st_size
    if size == 0 or size % 2:
        raise ValueError(f"load_split: {path} has {size} bytes; a uint16 token file needs a positive even size")
    return np.memmap(path, dtype=np.uint16, mode="r")


def load_meta(dataset_dir: str | Path) -> dict[str, Any]:
    """Read ``dataset_dir/meta.json`` (vocab_size, token counts, corpus checksum, ...)."""
    path = check_path(dataset_dir, "dataset_dir", "load_meta") / "meta.json"
    if not path.exists():
        raise FileNotFoundError(
            f"load_meta: {path} (in dataset_dir) does not exist; run `python -m numpygpt.utils.data.prepare "
            "shakespeare` first"
        )
    meta = read_json(path, "dataset_dir's", "load_meta")
    if not isinstance(meta, dict):
        raise ValueError(f"load_meta: {path} (in dataset_dir) must hold a JSON object, got {show(meta)}")
    return meta

"""Datasets: anything with a length and an item per index, as in PyTorch's torch.utils.data.

A dataset may also define ``__getitems__(indices)``, returning a whole batch already stacked into
arrays; `DataLoader` then fetches each batch with one fancy-indexing call instead of one Python
call per sample. (PyTorch has a hook of the same name that returns a list of samples to collate;
ours skips that list.)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from numpygpt.autograd.checks import is_int, show


@runtime_checkable
class Dataset(Protocol):
    """The map-style dataset protocol: ``len(ds)`` samples, ``ds[i]`` for 0 <= i < len(ds)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def _to_array(x: Any, name: str, where: str) -> np.ndarray:
    """An ndarray as is; a Tensor-like object (with an ndarray `.data`) unwrapped; else np.asarray,
    which must give an array of numbers (or strings): not a ragged list, not objects.

    Checking ndarray first matters: an ndarray also has a `.data` attribute (its raw buffer).
    """
    if isinstance(x, np.ndarray):
        arr = x
    elif isinstance(data := getattr(x, "data", None), np.ndarray):
        arr = data
    else:
        try:
            arr = np.asarray(x)
        except ValueError:  # ragged: [1, [2, 3]]
            raise ValueError(f"{where}: {name} must be an array (rows of one shape), got {show(x)}") from None
    if arr.dtype == object:
        raise TypeError(f"{where}: {name} must hold numbers, got {show(x)} (dtype object)")
    return arr


def _check_index(index: Any, length: int, where: str) -> Any:
    """Normalise an int index (negative counts from the end) or check an integer index array."""
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        i = int(index)
        if not -length <= i < length:
            raise IndexError(f"{where}: index {i} is out of range for a dataset of {length} samples")
        return i % length
    try:
        idx = np.asarray(index)
    except ValueError:  # ragged
        idx = np.asarray(None)
    if idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"{where}: indices must be integers, got {show(index)}")
    if idx.size and (idx.min() < -length or idx.max() >= length):
        bad = idx[(idx < -length) | (idx >= length)][0]
        raise IndexError(f"{where}: index {int(bad)} is out of range for a dataset of {length} samples")
    return idx % length if idx.size else idx.astype(np.int64)


class TensorDataset:
    """Samples are the rows of equally long arrays: ``ds[i] == (a[i], b[i], ...)``.

    Args:
        *arrays: ndarrays, Tensors (anything with an ndarray `.data`) or array-likes, all with the
            same first dimension N. Each sample is a tuple with one row of each, shapes a.shape[1:].
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(_to_array(a, f"array {k}", "TensorDataset") for k, a in enumerate(arrays))
        for k, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs a first (sample) dimension")
        sizes = [len(a) for a in self.arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: all arrays need the same first dimension, got sizes {sizes}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        """One sample: a tuple holding row `index` of each array."""
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(a[i] for a in self.arrays)

    def __getitems__(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """A stacked batch: for indices of shape (B,), a tuple of arrays of shape (B, *a.shape[1:])."""
        idx = _check_index(indices, len(self), "TensorDataset")
        return tuple(a[idx] for a in self.arrays)


class TokenDataset:
    """Every next-token window of a 1-D stream of token ids.

    Sample i is ``(x, y)`` with ``x = ids[i : i + block_size]`` and ``y = ids[i + 1 : i + block_size + 1]``,
    both int64 of shape (block_size,): y[t] is the token that follows x[:t + 1]. A stream of N
    tokens has N - block_size windows (the last one ends at the last token).

    Args:
        ids: 1-D integer array of token ids, shape (N,) (an np.memmap works and stays on disk).
        block_size: the context length T; must satisfy 1 <= T < N.
    """

    def __init__(self, ids: Any, block_size: int) -> None:
        self.ids = _to_array(ids, "ids", "TokenDataset")
        if self.ids.ndim != 1:
            raise ValueError(f"TokenDataset: ids must be 1-D, got shape {self.ids.shape}")
        if self.ids.size == 0:
            raise ValueError("TokenDataset: ids is empty (an empty corpus has no windows)")
        if self.ids.dtype == np.bool_ or not np.issubdtype(self.ids.dtype, np.integer):
            raise TypeError(f"TokenDataset: ids must be integers, got dtype {self.ids.dtype}")
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)):
            raise TypeError(f"TokenDataset: block_size must be an int, got {block_size!r}")
        if block_size <= 0:
            raise ValueError(f"TokenDataset: block_size must be positive, got {block_size}")
        if block_size >= len(self.ids):
            raise ValueError(
                f"TokenDataset: block_size={block_size} must be smaller than the number of tokens "
                f"({len(self.ids)}): a window needs block_size + 1 tokens"
            )
        self.block_size = int(block_size)
        self._offsets = np.arange(self.block_size + 1)  # (T+1,) one window's positions

    def __len__(self) -> int:
        return len(self.ids) - self.block_size

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Window `index`: (x, y), each int64 of shape (T,)."""
        if not is_int(index):
            raise TypeError(f"TokenDataset: index must be an int (use __getitems__ for several), got {show(index)}")
        i = _check_index(index, len(self), "TokenDataset")
        # exercise 4.4: TokenDataset.__getitem__: window i as an input sequence and its targets
        window = np.asarray(self.ids[i : i + self.block_size + 1], dtype=np.int64)  # (T+1,)
        return window[:-1], window[1:]
        # end exercise 4.4

    def __getitems__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows at `indices` (shape (B,)) gathered at once: (x, y), each int64 of shape (B, T)."""
        starts = np.asarray(_check_index(indices, len(self), "TokenDataset"))
        if starts.ndim != 1:
            raise ValueError(f"TokenDataset: indices must be a 1-D array of window indices, got shape {starts.shape}")
        windows = np.asarray(self.ids[starts[:, None] + self._offsets], dtype=np.int64)  # (B, T+1)
        return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

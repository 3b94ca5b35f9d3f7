"""DataLoader: walk a dataset in batches, with PyTorch's semantics, returning NumPy arrays.

One epoch = one pass of ``for batch in loader``. With ``shuffle=True`` every epoch draws a fresh
permutation of the indices from the loader's generator (one ``rng.permutation(len(dataset))``
call per epoch), so the order changes from epoch to epoch and the whole sequence of epochs is
reproducible from the seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .dataset import Dataset


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of B samples into one batch.

    A sample that is a tuple (x, y, ...) gives a tuple of stacked fields, each of shape
    (B, *field.shape); a dict gives a dict; an array or a number gives one array of shape (B, ...).
    """
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    return np.stack([np.asarray(s) for s in samples])


class DataLoader:
    """Iterate over `dataset` in batches of `batch_size` samples stacked into arrays.

    Args:
        dataset: a map-style dataset (`Dataset` protocol). If it defines ``__getitems__`` (as
            TensorDataset and TokenDataset do) each batch is one vectorised fetch; otherwise the
            samples are fetched one by one and stacked by `collate_fn`.
        batch_size: samples per batch (default 1).
        shuffle: visit the samples in a new random order every epoch (default False: 0, 1, 2, ...).
        drop_last: drop the last batch if it has fewer than batch_size samples (default False).
        seed: seed of the loader's own generator, for reproducible shuffling.
        generator: a np.random.Generator to draw permutations from instead (not with `seed`).
            With neither, shuffling uses a fresh unseeded generator, as PyTorch does.
        collate_fn: how a list of samples becomes a batch (default `default_collate`).

    ``len(loader)`` is the number of batches per epoch: ceil(N / batch_size), or floor with
    drop_last. Every epoch yields each index exactly once (except the dropped tail).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        collate_fn: Any = default_collate,
    ) -> None:
        if not isinstance(dataset, Dataset):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass either seed or generator, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a np.random.Generator, got {type(generator).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator if generator is not None else np.random.default_rng(seed)
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)  # ceil division

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        # NOTE: the permutation is drawn when iteration starts, so each `for` loop is a new epoch.
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        getitems = getattr(self.dataset, "__getitems__", None)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]  # (B,), B < batch_size at the tail
            if getitems is not None:
                yield getitems(idx)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in idx])

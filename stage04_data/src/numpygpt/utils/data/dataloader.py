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

from numpygpt.autograd.checks import check_callable, is_bool, is_int, show

from .dataset import Dataset


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of B samples into one batch.

    A sample that is a tuple (x, y, ...) gives a tuple of stacked fields, each of shape
    (B, *field.shape); a dict gives a dict; an array or a number gives one array of shape (B, ...).
    Every sample must have the same structure: tuples of one length, dicts of the same keys,
    arrays of one shape.
    """
    if (
        isinstance(samples, (str, bytes))
        or not isinstance(samples, (Sequence, np.ndarray))
        or getattr(samples, "ndim", 1) == 0
    ):
        raise ValueError(f"default_collate: samples must be a non-empty list of samples, got {show(samples)}")
    if len(samples) == 0:
        raise ValueError(f"default_collate: samples must be a non-empty list of samples, got {show(samples)}")
    first = samples[0]
    if isinstance(first, tuple):
        if any(not isinstance(s, tuple) or len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: samples must all be tuples of {len(first)} fields, as the first one is")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        if any(not isinstance(s, dict) or s.keys() != first.keys() for s in samples):
            raise ValueError(
                f"default_collate: samples must all be dicts with the keys {sorted(first)}, as the first one"
            )
        return {key: default_collate([s[key] for s in samples]) for key in first}
    try:
        arrays = [np.asarray(s) for s in samples]
    except ValueError:  # a ragged sample
        arrays = [np.asarray(None)]
    if any(a.dtype == object for a in arrays):
        raise TypeError(f"default_collate: samples must be arrays, numbers, tuples or dicts of them, got {show(first)}")
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise ValueError(f"default_collate: samples must all have one shape to be stacked, got shapes {shapes[:4]}")
    return np.stack(arrays)


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
        try:
            len(dataset)
        except TypeError:  # a 0-d array has __len__ but no length
            raise TypeError(f"DataLoader: dataset must have a length (len(dataset)), got {show(dataset)}") from None
        # PyTorch's words (its BatchSampler checks batch_size and drop_last); NumPy ints are ints here.
        if not is_int(batch_size) or batch_size <= 0:
            raise (ValueError if is_int(batch_size) else TypeError)(
                f"DataLoader: batch_size should be a positive integer value, but got batch_size={show(batch_size)}"
            )
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not is_bool(flag):
                raise TypeError(f"DataLoader: {name} should be a boolean value, but got {name}={show(flag)}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass either seed or generator, not both")
        if seed is not None and (not is_int(seed) or seed < 0):
            raise (ValueError if is_int(seed) else TypeError)(
                f"DataLoader: seed must be an int >= 0 (or None for an unseeded generator), got {show(seed)}"
            )
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a np.random.Generator, got {type(generator).__name__}")
        check_callable("DataLoader", "collate_fn", collate_fn)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
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

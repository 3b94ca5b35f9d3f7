"""DataLoader: every index once per epoch, reproducible shuffles, the last batch, both fetch paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.utils.data import DataLoader, TensorDataset, TokenDataset

pytestmark = pytest.mark.dataloader


class ListDataset:
    """A dataset without __getitems__: the loader must fetch and stack sample by sample."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return np.array([i, -i]), i


def epoch_indices(loader: DataLoader) -> np.ndarray:
    """The sample indices one epoch visits, in order (datasets here store their own index)."""
    return np.concatenate([batch[0] if isinstance(batch, tuple) else batch for batch in loader])


@settings(deadline=None)
@given(n=st.integers(1, 50), batch_size=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_shuffled_epoch_covers_every_index_exactly_once(n: int, batch_size: int, seed: int) -> None:
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, shuffle=True, seed=seed)
    for _ in range(2):
        seen = epoch_indices(loader)
        assert sorted(seen.tolist()) == list(range(n))
        assert sum(1 for _ in loader) == len(loader)


@settings(deadline=None)
@given(n=st.integers(1, 50), batch_size=st.integers(1, 12), drop_last=st.booleans(), shuffle=st.booleans())
def test_batch_sizes_and_len(n: int, batch_size: int, drop_last: bool, shuffle: bool) -> None:
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    sizes = [len(b[0]) for b in loader]
    full, rest = divmod(n, batch_size)
    expected = [batch_size] * full + ([rest] if rest and not drop_last else [])
    assert sizes == expected
    assert len(loader) == len(expected)


def test_without_shuffle_the_order_is_the_dataset_order() -> None:
    loader = DataLoader(TensorDataset(np.arange(7)), batch_size=3)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    loader = DataLoader(TensorDataset(np.arange(7)), batch_size=3, drop_last=True)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]


def test_seeded_shuffles_are_reproducible_and_change_every_epoch() -> None:
    a = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=1234)
    b = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=1234)
    a_epochs = [epoch_indices(a) for _ in range(3)]
    b_epochs = [epoch_indices(b) for _ in range(3)]
    for ea, eb in zip(a_epochs, b_epochs, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a_epochs[0], a_epochs[1])
    assert not np.array_equal(a_epochs[0], np.arange(50))
    c = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=1235)
    assert not np.array_equal(epoch_indices(c), a_epochs[0])


def test_generator_draws_one_permutation_per_epoch() -> None:
    rng = np.random.default_rng(7)
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4, shuffle=True, generator=rng)
    first = epoch_indices(loader)
    reference = np.random.default_rng(7)
    np.testing.assert_array_equal(first, reference.permutation(10))
    np.testing.assert_array_equal(epoch_indices(loader), reference.permutation(10))


def test_per_sample_path_stacks_like_the_vectorised_path() -> None:
    loader = DataLoader(ListDataset(10), batch_size=4, shuffle=True, seed=3)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert batches[0][1].dtype.kind == "i" and batches[0][1].shape == (4,)
    np.testing.assert_array_equal(batches[0][0][:, 0], batches[0][1])
    vectorised = DataLoader(TensorDataset(np.arange(10)), batch_size=4, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), epoch_indices(vectorised))


def test_token_dataset_batches_are_shifted_windows() -> None:
    ids = np.arange(100, 140, dtype=np.uint16)
    loader = DataLoader(TokenDataset(ids, block_size=8), batch_size=5, shuffle=True, seed=0)
    for x, y in loader:
        assert x.dtype == y.dtype == np.int64 and x.shape[1] == y.shape[1] == 8
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
        np.testing.assert_array_equal(y[:, -1], x[:, -1] + 1)
        np.testing.assert_array_equal(x - x[:, :1], np.broadcast_to(np.arange(8), x.shape))


@pytest.mark.errors
def test_dataloader_errors() -> None:
    ds = TensorDataset(np.arange(4))
    with pytest.raises(
        ValueError, match=r"^DataLoader: batch_size should be a positive integer value, but got batch_size=0$"
    ):
        DataLoader(ds, batch_size=0)
    with pytest.raises(
        ValueError, match=r"^DataLoader: batch_size should be a positive integer value, but got batch_size=-2$"
    ):
        DataLoader(ds, batch_size=-2)
    with pytest.raises(
        TypeError, match=r"^DataLoader: batch_size should be a positive integer value, but got batch_size=2\.5$"
    ):
        DataLoader(ds, batch_size=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"DataLoader: pass either seed or generator, not both"):
        DataLoader(ds, seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match=r"DataLoader: generator must be a np\.random\.Generator, got RandomState"):
        DataLoader(ds, generator=np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"DataLoader: dataset must have __len__ and __getitem__, got int"):
        DataLoader(3)  # type: ignore[arg-type]

"""Dataset protocol, TensorDataset and TokenDataset windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.utils.data import Dataset, TensorDataset, TokenDataset

pytestmark = pytest.mark.dataset


class FakeTensor:
    """Stands for numpygpt.autograd.Tensor: anything holding its values in an ndarray `.data`."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def test_tensor_dataset_rows() -> None:
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6) * 10
    ds = TensorDataset(x, FakeTensor(y), [0, 1, 0, 1, 0, 1])
    assert isinstance(ds, Dataset) and len(ds) == 6
    xi, yi, zi = ds[4]
    assert xi.tolist() == [8.0, 9.0] and yi == 40 and zi == 0
    assert ds[-1][1] == 50
    xb, yb, zb = ds.__getitems__(np.array([5, 0]))
    assert xb.shape == (2, 2) and yb.tolist() == [50, 0] and zb.tolist() == [1, 0]


@pytest.mark.errors
def test_tensor_dataset_errors() -> None:
    with pytest.raises(
        ValueError, match=r"TensorDataset: all arrays need the same first dimension, got sizes \[3, 4\]"
    ):
        TensorDataset(np.zeros(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"TensorDataset: needs at least one array"):
        TensorDataset()
    with pytest.raises(IndexError, match=r"TensorDataset: index 3 is out of range for a dataset of 3 samples"):
        TensorDataset(np.zeros(3))[3]
    with pytest.raises(IndexError, match=r"TensorDataset: index -4 is out of range"):
        TensorDataset(np.zeros(3)).__getitems__(np.array([0, -4]))


@pytest.mark.ex4_4
def test_token_window_by_hand() -> None:
    ids = np.array([46, 43, 1, 41, 39, 58], dtype=np.uint16)
    x, y = TokenDataset(ids, block_size=4)[1]
    assert x.dtype == np.int64 and y.dtype == np.int64, f"x and y are {x.dtype}, {y.dtype}: int64 ids"
    assert x.shape == (4,) and y.shape == (4,), (
        f"window 1 gave x of shape {x.shape} and y of shape {y.shape}, expected (4,) each: a window is block_size "
        "+ 1 tokens, x all but its last, y all but its first"
    )
    assert x.tolist() == [43, 1, 41, 39], f"window 1's x is {x.tolist()}: the block_size tokens from position 1"
    assert y.tolist() != x.tolist(), "y equals x: the target of each position is the token after it"
    assert y.tolist() == [1, 41, 39, 58], f"window 1's y is {y.tolist()}: x shifted left by one (the next tokens)"


@settings(deadline=None)
@given(n=st.integers(2, 60), data=st.data())
def test_token_windows_are_shifted_by_one(n: int, data: st.DataObject) -> None:
    block_size = data.draw(st.integers(1, n - 1))
    ids = np.random.default_rng(n).integers(0, 65, size=n).astype(np.uint16)
    ds = TokenDataset(ids, block_size)
    assert len(ds) == n - block_size
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.dtype == np.int64 and x.shape == (block_size,)
        np.testing.assert_array_equal(x, ids[i : i + block_size], err_msg=f"window {i}: x must be ids[i : i + T]")
        np.testing.assert_array_equal(
            y,
            ids[i + 1 : i + block_size + 1],
            err_msg=f"window {i}: y must be x shifted left by one, ids[i + 1 : i + T + 1] (the next token of each position)",
        )
    # the last window ends exactly at the last token
    assert ds[len(ds) - 1][1][-1] == ids[-1]


@settings(deadline=None)
@given(n=st.integers(2, 60), data=st.data())
def test_token_batch_fetch_equals_stacked_items(n: int, data: st.DataObject) -> None:
    block_size = data.draw(st.integers(1, n - 1))
    ds = TokenDataset(np.arange(n) * 3, block_size)
    idx = np.array(data.draw(st.lists(st.integers(0, len(ds) - 1), min_size=1, max_size=10)))
    xb, yb = ds.__getitems__(idx)
    assert xb.shape == yb.shape == (len(idx), block_size)
    np.testing.assert_array_equal(xb, np.stack([ds[int(i)][0] for i in idx]))
    np.testing.assert_array_equal(yb, np.stack([ds[int(i)][1] for i in idx]))


@pytest.mark.errors
def test_token_dataset_errors() -> None:
    with pytest.raises(ValueError, match=r"TokenDataset: block_size=5 must be smaller than the number of tokens \(5\)"):
        TokenDataset(np.arange(5), 5)
    with pytest.raises(ValueError, match=r"TokenDataset: ids is empty"):
        TokenDataset(np.array([], dtype=np.uint16), 1)
    with pytest.raises(ValueError, match=r"TokenDataset: block_size must be positive, got 0"):
        TokenDataset(np.arange(5), 0)
    with pytest.raises(TypeError, match=r"TokenDataset: ids must be integers, got dtype float64"):
        TokenDataset(np.ones(5), 2)
    with pytest.raises(ValueError, match=r"TokenDataset: ids must be 1-D, got shape \(2, 3\)"):
        TokenDataset(np.zeros((2, 3), dtype=int), 2)
    with pytest.raises(IndexError, match=r"TokenDataset: index 3 is out of range for a dataset of 3 samples"):
        TokenDataset(np.arange(5), 2)[3]

"""get_batch: shapes, dtypes, the shift by one, every offset reachable, one rng draw; load_split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.utils.data import get_batch, load_split

pytestmark = pytest.mark.batch


@pytest.mark.ex4_5
def test_get_batch_by_hand() -> None:
    stream = np.arange(100, 110)  # token value = position + 100
    x, y = get_batch(stream, batch_size=3, block_size=4, rng=np.random.default_rng(0))
    starts = np.random.default_rng(0).integers(0, 10 - 4, size=3)  # the one call get_batch must make: [5, 3, 3]
    assert x.shape == (3, 4) and y.shape == (3, 4), (
        f"x and y have shapes {x.shape}, {y.shape}: (batch_size, block_size)"
    )
    got = (x[:, 0] - 100).tolist()
    ranges = {
        "the starts are drawn from [0, N - T - 1): the high end of rng.integers is exclusive already, so that "
        "range leaves out the last window, which ends on the last token": 10 - 4 - 1,
        "the starts are drawn from [0, N - T + 1): a window needs block_size + 1 tokens, so the last start is "
        "N - T - 1": 10 - 4 + 1,
    }
    for why, high in ranges.items():
        assert got != np.random.default_rng(0).integers(0, high, size=3).tolist(), f"windows start at {got}: {why}"
    assert got == starts.tolist(), (
        f"the windows start at {got}, expected {starts.tolist()}: draw all the starts from the rng you are given, "
        "with one call, rng.integers(0, N - T, size=B), so that a saved rng state replays the same batches"
    )
    assert (y != x).all(), "y equals x: the target of each position is the token after it"
    assert y.tolist() == (x + 1).tolist(), f"y is {y.tolist()}: x shifted left by one (the next token of each position)"
    assert x.dtype == y.dtype == np.int64 and x.flags.c_contiguous and y.flags.c_contiguous, (
        "x and y must be C-contiguous int64 arrays"
    )


@pytest.mark.ex4_5
def test_every_start_is_reachable_including_the_last() -> None:
    n, block_size = 12, 4
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        try:
            x, _ = get_batch(np.arange(n), 8, block_size, rng)
        except IndexError as e:
            raise AssertionError(
                f"get_batch read past the end of the stream ({e}): a start must leave room for block_size + 1 "
                "tokens, so the last start is N - T - 1"
            ) from e
        starts.update(x[:, 0].tolist())
    # 0..7: the window at 7 ends on the last token
    assert starts == set(range(n - block_size)), (
        f"starts drawn: {sorted(starts)}, expected 0..{n - block_size - 1}: a stream of N tokens has N - T windows, "
        f"so draw starts with rng.integers(0, N - T) (the high end is exclusive; the last window ends on the last token)"
    )


@settings(deadline=None)
@given(n=st.integers(2, 300), batch_size=st.integers(1, 16), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_windows_are_contiguous_and_shifted_by_one(n: int, batch_size: int, seed: int, data: st.DataObject) -> None:
    block_size = data.draw(st.integers(1, n - 1))
    stream = (np.arange(n) + 1000).astype(np.uint16)  # token value = position + 1000
    x, y = get_batch(stream, batch_size, block_size, np.random.default_rng(seed))
    assert type(x) is np.ndarray and type(y) is np.ndarray
    assert x.shape == y.shape == (batch_size, block_size) and x.dtype == y.dtype == np.int64
    assert x.flags.c_contiguous and y.flags.c_contiguous
    starts = x[:, 0] - 1000
    assert starts.min() >= 0 and starts.max() <= n - block_size - 1
    window = starts[:, None] + np.arange(block_size)
    np.testing.assert_array_equal(
        x, stream[window], err_msg="x must be block_size consecutive tokens from a random start"
    )
    np.testing.assert_array_equal(
        y, stream[window + 1], err_msg="y must be x shifted left by one: the target of x[b, t] is the token after it"
    )


def test_reproducible_and_consumes_exactly_one_integers_call() -> None:
    data = np.arange(1000, dtype=np.uint16)
    a, b = np.random.default_rng(42), np.random.default_rng(42)
    xa, ya = get_batch(data, 6, 32, a)
    xb, yb = get_batch(data, 6, 32, b)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    # The documented contract: one rng.integers(0, N - T, size=B) call per batch, nothing more.
    ref = np.random.default_rng(42)
    starts = ref.integers(0, 1000 - 32, size=6)
    np.testing.assert_array_equal(xa[:, 0], starts)
    assert a.bit_generator.state == ref.bit_generator.state
    # so restoring a saved state resumes the same batches
    saved = a.bit_generator.state
    nxt = get_batch(data, 6, 32, a)[0]
    c = np.random.default_rng()
    c.bit_generator.state = saved
    np.testing.assert_array_equal(get_batch(data, 6, 32, c)[0], nxt)


def test_reads_a_memmapped_split(tmp_path) -> None:
    ids = np.arange(500, dtype=np.uint16)
    (tmp_path / "train.bin").write_bytes(ids.tobytes())
    data = load_split(tmp_path, "train")
    assert isinstance(data, np.memmap) and data.dtype == np.uint16 and data.shape == (500,)
    x, y = get_batch(data, 4, 16, np.random.default_rng(1))
    assert type(x) is np.ndarray and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)


@pytest.mark.errors
def test_get_batch_errors() -> None:
    rng = np.random.default_rng(0)
    data = np.arange(10)
    with pytest.raises(ValueError, match=r"get_batch: block_size=10 must be smaller than the number of tokens \(10\)"):
        get_batch(data, 2, 10, rng)
    with pytest.raises(ValueError, match=r"get_batch: batch_size must be positive, got 0"):
        get_batch(data, 0, 4, rng)
    with pytest.raises(ValueError, match=r"get_batch: block_size must be positive, got -1"):
        get_batch(data, 2, -1, rng)
    with pytest.raises(ValueError, match=r"get_batch: data is empty"):
        get_batch(np.array([], dtype=np.uint16), 2, 4, rng)
    with pytest.raises(TypeError, match=r"get_batch: data must hold integer token ids, got dtype float64"):
        get_batch(np.ones(10), 2, 4, rng)
    with pytest.raises(TypeError, match=r"get_batch: data must be a 1-D ndarray of token ids, got list"):
        get_batch(list(range(10)), 2, 4, rng)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"get_batch: rng must be a np\.random\.Generator .*got int"):
        get_batch(data, 2, 4, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"get_batch: batch_size must be an int, got 2\.0"):
        get_batch(data, 2.0, 4, rng)  # type: ignore[arg-type]


@pytest.mark.errors
def test_load_split_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"load_split: split must be one of \('train', 'val'\), got 'test'"):
        load_split(tmp_path, "test")
    with pytest.raises(
        FileNotFoundError,
        match=r"load_split: .*val\.bin \(in dataset_dir\) does not exist; run `python -m numpygpt\.utils\.data\.prepare",
    ):
        load_split(tmp_path, "val")
    (tmp_path / "val.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"load_split: .*val\.bin has 0 bytes"):
        load_split(tmp_path, "val")

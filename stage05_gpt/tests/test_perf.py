"""The process-level speed settings: they do what they say and undo it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from numpygpt.perf import _openblas, blas_threads, tune_malloc


@pytest.mark.training
@pytest.mark.skipif(_openblas() is None, reason="NumPy's BLAS here is not OpenBLAS: blas_threads is a documented no-op")
def test_blas_threads_limits_and_restores_openblas() -> None:
    setter, getter = _openblas()
    before = getter()
    with blas_threads(1):
        assert getter() == 1
        a = np.ones((64, 64), dtype=np.float32)
        np.testing.assert_array_equal(a @ a, np.full((64, 64), 64, dtype=np.float32))
    assert getter() == before


@pytest.mark.training
def test_tune_malloc_applies_on_glibc_linux() -> None:
    applied = tune_malloc()
    assert applied == (sys.platform.startswith("linux") and _glibc())


def _glibc() -> bool:
    import platform

    return platform.libc_ver()[0] == "glibc"

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


@pytest.mark.generate
@pytest.mark.skipif(_openblas() is None, reason="NumPy's BLAS here is not OpenBLAS: blas_threads is a documented no-op")
def test_generation_runs_its_products_on_one_blas_thread_and_gives_the_threads_back() -> None:
    import numpygpt.nn as nn
    from numpygpt.models import GPT, GPTConfig

    setter, getter = _openblas()
    nn.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)).eval()
    seen: list[int] = []
    model.lm_head.register_forward_hook(lambda module, args, out: seen.append(getter()))
    before = getter()
    setter(2)
    try:
        model.generate(np.zeros((1, 1), dtype=np.int64), 12, seed=0)  # past block_size: cached, then recomputed
        assert seen and set(seen) == {1}, f"BLAS threads during generation: {sorted(set(seen))}"
        assert getter() == 2, "generation must give the caller's BLAS thread count back"
    finally:
        setter(before)

"""Process-level settings that make a NumPy training loop faster, each explained.

The training script and the benchmark call these, and generation (GPT.next_token_logits) runs
its small products on one BLAS thread; importing numpygpt changes nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Iterator
from typing import Any

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4


def tune_malloc(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 512 * 2**20) -> bool:
    """Keep freed arrays in the process instead of returning them to the OS (glibc only).

    A training step allocates and frees the same few hundred arrays of up to a few MB every
    iteration. By default glibc serves big allocations with fresh mmap'd pages and gives
    freed memory back to the OS, so every step page-faults its working set in again (about
    13,000 faults per step at the default config). Raising the mmap threshold puts these
    arrays on the heap, and raising the trim threshold keeps the heap's free space for the
    next step: about 30% off a step, at no cost in peak memory, since the same sizes are
    reused.

    NOTE: glibc caps the mmap threshold at 32 MB, so arrays above it were still mapped fresh
    and faulted in on every use: at the GPT-2 124M shape, the (B*T, 50257) logits and the
    (50257, 768) embedding gradient. Allowing no mmap'd chunks at all (M_MMAP_MAX = 0) serves
    them from the heap as well: about 15% less CPU time per fine-tuning step there (2.7 s ->
    2.3 s on one thread), no change at the default config, peak memory within 1%.
    The same effect from outside: the MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ and
    MALLOC_MMAP_MAX_ environment variables. Returns True when the settings were applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(
        mallopt(param, value)
        for param, value in ((_M_MMAP_THRESHOLD, mmap_threshold), (_M_TRIM_THRESHOLD, trim_threshold), (_M_MMAP_MAX, 0))
    )


@functools.cache  # the libraries loaded with NumPy do not change: look them up once
def _openblas() -> tuple[Any, Any] | None:
    """(set_num_threads, get_num_threads) of the OpenBLAS that NumPy loaded, or None.

    NumPy's wheels bundle OpenBLAS under a prefixed name (scipy_openblas); other builds
    export plain openblas_* names. Anything else (MKL, Accelerate) is left alone.
    """
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64_", ""):
                try:
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                except AttributeError:
                    continue
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                return setter, getter
    return None


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with OpenBLAS limited to n threads (no-op if NumPy's BLAS is not OpenBLAS).

    Sampling multiplies tiny matrices (one sequence of at most block_size tokens): waking
    and synchronising a second BLAS thread for each of them costs more than it saves.
    Measured with the default GPT on the project's 2-core build machine, 500 tokens: 1.3 s on
    one thread against 14 s on two (the idle BLAS thread spins and is woken for every small
    product; with other jobs on the machine, worse still). Training's (768, 128) products
    want both threads.
    """
    import numpy  # noqa: F401  (OpenBLAS is loaded with NumPy)

    blas = _openblas()
    if blas is None:
        yield
        return
    setter, getter = blas
    before = getter()
    setter(n)
    try:
        yield
    finally:
        setter(before)

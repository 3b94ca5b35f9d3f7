"""What one step allocates, measured with tracemalloc (NumPy reports its buffers to it).

A float32 parameter of n elements is 4n bytes. SGD needs a single scratch array of that size
per parameter per step; Adam and AdamW update a large parameter one cache-sized chunk of
CHUNK numbers at a time, so their scratch arrays are a chunk's size. A float64 temporary anywhere would
take twice the bytes of the array it stands for.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.nn.functional._chunks import CHUNK
from numpygpt.optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm_

pytestmark = pytest.mark.memory

N = 1 << 18  # 1 MB of float32
PARAM_BYTES = 4 * N
CHUNK_BYTES = 4 * CHUNK
assert N >= 4 * CHUNK, "the parameter must span several of Adam's chunks"


def peak_bytes(action: Callable[[], object]) -> int:
    """The peak of memory allocated (and not yet freed) while `action` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def big_param() -> Tensor:
    p = Tensor(np.ones(N, np.float32), requires_grad=True)
    p.grad = Tensor(np.full(N, 0.5, np.float32))
    return p


@pytest.mark.parametrize(
    "make, scratch_arrays, scratch_bytes",
    [
        # A chunk's scratch is made while the previous chunk's is still named `tmp`: two at a time.
        (lambda ps: AdamW(ps, lr=1e-3), 2, CHUNK_BYTES),
        (lambda ps: Adam(ps, lr=1e-3, amsgrad=True), 2, CHUNK_BYTES),
        (lambda ps: Adam(ps, lr=1e-3, weight_decay=0.1), 3, CHUNK_BYTES),  # and g + λθ, a new chunk
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9), 1, PARAM_BYTES),  # lr · b
        (lambda ps: SGD(ps, lr=0.1), 1, PARAM_BYTES),  # lr · g
    ],
    ids=["adamw", "adam_amsgrad", "adam_l2", "sgd_momentum", "sgd"],
)
def test_a_step_allocates_only_float32_scratch(
    make: Callable[[list[Tensor]], Optimizer], scratch_arrays: int, scratch_bytes: int
) -> None:
    p = big_param()
    opt = make([p])
    opt.step()  # the first step creates the state buffers; measure a later one
    peak = peak_bytes(opt.step)
    assert peak < (scratch_arrays + 0.05) * scratch_bytes, (
        f"one step allocated {peak / scratch_bytes:.2f}× the bytes of one float32 scratch array; expected at most "
        f"{scratch_arrays}: is there a float64 temporary, or an extra copy?"
    )


def test_clipping_scales_in_place() -> None:
    params = [big_param(), big_param()]
    peak = peak_bytes(lambda: clip_grad_norm_(params, 0.1))
    assert peak < 0.01 * PARAM_BYTES, f"clip_grad_norm_ allocated {peak} bytes"
    assert params[0].grad.data[0] < 0.5

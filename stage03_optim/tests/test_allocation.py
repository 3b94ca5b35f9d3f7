"""What one step allocates, measured with tracemalloc (NumPy reports its buffers to it).

A float32 parameter of n elements is 4n bytes. AdamW needs a single scratch array of that size
per parameter per step; a float64 temporary anywhere would take 8n bytes at once.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm_

pytestmark = pytest.mark.memory

N = 1 << 18  # 1 MB of float32
PARAM_BYTES = 4 * N


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
    "make, scratch_arrays",
    [
        (lambda ps: AdamW(ps, lr=1e-3), 1),
        (lambda ps: Adam(ps, lr=1e-3, amsgrad=True), 1),
        (lambda ps: Adam(ps, lr=1e-3, weight_decay=0.1), 2),  # g + λθ is a new array, then the scratch
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9), 1),  # lr · b
        (lambda ps: SGD(ps, lr=0.1), 1),  # lr · g
    ],
    ids=["adamw", "adam_amsgrad", "adam_l2", "sgd_momentum", "sgd"],
)
def test_a_step_allocates_only_float32_scratch(make: Callable[[list[Tensor]], Optimizer], scratch_arrays: int) -> None:
    p = big_param()
    opt = make([p])
    opt.step()  # the first step creates the state buffers; measure a later one
    peak = peak_bytes(opt.step)
    assert peak < (scratch_arrays + 0.05) * PARAM_BYTES, (
        f"one step allocated {peak / PARAM_BYTES:.2f}× the parameter's bytes; expected at most "
        f"{scratch_arrays} float32 scratch array(s): is there a float64 temporary, or an extra copy?"
    )


def test_clipping_scales_in_place() -> None:
    params = [big_param(), big_param()]
    peak = peak_bytes(lambda: clip_grad_norm_(params, 0.1))
    assert peak < 0.01 * PARAM_BYTES, f"clip_grad_norm_ allocated {peak} bytes"
    assert params[0].grad.data[0] < 0.5

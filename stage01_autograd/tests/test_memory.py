"""The graph is freed by reference counting: outputs are weak references (function.py), so no
cycle output <-> creator is left for the garbage collector. These tests run with the cycle
collector switched off: whatever they see freed was freed by reference counting alone.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

from numpygpt.autograd import Tensor

pytestmark = pytest.mark.memory


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_outputs_are_weak_references() -> None:
    x = Tensor(np.ones(3), requires_grad=True)
    y = x.exp()
    assert all(isinstance(ref, weakref.ref) for ref in y.creator.outputs)
    assert y.creator.outputs[0]() is y
    assert y.creator.inputs == (x,)  # inputs are strong: backward needs them


def test_del_frees_function_and_intermediates(no_cycle_collector: None) -> None:
    x = Tensor(np.ones(1000), requires_grad=True)
    h = x.tanh()
    y = (h * 2).sum()
    refs = [weakref.ref(o) for o in (h, h.data, h.creator, y, y.creator)]
    del h
    assert all(r() is not None for r in refs)  # y's graph holds h: y -> Sum -> Mul -> h
    y.backward()
    assert all(r() is not None for r in refs)  # backward keeps the graph (it may run again)
    del y
    assert all(r() is None for r in refs)
    np.testing.assert_allclose(x.grad.data, 2 * (1 - np.tanh(1.0) ** 2))  # leaf grads stay


def test_del_frees_a_graph_never_differentiated(no_cycle_collector: None) -> None:
    x = Tensor(np.ones((3, 3)), requires_grad=True)
    y = ((x @ x).relu() + 1).mean()
    f = weakref.ref(y.creator)
    del y
    assert f() is None


def test_a_strong_output_reference_would_leak(no_cycle_collector: None) -> None:
    # What weakref avoids: if the Function held its output strongly, output -> creator ->
    # output would be a cycle, and reference counting alone could never free it.
    x = Tensor(np.ones(3), requires_grad=True)
    y = x.exp()
    y.creator.strong_output = y
    f = weakref.ref(y.creator)
    del y
    assert f() is not None  # leaked until the cycle collector runs
    gc.collect()
    assert f() is None


def test_memory_stays_flat_over_10000_steps(no_cycle_collector: None) -> None:
    # A tiny graph, because tracemalloc slows every allocation down: it has a broadcast (sum_to
    # in backward), an op whose backward reads its weakly held output (tanh) and a reduction.
    x = Tensor(np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32))
    b = Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)

    def step() -> None:
        loss = (x * b).tanh().sum()
        loss.backward()
        b.grad = None

    tracemalloc.start()
    try:
        for _ in range(500):  # warm-up: let every lazily allocated cache settle
            step()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(9500):
            step()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # One leaked Tensor per step would add about 9500 * 300 bytes = 2.8 MB.
    assert end - start < 64 * 1024, f"memory grew by {end - start} bytes over 9500 steps"

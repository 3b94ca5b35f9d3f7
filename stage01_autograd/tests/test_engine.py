"""The engine: creator and generation, the diamond graph, accumulation, grad mode, retain_grad.

engine.py pops Functions newest generation first, so a tensor used by several Functions has
received every contribution before its own creator runs, and each Function runs once.
"""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import (
    Function,
    Tensor,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

pytestmark = pytest.mark.engine


class CountingSquare(Function):
    """y = x**2 that counts how many times its backward runs."""

    def __init__(self) -> None:
        self.backward_calls = 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x

    def backward(self, gy: Tensor) -> Tensor:
        self.backward_calls += 1
        return gy * 2 * self.inputs[0]


class Split(Function):
    """Two outputs: the first two elements and the rest. Backward joins their gradients."""

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[:2].copy(), x[2:].copy()

    def backward(self, g1: Tensor, g2: Tensor) -> Tensor:
        return Tensor(np.concatenate([g1.data, g2.data]))


@pytest.mark.ex1_4
def test_a_shared_tensor_gets_the_sum_of_its_gradients_once() -> None:
    # x -> a = x**2 -> exp(a) and exp(tanh(a)) -> d: only Exp, Tanh and Add (no Mul, no broadcasting).
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    d = a.exp() + a.tanh().exp()
    d.backward(np.ones(2))
    # Each branch alone, with nothing shared: whatever Exp's and Tanh's backward do, the diamond
    # must give exactly the sum of the two.
    branches = []
    for branch in (lambda a: a.exp(), lambda a: a.tanh().exp()):
        xb = Tensor(x.data.copy(), requires_grad=True)
        branch(CountingSquare()(xb)).backward(np.ones(2))
        branches.append(xb.grad.data)
    np.testing.assert_allclose(
        x.grad.data,
        branches[0] + branches[1],
        err_msg="a = x**2 feeds two branches, so x must get the sum of both branches' gradients: does the loop "
        "add (+) the gradients arriving at a tensor, and run a Function (newest generation first) only once all are in?",
    )
    assert square.backward_calls == 1, f"a's creator ran backward {square.backward_calls} times, not once"
    av = x.data**2
    dd_da = np.exp(av) + np.exp(np.tanh(av)) * (1 - np.tanh(av) ** 2)
    np.testing.assert_allclose(
        x.grad.data,
        dd_da * 2 * x.data,
        err_msg="the gradients were summed in the right order but their value is wrong: check Exp's and Tanh's backward",
    )


@pytest.mark.ex1_5
def test_diamond_product_counts_every_path_once() -> None:
    # x -> a = x**2 -> b = exp(a), c = 3a -> d = b * c
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    b, c = a.exp(), a * 3
    d = b * c
    d.backward(np.ones(2))
    av = x.data**2
    # dd/da = c * db/da + b * dc/da = 3a e^a + 3 e^a;  dd/dx = dd/da * 2x
    np.testing.assert_allclose(
        x.grad.data,
        (3 * av * np.exp(av) + 3 * np.exp(av)) * 2 * x.data,
        err_msg="a = x**2 feeds two Functions (exp and *3): its gradient must be the sum of both paths' "
        "gradients; did backward overwrite a gradient instead of adding (+) to it?",
    )
    assert square.backward_calls == 1, f"a's creator ran backward {square.backward_calls} times, not once"


@pytest.mark.ex1_5
def test_diamond_sum_counts_every_path_once() -> None:
    x = Tensor(np.array(0.5), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    d = a.exp() + a * 3
    d.backward()
    np.testing.assert_allclose(x.grad.data, (np.exp(0.25) + 3) * 2 * 0.5)
    assert square.backward_calls == 1


@pytest.mark.ex1_5
def test_generation_order_waits_for_the_long_branch() -> None:
    # One branch of the diamond is 4 ops long, the other 1. A backward that followed the graph
    # depth-first would reach a's creator from the short branch before the long one is done.
    x = Tensor(np.array(0.4), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    long = (((a * 2).tanh() + 1) * 0.5).exp()
    d = long + a
    d.backward()
    # The same long branch alone, with no diamond: whatever the ops' own backward passes do, the
    # diamond must give exactly its gradient plus the short branch's 1 (times d a/d x = 2x).
    x1 = Tensor(np.array(0.4), requires_grad=True)
    a1 = x1 * x1
    (((a1 * 2).tanh() + 1) * 0.5).exp().backward()
    np.testing.assert_allclose(
        x.grad.data,
        x1.grad.data + 2 * 0.4,
        err_msg="the long branch's gradient did not all reach x: backward must visit Functions newest "
        "generation first, so a Function runs only after every gradient for its output has arrived",
    )
    assert square.backward_calls == 1, (
        f"a's creator ran backward {square.backward_calls} times: visit each Function once, by generation"
    )
    av = 0.16
    t = np.tanh(2 * av)
    dlong_da = np.exp((t + 1) * 0.5) * 0.5 * (1 - t * t) * 2
    np.testing.assert_allclose(
        x.grad.data,
        (dlong_da + 1) * 2 * 0.4,
        err_msg="the order was right but the value is not: check the backward of mul, tanh, add and exp",
    )


@pytest.mark.ex1_4
def test_generations_and_creators() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    b, c = a.exp(), a * 3
    d = b * c
    assert (x.generation, a.generation, b.generation, c.generation, d.generation) == (0, 1, 2, 2, 3)
    assert x.creator is None and x.is_leaf
    assert a.creator is square and square.generation == 0
    assert b.creator.name == "Exp" and b.creator.generation == 1
    assert c.creator.name == "Mul" and c.creator.generation == 1
    assert d.creator.name == "Mul" and d.creator.generation == 2
    assert d.creator.inputs == (b, c)
    assert d.creator.outputs[0]() is d
    assert not d.is_leaf and d.requires_grad


@pytest.mark.ex1_4
def test_no_graph_without_requires_grad() -> None:
    x = Tensor([1.0, 2.0])
    y = (x * 2).exp()
    assert y.creator is None and not y.requires_grad and y.generation == 0


@pytest.mark.ex1_5
def test_gradients_accumulate_across_backward_calls() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)
    y.backward()  # the graph is kept: backward can run again, and adds
    np.testing.assert_array_equal(x.grad.data, 4 * x.data)
    x.grad = None  # zeroing, as an optimizer's zero_grad does
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0, 5.0])


@pytest.mark.ex1_4
def test_leaf_grads_never_share_memory() -> None:
    # Add passes its upstream gradient straight through and Reshape returns a view of it:
    # stored as .grad without a copy, two .grads (or a .grad and the caller's array) would be
    # one array, and updating one in place would change the other.
    a = Tensor(np.zeros((2, 3)), requires_grad=True)
    b = Tensor(np.zeros((2, 3)), requires_grad=True)
    g = Tensor(np.ones((2, 3)))
    (a + b).backward(g)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, g.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, np.ones((2, 3)))
    x = Tensor(np.zeros(6), requires_grad=True)
    x.reshape(2, 3).backward(g)
    assert not np.shares_memory(x.grad.data, g.data)


@pytest.mark.ex1_4
def test_backward_on_a_leaf() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


@pytest.mark.ex1_5
def test_multi_output_function_with_an_unused_output() -> None:
    x = Tensor(np.arange(5.0), requires_grad=True)
    first, rest = Split()(x)
    assert first.generation == rest.generation == 1
    (first * 2).sum().backward()  # rest got no gradient: it counts as zeros
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 0.0, 0.0, 0.0])
    x.grad = None
    first, rest = Split()(x)
    y = rest.sum()
    del first  # a freed output contributes nothing either
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0, 1.0, 1.0])


@pytest.mark.ex1_4
def test_no_grad_context_records_nothing() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp()
    assert is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    z = x * 2
    assert z.creator is not None and z.requires_grad


@pytest.mark.ex1_4
def test_no_grad_decorator_records_nothing() -> None:
    @no_grad()
    def evaluate(x: Tensor) -> Tensor:
        assert not is_grad_enabled()
        return x.tanh() * 3

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = evaluate(x)
    assert y.creator is None and not y.requires_grad
    assert is_grad_enabled()


@pytest.mark.engine
def test_no_grad_decorator_on_a_generator_covers_its_body_and_only_its_body() -> None:
    # Sampling loops are generators: the body runs at each next(), after the call returned.
    modes_inside: list[bool] = []

    @no_grad()
    def steps(x: Tensor, n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            modes_inside.append(is_grad_enabled())
            x = x.tanh()
            yield x
        return "done"

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    gen = steps(x, 3)
    first = next(gen)
    assert is_grad_enabled(), "between steps the caller's own grad mode must be back in force"
    rest = list(gen)
    assert modes_inside == [False, False, False], f"each step of the body must run in no_grad, saw {modes_inside}"
    assert all(y.creator is None and not y.requires_grad for y in [first, *rest]), (
        "a no_grad generator recorded a graph"
    )
    assert is_grad_enabled()

    with pytest.raises(StopIteration) as stop:
        next(steps(x, 0))
    assert stop.value.value == "done", "the generator's return value must come through the wrapper"

    closed: list[bool] = []

    @enable_grad()
    def watched():  # type: ignore[no-untyped-def]
        try:
            yield 1
            yield 2
        finally:
            closed.append(is_grad_enabled())

    with no_grad():
        g = watched()
        assert next(g) == 1
        assert not is_grad_enabled()
        g.close()
    assert closed == [True], "closing the wrapper must close the generator, in the decorator's mode"


@pytest.mark.ex1_4
def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(KeyError), no_grad():
        raise KeyError("inside")
    assert is_grad_enabled()


@pytest.mark.ex1_4
def test_enable_grad_inside_no_grad() -> None:
    x = Tensor(np.array([1.0]), requires_grad=True)
    with no_grad():
        with enable_grad():
            y = x * 2
        z = x * 2
    assert y.creator is not None and z.creator is None

    @enable_grad()
    def record(t: Tensor) -> Tensor:
        return t * 3

    with no_grad():
        w = record(x)
    assert w.creator is not None


@pytest.mark.ex1_4
def test_set_grad_enabled_forms() -> None:
    x = Tensor(np.array([1.0]), requires_grad=True)
    with set_grad_enabled(False):
        assert (x * 2).creator is None
    assert is_grad_enabled()
    with no_grad():
        with set_grad_enabled(True):
            assert (x * 2).creator is not None
        assert not is_grad_enabled()

    @set_grad_enabled(False)
    def evaluate(t: Tensor) -> Tensor:
        return t * 2

    assert is_grad_enabled()  # decorating does not switch the mode
    assert evaluate(x).creator is None
    assert is_grad_enabled()

    try:
        set_grad_enabled(False)  # called on its own it switches at once, and stays switched
        assert not is_grad_enabled()
        assert (x * 2).creator is None
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled()


@pytest.mark.ex1_5
def test_detach_cuts_the_graph_and_shares_data() -> None:
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 2
    d = h.detach()
    assert d.creator is None and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, h.data)
    (d * x).sum().backward()  # only the x factor is differentiated: d is a constant
    np.testing.assert_array_equal(x.grad.data, d.data)


@pytest.mark.ex1_5
def test_intermediate_grads_are_dropped_by_default() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    y.backward()
    assert h.grad is None and y.grad is None
    np.testing.assert_array_equal(x.grad.data, 18 * x.data)


@pytest.mark.ex1_5
def test_retain_grad_keeps_intermediate_grads() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = (h * h).sum()
    y.retain_grad()
    y.backward()
    np.testing.assert_array_equal(h.grad.data, 2 * h.data)
    np.testing.assert_array_equal(y.grad.data, 1.0)
    np.testing.assert_array_equal(x.grad.data, 18 * x.data)
    y.backward()  # retained grads accumulate like leaf grads
    np.testing.assert_array_equal(h.grad.data, 4 * h.data)

"""The engine: creator and generation, the diamond graph, accumulation, grad mode, retain_grad.

engine.py pops Functions newest generation first, so a tensor used by several Functions has
received every contribution before its own creator runs, and each Function runs once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
from numpygpt.autograd.exercises import check_value

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


class Scale(Function):
    """y = k * x for a constant k, whose backward writes its name in a shared log when it runs.

    Built from NumPy only (no Mul, no broadcasting): a graph of Scales tests the backward loop and
    nothing else.
    """

    def __init__(self, k: float, name: str, log: list[str]) -> None:
        self.k, self.label, self.log = k, name, log

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * self.k

    def backward(self, gy: Tensor) -> Tensor:
        self.log.append(self.label)
        return Tensor(gy.data * self.k)


class Join(Function):
    """y = a + b (same shapes), NumPy only, logging its backward like Scale."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        self.log.append("join")
        return Tensor(gy.data.copy()), Tensor(gy.data.copy())


def call_backward(y: Tensor, gradient: object = None) -> None:
    """y.backward(gradient), failing with a hint when the loop itself crashes."""
    lone = (
        "a Function with one input returns its one gradient as a Tensor, not a tuple of one: the loop must "
        "take a lone Tensor as a tuple of one"
    )
    try:
        y.backward(gradient)
    except TypeError as e:
        if "not iterable" in str(e) or "zip" in str(e):
            raise AssertionError(f"backward() crashed ({e}): {lone}") from e
        raise
    except RuntimeError as e:
        if re.search(r"returned \d+ gradients for 1 inputs", str(e)):
            raise AssertionError(f"backward() stopped with {e}, but these Functions return one Tensor: {lone}") from e
        raise


@pytest.mark.ex1_4
def test_the_loop_hands_each_gradient_down_a_chain() -> None:
    log: list[str] = []
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = Scale(5.0, "outer", log)(Scale(3.0, "inner", log)(x))
    call_backward(y, np.array([1.0, 10.0]))
    assert x.grad is not None, (
        "x.grad is still None after backward: the loop must give each leaf its gradient (_accumulate)"
    )
    assert log == ["outer", "inner"], (
        f"the Functions' backward ran in the order {log}: run them from the output down, each once"
    )
    check_value(
        x.grad.data,
        [15.0, 150.0],
        "x.grad after y = 5 * (3 * x) and y.backward([1, 10])",
        {
            "it is the gradient given to backward, unchanged: pass each Function the gradient of its output "
            "(_output_grads) and each gradient it returns on to its input": [1.0, 10.0],
            "only the outer Function's factor was applied: hand the gradient that the outer backward returns to "
            "the inner Function": [5.0, 50.0],
        },
    )


@pytest.mark.ex1_4
def test_a_shared_tensor_gets_the_sum_of_its_gradients_once() -> None:
    # x -> a = 2x -> two branches of different lengths -> d = left + right:
    #   left = 3a,  right = 5 * (7a);  dd/da = 3 + 35 = 38, dd/dx = 76
    log: list[str] = []
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    a = Scale(2.0, "a's creator", log)(x)
    left = Scale(3.0, "left", log)(a)
    right = Scale(5.0, "right outer", log)(Scale(7.0, "right inner", log)(a))
    call_backward(Join(log)(left, right), np.ones(2))
    runs = log.count("a's creator")
    assert runs == 1, (
        f"a's creator ran backward {runs} times: schedule each Function once, however many of its outputs' "
        "users send it gradients (a seen set)"
    )
    assert log.index("a's creator") > max(log.index("left"), log.index("right inner")), (
        f"a's creator ran before both Functions that use a had sent their gradients (backward order: {log}): "
        "pop Functions newest generation first, so every user of a tensor runs before its creator"
    )
    assert x.grad is not None, "x.grad is still None after backward: give each leaf its gradient (_accumulate)"
    check_value(
        x.grad.data,
        [76.0, 76.0],
        "x.grad when a = 2x feeds two branches (3a and 35a)",
        {
            "x got only one branch's gradient: add (+) a gradient that arrives for a tensor with one already "
            "pending, never overwrite it": [6.0, 6.0],
            "x got only one branch's gradient (the other's): add (+) a gradient that arrives for a tensor with "
            "one already pending, never overwrite it": [70.0, 70.0],
        },
    )


@pytest.mark.ex1_4
def test_leaf_gradients_accumulate_and_are_never_shared() -> None:
    log: list[str] = []
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = Scale(2.0, "y", log)(x)
    call_backward(y, np.ones(3))
    call_backward(y, np.ones(3))  # the graph is kept: a second backward adds to x.grad
    assert x.grad is not None, "x.grad is still None after backward: give each leaf its gradient (_accumulate)"
    check_value(
        x.grad.data,
        [4.0, 4.0, 4.0],
        "x.grad after two backward() calls",
        {
            "it holds the second gradient only: a leaf's gradient is added to what it already holds "
            "(_accumulate(x, gx, gys, create_graph) does it), never assigned": [2.0, 2.0, 2.0],
        },
    )
    # A Join passes copies; an identity that passes its incoming gradient straight through does not.
    a = Tensor(np.zeros(3), requires_grad=True)
    g = Tensor(np.ones(3))
    Passthrough()(a).backward(g)
    assert a.grad is not None and not np.shares_memory(a.grad.data, g.data), (
        "a leaf's .grad is the very array another gradient lives in: store a leaf's gradient with _accumulate, "
        "which copies a gradient it does not own (an in-place update of one would change the other)"
    )


class Passthrough(Function):
    """y = x, whose backward returns the incoming gradient object itself (as Add does)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy


class GradForBoth(Function):
    """y = a + b, whose backward returns a gradient for both inputs, needed or not."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor | None]:
        return Tensor(gy.data.copy()), Tensor(gy.data.copy())


class NoGradForSecond(GradForBoth):
    """y = a + b, whose backward returns None for the second input (it may)."""

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor | None]:
        return Tensor(gy.data.copy()), None


@pytest.mark.ex1_4
def test_the_loop_gives_no_gradient_where_none_is_needed() -> None:
    a = Tensor(np.ones(2), requires_grad=True)
    c = Tensor(np.ones(2))  # a constant: requires_grad=False
    call_backward(GradForBoth()(a, c), np.ones(2))
    assert c.grad is None, (
        "a constant (requires_grad=False) input received a .grad: skip the inputs whose needs_input_grad is False"
    )
    b = Tensor(np.ones(2), requires_grad=True)
    try:
        NoGradForSecond()(a, b).backward(np.ones(2))
    except AttributeError as e:
        raise AssertionError(
            f"backward() crashed ({e}) when a Function returned None for an input: None means 'no gradient', skip it"
        ) from e
    assert b.grad is None, "an input whose gradient came back as None received a .grad"


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


def test_diamond_sum_counts_every_path_once() -> None:
    x = Tensor(np.array(0.5), requires_grad=True)
    square = CountingSquare()
    a = square(x)
    d = a.exp() + a * 3
    d.backward()
    np.testing.assert_allclose(x.grad.data, (np.exp(0.25) + 3) * 2 * 0.5)
    assert square.backward_calls == 1


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


def test_no_graph_without_requires_grad() -> None:
    x = Tensor([1.0, 2.0])
    y = (x * 2).exp()
    assert y.creator is None and not y.requires_grad and y.generation == 0


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


def test_backward_on_a_leaf() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


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


def test_no_grad_context_records_nothing() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp()
    assert is_grad_enabled()
    assert y.creator is None and not y.requires_grad
    z = x * 2
    assert z.creator is not None and z.requires_grad


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


def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(KeyError), no_grad():
        raise KeyError("inside")
    assert is_grad_enabled()


@pytest.mark.parametrize(
    "switch",
    [no_grad, enable_grad, lambda: set_grad_enabled(False)],
    ids=["no_grad", "enable_grad", "set_grad_enabled"],
)
@pytest.mark.parametrize("start", [True, False], ids=["from_enabled", "from_disabled"])
def test_a_decorated_function_that_raises_restores_grad_mode(switch: Callable[[], Any], start: bool) -> None:
    @switch()
    def fails() -> None:
        raise KeyError("inside")

    with set_grad_enabled(start):
        with pytest.raises(KeyError):
            fails()
        assert is_grad_enabled() is start, (
            f"a function decorated with a grad-mode switch raised, and grad mode stayed {not start} afterwards "
            f"(it was {start} before the call): the decorator must restore the mode even when the function raises"
        )


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


def test_detach_cuts_the_graph_and_shares_data() -> None:
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 2
    d = h.detach()
    assert d.creator is None and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.data, h.data)
    (d * x).sum().backward()  # only the x factor is differentiated: d is a constant
    np.testing.assert_array_equal(x.grad.data, d.data)


def test_intermediate_grads_are_dropped_by_default() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    y.backward()
    assert h.grad is None and y.grad is None
    np.testing.assert_array_equal(x.grad.data, 18 * x.data)


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

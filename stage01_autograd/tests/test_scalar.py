"""Scalar (scalar.py): the micrograd-sized engine. Each op against central differences, Python
numbers on either side, and Scalar and Tensor agreeing on the same expressions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from numpygpt.autograd import Scalar, Tensor

pytestmark = pytest.mark.scalar

EPS = 1e-6


@pytest.mark.ex1_1
def test_scalar_backward_fills_every_grad_once_from_the_output_down() -> None:
    # x -> a = x**2 -> b = exp(a), c = tanh(a) -> d = b + c: a diamond without any product
    x = Scalar(0.5)
    a = x**2
    b, c = a.exp(), a.tanh()
    d = b + c
    ran: list[str] = []  # the order in which the nodes' _backward closures run
    for name, node in {"x": x, "a": a, "b": b, "c": c, "d": d}.items():
        node._backward = lambda inner=node._backward, name=name: (ran.append(name), inner())[1]
    d.backward()
    assert d.grad == 1.0, (
        f"d.grad is {d.grad} after d.backward(): the output's own gradient, d(d)/d(d), is 1: set it before "
        "running the _backward closures"
    )
    twice = sorted({n for n in ran if ran.count(n) > 1})
    assert not twice, (
        f"{', '.join(twice)} ran its _backward twice (order: {ran}): a node used by several others (a feeds "
        "b and c) must be listed once in the topological order; visit each node once"
    )
    assert set(ran) == {"x", "a", "b", "c", "d"}, f"only {ran} ran their _backward: every node must run once"
    assert ran.index("a") > max(ran.index("b"), ran.index("c")) and ran[0] == "d", (
        f"the _backward closures ran in the order {ran}: a node can pass on only a gradient it has received, "
        "so run them from the output towards the leaves (reverse topological order)"
    )
    av = 0.25
    da = math.exp(av) + 1 - math.tanh(av) ** 2
    assert (b.grad, c.grad) == (1.0, 1.0), f"b.grad, c.grad = {b.grad}, {c.grad}: both are 1 (d = b + c)"
    assert a.grad == pytest.approx(da), f"a.grad = {a.grad:.6g}, expected {da:.6g} (the sum over both paths)"
    assert x.grad == pytest.approx(da * 2 * 0.5), f"x.grad = {x.grad:.6g}, expected {da * 2 * 0.5:.6g}"


@pytest.mark.ex1_2
def test_scalar_mul_passes_out_grad_to_both_factors() -> None:
    a, b = Scalar(2.0), Scalar(-3.0)
    ((a * b) ** 2).backward()  # out.grad of the product is 2ab = -12: not 1
    got = (a.grad, b.grad)
    assert got != pytest.approx((-24.0, 36.0)), (
        "the gradients of a and b are swapped: d(a*b)/da is b, and d(a*b)/db is a"
    )
    assert got != pytest.approx((-3.0, 2.0)), (
        "a*b's _backward ignores out.grad: by the chain rule each factor gets its local derivative times out.grad"
    )
    assert got == pytest.approx((36.0, -24.0)), f"(a.grad, b.grad) = {got}, expected (36, -24) for (a*b)**2"
    x, y, z = Scalar(3.0), Scalar(5.0), Scalar(7.0)
    (x * y + x * z + x * x).backward()  # x in two products, and twice in a third
    kept = {x.data, y.data, z.data, 2 * x.data, y.data + x.data, z.data + x.data, y.data + 2 * x.data}
    assert x.grad not in kept, (
        f"x.grad = {x.grad} for x*y + x*z + x*x, one product's share (or a few): a Scalar used in several "
        "products must add (+=) every share to .grad, never assign (=) one of them"
    )
    assert x.grad == pytest.approx(18.0), f"x.grad = {x.grad} for x*y + x*z + x*x at (3, 5, 7), expected 18"


def numeric_grads(f: Callable[..., Scalar], *xs: float) -> list[float]:
    """d f / d x_i by central differences, evaluating f on plain Scalars."""
    grads = []
    for i in range(len(xs)):
        up = [Scalar(x + EPS * (j == i)) for j, x in enumerate(xs)]
        down = [Scalar(x - EPS * (j == i)) for j, x in enumerate(xs)]
        grads.append((f(*up).data - f(*down).data) / (2 * EPS))
    return grads


UNARY_AND_BINARY: dict[str, tuple[Callable[..., Scalar], tuple[float, ...]]] = {
    "add": (lambda a, b: a + b, (1.5, -0.7)),
    "sub": (lambda a, b: a - b, (1.5, -0.7)),
    "mul": (lambda a, b: a * b, (1.5, -0.7)),
    "div": (lambda a, b: a / b, (1.5, -0.7)),
    "neg": (lambda a: -a, (1.5,)),
    "pow": (lambda a: a**3, (-1.2,)),
    "pow_fraction": (lambda a: a**-0.5, (1.7,)),
    "rpow": (lambda a: 2.0**a, (0.8,)),
    "exp": (lambda a: a.exp(), (0.8,)),
    "log": (lambda a: a.log(), (0.8,)),
    "tanh": (lambda a: a.tanh(), (0.8,)),
    "relu_positive": (lambda a: a.relu(), (0.8,)),
    "relu_negative": (lambda a: a.relu(), (-0.8,)),
    "sigmoid": (lambda a: a.sigmoid(), (-0.8,)),
    "same_scalar_twice": (lambda a: a * a + a, (0.8,)),
    "add_to_itself": (lambda a: a + a, (0.8,)),
    "number_on_the_left": (lambda a: 2 + 3 * a - 4 / a, (0.8,)),
    "number_on_the_right": (lambda a: (a + 2) * 3 - a / 4, (0.8,)),
    "number_minus_and_over": (lambda a: 1 - a + 2.5 / (a * a), (0.8,)),
}


@pytest.mark.parametrize("name", list(UNARY_AND_BINARY))
def test_scalar_gradient_matches_central_differences(name: str) -> None:
    f, xs = UNARY_AND_BINARY[name]
    inputs = [Scalar(x) for x in xs]
    f(*inputs).backward()
    for i, (inp, expected) in enumerate(zip(inputs, numeric_grads(f, *xs), strict=True)):
        assert inp.grad == pytest.approx(expected, rel=1e-6, abs=1e-8), (
            f"Scalar {name}: input {i} has grad {inp.grad}, central differences give {expected:.6g}: does "
            f"every _backward add (+=, not =) to .grad, and does backward() run from the output down to the leaves?"
        )


def test_scalar_values() -> None:
    a, b = Scalar(2.0), Scalar(-3.0)
    assert (a + b).data == -1.0 and (a - b).data == 5.0 and (a * b).data == -6.0
    assert (a / b).data == pytest.approx(-2 / 3) and (-a).data == -2.0 and (a**3).data == 8.0
    assert (2**b).data == 0.125 and (1 - a).data == -1.0 and (6 / a).data == 3.0
    assert a.exp().data == pytest.approx(math.exp(2)) and a.log().data == pytest.approx(math.log(2))
    assert b.relu().data == 0.0 and a.relu().data == 2.0
    assert b.sigmoid().data == pytest.approx(1 / (1 + math.exp(3)))
    assert repr(Scalar(1.5)) == "Scalar(data=1.5, grad=0)"


def test_micrograd_neuron() -> None:
    # micrograd's README example: a tanh neuron, gradients worked out by hand.
    x1, x2, w1, w2, b = Scalar(2.0), Scalar(0.0), Scalar(-3.0), Scalar(1.0), Scalar(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert o.data == pytest.approx(0.7071, abs=1e-4)
    assert (x1.grad, w1.grad, x2.grad, w2.grad) == pytest.approx((-1.5, 1.0, 0.5, 0.0), abs=1e-4)


def test_diamond_counts_each_path_once() -> None:
    # a is used twice and made from x: its _backward must run once, after both uses sent
    # their share, or x receives a partial gradient (or a gradient twice).
    x = Scalar(0.5)
    a = x * x
    b, c = a.exp(), a * 3
    (b * c).backward()
    av = 0.25
    assert a.grad == pytest.approx(3 * av * math.exp(av) + 3 * math.exp(av))
    assert x.grad == pytest.approx((3 * av * math.exp(av) + 3 * math.exp(av)) * 2 * 0.5)


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    x = Scalar(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


# The same expression, written once, run on Scalars and on 0-d float64 Tensors.
EXPRESSIONS: dict[str, Callable] = {
    "neuron": lambda a, b, c: (a * b + c).tanh(),
    "mixed": lambda a, b, c: ((a + 2) * b - c / 3) ** 2 + (-a).exp(),
    "rational": lambda a, b, c: (1 - a) / (b * b + 1) + 2**c,
    "logs_and_relu": lambda a, b, c: (a * a + 1).log() * b.relu() + c.sigmoid() * a,
    "reuse": lambda a, b, c: (a * b).tanh() * (a * b) + a * a * a - 1 / c,
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
@pytest.mark.parametrize("values", [(0.5, -1.2, 2.0), (-0.3, 0.8, 1.5)], ids=["p1", "p2"])
def test_scalar_and_tensor_agree(name: str, values: tuple[float, float, float]) -> None:
    f = EXPRESSIONS[name]
    scalars = [Scalar(v) for v in values]
    tensors = [Tensor(np.array(v), requires_grad=True) for v in values]
    ys, yt = f(*scalars), f(*tensors)
    ys.backward()
    yt.backward()
    assert yt.item() == pytest.approx(ys.data, rel=1e-12)
    for s, t in zip(scalars, tensors, strict=True):
        assert t.grad.item() == pytest.approx(s.grad, rel=1e-12, abs=1e-15)

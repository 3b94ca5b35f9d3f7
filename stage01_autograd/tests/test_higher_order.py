"""Gradients of gradients: backward(create_graph=True) records the backward pass itself.

Every built-in backward is written with Tensor ops, so the gradient it returns has a graph
of its own; once_differentiable backward passes (NumPy inside) refuse create_graph clearly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.autograd as ag
from numpygpt.autograd import Function, Tensor, enable_grad, gradcheck, once_differentiable

pytestmark = pytest.mark.higher_order


def grad_of(f: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool = True) -> Tensor:
    """d(sum(f(x)))/dx as a Tensor that keeps its graph (so it can be differentiated again)."""
    x.grad = None
    f(x).sum().backward(create_graph=create_graph)
    g, x.grad = x.grad, None
    return g


def test_second_derivative_of_tanh() -> None:
    x = Tensor(np.linspace(-2, 2, 7), requires_grad=True)
    g = grad_of(ag.tanh, x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(g.data, 1 - t**2)
    assert g.creator is not None  # the gradient has a graph of its own
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, -2 * t * (1 - t**2))


def test_third_derivative_of_a_cube() -> None:
    x = Tensor(np.array([-1.5, 0.5, 2.0]), requires_grad=True)
    d1 = grad_of(lambda x: x**3, x)
    d2 = grad_of(lambda _: d1, x)
    d3 = grad_of(lambda _: d2, x)
    np.testing.assert_allclose(d1.data, 3 * x.data**2)
    np.testing.assert_allclose(d2.data, 6 * x.data)
    np.testing.assert_allclose(d3.data, [6.0, 6.0, 6.0])


def test_newton_step_finds_the_minimum() -> None:
    # f(x) = x**4 - 2 x**2 has minima at x = ±1. Newton: x <- x - f'(x) / f''(x), from x = 2.
    x = Tensor(np.array(2.0), requires_grad=True)
    for _ in range(10):
        y = x**4 - 2 * x**2
        y.backward(create_graph=True)
        gx = x.grad
        x.grad = None
        gx.backward()
        gx2 = x.grad
        x = Tensor(x.data - gx.data / gx2.data, requires_grad=True)
    assert abs(x.item() - 1.0) < 1e-12


def test_without_create_graph_the_gradient_has_no_graph() -> None:
    x = Tensor(np.array([0.5]), requires_grad=True)
    g = grad_of(ag.tanh, x, create_graph=False)
    assert g.creator is None and not g.requires_grad


SECOND_ORDER = {
    "exp": lambda x: x.exp(),
    "log": lambda x: (x * x + 1).log(),
    "tanh": lambda x: x.tanh(),
    "sqrt": lambda x: (x * x + 1).sqrt(),
    "sigmoid": lambda x: x.sigmoid(),
    "pow": lambda x: x**3,
    "rpow": lambda x: 3.0**x,
    "div": lambda x: 1 / (x * x + 1),
    "matmul": lambda x: (x.reshape(2, 3) @ x.reshape(3, 2)).exp(),
    "sum_mean_var": lambda x: (x.reshape(2, 3).var(1, keepdim=True) * x.reshape(2, 3).mean(0, keepdim=True)).exp(),
    "max": lambda x: x.reshape(2, 3).max(1) * x[:2],
    "getitem_repeated": lambda x: x[[0, 0, 2]] ** 2,
    "cat_stack": lambda x: ag.cat([x, ag.stack([x, x]).sum(0)]) ** 2,
    "where_maximum": lambda x: ag.where(x > 0, x**2, ag.maximum(x, 0.1) * x) * x,
    "broadcast_sum_to": lambda x: (x.reshape(6, 1) * x.reshape(1, 6)) ** 2,
    "permute_expand": lambda x: (x.reshape(2, 3).T.expand(2, 3, 2) * x.reshape(3, 2)) ** 2,
    "abs_relu": lambda x: x.abs() * x.relu() * x,
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_gradcheck_of_the_gradient(name: str) -> None:
    # The function checked here is x -> d(sum f(x))/dx: its backward is the backward of the
    # backward pass, so every op's backward must itself be made of differentiable ops.
    f = SECOND_ORDER[name]

    def first_gradient(x: Tensor) -> Tensor:
        with enable_grad():  # gradcheck evaluates fn under no_grad for its finite differences
            return grad_of(f, x)

    x = Tensor(np.array([0.7, -1.3, 0.4, 1.1, -0.6, 0.9]), requires_grad=True)
    assert gradcheck(first_gradient, x)


class NumpySquare(Function):
    """y = x**2 with its backward written in NumPy: fast, but not differentiable again."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x

    @once_differentiable
    def backward(self, gy: np.ndarray) -> np.ndarray:
        return gy * 2 * self.inputs[0].data


def test_once_differentiable_gives_first_derivatives() -> None:
    x = Tensor(np.array([0.5, -2.0]), requires_grad=True)
    assert gradcheck(lambda x: NumpySquare()(x), x)
    g = grad_of(lambda x: NumpySquare()(x).tanh(), x, create_graph=False)
    np.testing.assert_allclose(g.data, (1 - np.tanh(x.data**2) ** 2) * 2 * x.data)


def test_once_differentiable_refuses_create_graph() -> None:
    x = Tensor(np.array([0.5, -2.0]), requires_grad=True)
    y = NumpySquare()(x).tanh().sum()
    msg = (
        "in NumpySquare.backward (its output was made by NumpySquare): NumpySquare.backward is "
        "written in NumPy (once_differentiable) and cannot be differentiated again: "
        "create_graph=True cannot pass through NumpySquare"
    )
    with pytest.raises(RuntimeError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        y.backward(create_graph=True)

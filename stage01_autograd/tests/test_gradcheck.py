"""gradcheck itself: it must catch a wrong backward, including one the gradient of sum(y) misses."""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import Function, GradcheckError, Tensor, gradcheck, numerical_vjp
from numpygpt.autograd.exercises import check_value, raises

pytestmark = pytest.mark.gradcheck


class Softmax(Function):
    """y = softmax(x) over the last axis.  dy/dx: gx = y * (gy - sum(gy * y))."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output()
        return y * (gy - (gy * y).sum(-1, keepdim=True))


class WrongSoftmax(Softmax):
    """A plausible mistake: subtract the plain mean of gy instead of its y-weighted sum.

    For gy = 1 (the gradient of sum(y)) both give 0, the right answer: only a random upstream
    gradient tells them apart.
    """

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output()
        return y * (gy - gy.mean(-1, keepdim=True))


def x_input() -> Tensor:
    return Tensor(np.random.default_rng(0).standard_normal((2, 4)), requires_grad=True)


def test_the_right_softmax_passes() -> None:
    assert gradcheck(lambda x: Softmax()(x), x_input())


def test_sum_gradient_cannot_see_the_wrong_softmax() -> None:
    # The check that gradcheck does NOT do: backward from sum(y) with an upstream gradient of 1.
    x = x_input()
    WrongSoftmax()(x).sum().backward()
    (numeric,) = numerical_vjp(lambda x: WrongSoftmax()(x), [x], [np.ones((2, 4))])
    np.testing.assert_allclose(x.grad.data, numeric, atol=1e-8)  # both ~0: the bug is invisible


def test_random_upstream_gradient_catches_the_wrong_softmax() -> None:
    with raises(
        GradcheckError,
        r"gradient of input 0 \(shape \(2, 4\)\) is wrong; worst element at index \(.*backward gave .* central "
        r"differences give",
        "gradcheck must compare backward with central differences for a random upstream gradient: with g = 1 "
        "(the gradient of sum(y)) it cannot see this wrong softmax",
    ):
        gradcheck(lambda x: WrongSoftmax()(x), x_input())


class Record(Function):
    """y = x, recording the upstream gradient its backward receives."""

    def __init__(self, seen: list[np.ndarray]) -> None:
        self.seen = seen

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        self.seen.append(gy.data.copy())
        return gy


def upstream_gradient(x: Tensor, seed: int = 0) -> np.ndarray:
    """The upstream gradient that gradcheck(..., seed=seed) gives an output shaped like x."""
    seen: list[np.ndarray] = []
    gradcheck(lambda x: Record(seen)(x), x, seed=seed)
    return seen[0]


@pytest.mark.parametrize("shape", [(8,), (2, 4), (3, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("draw", ["standard_normal", "random", "uniform"])
def test_the_upstream_gradient_is_independent_of_inputs_drawn_with_the_same_seed(shape: tuple, draw: str) -> None:
    # A test that draws x with default_rng(seed) must not get an upstream gradient proportional
    # to x: layer norm is invariant to scaling x, so its true gradient along x is 0 and a backward
    # wrong along x would pass. Independent draws of n >= 8 numbers have |cos| > 0.9 with
    # probability below 1e-4 for each pair; the 40 seeds here are fixed, so the test is deterministic.
    for seed in range(40):
        x = getattr(np.random.default_rng(seed), draw)(size=shape)
        g = upstream_gradient(Tensor(x.copy(), requires_grad=True), seed=seed)
        cos = float(np.sum(g * x) / (np.linalg.norm(g) * np.linalg.norm(x)))
        assert abs(cos) < 0.9, (
            f"gradcheck's upstream gradient for seed={seed} is nearly proportional (cos {cos:.3f}) to an input "
            f"drawn with default_rng({seed}).{draw}: draw it from a random stream of its own, independent of "
            "the inputs"
        )


class OneElementOff(Function):
    """y = x**2, whose backward is right everywhere but at one element (off by 1%)."""

    def __init__(self, at: tuple[int, ...]) -> None:
        self.at = at

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * x

    def backward(self, gy: Tensor) -> Tensor:
        g = 2 * self.inputs[0].data * gy.data
        g[self.at] *= 1.01
        return Tensor(g)


@pytest.mark.parametrize("at", [(0, 0), (1, 2), (2, 3)], ids=str)
def test_a_backward_wrong_in_one_element_fails(at: tuple[int, int]) -> None:
    x = Tensor(np.random.default_rng(1).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    with raises(
        GradcheckError,
        rf"worst element at index \({at[0]}, {at[1]}\).*\(atol=1e-05, rtol=0.001, 1 of 12 elements off\)",
        f"gradcheck must fail a backward that is wrong in one element only (here {at}, by 1%), and name that "
        "element: every element must agree, not most of them or their sum",
    ):
        gradcheck(lambda x: OneElementOff(at)(x), x)


def test_message_names_the_failing_input_and_both_values() -> None:
    class WrongMul(Function):
        """y = a * b with the gradient of b deliberately doubled."""

        def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return a * b

        def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
            a, b = self.inputs
            return gy * b, gy * a * 2

    a = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    g = upstream_gradient(Tensor(np.zeros(3), requires_grad=True), seed=7)  # gradcheck's g for seed=7
    k = int(np.argmax(np.abs(g * a.data)))  # the error 2ag - ag = ag is largest here
    expected = (
        rf"input 1 \(shape \(3,\)\).*index \({k},\): backward gave {2 * g[k] * a.data[k]:.8g}, "
        rf"central differences give {g[k] * a.data[k]:.4g}"
    )
    with pytest.raises(GradcheckError, match=expected.replace("-", r"\-")):
        gradcheck(lambda a, b: WrongMul()(a, b), a, b, seed=7)
    assert gradcheck(lambda a, b: WrongMul()(a, b), a, b, seed=7, raise_exception=False) is False
    assert a.grad is None and b.grad is None  # gradcheck leaves .grad as it found it


def test_missing_gradient_is_reported() -> None:
    class Detached(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return 2 * x

        def backward(self, gy: Tensor) -> None:
            return None

    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\) received no gradient"):
        gradcheck(lambda x: Detached()(x), Tensor(np.ones(3), requires_grad=True))


def test_non_finite_gradient_fails() -> None:
    class NanGrad(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x.copy()

        def backward(self, gy: Tensor) -> Tensor:
            return gy * Tensor(np.array([1.0, np.nan]))

    with pytest.raises(GradcheckError, match=r"index \(1,\): backward gave nan"):
        gradcheck(lambda x: NanGrad()(x), Tensor(np.ones(2), requires_grad=True))


def test_several_outputs_are_checked_together() -> None:
    a = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    assert gradcheck(lambda a: (a.exp(), a * a), a)


def test_non_contiguous_input() -> None:
    # A transposed array is not C-contiguous: central differences must still nudge x itself.
    data = np.random.default_rng(0).standard_normal((4, 3)).T
    assert not data.flags.c_contiguous
    assert gradcheck(lambda x: x * x, Tensor(data, requires_grad=True))


@pytest.mark.ex1_3
def test_numerical_vjp_is_the_central_difference_of_a_random_projection() -> None:
    # d/dx sum(g * x**3) = 3 x**2 g, elementwise: no backward involved, only forward passes.
    rng = np.random.default_rng(3)
    x = Tensor(rng.uniform(0.5, 2.0, (3, 2)), requires_grad=True)
    g = rng.standard_normal((3, 2))
    before = x.data.copy()
    (got,) = numerical_vjp(lambda x: x**3, [x], [g])
    assert np.array_equal(x.data, before), (
        "numerical_vjp changed its input: put each element back after nudging it (the caller's tensor must "
        "come back as it went in)"
    )
    eps, exact = 1e-6, 3 * before**2 * g
    one_sided = ((before + eps) ** 3 - before**3) / eps * g
    check_value(
        got,
        exact,
        "numerical_vjp of x**3 for a random g",
        {
            "it is exactly twice the derivative: a central difference spans 2 eps, so divide by 2 eps": 2 * exact,
            "it is the derivative times g, but only to about 6 digits: a one-sided difference (f(x + eps) - "
            "f(x)) / eps is off by about eps * f''; use the central difference": one_sided,
            "it does not depend on g: the function differenced is sum(g * f(x)), not sum(f(x))": 3 * before**2,
        },
        rtol=1e-8,
    )


@pytest.mark.ex1_3
def test_numerical_vjp_nudges_the_input_itself() -> None:
    # A transposed array is not C-contiguous: x.data.reshape(-1) would be a copy, and nudging the
    # copy would leave x, and f(x), unchanged.
    data = np.random.default_rng(4).uniform(0.5, 2.0, (3, 2)).T
    x = Tensor(data, requires_grad=True)
    g = np.random.default_rng(5).standard_normal((2, 3))
    (got,) = numerical_vjp(lambda x: x * x, [x], [g])
    check_value(
        got,
        2 * data * g,
        "numerical_vjp of x * x for a transposed (non-contiguous) x",
        {
            "it is all zeros: the nudges did not reach x (for a non-contiguous array, x.data.reshape(-1) is a "
            "copy); index x.data itself, e.g. with np.ndindex(x.shape)": np.zeros_like(data),
        },
        rtol=1e-7,
    )
    assert np.array_equal(x.data, data), "numerical_vjp changed its input: put each element back"

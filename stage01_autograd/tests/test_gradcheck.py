"""gradcheck itself: it must catch a wrong backward, including one the gradient of sum(y) misses."""

from __future__ import annotations

import numpy as np
import pytest

from numpygpt.autograd import Function, GradcheckError, Tensor, gradcheck, numerical_vjp

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
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: WrongSoftmax()(x), x_input())
    msg = str(info.value)
    assert "gradient of input 0 (shape (2, 4)) is wrong" in msg
    assert "worst element at index (" in msg
    assert "backward gave" in msg and "central differences give" in msg


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
    g = np.random.default_rng(7).standard_normal(3)  # gradcheck's upstream gradient for seed=7
    k = int(np.argmax(np.abs(g * a.data)))  # the error 2ag - ag = ag is largest here
    expected = (
        rf"input 1 \(shape \(3,\)\).*index \({k},\): backward gave {2 * g[k] * a.data[k]:.8g}, "
        rf"central differences give {g[k] * a.data[k]:.5g}"
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
    (got,) = numerical_vjp(lambda x: x**3, [x], [g])
    np.testing.assert_allclose(
        got,
        3 * x.data**2 * g,
        rtol=1e-6,
        err_msg="numerical_vjp must nudge each element by +eps and -eps and divide the change of sum(g * f) by 2 eps",
    )


@pytest.mark.ex1_3
def test_numerical_vjp_puts_every_element_back() -> None:
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    before = x.data.copy()
    (g,) = numerical_vjp(lambda x: x * x, [x], [np.ones((2, 2))])
    np.testing.assert_array_equal(x.data, before)
    np.testing.assert_allclose(g, 2 * before, rtol=1e-7)

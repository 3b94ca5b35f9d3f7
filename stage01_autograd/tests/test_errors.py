"""Every error a learner can hit, with its message: the op's name and the shapes or values at fault.

Forward errors are raised when the op is called (not later, inside backward); an error inside
backward names the Function that failed and the ops that made its output.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import numpygpt.autograd as ag
from numpygpt.autograd import Function, Scalar, Tensor, gradcheck
from numpygpt.autograd.exercises import raises

pytestmark = pytest.mark.errors


def m23() -> Tensor:
    return Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)


# ----- forward: inputs an op cannot take -------------------------------------------------------
@pytest.mark.parametrize(
    "name, op",
    [
        ("Add", lambda a, b: a + b),
        ("Sub", lambda a, b: a - b),
        ("Mul", lambda a, b: a * b),
        ("Div", lambda a, b: a / b),
        ("Maximum", ag.maximum),
        ("Minimum", ag.minimum),
        ("Where", lambda a, b: ag.where(np.array(True), a, b)),
    ],
)
def test_shapes_that_do_not_broadcast(name: str, op: Callable) -> None:
    b = Tensor(np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match=rf"^{name}: .*broadcast.*\(inputs: \(2, 3\) float32, \(4,\) float32\)"):
        op(m23(), b)


def test_comparison_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"greater: .*\(shapes \(2, 3\) and \(4,\)\)"):
        _ = m23() > Tensor(np.ones(4))


def test_broadcast_to_a_smaller_shape() -> None:
    msg = (
        "broadcast_to: the expanded size 3 must match the existing size 2 at non-singleton dimension 0 "
        "(sizes (3, 3), tensor shape (2, 3))"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        m23().broadcast_to((3, 3))
    with pytest.raises(ValueError, match=re.escape(msg.replace("broadcast_to", "expand"))):
        m23().expand(3, 3)


def test_expand_with_too_few_sizes() -> None:
    with pytest.raises(ValueError, match=r"expand: 1 sizes given for a tensor of shape \(2, 3\)"):
        m23().expand(3)


def test_matmul_inner_dimensions() -> None:
    with pytest.raises(ValueError, match=re.escape("matmul: inner dimensions differ: (2, 3) @ (4, 5) (3 != 4)")):
        m23() @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=re.escape("matmul: inner dimensions differ: (3,) @ (4,) (3 != 4)")):
        ag.matmul(Tensor(np.ones(3)), Tensor(np.ones(4)))


def test_matmul_batch_dimensions() -> None:
    msg = "matmul: batch dimensions (2,) and (3,) do not broadcast (shapes (2, 3, 4) @ (3, 4, 5))"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5)))


def test_matmul_of_a_0d_tensor() -> None:
    with pytest.raises(
        ValueError, match=re.escape("matmul: both operands need at least 1 dimension, got shapes () and (3,)")
    ):
        Tensor(2.0) @ Tensor(np.ones(3))


@pytest.mark.parametrize(
    "op, name",
    [
        (lambda x: x.sum(2), "sum"),
        (lambda x: x.mean((0, 5)), "mean"),
        (lambda x: x.max(-3), "max"),
        (lambda x: x.var(2), "var"),
        (lambda x: x.transpose(0, 2), "transpose"),
        (lambda x: x.permute(0, 2), "permute"),
        (lambda x: ag.cat([x, x], dim=2), "cat"),
        (lambda x: ag.stack([x, x], dim=3), "stack"),
    ],
)
def test_dim_out_of_range(op: Callable, name: str) -> None:
    with pytest.raises(
        IndexError, match=rf"^{name}: dim -?\d is out of range for a \d-d tensor \(expected -\d\.\.\d\)"
    ):
        op(m23())


def test_dim_repeated_or_not_an_int() -> None:
    with pytest.raises(ValueError, match=re.escape("sum: dim (0, -2) repeats a dimension")):
        m23().sum((0, -2))
    with pytest.raises(TypeError, match="mean: dim must be an int, got 1.0"):
        m23().mean(1.0)


def test_permute_needs_an_ordering_of_all_dims() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("permute: dims (0, 0) are not an ordering of the 2 dimensions of shape (2, 3)"),
    ):
        m23().permute(0, 0)


def test_reshape_to_the_wrong_size() -> None:
    with pytest.raises(
        ValueError,
        match=r"Reshape: cannot reshape array of size 6 into shape \(4,\) \(inputs: \(2, 3\) float32\)",
    ):
        m23().reshape(4)


def test_index_out_of_range() -> None:
    msg = r"GetItem: invalid index \(slice\(None, None, None\), \[0, 5\]\): index 5 is out of bounds.*\(inputs: \(2, 3\) float32\)"
    with pytest.raises(IndexError, match=msg):
        m23()[:, [0, 5]]


def test_cat_and_stack_inputs() -> None:
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence of tensors"):
        ag.cat([])
    with pytest.raises(ValueError, match="stack: expected a non-empty sequence of tensors"):
        ag.stack([])
    with pytest.raises(ValueError, match=re.escape("stack: all tensors must have the same shape, got [(2, 3), (3,)]")):
        ag.stack([m23(), Tensor(np.ones(3))])
    with pytest.raises(ValueError, match=r"^Cat: .*\(inputs: \(2, 3\) float32, \(3, 2\) float32\)"):
        ag.cat([m23(), Tensor(np.ones((3, 2), dtype=np.float32))], dim=0)


def test_reductions_with_nothing_to_reduce() -> None:
    msg = "max: cannot take the maximum over an empty dimension of a tensor of shape (0, 3)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Tensor(np.ones((0, 3))).max()
    with pytest.raises(ValueError, match=re.escape(msg)):
        Tensor(np.ones((0, 3))).max(0)
    assert Tensor(np.ones((0, 3))).max(1).shape == (0,)  # nothing empty is reduced: as PyTorch, no error
    with pytest.raises(ValueError, match="var: 1 elements with correction=1 leave no degrees of freedom"):
        Tensor(np.ones((1, 3))).var(0)


def test_pow_operands() -> None:
    x = m23()
    with pytest.raises(TypeError, match="pow: Tensor \\*\\* Tensor is not supported"):
        x**x
    with pytest.raises(ValueError, match=re.escape("pow: number ** Tensor needs a positive number base, got -2")):
        (-2) ** x
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number, got ndarray"):
        x ** np.ones(3)


def test_where_condition_must_be_bool() -> None:
    with pytest.raises(TypeError, match="where: condition must be a bool tensor, got dtype float32"):
        ag.where(m23(), m23(), 0.0)


# ----- data a Tensor cannot hold ----------------------------------------------------------------
def test_non_numeric_data() -> None:
    with pytest.raises(
        TypeError,
        match=re.escape("Tensor: data must be numbers (bool, int or float), got dtype <U3 from str"),
    ):
        Tensor("abc")
    with pytest.raises(TypeError, match="got dtype object from list"):
        Tensor([1.0, None])


def test_non_numeric_operand_names_the_op() -> None:
    with pytest.raises(TypeError, match=r"^Add: Tensor: data must be numbers.* \(inputs: \(2, 3\) float32, str\)"):
        m23() + "a"
    with pytest.raises(TypeError, match=r"^Sub: .*\(inputs: NoneType, \(2, 3\) float32\)"):
        None - m23()
    with pytest.raises(TypeError, match=r"^matmul: Tensor: data must be numbers"):
        m23() @ "a"


def test_requires_grad_on_integers() -> None:
    with pytest.raises(
        TypeError, match=r"requires_grad: only floating point tensors can require gradients, got dtype int"
    ):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="got dtype bool"):
        Tensor([True]).requires_grad_()


# ----- the Tensor API used the wrong way ----------------------------------------------------------
def test_tensor_api_misuse() -> None:
    x = m23()
    with pytest.raises(
        ValueError, match=re.escape("item: only a one-element tensor converts to a number, got shape (2, 3)")
    ):
        x.item()
    with pytest.raises(
        RuntimeError,
        match=re.escape("numpy: can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"),
    ):
        x.numpy()
    with pytest.raises(RuntimeError, match=re.escape("requires_grad_(False) on a non-leaf tensor: use .detach()")):
        (x * 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        Tensor([1.0]).retain_grad()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))
    with pytest.raises(ValueError, match=re.escape("bool: the truth value of a tensor of shape (2, 3) is ambiguous")):
        bool(x > 0)


# ----- backward --------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_without_gradient() -> None:
    y = m23() * 2
    with pytest.raises(
        RuntimeError,
        match=r"a gradient can be implied only for a one-element output .* shape \(2, 3\): pass backward",
    ):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape() -> None:
    y = m23() * 2
    with pytest.raises(
        ValueError, match=re.escape("backward: gradient shape (3,) does not match the tensor's shape (2, 3)")
    ):
        y.backward(np.ones(3))


def test_backward_on_a_tensor_without_history() -> None:
    with pytest.raises(RuntimeError, match=re.escape("backward: this tensor (shape ()) does not require grad")):
        Tensor([1.0, 2.0]).sum().backward()


class Explode(Function):
    """y = x, whose backward fails, as a learner's buggy backward would."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        raise ValueError("operands could not be broadcast")


@pytest.mark.ex1_4
def test_error_inside_backward_names_the_function_and_its_history() -> None:
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    y = Explode()((x.tanh() + b) @ w).sum()
    chain = "in Explode.backward (its output was made by Explode <- MatMul <- Add <- Tanh): operands could not"
    hint = (
        "an error raised inside a Function's backward must leave the loop as _backward_error(f, e) makes it "
        "(the same kind of error, naming the Function and its history), raised `from e`"
    )
    with raises(ValueError, re.escape(chain), hint):
        y.backward()
    try:
        y.backward()
    except ValueError as e:
        assert isinstance(e.__cause__, ValueError), hint  # the original error stays attached


def test_error_inside_a_builtin_backward_names_the_chain() -> None:
    # The chain follows the first input that has a creator: Mul's first input is the MatMul output.
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 3)), requires_grad=True)
    h = (x.tanh() + 1) @ w
    y = h * Explode()(x)
    with pytest.raises(ValueError, match=re.escape("in Explode.backward (its output was made by Explode):")):
        y.sum().backward()


class AddForgettingSumTo(Function):
    """y = a + b whose backward forgets to undo broadcasting."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, gy: Tensor) -> tuple[Tensor, Tensor]:
        return gy, gy


@pytest.mark.ex1_4
def test_backward_returning_an_unreduced_gradient() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    msg = (
        "AddForgettingSumTo.backward returned a gradient of shape (2, 3) for an input of shape (3,): "
        "did backward undo broadcasting (sum_to)?"
    )
    hint = (
        "the loop must check that each gradient a backward returns has its input's shape, and stop with "
        "RuntimeError('<Name>.backward returned a gradient of shape ... for an input of shape ...: did backward "
        "undo broadcasting (sum_to)?')"
    )
    with raises(RuntimeError, re.escape(msg), hint):
        AddForgettingSumTo()(a, b).sum().backward()


@pytest.mark.ex1_4
def test_backward_returning_too_few_gradients() -> None:
    class OneGradient(AddForgettingSumTo):
        def backward(self, gy: Tensor) -> Tensor:
            return gy

    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    hint = (
        "the loop must check that a backward returns one gradient per input, and stop with "
        "RuntimeError('<Name>.backward returned 1 gradients for 2 inputs')"
    )
    with raises(RuntimeError, re.escape("OneGradient.backward returned 1 gradients for 2 inputs"), hint):
        OneGradient()(a, b).sum().backward()


def test_function_without_forward_or_backward() -> None:
    class Unwritten(Function):
        pass

    with pytest.raises(NotImplementedError, match="Unwritten.forward is not written"):
        Unwritten()(m23())

    class ForwardOnly(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x.copy()

    with pytest.raises(
        NotImplementedError,
        match=re.escape(
            "in ForwardOnly.backward (its output was made by ForwardOnly): ForwardOnly.backward is not written"
        ),
    ):
        ForwardOnly()(m23()).sum().backward()


# ----- gradcheck used the wrong way -------------------------------------------------------------
def test_gradcheck_misuse() -> None:
    with pytest.raises(ValueError, match="gradcheck: no input has requires_grad=True, so there is nothing to check"):
        gradcheck(lambda x: x * 2, Tensor(np.ones(3)))
    with pytest.raises(
        TypeError, match="gradcheck: input 0 has dtype float32; central differences need float64 inputs"
    ):
        gradcheck(lambda x: x * 2, m23())
    with pytest.raises(TypeError, match="gradcheck: fn must return Tensors, got ndarray"):
        gradcheck(lambda x: x.data * 2, Tensor(np.ones(3), requires_grad=True))


# ----- Scalar ------------------------------------------------------------------------------------
def test_scalar_misuse() -> None:
    with pytest.raises(TypeError, match="Scalar: cannot combine with str"):
        Scalar(1.0) + "a"
    with pytest.raises(TypeError, match="Scalar: cannot combine with bool"):
        Scalar(1.0) * True
    with pytest.raises(TypeError, match=re.escape("Scalar ** only takes a number exponent")):
        Scalar(2.0) ** Scalar(3.0)
    with pytest.raises(ValueError, match=re.escape("number ** Scalar needs a positive base, got -2")):
        (-2) ** Scalar(1.0)
    with pytest.raises(ValueError, match="Scalar.log: needs a positive number, got 0.0"):
        Scalar(0.0).log()

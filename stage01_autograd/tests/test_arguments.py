"""Arguments checked at the call: each misuse the hunt (test_misuse.py) found is refused with a
message naming the function, the argument and the value, or now works as in PyTorch.

Select with `nox -s stage01 -- -m errors`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numpygpt.autograd as ag
from numpygpt.autograd import Scalar, Tensor, gradcheck, numerical_vjp

pytestmark = pytest.mark.errors


def m23() -> Tensor:
    return Tensor(np.ones((2, 3), dtype=np.float32))


def leaf() -> Tensor:
    return Tensor(np.ones(2), requires_grad=True)


def raises(kind: type[Exception], message: str, fn: Callable[[], Any]) -> None:
    with pytest.raises(kind, match=re.escape(message)):
        fn()


# ----- making tensors ------------------------------------------------------------------------------
MAKING = {
    "ragged data": (
        ValueError,
        "Tensor: data must be numbers in a (nested) sequence of regular shape, got [1, [2, 3]]: setting an array element with a sequence",
        lambda: Tensor([1, [2, 3]]),
    ),
    "an int beyond int64": (
        TypeError,
        "Tensor: data must be numbers (bool, int or float), got dtype object from int",
        lambda: Tensor(2**64),
    ),
    "requires_grad not a bool": (
        TypeError,
        "Tensor: requires_grad must be a bool (True or False), got 'yes'",
        lambda: Tensor([1.0], requires_grad="yes"),
    ),
    "name not a str": (TypeError, "Tensor: name must be a str or None, got 3", lambda: Tensor([1.0], name=3)),
    "dtype unknown": (
        TypeError,
        "Tensor: dtype must be a numeric dtype (bool, int or float) such as np.float32, got 'foo'",
        lambda: Tensor([1.0], dtype="foo"),
    ),
    "dtype not numeric": (
        TypeError,
        "Tensor: dtype must be a numeric dtype (bool, int or float) such as np.float32, got <U0",
        lambda: Tensor([1.0], dtype=str),
    ),
    "a negative size": (
        ValueError,
        "zeros: size must be a tuple of ints >= 0, got (2, -1) (element 1 is -1)",
        lambda: ag.zeros(2, -1),
    ),
    "a float size": (
        TypeError,
        "zeros: size must be a tuple of ints >= 0, got (2.5,) (element 0 is 2.5)",
        lambda: ag.zeros(2.5),
    ),
    "a bool size": (
        TypeError,
        "ones: size must be a tuple of ints >= 0, got (True,) (element 0 is True)",
        lambda: ag.ones(True),
    ),
    "a size too large": (
        ValueError,
        "zeros: size (1099511627776, 1099511627776) is too large: more than 2**60 elements",
        lambda: ag.zeros(2**40, 2**40),
    ),
    "a complex dtype": (
        TypeError,
        "ones: dtype must be a numeric dtype (bool, int or float) such as np.float32, got complex64",
        lambda: ag.ones(2, dtype=np.complex64),
    ),
    "zeros requires_grad not a bool": (
        TypeError,
        "zeros: requires_grad must be a bool (True or False), got 1",
        lambda: ag.zeros(2, requires_grad=1),
    ),
    "zeros_like of an array": (
        TypeError,
        "zeros_like: input must be a Tensor, got an ndarray of shape (2,)",
        lambda: ag.zeros_like(np.ones(2)),
    ),
    "ones_like requires_grad": (
        TypeError,
        "ones_like: requires_grad must be a bool (True or False), got None",
        lambda: ag.ones_like(m23(), requires_grad=None),
    ),
}


@pytest.mark.parametrize("case", list(MAKING))
def test_making_tensors(case: str) -> None:
    raises(*MAKING[case])


def test_sizes_accept_numpy_ints_and_empty_tuples() -> None:
    assert ag.zeros(np.int64(2), np.int32(3)).shape == (2, 3)
    assert ag.ones(()).shape == () and ag.ones([]).shape == ()
    assert ag.zeros(0, 3).shape == (0, 3)


# ----- dims, keepdim and reductions ---------------------------------------------------------------
REDUCING = {
    "a bool dim": (TypeError, "sum: dim must be an int, got True", lambda: m23().sum(True)),
    "keepdim not a bool": (
        TypeError,
        "sum: keepdim must be a bool (True or False), got 'yes'",
        lambda: m23().sum(1, keepdim="yes"),
    ),
    "mean of ints": (
        TypeError,
        "mean: input must be floating point, got dtype int64; convert it first with .float()",
        lambda: Tensor(np.array([1, 2])).mean(),
    ),
    "var of ints": (
        TypeError,
        "var: input must be floating point, got dtype int64; convert it first with .float()",
        lambda: Tensor(np.array([1, 2])).var(),
    ),
    "correction not a number": (
        TypeError,
        "var: correction must be a finite number, got 'a'",
        lambda: m23().var(correction="a"),
    ),
    "correction nan": (
        ValueError,
        "var: correction must be a finite number, got nan",
        lambda: m23().var(correction=float("nan")),
    ),
    "correction that wraps as uint8": (
        ValueError,
        "var: 3 elements with correction=200 leave no degrees of freedom",
        lambda: m23().var(1, correction=np.uint8(200)),
    ),
    "size of a dim out of range": (
        IndexError,
        "size: dim 5 is out of range for a 2-d tensor (expected -2..1)",
        lambda: m23().size(5),
    ),
    "size of a 0-d tensor": (
        IndexError,
        "size: a 0-d tensor has no dimensions, got dim 0",
        lambda: Tensor(1.0).size(0),
    ),
}


@pytest.mark.parametrize("case", list(REDUCING))
def test_reduction_arguments(case: str) -> None:
    raises(*REDUCING[case])


def test_dims_as_pytorch_takes_them() -> None:
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(np.int64(1)).data, [3, 12])  # a NumPy int is an int
    assert x.sum(()).item() == 15 and x.mean([]).item() == 2.5  # no dims listed: all of them
    assert x.sum(1, keepdim=np.bool_(True)).shape == (2, 1)
    s = Tensor(2.0)
    assert s.sum(0).item() == 2.0 and s.amax(-1).item() == 2.0  # a 0-d tensor's only dim
    assert s.transpose(0, -1) is s
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the mean of nothing is nan, as in PyTorch, without a warning
        assert np.isnan(Tensor(np.zeros(0, dtype=np.float32)).mean().item())


# ----- shapes ------------------------------------------------------------------------------------------
SHAPING = {
    "two inferred sizes": (
        ValueError,
        "reshape: only one dimension can be inferred (-1), got shape (-1, -1)",
        lambda: m23().reshape(-1, -1),
    ),
    "a float size": (
        TypeError,
        "reshape: shape must be a tuple of ints >= 0 (or -1), got (2.0, 3) (element 0 is 2.0)",
        lambda: m23().reshape(2.0, 3),
    ),
    "-1 in a new leading dim": (
        ValueError,
        "expand: the size -1 is not allowed in a leading, new dimension (sizes (-1, 2, 3))",
        lambda: m23().expand(-1, 2, 3),
    ),
    "a shape that is a str": (
        TypeError,
        "broadcast_to: size must be a tuple of ints >= 0 (or -1), got ('a',) (element 0 is 'a')",
        lambda: ag.broadcast_to(m23(), "a"),
    ),
    "sum_to a shape that does not broadcast": (
        ValueError,
        "sum_to: shape (2,) does not broadcast to the tensor's shape (2, 3)",
        lambda: ag.sum_to(m23(), (2,)),
    ),
    "cat of one Tensor": (
        TypeError,
        "cat: tensors must be a list or tuple of Tensors, got a Tensor of shape (2, 3)",
        lambda: ag.cat(m23()),
    ),
    "cat of 0-d tensors": (
        ValueError,
        "cat: zero-dimensional tensors cannot be concatenated; stack them instead",
        lambda: ag.cat([Tensor(1.0), Tensor(2.0)]),
    ),
    "stack of None": (TypeError, "stack: tensors must be a list or tuple of Tensors, got None", lambda: ag.stack(None)),
    "an index too large for NumPy": (
        IndexError,
        "GetItem: invalid index 9223372036854775808: Python int too large",
        lambda: m23()[2**63],
    ),
}


@pytest.mark.parametrize("case", list(SHAPING))
def test_shape_arguments(case: str) -> None:
    raises(*SHAPING[case])


# ----- operators, dtypes and foreign objects -------------------------------------------------------------
def test_matmul_refuses_mixed_dtypes() -> None:
    """NumPy would silently compute float32 @ float64 in float64; PyTorch refuses, and so does matmul."""
    msg = "matmul: both operands must have the same dtype, got float32 and float64 (shapes (2, 3) @ (3, 2)); convert one with .astype()"
    raises(TypeError, msg, lambda: m23() @ Tensor(np.ones((3, 2))))


def test_comparisons_with_foreign_objects_answer_as_python_does() -> None:
    """As in PyTorch: `t == None` is False, `t != "a"` True, and `t < "a"` Python's own TypeError."""
    x = m23()
    assert (x == None) is False  # noqa: E711 (the comparison itself is the test)
    assert (x != "a") is True
    raises(TypeError, "'<' not supported between instances of 'Tensor' and 'str'", lambda: x < "a")


def test_operands_that_are_not_numbers_name_the_op() -> None:
    raises(TypeError, "pow: number ** Tensor needs a number base, got str", lambda: "a" ** m23())
    raises(
        ValueError,
        "equal: Tensor: data must be numbers in a (nested) sequence of regular shape",
        lambda: m23() == [1, [2, 3]],
    )
    raises(
        TypeError,
        "reshape: Tensor: data must be numbers (bool, int or float), got dtype <U1 from str",
        lambda: ag.reshape("a", 1),
    )


def test_astype_and_where_arguments() -> None:
    msg = "astype: dtype must be a numeric dtype (bool, int or float) such as np.float32, got <U0"
    raises(TypeError, msg, lambda: m23().astype(str))
    raises(
        ValueError,
        "where: condition must be a bool tensor: setting an array element with a sequence",
        lambda: ag.where([True, [False]], m23(), 0.0),
    )
    raises(
        ValueError,
        "where: condition of shape (4,) does not broadcast with x (2, 3) and other ()",
        lambda: ag.where(np.ones(4, bool), m23(), 0.0),
    )


# ----- autograd state ------------------------------------------------------------------------------------
AUTOGRAD = {
    "a gradient that is a str": (
        TypeError,
        "backward: gradient must be a Tensor, an array or a number, got 'a'",
        lambda: (leaf() * 2).backward("a"),
    ),
    "a complex gradient": (
        TypeError,
        "backward: gradient must hold numbers: Tensor: data must be numbers (bool, int or float), got dtype complex64",
        lambda: (leaf() * 2).sum().backward(np.complex64(1)),
    ),
    "create_graph not a bool": (
        TypeError,
        "backward: create_graph must be a bool (True or False), got 'yes'",
        lambda: (leaf() * 2).sum().backward(create_graph="yes"),
    ),
    "requires_grad_ not a bool": (
        TypeError,
        "requires_grad_: requires_grad must be a bool (True or False), got 'yes'",
        lambda: m23().requires_grad_("yes"),
    ),
    "set_grad_enabled not a bool": (
        TypeError,
        "set_grad_enabled: mode must be a bool (True or False), got 'no'",
        lambda: ag.set_grad_enabled("no"),
    ),
    "no_grad decorating a number": (
        TypeError,
        "no_grad: the decorated object must be callable, got 5",
        lambda: ag.no_grad()(5),
    ),
    "once_differentiable of a number": (
        TypeError,
        "once_differentiable: backward must be callable, got 5",
        lambda: ag.once_differentiable(5),
    ),
    "to_dot of an array": (
        TypeError,
        "to_dot: root must be a Tensor, got an ndarray of shape (2,)",
        lambda: ag.to_dot(np.ones(2)),
    ),
    "to_mermaid of None": (TypeError, "to_mermaid: root must be a Tensor, got None", lambda: ag.to_mermaid(None)),
}


@pytest.mark.parametrize("case", list(AUTOGRAD))
def test_autograd_arguments(case: str) -> None:
    raises(*AUTOGRAD[case])
    assert ag.is_grad_enabled(), "a refused set_grad_enabled must leave grad mode as it was"


def test_a_gradient_keeps_its_precision() -> None:
    x = Tensor(np.array(1.0), requires_grad=True)
    (x * 1).backward(0.1)
    assert x.grad.item() == 0.1  # not 0.1 rounded to float32 on the way


# ----- gradcheck ----------------------------------------------------------------------------------------------
GRADCHECK = {
    "eps 0": (
        ValueError,
        "gradcheck: eps must be > 0, got 0 (the difference quotient divides by 2 eps)",
        lambda: gradcheck(lambda x: x, leaf(), eps=0),
    ),
    "eps nan": (
        ValueError,
        "gradcheck: eps must be a finite number >= 0.0, got nan",
        lambda: gradcheck(lambda x: x, leaf(), eps=float("nan")),
    ),
    "atol nan (would pass anything)": (
        ValueError,
        "gradcheck: atol must be a finite number >= 0.0, got nan",
        lambda: gradcheck(lambda x: x, leaf(), atol=float("nan")),
    ),
    "rtol negative": (
        ValueError,
        "gradcheck: rtol must be a finite number >= 0.0, got -1",
        lambda: gradcheck(lambda x: x, leaf(), rtol=-1),
    ),
    "a negative seed": (
        ValueError,
        "gradcheck: seed must be an int >= 0, got -1",
        lambda: gradcheck(lambda x: x, leaf(), seed=-1),
    ),
    "fn not callable": (TypeError, "gradcheck: fn must be callable, got 5", lambda: gradcheck(5, leaf())),
    "an array input": (
        TypeError,
        "gradcheck: inputs must be Tensors, got an ndarray of shape (2,) as input 0",
        lambda: gradcheck(lambda x: x, np.ones(2)),
    ),
    "raise_exception None": (
        TypeError,
        "gradcheck: raise_exception must be a bool (True or False), got None",
        lambda: gradcheck(lambda x: x, leaf(), raise_exception=None),
    ),
    "grads of the wrong shape": (
        ValueError,
        "numerical_vjp: grads must be one array per output of fn, of its shape: the outputs have shapes [(2,)], the grads [(3,)]",
        lambda: numerical_vjp(lambda x: x, [leaf()], [np.ones(3)]),
    ),
    "grads not numbers": (
        TypeError,
        "numerical_vjp: grads must be arrays of numbers, one per output of fn (could not convert string to float: 'a')",
        lambda: numerical_vjp(lambda x: x, [leaf()], ["a"]),
    ),
    "inputs as one Tensor": (
        TypeError,
        "numerical_vjp: inputs must be a list or tuple of Tensors, got a Tensor of shape (2,)",
        lambda: numerical_vjp(lambda x: x, leaf(), [np.ones(2)]),
    ),
    "fn returning None": (
        TypeError,
        "numerical_vjp: fn must return Tensors, got NoneType",
        lambda: numerical_vjp(lambda x: None, [leaf()], [np.ones(2)]),
    ),
}


@pytest.mark.parametrize("case", list(GRADCHECK))
def test_gradcheck_arguments(case: str) -> None:
    raises(*GRADCHECK[case])


# ----- Scalar ------------------------------------------------------------------------------------------------
def test_scalar_takes_numpy_numbers_and_gives_ieee_results() -> None:
    """Where Python's float arithmetic raises (OverflowError, ZeroDivisionError) or turns complex,
    Scalar gives what PyTorch gives: inf or nan."""
    assert (Scalar(np.float32(2.0)) * np.int64(3)).data == 6.0
    assert Scalar(1000.0).exp().data == float("inf")
    assert (Scalar(10.0) ** 400).data == float("inf")
    assert (Scalar(0.0) ** -1).data == float("inf") and (Scalar(1.0) / 0).data == float("inf")
    assert np.isnan((Scalar(-8.0) ** (1 / 3)).data)
    x = Scalar(0.0)
    (x**2).backward()
    assert x.grad == 0.0


def test_scalar_refuses_what_is_not_a_number() -> None:
    raises(TypeError, "Scalar: data must be a number (int or float), got 'a'", lambda: Scalar("a"))
    raises(TypeError, "Scalar: cannot combine with ndarray", lambda: np.ones(2) + Scalar(1.0))

"""The misuse hunt: odd values thrown at every public callable of numpygpt.autograd.

CASES holds, for each public function, class and method (`public_callables` lists them), how
to call it with valid arguments. Each test replaces one argument at a time by an odd value
(NaN, ±inf, negative, zero, huge, wrong types and dtypes, empty arrays, NumPy scalars, foreign
objects: numpygpt.autograd.testing) and accepts only success, or a TypeError/ValueError (or
the error type PyTorch raises there) whose message names the callable and the argument.
Where a Case gives an argument's domain, a value inside it must work and one outside it must
be refused. A new public callable without a Case fails `test_every_public_callable_is_hunted`.

Select with `nox -s stage01 -- -m misuse`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpygpt.autograd as ag
from numpygpt.autograd import Function, GradcheckError, Scalar, Tensor
from numpygpt.autograd.checks import MAX_ELEMENTS, is_bool, is_int, is_real
from numpygpt.autograd.testing import (
    Case,
    attempt_drawn,
    hunt_message,
    odd_value_strategy,
    public_callables,
    table_problems,
)

pytestmark = pytest.mark.misuse

# A tensor operand: the op's name in the message is enough (the message shows its shape).
DATA: tuple[str, ...] = ()


def t23() -> Tensor:
    """A valid (2, 3) float32 operand with positive values (log and sqrt are defined)."""
    return Tensor(np.arange(1, 7, dtype=np.float32).reshape(2, 3) / 6)


def t34() -> Tensor:
    return Tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 12)


def t13() -> Tensor:
    return Tensor(np.ones((1, 3), dtype=np.float32))


def leaf64() -> Tensor:
    return Tensor(np.array([0.5, -1.0]), requires_grad=True)


def loss() -> Tensor:
    """A one-element result of a graph, ready for backward()."""
    return (Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True) * 2).sum()


def const(v: Any) -> Callable[[], Any]:
    return lambda: v


# ----- domains: the values an argument must accept (and every other value it must refuse) ------
def a_bool(v: Any) -> bool:
    return is_bool(v)


def dim_of(ndim: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and -ndim <= v < ndim


def dims_of(ndim: int) -> Callable[[Any], bool]:
    """None, one dim, or a tuple/list of distinct dims (empty: all of them, as in PyTorch)."""

    def ok(v: Any) -> bool:
        if v is None or dim_of(ndim)(v):
            return True
        return (
            isinstance(v, (tuple, list))
            and all(dim_of(ndim)(d) for d in v)
            and len({int(d) % ndim for d in v}) == len(v)
        )

    return ok


def a_size(v: Any) -> bool:
    """An int >= 0, or a tuple/list of them (empty: a 0-d tensor), as torch.zeros takes."""
    sizes = v if isinstance(v, (tuple, list)) else [v]
    return all(is_int(n) and 0 <= n <= MAX_ELEMENTS for n in sizes)


def a_real(v: Any) -> bool:
    return is_real(v)


def finite_at_least(lo: float, strict: bool = False) -> Callable[[Any], bool]:
    return lambda v: is_real(v) and np.isfinite(float(v)) and (v > lo if strict else v >= lo)


def optional_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def anything(v: Any) -> bool:
    return True


# ----- helpers for the table ---------------------------------------------------------------------
def unary(fn: Callable[[Tensor], Tensor], label: str) -> Case:
    return Case(lambda x: fn(x), {"x": t23}, label, names={"x": DATA})


def binary(fn: Callable[[Any, Any], Tensor], label: str) -> Case:
    return Case(lambda a, b: fn(a, b), {"a": t23, "b": t23}, label, names={"a": DATA, "b": DATA})


def reduction(fn: Callable[..., Tensor], label: str, **extra: Callable[[], Any]) -> Case:
    domain = {"dim": dims_of(2), "keepdim": a_bool}
    if "correction" in extra:  # var over dim 1: 3 elements, so a correction below 3 leaves some freedom
        domain["correction"] = lambda v: is_real(v) and np.isfinite(float(v)) and v < 3
    args = {"x": t23, "dim": const(1), "keepdim": const(False), **extra}
    return Case(fn, args, label, names={"x": DATA}, domain=domain, raises=(IndexError,))


def method(name: str, label: str, self: Callable[[], Any] = t23, **kw: Any) -> Case:
    """A Tensor method called with keyword arguments (or none)."""
    args: dict[str, Callable[[], Any]] = {"self": self, **kw.pop("args", {})}
    return Case(lambda self, **a: getattr(self, name)(**a), args, label, **kw)


def operator(
    op: Callable[[Any, Any], Any], label: str | tuple[str, ...], other: Callable[[], Any] = t23, **kw: Any
) -> Case:
    return Case(lambda self, other: op(self, other), {"self": t23, "other": other}, label, **kw)


def scalar_op(op: Callable[[Scalar, Any], Scalar], domain: Callable[[Any], bool] = a_real, **kw: Any) -> Case:
    return Case(
        lambda self, other: op(self, other),
        {"self": const(Scalar(0.5)), "other": const(2.0)},
        "Scalar",
        names={"other": ("Scalar", "base", "exponent")},
        domain={"other": domain},
        **kw,
    )


def scalar_unary(name: str, domain: Callable[[Any], bool] = a_real) -> Case:
    """Scalar(data).name(): the odd values go into data, where the method meets them."""
    return Case(
        lambda data: getattr(Scalar(data), name)(),
        {"data": const(0.5)},
        "Scalar",
        names={"data": ("data", "number", "Scalar")},
        domain={"data": domain},
    )


def joining(fn: Callable[..., Tensor], label: str, ndim: int) -> Case:
    """cat or stack of two (2, 3) tensors, joined along dim 0 (stack's output has ndim dims)."""
    return Case(
        lambda tensors, dim: fn(tensors, dim),
        {"tensors": lambda: [t23(), t23()], "dim": const(0)},
        label,
        names={"tensors": ("tensor", "input")},
        domain={"dim": dim_of(ndim)},
        raises=(IndexError,),
    )


def making_tensor(fn: Callable[..., Tensor]) -> Case:
    return Case(
        lambda data, requires_grad, dtype: fn(data, requires_grad=requires_grad, dtype=dtype),
        {"data": const([[1.0, 2.0]]), "requires_grad": const(False), "dtype": const(None)},
        "Tensor",
        domain={"requires_grad": a_bool},
    )


def filled(fn: Callable[..., Tensor], label: str) -> Case:
    return Case(
        lambda size, dtype, requires_grad: fn(size, dtype=dtype, requires_grad=requires_grad),
        {"size": const(3), "dtype": const(np.float32), "requires_grad": const(False)},
        label,
        domain={"size": a_size, "requires_grad": a_bool},
    )


def filled_like(fn: Callable[..., Tensor], label: str) -> Case:
    return Case(
        lambda t, requires_grad: fn(t, requires_grad=requires_grad),
        {"t": t23, "requires_grad": const(False)},
        label,
        names={"t": ("input",)},
        domain={"requires_grad": a_bool},
    )


def decorator(cls: type, label: str) -> Case:
    """no_grad() or enable_grad() used as a decorator."""
    return Case(
        lambda fn: cls()(fn), {"fn": const(lambda: None)}, label, names={"fn": ("decorated",)}, domain={"fn": callable}
    )


def restoring_grad_mode(mode: Any) -> None:
    """set_grad_enabled(mode) switches the mode for good: switch it back for the next test."""
    try:
        ag.set_grad_enabled(mode)
    finally:
        ag.set_grad_enabled(True)


def gradcheck_outcome(**kw: Any) -> None:
    """gradcheck as the hunt calls it: a failed check (GradcheckError) is an answer, not a misuse."""
    fn, x = kw.pop("fn"), kw.pop("x")
    with contextlib.suppress(GradcheckError):
        ag.gradcheck(fn, x, **kw)


class Twice(Function):
    """y = 2 x, the smallest Function: the hunt checks what Function.__call__ does with odd inputs."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2

    def backward(self, gy: Tensor) -> Tensor:
        return gy * 2


def shape_case(fn: Callable[..., Any], label: str, x: Callable[[], Any], shape: Any, names: tuple[str, ...]) -> Case:
    return Case(fn, {"x": x, "shape": const(shape)}, label, names={"x": DATA, "shape": names}, raises=(IndexError,))


SHAPE_WORDS = ("shape", "size")

CASES: dict[str, Case] = {
    # ----- elementwise and linear algebra --------------------------------------------------------
    **{n: unary(getattr(ag, n), n) for n in ("abs", "exp", "log", "tanh", "sqrt", "relu", "sigmoid")},
    "maximum": binary(ag.maximum, "maximum"),
    "minimum": binary(ag.minimum, "minimum"),
    "matmul": Case(lambda a, b: ag.matmul(a, b), {"a": t23, "b": t34}, "matmul", names={"a": DATA, "b": DATA}),
    "where": Case(
        lambda condition, x, other: ag.where(condition, x, other),
        {"condition": lambda: np.array([True, False, True]), "x": t23, "other": const(0.0)},
        "where",
        names={"condition": ("condition",), "x": DATA, "other": DATA},
    ),
    # ----- reductions --------------------------------------------------------------------------------
    "sum": reduction(lambda x, dim, keepdim: ag.sum(x, dim, keepdim), "sum"),
    "mean": reduction(lambda x, dim, keepdim: ag.mean(x, dim, keepdim), "mean"),
    "amax": reduction(lambda x, dim, keepdim: ag.amax(x, dim, keepdim), "max"),
    "var": reduction(
        lambda x, dim, keepdim, correction: ag.var(x, dim, keepdim, correction), "var", correction=const(1)
    ),
    # ----- shapes ------------------------------------------------------------------------------------
    "reshape": shape_case(lambda x, shape: ag.reshape(x, shape), "reshape", t23, (3, 2), ("shape",)),
    "expand": shape_case(lambda x, shape: ag.expand(x, shape), "expand", t13, (2, 3), SHAPE_WORDS),
    "broadcast_to": shape_case(lambda x, shape: ag.broadcast_to(x, shape), "broadcast", t13, (2, 3), SHAPE_WORDS),
    "sum_to": shape_case(lambda x, shape: ag.sum_to(x, shape), "sum_to", t23, (1, 3), ("shape",)),
    "permute": Case(
        lambda x, dims: ag.permute(x, dims),
        {"x": t23, "dims": const((1, 0))},
        "permute",
        names={"x": DATA, "dims": ("dim",)},
        raises=(IndexError,),
    ),
    "transpose": Case(
        lambda x, dim0, dim1: ag.transpose(x, dim0, dim1),
        {"x": t23, "dim0": const(0), "dim1": const(1)},
        "transpose",
        names={"x": DATA, "dim0": ("dim",), "dim1": ("dim",)},
        domain={"dim0": dim_of(2), "dim1": dim_of(2)},
        raises=(IndexError,),
    ),
    "cat": joining(ag.cat, "cat", 2),
    "concat": joining(ag.concat, "cat", 2),
    "stack": joining(ag.stack, "stack", 3),
    # ----- making tensors ----------------------------------------------------------------------------
    "Tensor": making_tensor(ag.Tensor),
    "tensor": making_tensor(ag.tensor),
    "zeros": filled(ag.zeros, "zeros"),
    "ones": filled(ag.ones, "ones"),
    "zeros_like": filled_like(ag.zeros_like, "zeros_like"),
    "ones_like": filled_like(ag.ones_like, "ones_like"),
    "Scalar": Case(lambda data: Scalar(data), {"data": const(0.5)}, "Scalar", domain={"data": a_real}),
    # ----- the engine and its tools ------------------------------------------------------------------
    "Function": Case(lambda x: Twice()(x), {"x": t23}, "Twice", names={"x": DATA}),
    "once_differentiable": Case(
        lambda backward: ag.once_differentiable(backward),
        {"backward": const(lambda self, gy: gy)},
        "once_differentiable",
        domain={"backward": callable},
    ),
    "GradcheckError": Case(lambda msg: GradcheckError(msg), {"msg": const("x")}, "", domain={"msg": anything}),
    "gradcheck": Case(
        gradcheck_outcome,
        {
            "fn": const(lambda x: x.tanh()),
            "x": leaf64,
            "eps": const(1e-6),
            "atol": const(1e-5),
            "rtol": const(1e-3),
            "seed": const(0),
            "raise_exception": const(True),
        },
        "gradcheck",
        names={"x": ("input",)},
        domain={
            "eps": finite_at_least(0, strict=True),
            "atol": finite_at_least(0),
            "rtol": finite_at_least(0),
            "seed": lambda v: is_int(v) and v >= 0,
            "raise_exception": a_bool,
        },
    ),
    "numerical_vjp": Case(
        lambda fn, inputs, grads, eps: ag.numerical_vjp(fn, inputs, grads, eps),
        {
            "fn": const(lambda x: x.tanh()),
            "inputs": lambda: [leaf64()],
            "grads": lambda: [np.ones(2)],
            "eps": const(1e-6),
        },
        "numerical_vjp",
        names={"grads": ("grads",), "inputs": ("input",)},
        domain={"eps": finite_at_least(0, strict=True)},
    ),
    "to_dot": Case(lambda root: ag.to_dot(root), {"root": lambda: t23() * 2}, "to_dot"),
    "to_mermaid": Case(lambda root: ag.to_mermaid(root), {"root": lambda: t23() * 2}, "to_mermaid"),
    "set_grad_enabled": Case(restoring_grad_mode, {"mode": const(False)}, "set_grad_enabled", domain={"mode": a_bool}),
    "no_grad": decorator(ag.no_grad, "no_grad"),
    "enable_grad": decorator(ag.enable_grad, "enable_grad"),
    "is_grad_enabled": Case(ag.is_grad_enabled, label="is_grad_enabled"),
    # ----- Tensor methods and operators --------------------------------------------------------------
    **{
        f"Tensor.{n}": method(n, n)
        for n in (
            "exp",
            "log",
            "tanh",
            "sqrt",
            "abs",
            "relu",
            "sigmoid",
            "detach",
            "tolist",
            "numel",
            "float",
            "double",
        )
    },
    "Tensor.numpy": method("numpy", "numpy"),
    "Tensor.item": method("item", "item", self=const(Tensor([1.5]))),
    "Tensor.__bool__": Case(lambda self: bool(self), {"self": const(Tensor([1.5]))}, "bool"),
    "Tensor.__len__": Case(lambda self: len(self), {"self": t23}, "len"),
    "Tensor.__neg__": Case(lambda self: -self, {"self": t23}, "Neg"),
    "Tensor.retain_grad": method("retain_grad", "retain_grad", self=lambda: leaf64() * 2, raises=(RuntimeError,)),
    "Tensor.requires_grad_": method(
        "requires_grad_", "requires_grad", args={"requires_grad": const(True)}, domain={"requires_grad": a_bool}
    ),
    "Tensor.backward": method(
        "backward",
        "backward",
        self=loss,
        args={"gradient": const(None), "create_graph": const(False)},
        domain={"create_graph": a_bool},
        raises=(RuntimeError,),
    ),
    **{f"Tensor.{n}": method(n, "astype", args={"dtype": const(np.float64)}) for n in ("astype", "to")},
    "Tensor.size": method(
        "size",
        "size",
        args={"dim": const(1)},
        domain={"dim": lambda v: v is None or dim_of(2)(v)},
        raises=(IndexError,),
    ),
    **{f"Tensor.{n}": method(n, n, args={"other": const(0.5)}, names={"other": DATA}) for n in ("maximum", "minimum")},
    **{
        f"Tensor.{n}": method(
            n,
            label,
            args={"dim": const(1), "keepdim": const(False)},
            domain={"dim": dims_of(2), "keepdim": a_bool},
            raises=(IndexError,),
        )
        for n, label in (("sum", "sum"), ("mean", "mean"), ("max", "max"), ("amax", "max"))
    },
    "Tensor.var": method(
        "var",
        "var",
        args={"dim": const(1), "keepdim": const(False), "correction": const(1)},
        domain={"dim": dims_of(2), "keepdim": a_bool},
        raises=(IndexError,),
    ),
    **{
        f"Tensor.{n}": Case(
            lambda self, shape, n=n: getattr(self, n)(shape), {"self": t23, "shape": const((3, 2))}, "reshape"
        )
        for n in ("reshape", "view")
    },
    "Tensor.transpose": method(
        "transpose",
        "transpose",
        args={"dim0": const(0), "dim1": const(1)},
        names={"dim0": ("dim",), "dim1": ("dim",)},
        domain={"dim0": dim_of(2), "dim1": dim_of(2)},
        raises=(IndexError,),
    ),
    "Tensor.permute": Case(
        lambda self, dims: self.permute(dims),
        {"self": t23, "dims": const((1, 0))},
        "permute",
        names={"dims": ("dim",)},
        raises=(IndexError,),
    ),
    "Tensor.expand": Case(
        lambda self, sizes: self.expand(sizes),
        {"self": t13, "sizes": const((2, 3))},
        "expand",
        names={"sizes": SHAPE_WORDS},
    ),
    "Tensor.broadcast_to": Case(
        lambda self, shape: self.broadcast_to(shape),
        {"self": t13, "shape": const((2, 3))},
        "broadcast",
        names={"shape": SHAPE_WORDS},
    ),
    "Tensor.__getitem__": Case(
        lambda self, index: self[index],
        {"self": t23, "index": const(1)},
        "GetItem",
        names={"index": ("index",)},
        raises=(IndexError,),
    ),
    **{
        f"Tensor.__{n}__": operator(op, label, names={"other": DATA})
        for n, op, label in (
            ("add", lambda a, b: a + b, "Add"),
            ("radd", lambda a, b: b + a, "Add"),
            ("sub", lambda a, b: a - b, "Sub"),
            ("rsub", lambda a, b: b - a, "Sub"),
            ("mul", lambda a, b: a * b, "Mul"),
            ("rmul", lambda a, b: b * a, "Mul"),
            ("truediv", lambda a, b: a / b, "Div"),
            ("rtruediv", lambda a, b: b / a, "Div"),
            # With a foreign object Python itself answers, as it does for PyTorch: "'<' not supported ..."
            ("lt", lambda a, b: a < b, ("less", "'<'")),
            ("le", lambda a, b: a <= b, ("less_equal", "'<='")),
            ("gt", lambda a, b: a > b, ("greater", "'>'")),
            ("ge", lambda a, b: a >= b, ("greater_equal", "'>='")),
            ("eq", lambda a, b: a == b, "equal"),
            ("ne", lambda a, b: a != b, "not_equal"),
        )
    },
    "Tensor.__matmul__": operator(lambda a, b: a @ b, "matmul", other=t34, names={"other": DATA}),
    "Tensor.__rmatmul__": operator(
        lambda a, b: b @ a, "matmul", other=const(np.ones((4, 2), np.float32)), names={"other": DATA}
    ),
    "Tensor.__pow__": operator(
        lambda a, b: a**b, "pow", other=const(2.0), names={"other": ("exponent", "Tensor ** Tensor")}
    ),
    "Tensor.__rpow__": operator(
        lambda a, b: b**a, "pow", other=const(2.0), names={"other": ("base", "Tensor ** Tensor")}
    ),
    # ----- Scalar ------------------------------------------------------------------------------------
    "Scalar.__add__": scalar_op(lambda a, b: a + b),
    "Scalar.__radd__": scalar_op(lambda a, b: b + a),
    "Scalar.__sub__": scalar_op(lambda a, b: a - b),
    "Scalar.__rsub__": scalar_op(lambda a, b: b - a),
    "Scalar.__mul__": scalar_op(lambda a, b: a * b),
    "Scalar.__rmul__": scalar_op(lambda a, b: b * a),
    "Scalar.__truediv__": scalar_op(lambda a, b: a / b),
    "Scalar.__rtruediv__": scalar_op(lambda a, b: b / a),
    "Scalar.__pow__": scalar_op(lambda a, b: a**b),
    "Scalar.__rpow__": scalar_op(lambda a, b: b**a, domain=lambda v: is_real(v) and v > 0),
    "Scalar.__neg__": scalar_unary("__neg__"),
    **{f"Scalar.{n}": scalar_unary(n) for n in ("exp", "tanh", "relu", "sigmoid")},
    "Scalar.log": scalar_unary("log", domain=lambda v: is_real(v) and not v <= 0),
    "Scalar.backward": Case(
        lambda data: Scalar(data).tanh().backward(), {"data": const(0.5)}, "Scalar", domain={"data": a_real}
    ),
}

# Public callables the hunt does not call, and why.
NOT_HUNTED = {
    "Function.forward": "written by each op's subclass on raw arrays; the op's wrapper checks what reaches it",
    "Function.backward": "written by each op's subclass; the engine checks what it returns (test_errors)",
    "Function.output": "called by a backward, with no arguments",
}


def test_every_public_callable_is_hunted() -> None:
    problems = table_problems("numpygpt.autograd", public_callables(ag), CASES, NOT_HUNTED, __file__)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", sorted(CASES))
def test_every_odd_value(key: str) -> None:
    """The valid call works; then each argument gets each odd value of the fixed list."""
    message = hunt_message(key, CASES[key])
    assert message is None, message


ODD = odd_value_strategy()
HUNTED = sorted(k for k, c in CASES.items() if c.hunted_args())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(HUNTED), data=st.data())
def test_generated_odd_values(key: str, data: st.DataObject) -> None:
    """Generated odd values (floats of every kind, ints small or huge, arrays and NumPy scalars of
    every dtype and small shape, Tensors) in a random argument of a random callable."""
    problem = attempt_drawn(CASES[key], data, ODD)
    assert problem is None, f"{key}: {problem}"

"""Misuse, hunted: hypothesis throws odd values at every public callable of numpygpt.optim.

Every public class, function and method, enumerated from the package's namespace so that a new
one cannot be forgotten, has an entry in CASES: a function that draws one call with odd
arguments (NaN, ±inf, negative, zero, huge, wrong types, NumPy scalars, empty arrays, foreign
objects, other optimizers' states) and says what success must look like. Two outcomes pass:

  * the call works as PyTorch's would: the entry's check (hyper-parameters stored as the numbers
    given, PyTorch's documented formulas, the same run as with Python numbers);
  * it raises ValueError or TypeError whose message names an argument that was odd, and leaves
    the optimizer or schedule exactly as it was.

Any other exception fails the test (except PyTorch's own documented ones, listed per case).
"""

from __future__ import annotations

import copy
import inspect
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpygpt.optim as optim
from numpygpt.autograd import Tensor
from numpygpt.optim import SGD, Adam, AdamW, Optimizer, lr_scheduler
from numpygpt.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LRScheduler, StepLR, WarmupCosineLR

pytestmark = pytest.mark.misuse

NAN, INF = float("nan"), float("inf")

# ----- odd values ----------------------------------------------------------------------------------
FOREIGN = st.sampled_from(
    [
        lambda: None,
        lambda: "0.1",
        lambda: b"1",
        lambda: [],
        lambda: (),
        lambda: {},
        lambda: {0.5},
        lambda: object(),
        lambda: print,
        lambda: np.array(0.5),
        lambda: np.ones(2),
        lambda: np.zeros(0),
        lambda: np.zeros((0, 3)),
        lambda: np.array(["a"]),
        lambda: 1 + 1j,
        lambda: Decimal("0.1"),
        lambda: Fraction(1, 3),
        lambda: True,
        lambda: np.bool_(False),
        lambda: Tensor(np.ones(2, np.float32)),
    ]
).map(lambda make: make())
NUMBERS = st.one_of(
    st.sampled_from([NAN, INF, -INF, 0, 0.0, -0.0, -1, -1e-3, 1, 0.5, 2, 1e300, -1e300, 10**400, -(10**400), 5e-324]),
    st.floats(),
    st.integers(-(10**6), 10**6),
)
NUMPY_SCALARS = st.one_of(
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.integers(-128, 127).map(np.int8),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.sampled_from([np.float16(0.1), np.float32(NAN), np.float64(-INF), np.uint8(255), np.float32(1e-3)]),
)
ODD = st.one_of(NUMBERS, NUMPY_SCALARS, FOREIGN, st.text(max_size=3))


def one_of_made(*makers: Callable[[], Any]) -> st.SearchStrategy[Any]:
    """A fresh object per example from one of `makers` (tensors must not be shared between examples)."""
    return st.sampled_from(makers).map(lambda make: make())


def param(*shape: int, value: float = 0.5) -> Tensor:
    return Tensor(np.full(shape, value, np.float32), requires_grad=True)


P0 = np.array([1.0, -1.0], np.float32)
G0 = np.array([0.5, -2.0], np.float32)


def param_with_grad() -> Tensor:
    p = Tensor(P0.copy(), requires_grad=True)
    p.grad = Tensor(G0.copy())
    return p


# ----- one case per public callable ----------------------------------------------------------------
@dataclass
class Case:
    """One drawn call: its odd arguments, what success must look like, what failure must not change."""

    call: Callable[[], Any]
    odd: set[str]  # the odd arguments: an error message must name one of them
    check: Callable[[Any], None] = lambda result: None
    snapshot: Callable[[], Any] | None = None  # state that a refused call must leave as it was
    documented: tuple[type[BaseException], str] | None = None  # PyTorch's own exception here, if any


def odd_kwargs(
    data: st.DataObject, valid: dict[str, Any], special: dict[str, st.SearchStrategy[Any]] | None = None
) -> tuple[dict[str, Any], set[str]]:
    """`valid` with one or two arguments replaced by odd values (from ODD, or `special` for that argument)."""
    names = data.draw(st.sets(st.sampled_from(sorted(valid)), min_size=1, max_size=2), label="odd arguments")
    kwargs = dict(valid)
    for name in sorted(names):
        strategy = st.one_of(ODD, special[name]) if special and name in special else ODD
        kwargs[name] = data.draw(strategy, label=name)
    return kwargs, names


def params_words(value: Any) -> set[str]:
    """Words that name odd params: the argument, and the keys of any group dict inside it."""
    words = {"params", "parameter", "param_group"}  # PyTorch's messages say "parameters" too
    if isinstance(value, list):
        words.update(k for item in value if isinstance(item, dict) for k in item)
    return words


def python_number(value: Any) -> Any:
    """What a NumPy scalar stands for as a Python number (np.float32(0.1) -> its exact double)."""
    return value.item() if isinstance(value, np.generic) else value


def as_float(value: Any) -> float:
    """float(value), with ints beyond float's range as ±inf."""
    try:
        return float(python_number(value))
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def moderate(*values: Any) -> bool:
    """Every value 0 or between 1e-6 and 1e6 in size: a float64 formula matches float32 arithmetic."""
    return all(isinstance(v, bool) or v == 0 or 1e-6 <= abs(float(v)) <= 1e6 for v in values)


def snapshot_optimizer(opt: Optimizer, *params: Tensor) -> Any:
    return copy.deepcopy((opt.state_dict(), [p.data for p in params], [p.grad for p in params]))


def same(a: Any, b: Any) -> bool:
    """Deep equality of nested containers, arrays compared with NaN equal to NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return isinstance(a, Tensor) and isinstance(b, Tensor) and same(a.data, b.data)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


# --- optimizers ------------------------------------------------------------------------------------
HYPER = {
    SGD: {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01, "nesterov": False},
    Adam: {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
    AdamW: {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
}
ODD_PARAMS = one_of_made(
    lambda: [None],
    lambda: [np.ones(2, np.float32)],
    lambda: [param(2) * 2],  # not a leaf
    lambda: [Tensor(np.ones(2, np.int64))],
    lambda: [param(0)],  # zero-size: fine
    lambda: (q for q in [param(2), param(3)]),  # a generator: fine
    lambda: {param(2)},
    lambda: {"w": param(2)},
    lambda: [("w", param(2))],
    lambda: [("w",)],
    lambda: [(1, param(2))],
    lambda: [[param(2)]],
    lambda: [{"params": [param(2)], "lr": NAN}],
    lambda: [{"params": param(2), "lr": -1}],
    lambda: [{"params": [param(2)], "weight_decay": INF}],
    lambda: [{"lr": 0.1}],
    lambda: [{"params": 3}],
    lambda: [{"params": [param(2)], "betas": (0.9,)}],
    lambda: [{"params": [param(2)], "momentum": "0.9", "eps": NAN}],
    lambda: param(2),
)
ODD_BETAS = one_of_made(
    lambda: (0.9,),
    lambda: (0.9, 0.99, 0.999),
    lambda: [0.8, 0.9],
    lambda: (np.float32(0.9), np.float32(0.99)),
    lambda: (0, 0),
    lambda: (NAN, 0.9),
    lambda: (0.9, "0.99"),
    lambda: (0.9, 1),
    lambda: np.array([0.9, 0.99]),
)


def first_step(cls: type[Optimizer], kw: dict[str, Any]) -> np.ndarray:
    """PyTorch's documented first update of P0 with gradient G0, in float64."""
    p, g = P0.astype(np.float64), G0.astype(np.float64)
    lr, wd = float(kw["lr"]), float(kw["weight_decay"])
    if cls is SGD:
        d = g + wd * p
        if kw["nesterov"]:
            d = d + float(kw["momentum"]) * d  # the buffer starts at the gradient
        return p - lr * d
    beta1, beta2 = (float(b) for b in kw["betas"])
    if cls is AdamW:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    denom = np.sqrt((1 - beta2) * g * g) / math.sqrt(1 - beta2) + float(kw["eps"])
    return p - lr / (1 - beta1) * ((1 - beta1) * g) / denom


def optimizer_case(cls: type[Optimizer]) -> Callable[[st.DataObject], Case]:
    def draw(data: st.DataObject) -> Case:
        valid = {"params": None, **HYPER[cls]}
        special = {"params": ODD_PARAMS, "betas": ODD_BETAS}
        kwargs, odd = odd_kwargs(data, valid, special)
        p = param_with_grad()
        if "params" not in odd:
            kwargs["params"] = [p]
        else:
            odd |= params_words(kwargs["params"])

        def check(opt: Optimizer) -> None:
            assert opt.param_groups, "an optimizer without param groups"
            if "params" in odd:
                return
            group = opt.param_groups[0]
            for name in HYPER[cls]:
                given = python_number(kwargs[name])
                if name == "betas":
                    assert group[name] == tuple(float(python_number(b)) for b in given)
                elif isinstance(HYPER[cls][name], bool):
                    assert group[name] is bool(given)
                else:
                    assert type(group[name]) is float and group[name] == float(given), (name, group[name], given)
            # The same run as with Python numbers (which the parity tests compare with PyTorch).
            twin = param_with_grad()
            cls([twin], **{k: python_number(v) for k, v in kwargs.items() if k != "params"}).step()
            opt.step()
            assert np.array_equal(p.data, twin.data, equal_nan=True) and p.dtype == np.float32
            numbers = [v for k, v in kwargs.items() if k not in ("params", "betas")] + list(kwargs.get("betas", []))
            if moderate(*numbers):
                np.testing.assert_allclose(p.data, first_step(cls, kwargs), rtol=1e-4, atol=1e-6)

        return Case(lambda: cls(**kwargs), odd, check)

    return draw


def any_optimizer(data: st.DataObject, *params: Tensor) -> Optimizer:
    cls = data.draw(st.sampled_from([SGD, Adam, AdamW]), label="optimizer")
    return cls(list(params), **HYPER[cls])


def base_optimizer_case(data: st.DataObject) -> Case:
    kwargs, odd = odd_kwargs(data, {"params": [param(2)], "defaults": {"lr": 0.1}}, {"params": ODD_PARAMS})
    if "params" in odd:
        odd |= params_words(kwargs["params"])
    if "defaults" in odd and isinstance(kwargs["defaults"], dict):
        odd |= set(kwargs["defaults"])
    return Case(lambda: Optimizer(**kwargs), odd)


def add_param_group_case(data: st.DataObject) -> Case:
    p = param_with_grad()
    opt = any_optimizer(data, p)
    key = data.draw(st.sampled_from(["params", "lr", "weight_decay", None]), label="odd entry")
    group: Any = {"params": [param(3)]}
    if key is None:
        group = data.draw(st.one_of(ODD, one_of_made(lambda: [param(2)], lambda: {"lr": 0.1}, lambda: {"params": [p]})))
        odd = params_words(group) | {"parameter group"}
    else:
        group[key] = data.draw(st.one_of(ODD, ODD_PARAMS) if key == "params" else ODD, label=key)
        odd = {key, "param_group", "parameter group"} | (params_words(group[key]) if key == "params" else set())

    def check(result: None) -> None:
        assert len(opt.param_groups) == 2
        if key in ("lr", "weight_decay"):
            assert opt.param_groups[1][key] == float(group[key])

    return Case(lambda: opt.add_param_group(group), odd, check, lambda: snapshot_optimizer(opt, p))


def zero_grad_case(data: st.DataObject) -> Case:
    p = param_with_grad()
    opt = any_optimizer(data, p)
    set_to_none = data.draw(ODD, label="set_to_none")

    def check(result: None) -> None:
        if bool(set_to_none):
            assert p.grad is None
        else:
            assert p.grad is not None and not p.grad.data.any()

    return Case(lambda: opt.zero_grad(set_to_none), {"set_to_none"}, check, lambda: snapshot_optimizer(opt, p))


ODD_GRADS = one_of_made(
    lambda: Tensor(np.full(2, NAN, np.float32)),
    lambda: Tensor(np.array([INF, -INF], np.float32)),
    lambda: Tensor(np.zeros(2, np.float32)),
    lambda: Tensor(np.ones(3, np.float32)),
    lambda: Tensor(np.ones((1, 2), np.float32)),
    lambda: Tensor(np.ones(2, np.float64)),
    lambda: Tensor(np.ones(2, np.int64)),
    lambda: Tensor(np.float32(1.0)),
    lambda: np.ones(2, np.float32),
    lambda: 3.0,
    lambda: None,
)


def step_case(cls: type[Optimizer] | None) -> Callable[[st.DataObject], Case]:
    def draw(data: st.DataObject) -> Case:
        p = param_with_grad()
        opt = Optimizer([p], {"lr": 0.1}) if cls is None else cls([p], **HYPER[cls])
        odd = data.draw(st.sets(st.sampled_from(["grad", "closure"]), min_size=1), label="odd arguments")
        if "grad" in odd:
            p.grad = data.draw(ODD_GRADS, label="grad")
        closure = (
            data.draw(st.one_of(ODD, st.sampled_from([lambda: 1.5, lambda: NAN])), label="closure")
            if "closure" in odd
            else None
        )

        def check(loss: Any) -> None:
            assert loss == (closure() if callable(closure) else None) or math.isnan(loss)
            assert p.dtype == np.float32 and p.shape == (2,)
            if p.grad is not None and np.isfinite(p.grad.data).all():
                assert np.isfinite(p.data).all()

        documented = (NotImplementedError, "Optimizer.step is not written") if cls is None else None
        return Case(lambda: opt.step(closure), odd, check, lambda: snapshot_optimizer(opt, p), documented)

    return draw


def trained(cls: type[Optimizer], **hyper: Any) -> tuple[Optimizer, Tensor]:
    p = param_with_grad()
    opt = cls([p], **{**HYPER[cls], **hyper})
    opt.step()
    return opt, p


def odd_state_dicts(target: type[Optimizer]) -> st.SearchStrategy[Any]:
    """Another optimizer's state, or this one's with one entry broken, or this one's intact."""

    def broken(change: Callable[[dict[str, Any]], None], cls: type[Optimizer] = target) -> Callable[[], Any]:
        def make() -> Any:
            sd = trained(cls, **({"momentum": 0.9} if cls is SGD else {}))[0].state_dict()
            change(sd)
            return sd

        return make

    def setitem(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
        def change(sd: dict[str, Any]) -> None:
            node = sd
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value

        return change

    buffer = "momentum_buffer" if target is SGD else "exp_avg"
    return st.one_of(
        ODD,
        one_of_made(
            broken(lambda sd: None),  # intact: loads
            broken(lambda sd: None, SGD),
            broken(lambda sd: None, Adam),
            broken(lambda sd: None, AdamW),
            broken(setitem(("param_groups", 0, "lr"), NAN)),
            broken(setitem(("param_groups", 0, "lr"), np.float32(0.5))),  # a NumPy lr: loads as 0.5
            broken(setitem(("param_groups", 0, "weight_decay"), -1.0)),
            broken(setitem(("param_groups", 0, "params"), ["0"])),
            broken(setitem(("param_groups", 0, "params"), [0, 1])),
            broken(setitem(("param_groups",), [])),
            broken(setitem(("param_groups",), "groups")),
            broken(setitem(("state", 0, buffer), np.full(2, NAN, np.float32))),
            broken(setitem(("state", 0, buffer), np.ones(3, np.float32))),
            broken(setitem(("state", 0, buffer), 0.5)),
            broken(setitem(("state", 0, buffer), np.array(["a", "b"]))),
            broken(setitem(("state", 0, "step"), -1)),
            broken(setitem(("state", 0, "step"), np.array(2.0))),  # a saved 0-d step: loads as 2
            broken(setitem(("state", 0, "unknown"), np.ones(2, np.float32))),
            broken(setitem(("state", 5), {})),
            broken(setitem(("state",), [])),
            broken(lambda sd: sd.pop("state")),
            broken(lambda sd: sd["state"][0].pop(buffer)),
        ),
    )


def load_state_dict_case(target: type[Optimizer] | None) -> Callable[[st.DataObject], Case]:
    def draw(data: st.DataObject) -> Case:
        cls = data.draw(st.sampled_from([SGD, Adam, AdamW]), label="optimizer") if target is None else target
        opt, p = trained(cls, **({"momentum": 0.5} if cls is SGD else {"lr": 0.05}))
        state = data.draw(odd_state_dicts(cls), label="state_dict")

        def check(result: None) -> None:
            loaded = opt.state_dict()
            assert len(loaded["param_groups"]) == 1 and loaded["param_groups"][0]["params"] == [0]
            assert all(
                isinstance(v, np.ndarray) or type(v) is int for s in loaded["state"].values() for v in s.values()
            )
            if cls is AdamW:
                assert opt.param_groups[0]["decoupled_weight_decay"] is True
            opt.step()  # a loaded state steps
            assert np.isfinite(p.data).all()

        return Case(
            lambda: opt.load_state_dict(state), {"state_dict", "state dict"}, check, lambda: snapshot_optimizer(opt, p)
        )

    return draw


def state_dict_case(data: st.DataObject) -> Case:
    cls = data.draw(st.sampled_from([SGD, Adam, AdamW]), label="optimizer")
    kwargs, odd = odd_kwargs(data, HYPER[cls], {"betas": ODD_BETAS})
    p = param_with_grad()

    def call() -> Any:
        opt = cls([p], **kwargs)
        opt.step()
        return opt, opt.state_dict()

    def check(result: tuple[Optimizer, dict[str, Any]]) -> None:
        opt, sd = result
        plain = (bool, int, float, str, tuple, list)
        assert all(isinstance(v, plain) for g in sd["param_groups"] for v in g.values()), sd["param_groups"]
        twin = cls([param_with_grad()], **HYPER[cls])
        if not all(np.isfinite(v).all() for s in sd["state"].values() for v in s.values() if isinstance(v, np.ndarray)):
            with pytest.raises(ValueError, match="holds nan or inf: the run that saved it had diverged"):
                twin.load_state_dict(sd)  # a diverged run (lr=1e300) is not resumed
            return
        twin.load_state_dict(sd)
        assert same(twin.state_dict(), sd)

    return Case(call, odd, check)


# --- clipping and the weight-decay groups ----------------------------------------------------------
ODD_TENSORS = one_of_made(
    lambda: [Tensor(np.ones(2, np.float32)), Tensor(np.full((2, 2), 3.0, np.float32))],
    lambda: [Tensor(np.zeros(0, np.float32)), Tensor(np.zeros((0, 3), np.float32))],
    lambda: [Tensor(np.array([NAN, 1.0], np.float32))],
    lambda: [Tensor(np.array([INF, 1.0], np.float32))],
    lambda: [Tensor(np.ones(2, np.float64)), Tensor(np.ones(2, np.float16))],
    lambda: [Tensor(np.ones(2, np.int64))],
    lambda: [np.ones(2, np.float32)],
    lambda: [None],
    lambda: Tensor(np.float32(-3.0)),
    lambda: (t for t in [Tensor(np.ones(2, np.float32))]),
    lambda: [],
)


def with_grads(grads: Any) -> Any:
    """Parameters whose .grad are `grads` (a list of gradients), or `grads` itself if it is odd."""
    if not isinstance(grads, list):
        return grads
    params = []
    for g in grads:
        p = Tensor(np.zeros(g.shape, np.float32), requires_grad=True) if isinstance(g, Tensor) else g
        if isinstance(p, Tensor):
            p.grad = g
        params.append(p)
    return params


def reference_norm(grads: list[Tensor], norm_type: Any) -> float:
    """The norm of every gradient concatenated into one vector (0 for none)."""
    flat = np.concatenate([g.data.astype(np.float64).ravel() for g in grads] + [np.zeros(0)])
    if flat.size == 0:
        return 0.0
    return float(np.linalg.norm(flat, ord=as_float(norm_type)))


def comparable(norm_type: Any) -> bool:
    """Norm types for which the norm of per-tensor norms is the norm of the concatenation (not p = 0)."""
    try:
        p = as_float(norm_type)
    except (TypeError, ValueError):
        return False
    return p != 0 and (math.isinf(p) or 0.5 <= abs(p) <= 8)


def get_total_norm_case(data: st.DataObject) -> Case:
    kwargs, odd = odd_kwargs(
        data,
        {"tensors": None, "norm_type": 2.0, "error_if_nonfinite": False},
        {"tensors": ODD_TENSORS, "norm_type": st.sampled_from(["inf", "-inf", "fro", 1, 0, -2, INF])},
    )
    if "tensors" not in odd:
        kwargs["tensors"] = [Tensor(G0.copy()), Tensor(np.full((2, 3), -1.5, np.float32))]
    tensors = list(kwargs["tensors"]) if isinstance(kwargs["tensors"], (list, tuple)) else kwargs["tensors"]
    kwargs["tensors"] = tensors

    def check(total: Tensor) -> None:
        assert isinstance(total, Tensor) and total.shape == ()
        if isinstance(tensors, list) and comparable(kwargs["norm_type"]):
            expected = reference_norm(tensors, kwargs["norm_type"])
            np.testing.assert_allclose(float(total.item()), expected, rtol=1e-3)  # float16 tensors too

    documented = (RuntimeError, "is non-finite, so it cannot be clipped")
    return Case(lambda: optim.get_total_norm(**kwargs), odd, check, documented=documented)


def clip_coef(max_norm: Any, total: Tensor) -> np.ndarray:
    """PyTorch's clipping factor, min(max_norm / (total + 1e-6), 1), in the norm's dtype (float32 in,
    float32 out: a max_norm beyond float32's range is inf there), NaN passed on."""
    t = total.data.dtype.type
    return np.minimum(t(as_float(max_norm)) / (total.data + t(1e-6)), t(1.0))


def clip_case(data: st.DataObject) -> Case:
    kwargs, odd = odd_kwargs(
        data,
        {"parameters": None, "max_norm": 1.0, "norm_type": 2.0, "error_if_nonfinite": False},
        {"parameters": ODD_TENSORS.map(with_grads), "norm_type": st.sampled_from(["inf", 1, -2])},
    )
    if "parameters" not in odd:
        kwargs["parameters"] = with_grads([Tensor(G0.copy()), Tensor(np.full(3, 4.0, np.float32))])
    params = list(kwargs["parameters"]) if isinstance(kwargs["parameters"], (list, tuple)) else kwargs["parameters"]
    kwargs["parameters"] = params
    before = (
        [p.grad.data.copy() for p in params if isinstance(p, Tensor) and isinstance(p.grad, Tensor)]
        if isinstance(params, list)
        else []
    )

    def check(total: Tensor) -> None:
        grads = [p.grad.data for p in params if p.grad is not None] if isinstance(params, list) else []
        norm = float(total.item())
        assert isinstance(total, Tensor) and total.shape == () and (norm >= 0 or math.isnan(norm))
        coef = clip_coef(kwargs["max_norm"], total)
        for g, old in zip(grads, before, strict=True):
            np.testing.assert_allclose(g, old * coef.astype(g.dtype), rtol=1e-3, atol=1e-30)  # float16 too

    documented = (RuntimeError, "is non-finite, so it cannot be clipped")
    return Case(lambda: optim.clip_grad_norm_(**kwargs), odd, check, documented=documented)


def clip_grads_with_norm_case(data: st.DataObject) -> Case:
    kwargs, odd = odd_kwargs(
        data,
        {"parameters": None, "max_norm": 1.0, "total_norm": Tensor(np.float32(5.0))},
        {
            "parameters": ODD_TENSORS.map(with_grads),
            "total_norm": one_of_made(
                lambda: Tensor(np.float32(-1.0)),
                lambda: Tensor(np.ones(2, np.float32)),
                lambda: Tensor(np.float32(NAN)),
            ),
        },
    )
    p = param_with_grad()
    if "parameters" not in odd:
        kwargs["parameters"] = [p]

    def check(result: None) -> None:
        if "parameters" in odd:
            return
        total = kwargs["total_norm"]
        coef = clip_coef(
            kwargs["max_norm"], total if isinstance(total, Tensor) else Tensor(np.float64(as_float(total)))
        )
        np.testing.assert_allclose(p.grad.data, G0 * coef.astype(np.float32), rtol=1e-5, atol=1e-30)

    return Case(lambda: optim.clip_grads_with_norm_(**kwargs), odd, check, lambda: copy.deepcopy(p.grad.data))


def configure_weight_decay_case(data: st.DataObject) -> Case:
    kwargs, odd = odd_kwargs(
        data,
        {"named_parameters": None, "weight_decay": 0.1},
        {
            "named_parameters": one_of_made(
                lambda: {"w": param(2, 2), "b": param(2)},
                lambda: [("w", param(2, 2)), ("b", param(0))],
                lambda: [param(2)],
                lambda: [("w",)],
                lambda: [(1, param(2))],
                lambda: [("w", np.ones(2))],
                lambda: param(2),
                lambda: iter([]),
            )
        },
    )
    if "named_parameters" not in odd:
        kwargs["named_parameters"] = [("w", param(2, 2)), ("b", param(2))]

    def check(groups: list[dict[str, Any]]) -> None:
        assert [g["weight_decay"] for g in groups] == [float(python_number(kwargs["weight_decay"])), 0.0]
        assert all(p.ndim >= 2 for p in groups[0]["params"]) and all(p.ndim < 2 for p in groups[1]["params"])
        AdamW(groups)  # ready for an optimizer

    return Case(lambda: optim.configure_weight_decay(**kwargs), odd, check)


# --- schedules -------------------------------------------------------------------------------------
SCHEDULES: dict[type[LRScheduler], dict[str, Any]] = {
    StepLR: {"step_size": 3, "gamma": 0.5},
    CosineAnnealingLR: {"T_max": 5, "eta_min": 0.01},
    WarmupCosineLR: {"warmup_iters": 2, "max_iters": 6, "min_lr": 0.01},
    LambdaLR: {"lr_lambda": lambda t: 1 / (t + 1)},
}
ODD_LAMBDAS = one_of_made(
    lambda: lambda t: NAN,
    lambda: lambda t: -1.0,
    lambda: lambda t: "1",
    lambda: lambda t: np.float32(0.5),
    lambda: lambda t: 10**400,
    lambda: lambda t: None,
    lambda: [lambda t: 1.0, lambda t: 2.0],
    lambda: [3],
)


def closed_form(cls: type[LRScheduler], kw: dict[str, Any], base: float, t: int) -> float:
    """PyTorch's closed form of the lr at step t (nanoGPT's for WarmupCosineLR)."""
    if cls is StepLR:
        return base * float(kw["gamma"]) ** (t // int(kw["step_size"]))
    if cls is CosineAnnealingLR:
        T, eta = int(kw["T_max"]), float(kw["eta_min"])
        return eta + (base - eta) * (1 + math.cos(math.pi * t / T)) / 2
    if cls is WarmupCosineLR:
        W, M, low = int(kw["warmup_iters"]), int(kw["max_iters"]), float(kw["min_lr"])
        if t < W:
            return base * (t + 1) / (W + 1)
        if t > M:
            return low
        coeff = 0.5 * (1 + math.cos(math.pi * (t - W) / (M - W)))  # nanoGPT's order: no overflow at 1e308
        return low + coeff * (base - low)
    return base * float(python_number(kw["lr_lambda"](t)))


def schedule_case(
    cls: type[LRScheduler], then: Callable[[LRScheduler], Any] | None = None
) -> Callable[[st.DataObject], Case]:
    """Build `cls` with odd arguments (optimizer and last_epoch included), then call `then` on it."""

    def draw(data: st.DataObject) -> Case:
        opt = SGD([param(1)], lr=0.1)
        valid = {"optimizer": opt, **SCHEDULES[cls], "last_epoch": -1}
        kwargs, odd = odd_kwargs(
            data, valid, {"lr_lambda": ODD_LAMBDAS, "optimizer": one_of_made(lambda: [0.1], lambda: AdamW)}
        )

        def call() -> Any:
            scheduler = cls(**kwargs)
            return scheduler, (then(scheduler) if then else None)

        def check(result: tuple[LRScheduler, Any]) -> None:
            scheduler = result[0]
            start = scheduler.last_epoch  # 0, or 1 after a step() call
            lrs = [scheduler.get_last_lr()[0]]
            for _ in range(12):
                try:
                    scheduler.step()
                except ValueError as e:  # an lr that overflows (gamma=1e77): refused, naming the settings
                    assert "the schedule gives lr" in str(e) and names_one_of(str(e), odd), e
                    return
                lrs.append(scheduler.get_last_lr()[0])
            assert all(type(lr) is float and lr >= 0 for lr in lrs)
            settings = [v for k, v in kwargs.items() if k not in ("optimizer", "lr_lambda", "last_epoch")]
            if moderate(*settings) and not isinstance(kwargs.get("lr_lambda"), list):
                expected = [closed_form(cls, kwargs, 0.1, start + t) for t in range(13)]
                # Rounding is relative to the largest lr in play (eta_min may be far above the base lr).
                scale = max([0.1] + [as_float(v) for v in settings if not isinstance(v, bool)])
                np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-9 * scale)

        return Case(call, odd, check, lambda: copy.deepcopy(opt.param_groups[0]))

    return draw


def base_schedule_case(data: st.DataObject) -> Case:
    opt = SGD([param(1)], lr=0.1)
    kwargs, odd = odd_kwargs(data, {"optimizer": opt, "last_epoch": -1})
    documented = (NotImplementedError, "LRScheduler.get_lr is not written")
    return Case(
        lambda: LRScheduler(**kwargs), odd, snapshot=lambda: copy.deepcopy(opt.param_groups), documented=documented
    )


def schedule_method_case(method: str) -> Callable[[st.DataObject], Case]:
    """An inherited method called on every kind of schedule, each built with odd arguments."""

    def draw(data: st.DataObject) -> Case:
        cls = data.draw(st.sampled_from(sorted(SCHEDULES, key=lambda c: c.__name__)), label="schedule")
        return schedule_case(cls, lambda s: getattr(s, method)())(data)

    return draw


def odd_schedule_states(cls: type[LRScheduler]) -> st.SearchStrategy[Any]:
    def state_of(
        other: type[LRScheduler], change: Callable[[dict[str, Any]], None] = lambda sd: None
    ) -> Callable[[], Any]:
        def make() -> Any:
            scheduler = other(SGD([param(1)], lr=0.1), **SCHEDULES[other])
            scheduler.step()
            sd = scheduler.state_dict()
            change(sd)
            return sd

        return make

    def put(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda sd: sd.__setitem__(key, value)

    own = next(iter(SCHEDULES[cls]))
    return st.one_of(
        ODD,
        one_of_made(
            state_of(cls),  # intact: loads
            *(state_of(other) for other in SCHEDULES if other is not cls),
            state_of(cls, put("last_epoch", NAN)),
            state_of(cls, put("last_epoch", -7)),
            state_of(cls, put("last_epoch", np.int64(4))),  # a NumPy int: loads as 4
            state_of(cls, put("base_lrs", [0.1, 0.2])),
            state_of(cls, put("base_lrs", [NAN])),
            state_of(cls, put("_last_lr", "0.1")),
            state_of(cls, put(own, -1)),
            state_of(cls, put(own, None)),
            state_of(cls, lambda sd: sd.pop("last_epoch")),
            state_of(cls, put("extra", 1)),
        ),
    )


def schedule_load_case(cls: type[LRScheduler]) -> Callable[[st.DataObject], Case]:
    def draw(data: st.DataObject) -> Case:
        scheduler = cls(SGD([param(1)], lr=0.1), **SCHEDULES[cls])
        state = data.draw(odd_schedule_states(cls), label="state_dict")

        def check(result: None) -> None:
            scheduler.step()
            assert all(type(lr) is float and math.isfinite(lr) and lr >= 0 for lr in scheduler.get_last_lr())

        return Case(lambda: scheduler.load_state_dict(state), {"state_dict", "state dict"}, check, scheduler.state_dict)

    return draw


def lr_at_case(data: st.DataObject) -> Case:
    scheduler = WarmupCosineLR(SGD([param(1)], lr=0.1), **SCHEDULES[WarmupCosineLR])
    kwargs, odd = odd_kwargs(data, {"it": 3, "base_lr": 0.1}, {"it": st.integers(-5, 20)})

    def check(lr: float) -> None:
        base = float(python_number(kwargs["base_lr"]))
        expected = closed_form(WarmupCosineLR, SCHEDULES[WarmupCosineLR], base, int(kwargs["it"]))
        assert type(lr) is float and lr == pytest.approx(expected, rel=1e-12, abs=1e-300)

    return Case(lambda: scheduler.lr_at(**kwargs), odd, check)


CASES: dict[str, Callable[[st.DataObject], Case]] = {
    # optimizers
    "Optimizer": base_optimizer_case,
    "Optimizer.add_param_group": add_param_group_case,
    "Optimizer.zero_grad": zero_grad_case,
    "Optimizer.step": step_case(None),
    "Optimizer.state_dict": state_dict_case,
    "Optimizer.load_state_dict": load_state_dict_case(None),
    "SGD": optimizer_case(SGD),
    "SGD.step": step_case(SGD),
    "Adam": optimizer_case(Adam),
    "Adam.step": step_case(Adam),
    "AdamW": optimizer_case(AdamW),
    "AdamW.load_state_dict": load_state_dict_case(AdamW),
    # clipping, weight-decay groups
    "get_total_norm": get_total_norm_case,
    "clip_grad_norm_": clip_case,
    "clip_grads_with_norm_": clip_grads_with_norm_case,
    "configure_weight_decay": configure_weight_decay_case,
    # schedules
    "LRScheduler": base_schedule_case,
    "LRScheduler.get_lr": schedule_method_case("get_lr"),
    "LRScheduler.step": schedule_method_case("step"),
    "LRScheduler.get_last_lr": schedule_method_case("get_last_lr"),
    "LRScheduler.state_dict": schedule_method_case("state_dict"),
    "LRScheduler.load_state_dict": schedule_load_case(StepLR),
    "LambdaLR": schedule_case(LambdaLR),
    "LambdaLR.get_lr": schedule_case(LambdaLR, lambda s: s.get_lr()),
    "LambdaLR.state_dict": schedule_case(LambdaLR, lambda s: s.state_dict()),
    "LambdaLR.load_state_dict": schedule_load_case(LambdaLR),
    "StepLR": schedule_case(StepLR),
    "StepLR.get_lr": schedule_case(StepLR, lambda s: s.get_lr()),
    "CosineAnnealingLR": schedule_case(CosineAnnealingLR),
    "CosineAnnealingLR.get_lr": schedule_case(CosineAnnealingLR, lambda s: s.get_lr()),
    "WarmupCosineLR": schedule_case(WarmupCosineLR),
    "WarmupCosineLR.get_lr": schedule_case(WarmupCosineLR, lambda s: s.get_lr()),
    "WarmupCosineLR.lr_at": lr_at_case,
}


def public_callables() -> set[str]:
    """Every public class, function and method of numpygpt.optim and numpygpt.optim.lr_scheduler."""
    names: set[str] = set()
    for module in (optim, lr_scheduler):
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue  # a sub-module
            names.add(name)
            if inspect.isclass(obj):
                names.update(
                    f"{name}.{attr}"
                    for attr, member in vars(obj).items()
                    if not attr.startswith("_") and (callable(member) or isinstance(member, classmethod))
                )
    return names


def names_one_of(message: str, arguments: set[str]) -> bool:
    """Whether `message` names one of `arguments` as a word (state_dict also as "state dict", plurals too)."""
    text = message.replace("_", " ").lower()
    return any(
        re.search(rf"(?<![a-z0-9]){re.escape(a.replace('_', ' ').lower())}s?(?![a-z0-9])", text) for a in arguments
    )


def test_every_public_callable_has_a_misuse_case() -> None:
    public = public_callables()
    missing, stale = sorted(public - set(CASES)), sorted(set(CASES) - public)
    assert not missing, (
        f"no misuse case for {missing}: add an entry to CASES in {__file__} (a function that draws a call "
        "with odd arguments and returns a Case saying what success must look like)"
    )
    assert not stale, f"CASES has entries for {stale}, which are no longer public callables of numpygpt.optim"


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_odd_arguments_work_as_in_pytorch_or_fail_clearly(name: str, data: st.DataObject) -> None:
    case = CASES[name](data)
    before = case.snapshot() if case.snapshot else None
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a duplicate parameter: PyTorch warns too
            result = case.call()
    except (ValueError, TypeError) as e:
        assert names_one_of(str(e), case.odd), (
            f"{name}: {type(e).__name__}({str(e)!r}) names none of {sorted(case.odd)}"
        )
        if case.snapshot:
            assert same(case.snapshot(), before), f"{name}: refused ({e}), but changed the state on the way"
        return
    except Exception as e:
        if case.documented and isinstance(e, case.documented[0]) and case.documented[1] in str(e):
            return
        raise
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.check(result)

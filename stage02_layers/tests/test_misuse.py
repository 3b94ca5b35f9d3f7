"""The misuse hunt: odd values thrown at every public callable of numpygpt.nn, numpygpt.nn.functional
and numpygpt.nn.init (the tools are stage01's numpygpt.autograd.testing).

CASES holds, for each public function, class and method, how to call it with valid arguments.
Each test replaces one argument at a time by an odd value (NaN, ±inf, negative, zero, huge,
wrong types and dtypes, empty arrays, NumPy scalars, foreign objects) and accepts only success,
or a TypeError/ValueError (or the error type PyTorch raises there: IndexError for an index,
KeyError for a module name, RuntimeError from load_state_dict) whose message names the
callable and the argument. Where a Case gives an argument's domain, a value inside it must work
and one outside it must be refused.

Adding a layer or an op? `test_every_public_callable_is_hunted` fails until CASES has an entry
for it and for each of its public methods: copy the entry of a similar one (a layer's
constructor and its `forward`, a functional op) and give each argument a factory of a valid
value, e.g.

    "F.rms_norm": Case(F.rms_norm, {"input": x24, "normalized_shape": const(4), ...}, "rms_norm"),

Select with `nox -s stage02 -- -m misuse`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import MAX_ELEMENTS, is_bool, is_int, is_real
from numpygpt.autograd.testing import (
    Case,
    attempt_drawn,
    hunt_message,
    odd_value_strategy,
    public_callables,
    table_problems,
)
from numpygpt.nn import init

pytestmark = pytest.mark.misuse

# A tensor operand: the op's name in the message is enough (the message shows its shape).
DATA: tuple[str, ...] = ()
RNG = np.random.default_rng(0)


def tensor(*shape: int) -> Callable[[], Tensor]:
    return lambda: Tensor(RNG.standard_normal(shape).astype(np.float32))


def const(v: Any) -> Callable[[], Any]:
    return lambda: v


x24, w34, b3, w4 = tensor(2, 4), tensor(3, 4), tensor(3), tensor(4)
qkv = tensor(1, 2, 3, 4)  # (B, nh, T, hs)


# ----- domains: the values an argument must accept (and every other value it must refuse) --------
def a_bool(v: Any) -> bool:
    return is_bool(v)


def a_size(v: Any) -> bool:
    """A size of a layer whose other size is small: any int >= 0 that an array could hold."""
    return is_int(v) and 0 <= v <= MAX_ELEMENTS // 8


def a_probability(v: Any) -> bool:
    return (is_real(v) or is_bool(v)) and 0 <= v <= 1


def finite(lo: float | None = None, hi: float | None = None, strict: bool = False) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        if not is_real(v) or not math.isfinite(v):
            return False
        if lo is not None and (v <= lo if strict else v < lo):
            return False
        return hi is None or v <= hi

    return ok


def optional(domain: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or domain(v)


def a_generator(v: Any) -> bool:
    return v is None or isinstance(v, np.random.Generator)


def dim_of(ndim: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and -ndim <= v < ndim


def one_of(*values: str) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in values


def a_module(v: Any) -> bool:
    return isinstance(v, nn.Module)


def modules_list(v: Any) -> bool:
    """An iterable of Modules (ModuleList's argument)."""
    try:
        return all(isinstance(m, nn.Module) for m in v)
    except TypeError:  # not iterable (a 0-d array is not)
        return False


def a_new_name(v: Any) -> bool:
    """A name that register_parameter/buffer/add_module may take on a fresh Module."""
    return isinstance(v, str) and v != "" and "." not in v and not hasattr(nn.Module(), v)


# ----- helpers for the table -----------------------------------------------------------------------
def layer(
    make: Callable[[], nn.Module], label: str | tuple[str, ...], raises: tuple[type[Exception], ...] = (), **inputs: Any
) -> Case:
    """A layer's forward, called on a fresh layer with valid inputs (x24 if none is given)."""
    args: dict[str, Callable[[], Any]] = {"self": make, **(inputs or {"input": x24})}
    return Case(lambda self, **kw: self(*kw.values()), args, label, names={k: DATA for k in args}, raises=raises)


def no_args(make: Callable[[], Any], method: str) -> Case:
    """A method without arguments (extra_repr, parameters, ...): the valid call must work."""
    return Case(lambda self: _consume(getattr(self, method)()), {"self": make})


def _consume(result: Any) -> Any:
    """A generator's body runs only when iterated: run it, so its checks run too."""
    return (
        list(result) if isinstance(result, Iterable) and not isinstance(result, (str, Mapping, nn.Module)) else result
    )


def restoring_rng(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call fn and put the default generator back as it was: the hunt must not reseed other tests."""

    def call(**kw: Any) -> Any:
        state = nn.get_rng_state()
        try:
            return fn(**kw)
        finally:
            nn.set_rng_state(state)

    return call


def linear() -> nn.Module:
    return nn.Linear(4, 3)


def seq() -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Tanh())


def mlist() -> nn.ModuleList:
    return nn.ModuleList([nn.ReLU(), nn.Tanh()])


def mdict() -> nn.ModuleDict:
    return nn.ModuleDict({"a": nn.ReLU()})


def tables() -> tuple[np.ndarray, np.ndarray]:
    return F.rotary_tables(4, 8)


def indexing(make: Callable[[], nn.Module], label: str) -> Case:
    return Case(
        lambda self, index: self[index],
        {"self": make, "index": const(0)},
        label,
        names={"index": ("ind",)},
        domain={"index": lambda v: isinstance(v, slice) or dim_of(2)(v)},
        raises=(IndexError,),
    )


def module_method(method: str, label: str, **args: Any) -> Case:
    """A method of a fresh nn.Linear(2, 2), called with keyword arguments."""
    domain, names, raises = args.pop("domain", {}), args.pop("names", {}), args.pop("raises", ())
    return Case(
        lambda self, **kw: _consume(getattr(self, method)(**kw)),
        {"self": lambda: nn.Linear(2, 2), **args},
        label,
        names=names,
        domain=domain,
        raises=raises,
    )


def registering(method: str, kind: str, value: Callable[[], Any], domain: Callable[[Any], bool], **extra: Any) -> Case:
    """register_parameter, register_buffer, add_module: name, then the value, on a fresh Module."""
    return Case(
        lambda self, name, value, **kw: getattr(self, method)(name, value, **kw),
        {"self": nn.Module, "name": const("w"), "value": value, **extra},
        kind,
        names={"name": ("name",), "value": (kind,)},
        domain={"name": a_new_name, "value": domain, **({"persistent": a_bool} if extra else {})},
        raises=(KeyError,),
    )


ATTENTION_DOMAINS = {
    "dropout_p": a_probability,
    "is_causal": a_bool,
    "scale": optional(finite()),
    "enable_gqa": a_bool,
    "generator": a_generator,
}

CASES: dict[str, Case] = {
    # ----- functional ops ----------------------------------------------------------------------------
    "F.linear": Case(
        F.linear, {"x": x24, "weight": w34, "bias": b3}, "linear", names={"x": DATA, "weight": DATA, "bias": DATA}
    ),
    "F.embedding": Case(
        F.embedding,
        {"ids": const(np.array([[0, 1, 4]])), "weight": tensor(5, 4)},
        "embedding",
        names={"ids": ("ids", "index"), "weight": DATA},
        raises=(IndexError,),
    ),
    "F.layer_norm": Case(
        F.layer_norm,
        {"x": x24, "normalized_shape": const(4), "weight": w4, "bias": w4, "eps": const(1e-5)},
        "layer_norm",
        names={"x": DATA, "weight": DATA, "bias": DATA},
        domain={"eps": finite(0)},
    ),
    "F.rms_norm": Case(
        F.rms_norm,
        {"input": x24, "normalized_shape": const(4), "weight": w4, "eps": const(None)},
        "rms_norm",
        names={"input": DATA, "weight": DATA},
        domain={"eps": optional(finite(0))},
    ),
    "F.gelu": Case(
        F.gelu,
        {"x": x24, "approximate": const("tanh")},
        "gelu",
        names={"x": DATA},
        domain={"approximate": one_of("none", "tanh")},
    ),
    "F.relu": Case(F.relu, {"x": x24}, "relu", names={"x": DATA}),
    "F.silu": Case(F.silu, {"input": x24}, "silu", names={"input": DATA}),
    "F.swiglu": Case(F.swiglu, {"gate": x24, "up": x24}, "swiglu", names={"gate": DATA, "up": DATA}),
    **{
        f"F.{n}": Case(
            getattr(F, n),
            {"x": x24, "dim": const(1)},
            n,
            names={"x": DATA},
            domain={"dim": dim_of(2)},
            raises=(IndexError,),
        )
        for n in ("softmax", "log_softmax")
    },
    "F.cross_entropy": Case(
        F.cross_entropy,
        {
            "input": tensor(3, 5),
            "target": const(np.array([0, 1, 4])),
            "ignore_index": const(-100),
            "reduction": const("mean"),
        },
        "cross_entropy",
        names={"input": DATA},
        domain={"ignore_index": is_int, "reduction": one_of("mean", "sum", "none")},
        raises=(IndexError,),
    ),
    "F.dropout": Case(
        F.dropout,
        {"x": x24, "p": const(0.5), "training": const(True), "generator": lambda: np.random.default_rng(0)},
        "dropout",
        names={"x": DATA, "p": ("probability",)},
        domain={"p": a_probability, "training": a_bool, "generator": a_generator},
    ),
    "F.scaled_dot_product_attention": Case(
        F.scaled_dot_product_attention,
        {
            "query": qkv,
            "key": qkv,
            "value": qkv,
            "attn_mask": const(None),
            "dropout_p": const(0.0),
            "is_causal": const(False),
            "scale": const(None),
            "enable_gqa": const(False),
            "generator": const(None),
        },
        "scaled_dot_product_attention",
        names={"query": DATA, "key": DATA, "value": DATA, "dropout_p": ("probability",)},
        domain=ATTENTION_DOMAINS,
    ),
    "F.rotary_tables": Case(
        F.rotary_tables,
        {"head_dim": const(4), "end": const(8), "base": const(10000.0), "dtype": const(np.float32)},
        "rotary_tables",
        names={"end": ("end", "tables")},
        domain={
            "head_dim": lambda v: is_int(v) and 0 < v <= MAX_ELEMENTS // 16 and v % 2 == 0,
            "end": lambda v: is_int(v) and 0 <= v <= MAX_ELEMENTS // 8,
            "base": finite(0, strict=True),
        },
    ),
    "F.rotary_embedding": Case(
        lambda input, cos, sin, offset: F.rotary_embedding(input, cos, sin, offset),
        {"input": tensor(1, 3, 4), "cos": lambda: tables()[0], "sin": lambda: tables()[1], "offset": const(0)},
        "rotary_embedding",
        names={"input": DATA, "cos": ("cos",), "sin": ("sin",), "offset": ("offset", "positions")},
        domain={"offset": lambda v: is_int(v) and 0 <= v <= 5},
    ),
    # ----- init --------------------------------------------------------------------------------------
    "init.uniform_": Case(
        init.uniform_,
        {"tensor": tensor(3, 4), "a": const(-1.0), "b": const(1.0), "generator": const(None)},
        "uniform_",
        domain={"a": finite(hi=1.0), "b": finite(lo=-1.0), "generator": a_generator},
    ),
    "init.normal_": Case(
        init.normal_,
        {"tensor": tensor(3, 4), "mean": const(0.0), "std": const(1.0), "generator": const(None)},
        "normal_",
        domain={"mean": finite(), "std": finite(0), "generator": a_generator},
    ),
    **{
        f"init.{n}": Case(
            getattr(init, n), {"tensor": tensor(3, 4)}, n, domain={"tensor": lambda v: isinstance(v, Tensor)}
        )
        for n in ("zeros_", "ones_")
    },
    "init.skip_init": Case(
        lambda module_cls: init.skip_init(module_cls, 3, 4),
        {"module_cls": const(nn.Linear)},
        "skip_init",
        domain={"module_cls": lambda v: isinstance(v, type) and issubclass(v, nn.Linear)},
    ),
    "init.calculate_gain": Case(
        init.calculate_gain,
        {"nonlinearity": const("leaky_relu"), "param": const(0.2)},
        "calculate_gain",
        names={"param": ("negative_slope",)},
        domain={"nonlinearity": one_of("linear", "sigmoid", "tanh", "relu", "leaky_relu"), "param": optional(finite())},
    ),
    "init.xavier_uniform_": Case(
        init.xavier_uniform_,
        {"tensor": tensor(3, 4), "gain": const(1.0), "generator": const(None)},
        "xavier_uniform_",
        domain={"gain": finite(0), "generator": a_generator},
    ),
    "init.kaiming_uniform_": Case(
        init.kaiming_uniform_,
        {
            "tensor": tensor(3, 4),
            "a": const(math.sqrt(5)),
            "mode": const("fan_in"),
            "nonlinearity": const("leaky_relu"),
            "generator": const(None),
        },
        ("kaiming_uniform_", "calculate_gain"),
        names={"a": ("negative_slope",)},
        domain={"a": optional(finite()), "mode": one_of("fan_in", "fan_out"), "generator": a_generator},
    ),
    # ----- the random state --------------------------------------------------------------------------
    "manual_seed": Case(
        restoring_rng(nn.manual_seed),
        {"seed": const(1337)},
        "manual_seed",
        domain={"seed": lambda v: is_int(v) and -(2**63) <= v < 2**64},
    ),
    "set_rng_state": Case(restoring_rng(nn.set_rng_state), {"state": nn.get_rng_state}, "set_rng_state"),
    "get_rng_state": Case(nn.get_rng_state),
    "default_generator": Case(nn.default_generator),
    # ----- Parameter, Module and its methods -----------------------------------------------------------
    "Parameter": Case(
        nn.Parameter,
        {"data": const([1.0, 2.0]), "requires_grad": const(True)},
        ("Parameter", "Tensor"),
        domain={"requires_grad": a_bool},
    ),
    "IncompatibleKeys": Case(
        nn.IncompatibleKeys,
        {"missing_keys": const([]), "unexpected_keys": const([])},
        domain={"missing_keys": lambda v: True, "unexpected_keys": lambda v: True},
    ),
    "Module": Case(nn.Module),
    "Module.__setattr__": Case(
        lambda self, value: setattr(self, "weight", value),
        {"self": lambda: nn.Linear(2, 2), "value": lambda: nn.Parameter(np.ones((2, 2), np.float32))},
        "parameter",
        names={"value": ("weight",)},
        domain={"value": lambda v: v is None or isinstance(v, nn.Parameter)},
    ),
    "Module.__delattr__": Case(
        lambda self, name: delattr(self, name),
        {"self": lambda: nn.Linear(2, 2), "name": const("weight")},
        "attribute",
        names={"name": ("attribute",)},
        raises=(AttributeError,),
    ),
    "Module.register_parameter": registering(
        "register_parameter",
        "parameter",
        lambda: nn.Parameter(np.ones(2, np.float32)),
        lambda v: v is None or isinstance(v, nn.Parameter),
    ),
    "Module.register_buffer": registering(
        "register_buffer",
        "buffer",
        lambda: np.ones(2),
        lambda v: v is None or isinstance(v, np.ndarray),
        persistent=const(True),
    ),
    **{
        f"Module.{n}": registering(n, "module", nn.ReLU, lambda v: v is None or isinstance(v, nn.Module))
        for n in ("add_module", "register_module")
    },
    "Module.load_state_dict": module_method(
        "load_state_dict",
        "load_state_dict",
        state_dict=lambda: {k: v.copy() for k, v in nn.Linear(2, 2).state_dict().items()},
        strict=const(True),
        domain={"strict": a_bool},
        raises=(RuntimeError,),
    ),
    "Module.register_forward_hook": Case(
        lambda self, hook, prepend: self.register_forward_hook(hook, prepend=prepend),
        {"self": linear, "hook": const(lambda module, args, output: None), "prepend": const(False)},
        "register_forward_hook",
        domain={"hook": callable, "prepend": a_bool},
    ),
    "RemovableHandle.remove": no_args(lambda: linear().register_forward_hook(lambda *a: None), "remove"),
    "Module.train": module_method("train", "train", mode=const(False), domain={"mode": a_bool}),
    "Module.zero_grad": module_method(
        "zero_grad", "zero_grad", set_to_none=const(True), domain={"set_to_none": a_bool}
    ),
    "Module.to": module_method("to", "to", dtype=const(np.float64)),
    "Module.named_parameters": module_method(
        "named_parameters",
        "named_parameters",
        prefix=const("m"),
        remove_duplicate=const(True),
        domain={"prefix": lambda v: isinstance(v, str), "remove_duplicate": a_bool},
    ),
    "Module.named_modules": module_method(
        "named_modules", "named_modules", prefix=const("m"), domain={"prefix": lambda v: isinstance(v, str)}
    ),
    **{
        f"Module.{n}": no_args(linear, n)
        for n in (
            *("children", "modules", "named_children", "parameters", "num_parameters", "state_dict"),
            *("eval", "double", "float", "extra_repr"),
        )
    },
    # ----- containers --------------------------------------------------------------------------------
    "Sequential": Case(
        lambda m0, m1: nn.Sequential(m0, m1),
        {"m0": nn.ReLU, "m1": nn.Tanh},
        "Sequential",
        names={"m0": DATA, "m1": DATA},
        domain={"m0": a_module, "m1": a_module},
    ),
    "Sequential.forward": layer(lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU()), "Linear"),
    "Sequential.__getitem__": indexing(seq, "Sequential"),
    "ModuleList": Case(
        nn.ModuleList,
        {"modules": lambda: [nn.ReLU(), nn.Tanh()]},
        "ModuleList",
        domain={"modules": modules_list},
    ),
    "ModuleList.append": Case(
        lambda self, module: self.append(module),
        {"self": mlist, "module": nn.ReLU},
        "ModuleList.append",
        names={"module": DATA},
        domain={"module": a_module},
    ),
    "ModuleList.__getitem__": indexing(mlist, "ModuleList"),
    **{
        f"{c}.{n}": no_args(make, n)
        for c, make in (("Sequential", seq), ("ModuleList", mlist))
        for n in ("__len__", "__iter__")
    },
    "ModuleDict": Case(
        nn.ModuleDict,
        {"modules": lambda: {"a": nn.ReLU()}},
        "ModuleDict",
        domain={"modules": lambda v: v is None or (isinstance(v, Mapping) and not v)},
    ),
    "ModuleDict.__getitem__": Case(
        lambda self, key: self[key], {"self": mdict, "key": const("a")}, "ModuleDict", raises=(KeyError,)
    ),
    "ModuleDict.__setitem__": Case(
        lambda self, key, module: self.__setitem__(key, module),
        {"self": mdict, "key": const("b"), "module": nn.Tanh},
        ("ModuleDict", "module name", "attribute"),
        names={"key": ("name", "key", "attribute"), "module": DATA},
        domain={"key": a_new_name, "module": a_module},
        raises=(KeyError,),
    ),
    "ModuleDict.__contains__": Case(
        lambda self, key: key in self, {"self": mdict, "key": const("a")}, domain={"key": lambda v: True}
    ),
    **{f"ModuleDict.{n}": no_args(mdict, n) for n in ("__len__", "__iter__", "keys", "items", "values")},
    # ----- layers: constructors ----------------------------------------------------------------------
    "Linear": Case(
        nn.Linear,
        {"in_features": const(4), "out_features": const(3), "bias": const(True), "dtype": const(np.float32)},
        "Linear",
        domain={"in_features": a_size, "out_features": a_size, "bias": a_bool},
    ),
    "Embedding": Case(
        nn.Embedding,
        {"num_embeddings": const(5), "embedding_dim": const(4), "dtype": const(np.float32)},
        "Embedding",
        domain={"num_embeddings": a_size, "embedding_dim": a_size},
    ),
    "LayerNorm": Case(
        nn.LayerNorm,
        {
            "normalized_shape": const(4),
            "eps": const(1e-5),
            "elementwise_affine": const(True),
            "bias": const(True),
            "dtype": const(np.float32),
        },
        "LayerNorm",
        domain={"eps": finite(0), "elementwise_affine": a_bool, "bias": a_bool},
    ),
    "RMSNorm": Case(
        nn.RMSNorm,
        {
            "normalized_shape": const(4),
            "eps": const(None),
            "elementwise_affine": const(True),
            "dtype": const(np.float32),
        },
        "RMSNorm",
        domain={"eps": optional(finite(0)), "elementwise_affine": a_bool},
    ),
    "RotaryEmbedding": Case(
        nn.RotaryEmbedding,
        {"head_dim": const(4), "max_positions": const(8), "base": const(10000.0), "dtype": const(np.float32)},
        ("RotaryEmbedding", "rotary_tables"),
        names={"max_positions": ("max_positions", "tables")},
        domain={"base": finite(0, strict=True)},
    ),
    "Dropout": Case(
        nn.Dropout, {"p": const(0.5)}, "Dropout", names={"p": ("probability",)}, domain={"p": a_probability}
    ),
    "GELU": Case(nn.GELU, {"approximate": const("none")}, "GELU", domain={"approximate": one_of("none", "tanh")}),
    "Softmax": Case(nn.Softmax, {"dim": const(-1)}, "Softmax", domain={"dim": is_int}),
    **{n: Case(getattr(nn, n)) for n in ("ReLU", "SiLU", "Tanh")},
    # ----- layers: forward ---------------------------------------------------------------------------
    "Linear.forward": layer(linear, "Linear"),
    "Embedding.forward": layer(lambda: nn.Embedding(5, 4), "embedding", (IndexError,), ids=const(np.array([[0, 4]]))),
    "LayerNorm.forward": layer(lambda: nn.LayerNorm(4), "layer_norm"),
    "RMSNorm.forward": layer(lambda: nn.RMSNorm(4), "rms_norm"),
    "RotaryEmbedding.forward": Case(
        lambda self, q, k, offset: self(q, k, offset),
        {"self": lambda: nn.RotaryEmbedding(4, 8), "q": qkv, "k": qkv, "offset": const(0)},
        "rotary",
        names={"q": DATA, "k": DATA, "offset": ("offset", "tables")},
        domain={"offset": lambda v: is_int(v) and 0 <= v <= 2**20},
    ),
    "Dropout.forward": layer(lambda: nn.Dropout(0.5), "dropout"),
    "GELU.forward": layer(nn.GELU, "gelu"),
    "ReLU.forward": layer(nn.ReLU, "relu"),
    "SiLU.forward": layer(nn.SiLU, "silu"),
    "Tanh.forward": layer(nn.Tanh, "Tanh"),
    "Softmax.forward": layer(lambda: nn.Softmax(-1), "softmax"),
    "Linear.reset_parameters": no_args(linear, "reset_parameters"),
    **{
        f"{c}.extra_repr": no_args(make, "extra_repr")
        for c, make in (
            ("Linear", linear),
            ("Embedding", lambda: nn.Embedding(5, 4)),
            ("LayerNorm", lambda: nn.LayerNorm(4)),
            ("RMSNorm", lambda: nn.RMSNorm(4)),
            ("RotaryEmbedding", lambda: nn.RotaryEmbedding(4, 8)),
            ("Dropout", nn.Dropout),
            ("GELU", nn.GELU),
            ("Softmax", lambda: nn.Softmax(-1)),
        )
    },
}

# Public callables the hunt does not call, and why.
NOT_HUNTED = {
    "Module.forward": "written by each layer; the base's NotImplementedError is tested in test_module",
    "RemovableHandle": "made by register_forward_hook, which the hunt calls; not built by hand",
}


def public() -> list[str]:
    return public_callables(nn) + public_callables(F, "F.") + public_callables(init, "init.")


def test_every_public_callable_is_hunted() -> None:
    problems = table_problems("numpygpt.nn", public(), CASES, NOT_HUNTED, __file__)
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

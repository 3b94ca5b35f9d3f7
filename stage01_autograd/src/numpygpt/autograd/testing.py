"""Hunting misuse: throw odd values at every public callable and accept only two outcomes.

Each stage's `tests/test_misuse.py` lists, for every public callable of its package, a `Case`:
how to call it with valid arguments. The hunt calls it again and again with one argument
replaced by an odd value (NaN, ±inf, negative, zero, huge, wrong types and dtypes, empty and
zero-size arrays, NumPy scalars, foreign objects) and accepts only:

- success, as PyTorch would succeed, unless the Case declares the value outside that
  argument's domain: then the call must refuse it (and a value inside the domain must work);
- a TypeError or ValueError (or an error type the Case allows because PyTorch raises it, such
  as IndexError for a dim out of range) whose message names the callable and the argument.

Any other exception (AttributeError, ZeroDivisionError, a KeyError from deep inside...) is a
finding, and so is an error message that does not say which argument was wrong.
`public_callables` lists a package's public functions, classes and methods, so that a new one
without a Case fails the hunt's completeness test.

hypothesis is imported only inside `odd_value_strategy`: importing this module costs nothing.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import show
from .tensor import Tensor

Factory = Callable[[], Any]

# Dunder methods that are part of a class's public API (operators), hunted like named methods.
OPERATORS = frozenset(
    f"__{n}__"
    for n in (
        *("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "pow", "rpow", "matmul", "rmatmul"),
        *("neg", "lt", "le", "gt", "ge", "eq", "ne", "getitem", "setitem", "len", "bool", "iter", "contains"),
        *("setattr", "delattr"),
    )
)


@dataclass(frozen=True)
class Case:
    """How to call one public callable with valid arguments, and what its errors must say.

    call:   called as call(**arguments); a lambda naming the arguments for positional ones.
    args:   a factory of a valid value for each argument (a factory, so each call gets fresh,
            unshared arrays and tensors).
    label:  a word every error message must contain: the callable's name as its errors spell
            it (case does not matter: `Reshape: ...` names `reshape`), or a tuple of such words.
    names:  for an argument, the words any of which names it in a message (default: its own
            name). E.g. ("p", "dropout probability") for dropout's p; () for a tensor operand,
            where the callable's name and the shapes in the message say enough.
    domain: for an argument, a test of whether a value is valid: then the call must succeed
            with it, and must refuse every value failing the test. Arguments without a domain
            may do either (their valid values depend on the other arguments).
    raises: error types allowed besides TypeError and ValueError, where PyTorch raises them
            (IndexError for a dim or an index out of range, RuntimeError for autograd state).
    fixed:  arguments never replaced (`self` of a method: Tensor.sum(None) is not a misuse).
    odd:    extra odd values for an argument, as (description, factory) pairs.
    """

    call: Callable[..., Any]
    args: Mapping[str, Factory] = field(default_factory=dict)
    label: str | tuple[str, ...] = ""
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domain: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    raises: tuple[type[BaseException], ...] = ()
    fixed: frozenset[str] = frozenset({"self"})
    odd: Mapping[str, Sequence[tuple[str, Factory]]] = field(default_factory=dict)

    def hunted_args(self) -> list[str]:
        return [a for a in self.args if a not in self.fixed]


def attempt(case: Case, arg: str | None = None, value: Any = None) -> str | None:
    """Call `case` with `arg` replaced by `value` (arg None: all valid); None if the outcome is
    acceptable, else what went wrong, in words."""
    kwargs = {k: make() for k, make in case.args.items()}
    if arg is not None:
        kwargs[arg] = value
    in_domain = None if arg is None or arg not in case.domain else bool(case.domain[arg](value))
    shown = "the valid arguments" if arg is None else f"{arg}={show(value)}"
    try:
        case.call(**kwargs)
    except NotImplementedError as e:
        if str(e).startswith("Exercise"):  # a learner's exercise not written yet: say so, unchanged
            raise
        err: Exception = e
    except Exception as e:  # every exception type is judged below
        err = e
    else:
        if in_domain is False:
            return f"accepted {shown}, which is outside the argument's domain: it must be refused"
        return None
    said = f"{type(err).__name__}: {err}"
    if arg is None or in_domain:
        return f"refused {shown}, which must work: {said}"
    allowed: tuple[type[BaseException], ...] = (TypeError, ValueError, *case.raises)
    if not isinstance(err, allowed):
        names = ", ".join(t.__name__ for t in allowed)
        return f"with {shown} raised {said}; only {names} may be raised, naming the argument"
    msg = str(err).lower()
    labels = (case.label,) if isinstance(case.label, str) else case.label
    if not any(w.lower() in msg for w in labels):
        return f"with {shown} raised {said}; the message must name {' or '.join(map(repr, labels))}"
    words = case.names.get(arg, (arg,))
    if words and not any(w.lower() in msg for w in words):
        return f"with {shown} raised {said}; the message must name the argument (any of {list(words)})"
    return None


def hunt(case: Case, extra: Iterable[tuple[str, Factory]] = ()) -> list[str]:
    """Every problem found by calling `case` valid, then with each odd value in each argument."""
    problems = []
    if (p := attempt(case)) is not None:
        return [p]
    odd = [*odd_values(), *extra]
    for arg in case.hunted_args():
        for name, make in [*odd, *case.odd.get(arg, ())]:
            if (p := attempt(case, arg, make())) is not None:
                problems.append(f"{arg}={name}: {p}")
    return problems


def odd_values() -> list[tuple[str, Factory]]:
    """(description, factory) of the odd values every argument of every callable receives."""
    nan, inf = float("nan"), float("inf")

    def t(*shape: int, dtype: Any = np.float32, fill: float = 1.0) -> Factory:
        return lambda: Tensor(np.full(shape, fill, dtype=dtype))

    return [
        ("nan", lambda: nan),
        ("inf", lambda: inf),
        ("-inf", lambda: -inf),
        ("-1", lambda: -1),
        ("0", lambda: 0),
        ("-0.5", lambda: -0.5),
        ("0.0", lambda: 0.0),
        ("1.5", lambda: 1.5),
        ("1e308", lambda: 1e308),
        ("5e-324", lambda: 5e-324),
        ("2**63", lambda: 2**63),
        ("2**64", lambda: 2**64),
        ("-2**63-1", lambda: -(2**63) - 1),
        ("True", lambda: True),
        ("False", lambda: False),
        ("None", lambda: None),
        ("'a'", lambda: "a"),
        ("''", lambda: ""),
        ("b'x'", lambda: b"x"),
        ("1j", lambda: 1j),
        ("object()", object),
        ("[]", list),
        ("()", tuple),
        ("{}", dict),
        ("[1, [2, 3]]", lambda: [1, [2, 3]]),
        ("[[1.0, 2.0]]", lambda: [[1.0, 2.0]]),
        ("np.float32(nan)", lambda: np.float32(nan)),
        ("np.float64(2.0)", lambda: np.float64(2.0)),
        ("np.float32(0.5)", lambda: np.float32(0.5)),
        ("np.float16(-1)", lambda: np.float16(-1)),
        ("np.int64(-1)", lambda: np.int64(-1)),
        ("np.int64(3)", lambda: np.int64(3)),
        ("np.int32(0)", lambda: np.int32(0)),
        ("np.uint8(200)", lambda: np.uint8(200)),
        ("np.bool_(True)", lambda: np.bool_(True)),
        ("np.complex64(1)", lambda: np.complex64(1)),
        ("np.str_('a')", lambda: np.str_("a")),
        ("np.array([])", lambda: np.array([])),
        ("np.zeros((0, 3))", lambda: np.zeros((0, 3))),
        ("np.array([nan])", lambda: np.array([nan])),
        ("np.array(['a'])", lambda: np.array(["a"])),
        ("np.array(1.5)", lambda: np.array(1.5)),
        ("np.ones((2, 3)) float64", lambda: np.ones((2, 3))),
        ("np.ones((2, 3), int64)", lambda: np.ones((2, 3), dtype=np.int64)),
        ("np.ones((2, 3), bool)", lambda: np.ones((2, 3), dtype=bool)),
        ("np.array([1, None], object)", lambda: np.array([1, None], dtype=object)),
        ("Tensor (2, 3) int64", t(2, 3, dtype=np.int64)),
        ("Tensor (2, 3) bool", t(2, 3, dtype=bool)),
        ("Tensor (2, 3) float64", t(2, 3, dtype=np.float64)),
        ("Tensor (2, 3) nan", t(2, 3, fill=nan)),
        ("Tensor (2, 3) -inf", t(2, 3, fill=-inf)),
        ("Tensor (0, 3)", t(0, 3)),
        ("Tensor (3, 0)", t(3, 0)),
        ("Tensor ()", t()),
        ("Tensor (4,)", t(4)),
        ("Tensor (1,)", t(1)),
        ("Tensor (3, 2)", t(3, 2)),
        ("Tensor (2, 3, 4)", t(2, 3, 4)),
        ("Tensor requires_grad", lambda: Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)),
        ("a function", lambda: lambda *a, **k: None),
        ("Ellipsis", lambda: Ellipsis),
        ("slice(None)", lambda: slice(None)),
        ("range(3)", lambda: range(3)),
        ("{1, 2}", lambda: {1, 2}),
        ("np.random.default_rng(0)", lambda: np.random.default_rng(0)),
    ]


def odd_value_strategy() -> Any:
    """A hypothesis strategy of odd values: the fixed list above, and generated floats (every
    kind), ints, NumPy arrays and scalars of every dtype and small shapes (zero-size ones
    included), and Tensors of them.

    NOTE: every generated integer is small (-8..8), negative, or too large for any array
    (>= 2**62): never a size in between, which a size argument would try to allocate (2**31
    floats are 8 GB) on a machine shared with others.
    """
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    fixed = odd_values()
    dtypes = [np.float32, np.float64, np.float16, np.int64, np.int32, np.uint64, np.uint8, np.bool_, np.complex64]

    def elements(dt: np.dtype) -> Any:
        if dt.kind not in "iu":
            return None  # hypothesis's default: every float (NaN and inf too), every bool
        info = np.iinfo(dt)
        huge = [v for v in (info.min, info.max) if v < 0 or v >= 2**62]
        return st.integers(max(info.min, -8), min(info.max, 8)) | st.sampled_from(huge or [0])

    def arrays(dt: type) -> Any:
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
        return hnp.arrays(dt, shapes, elements=elements(np.dtype(dt)))

    any_array = st.sampled_from(dtypes).flatmap(arrays)
    return st.one_of(
        st.sampled_from(range(len(fixed))).map(lambda i: fixed[i][1]()),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-8, 8) | st.integers(2**62, 2**70) | st.integers(-(2**70), -(2**62)),
        any_array,
        any_array.map(lambda a: a.reshape(-1)[0] if a.size else a.dtype.type(0)),  # NumPy scalars
        any_array.filter(lambda a: a.dtype.kind in "biuf").map(Tensor),
    )


def public_callables(namespace: types.ModuleType, prefix: str = "") -> list[str]:
    """The public functions and classes of a module (its __all__, or else the names defined in
    it), and every public method and operator of those classes, as `name` or `Class.method`."""
    exported = getattr(namespace, "__all__", None)
    names = exported if exported is not None else [n for n in vars(namespace) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(namespace, name)
        if isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        home = getattr(obj, "__module__", "") or ""
        if not home.startswith("numpygpt") or (exported is None and home != namespace.__name__):
            continue
        out.append(prefix + name)
        if isinstance(obj, type):
            out += [f"{prefix}{name}.{m}" for m in sorted(_own_methods(obj))]
    return out


def _own_methods(cls: type) -> list[str]:
    """The public methods and operators a class defines itself, or inherits from a private base
    (Sequential's indexing lives in _NumberedModules); those of a public base are the base's."""
    own = [k for k in cls.__mro__ if k is cls or (k.__name__.startswith("_") and k.__module__.startswith("numpygpt"))]
    methods = set()
    for klass in own:
        for name, member in vars(klass).items():
            if name.startswith("_") and name not in OPERATORS:
                continue
            if isinstance(member, (staticmethod, classmethod)) or (callable(member) and not isinstance(member, type)):
                methods.add(name)
    return sorted(methods)


def table_problems(
    package: str, public: Iterable[str], cases: Mapping[str, Case], not_hunted: Mapping[str, str], where: str
) -> list[str]:
    """What is wrong with a hunt's table: public callables without a Case (or a reason in
    not_hunted), and Cases of callables that are no longer public."""
    public = list(public)
    missing = [n for n in public if n not in cases and n not in not_hunted]
    stale = sorted(set(cases) - set(public))
    problems = []
    if missing:
        problems.append(
            f"public callables of {package} without a misuse Case: {missing}. Add one entry per callable (a "
            f"class: its constructor and each public method) to CASES in {where}: Case(call, args={{argument: "
            f"factory of a valid value}}, label=<the word its errors begin with>), plus domain= for arguments "
            f"whose valid values are known (see numpygpt.autograd.testing)"
        )
    if stale:
        problems.append(f"CASES lists callables that are no longer public: {stale}")
    return problems


def hunt_message(key: str, case: Case, extra: Iterable[tuple[str, Factory]] = ()) -> str | None:
    """`hunt` (with a stage's `extra` odd values) as one assertion message (None when every outcome is acceptable)."""
    problems = hunt(case, extra)
    if not problems:
        return None
    return f"{key}: {len(problems)} misuse outcomes are wrong:\n  " + "\n  ".join(problems[:12])


def attempt_drawn(case: Case, data: Any, odd: Any) -> str | None:
    """One hypothesis example: draw an argument of `case` and an odd value from `odd`, attempt."""
    from hypothesis import strategies as st

    arg = data.draw(st.sampled_from(case.hunted_args()), label="argument")
    return attempt(case, arg, data.draw(odd, label="value"))

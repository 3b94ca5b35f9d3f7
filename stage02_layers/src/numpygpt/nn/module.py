"""Module: the base class of every layer and model.

Assigning a Parameter or a Module to an attribute registers it, so a model is a tree:

    model.transformer.h[0].attn.c_attn.weight   ->  name "transformer.h.0.attn.c_attn.weight"

and `parameters()`, `state_dict()`, `train()`/`eval()` and `zero_grad()` walk that tree.
A forward hook (`register_forward_hook`) sees a module's inputs and output each time it is
called: the way to look inside a model (diagnostics, attention maps) without changing it.
The rules are PyTorch's: a name that holds a parameter takes only a Parameter (or None),
`del module.weight` unregisters it, and `load_state_dict` checks every entry before it
writes any.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_bool, check_dtype, is_bool, show

from .parameter import Parameter

FINITE = "parameters not finite (was the state saved after training diverged?)"


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


# hook(module, args, output) -> None, or a value that replaces the output.
ForwardHook = Callable[["Module", tuple[Any, ...], Any], Any]


class RemovableHandle:
    """What `register_forward_hook` returns: `remove()` takes the hook off again (PyTorch:
    torch.utils.hooks.RemovableHandle). As a context manager it removes the hook on exit:

        with model.lm_head.register_forward_hook(lambda m, args, out: print(out.shape)):
            model(idx)          # prints (B, T, V)
        model(idx)              # prints nothing: the hook is gone
    """

    def __init__(self, hooks: OrderedDict[RemovableHandle, ForwardHook]) -> None:
        self._hooks = hooks  # the registry the hook is in, keyed by this handle

    def remove(self) -> None:
        """Take the hook off (removing it twice is harmless)."""
        self._hooks.pop(self, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class Module:
    """Base class for layers: subclass it, assign Parameters and Modules in __init__,
    and write `forward`. Calling the module calls forward (PyTorch: torch.nn.Module)."""

    training: bool
    # The registries that name the tree (set in __init__ without going through __setattr__).
    _parameters: OrderedDict[str, Parameter | None]
    _modules: OrderedDict[str, Module | None]
    _buffers: OrderedDict[str, np.ndarray | None]
    _forward_hooks: OrderedDict[RemovableHandle, ForwardHook]
    _non_persistent_buffers: set[str]  # buffers left out of the state_dict

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "training", True)

    # ----- registration -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        """`self.name = value`: a Parameter or a Module is registered under `name`.

        As in PyTorch, a name that holds a parameter takes only a Parameter or None: a plain
        Tensor or array assigned there would silently drop out of parameters() and the
        state_dict, so it is a TypeError. Likewise a submodule's name takes only a Module or
        None, and a buffer's only an array or None.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call: call super().__init__() first")
        if isinstance(value, Parameter):
            self._unregister(name, keep=self._parameters)  # a parameter replaced keeps its place
            self.__dict__.pop(name, None)
            self.register_parameter(name, value)
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' (numpygpt.nn.Parameter or None "
                    f"expected); wrap it: Parameter(value)"
                )
            self.register_parameter(name, None)
        elif isinstance(value, Module):
            self._unregister(name, keep=self._modules)
            self._modules[name] = value
            object.__setattr__(self, name, value)
        elif name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as child module '{name}' (numpygpt.nn.Module or None expected)"
                )
            self._modules[name] = None
            object.__setattr__(self, name, None)
        elif name in self._buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as buffer '{name}' (numpy.ndarray or None expected)"
                )
            self._buffers[name] = value
            object.__setattr__(self, name, value)
        else:
            # NOTE: a registered value also lives in __dict__, so reading `self.weight` is a plain
            # attribute lookup on the hot path; the registries keep the order for naming.
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        """`del self.name` also unregisters a parameter, buffer or submodule (PyTorch does)."""
        self._unregister(name)
        object.__delattr__(self, name)

    def _unregister(self, name: str, keep: Mapping[str, Any] | None = None) -> None:
        """Remove `name` from every registry but `keep`."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` under `name` (None: the name is kept for a parameter, as bias=False does)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' (numpygpt.nn.Parameter or None required)"
            )
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: np.ndarray | None, persistent: bool = True) -> None:
        """A non-learned array that belongs to the module: converted by to(), and saved in the
        state_dict if persistent."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, np.ndarray):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' (numpy.ndarray or None required)"
            )
        persistent = check_bool("register_buffer", "persistent", persistent)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` under `name`, as `self.name = module` does (PyTorch: add_module)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_new_name("module", name, self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    def _check_new_name(self, kind: str, name: Any, registry: Mapping[str, Any]) -> None:
        """PyTorch's rules for a registered name, in its words: a non-empty str without dots that
        is not already some other attribute (`training`, `forward`, a plain attribute)."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        if self._forward_hooks:  # NOTE: without hooks, one dict check is all a call costs
            for hook in list(self._forward_hooks.values()):  # a copy: a hook may remove itself
                result = hook(self, args, output)
                if result is not None:
                    output = result
        return output

    def register_forward_hook(self, hook: ForwardHook, *, prepend: bool = False) -> RemovableHandle:
        """Call `hook(module, args, output)` after every forward of this module (PyTorch's semantics).

        args is the tuple of positional arguments forward received (keyword arguments are not
        passed); output is what forward returned. A hook that returns None only looks; one that
        returns a value replaces the output, and the hooks after it see that value. Hooks run in
        the order registered (prepend=True: before the others). Returns a handle whose
        `remove()` takes the hook off.
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: hook must be callable, got {type(hook).__name__}")
        prepend = check_bool("register_forward_hook", "prepend", prepend)
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle] = hook
        if prepend:
            self._forward_hooks.move_to_end(handle, last=False)
        return handle

    # ----- walking the tree ---------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every submodule, depth first, each once."""
        _check_prefix("named_modules", prefix)
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) in registration order. A parameter shared by two modules
        (tied weights) is listed once, under its first name, unless remove_duplicate=False."""
        _check_prefix("named_parameters", prefix)
        check_bool("named_parameters", "remove_duplicate", remove_duplicate)
        # exercise 2.1: Module.named_parameters: yield (name, parameter) for every parameter of the module tree, each once
        seen: set[int] = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p
        # end exercise 2.1

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self) -> int:
        """The number of learnable numbers (a tied parameter counted once)."""
        return sum(p.data.size for p in self.parameters())

    # ----- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for self and every submodule; returns self."""
        if not is_bool(mode):  # PyTorch's words; `train("eval")` would otherwise mean training mode
            raise ValueError(f"train: training mode is expected to be boolean, got {show(mode)}")
        mode = bool(mode)
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (set_to_none=True), or fill it with zeros."""
        set_to_none = check_bool("zero_grad", "set_to_none", set_to_none)
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def to(self, dtype: Any) -> Module:
        """Convert every parameter and floating point buffer to `dtype` in place (float64 for
        gradcheck). As in PyTorch, only a floating point dtype: an int64 weight could not learn."""
        dt = check_dtype("to", "dtype", dtype, kinds="f")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dt)
                    p.grad = None
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    m.register_buffer(name, b.astype(dt), persistent=name not in m._non_persistent_buffers)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ----- saving and loading -------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and persistent buffer array by dotted name (tied weights under each
        of their names, as PyTorch does). The arrays are the live ones, not copies."""
        return OrderedDict((k, arr) for k, arr, _ in self._state_entries())

    def _state_entries(self) -> Iterator[tuple[str, np.ndarray, bool]]:
        """(dotted name, live array, is it a parameter?) for every entry of the state_dict."""
        for mname, m in self.named_modules():
            pre = f"{mname}." if mname else ""
            for n, p in m._parameters.items():
                if p is not None:
                    yield pre + n, p.data, True
            for n, b in m._buffers.items():
                if b is not None and n not in m._non_persistent_buffers:
                    yield pre + n, b, False

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, in place and in their own dtype.

        All or nothing: every entry is checked before any is written, and one RuntimeError
        lists every problem: missing and unexpected keys (strict=True; strict=False returns
        them instead), shapes, values that are not numbers or do not cast to the model's dtype
        (float into an int buffer), and parameters holding NaN or inf.
        NOTE: PyTorch loads NaN or inf weights without a word. A parameter that is not finite
        means the state was saved after training diverged, and every output of the model would
        be NaN: it is refused here, by name. A buffer may hold inf (a mask of -inf is a mask).
        Checking costs one pass over the weights, once per load, never per step.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got {show(state_dict)}")
        strict = check_bool("load_state_dict", "strict", strict)
        entries = list(self._state_entries())
        own = {k for k, _, _ in entries}
        missing = [k for k, _, _ in entries if k not in state_dict]
        unexpected = [str(k) for k in state_dict if k not in own]
        problems: dict[str, list[str]] = {"shape mismatch": [], "not numbers": [], "dtype mismatch": [], FINITE: []}
        values: list[tuple[np.ndarray, np.ndarray]] = []
        for k, arr, is_param in entries:
            if k in state_dict:
                kind, problem, value = _check_entry(k, state_dict[k], arr, is_param)
                if kind:
                    problems[kind].append(problem)
                else:
                    values.append((arr, value))
        listed = []
        if strict and missing:
            listed.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            listed.append("unexpected keys: " + ", ".join(unexpected))
        listed += [f"{kind}: " + "; ".join(found) for kind, found in problems.items() if found]
        if listed:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + " | ".join(listed))
        for arr, value in values:
            np.copyto(arr, value, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    # ----- printing -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The part inside the parentheses of this module's repr line, e.g. `65, 128`."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [f"({name}): {indent(repr(m))}" for name, m in self._modules.items() if m is not None]
        if not children:
            return f"{type(self).__name__}({extra})"
        # As PyTorch: with children, the extra text gets a line of its own above them.
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _check_entry(key: str, given: Any, arr: np.ndarray, is_param: bool) -> tuple[str, str, np.ndarray]:
    """(kind of problem or "", its description, the value as an array) for one state_dict entry."""
    try:
        value = np.asarray(given.data if isinstance(given, Tensor) else given)
    except ValueError:  # a ragged list
        return "not numbers", f"{key}: {show(given)}", arr
    if value.dtype.kind not in "biuf":
        return "not numbers", f"{key}: dtype {value.dtype}", value
    if value.shape != arr.shape:
        return "shape mismatch", f"{key}: checkpoint {value.shape} vs model {arr.shape}", value
    if not np.can_cast(value.dtype, arr.dtype, casting="same_kind"):
        return "dtype mismatch", f"{key}: checkpoint {value.dtype} does not cast to model {arr.dtype}", value
    if is_param and value.dtype.kind == "f" and not np.isfinite(value).all():
        nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
        return FINITE, f"{key} ({nan} NaN, {inf} inf)", value
    return "", "", value


def _typename(value: Any) -> str:
    """How an error names the type of a value, as torch.typename does: `numpy.ndarray`."""
    if isinstance(value, Tensor):
        return "numpygpt.autograd.Tensor"
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _check_prefix(op: str, prefix: Any) -> None:
    if not isinstance(prefix, str):
        raise TypeError(f"{op}: prefix must be a str, got {show(prefix)}")


def indent(text: str, spaces: int = 2) -> str:
    """Indent every line of `text` but the first, so it nests inside a parent's repr."""
    return text.replace("\n", "\n" + " " * spaces)

"""Module: the base class of every layer and model.

Assigning a Parameter or a Module to an attribute registers it, so a model is a tree:

    model.transformer.h[0].attn.c_attn.weight   ->  name "transformer.h.0.attn.c_attn.weight"

and `parameters()`, `state_dict()`, `train()`/`eval()` and `zero_grad()` walk that tree.
A forward hook (`register_forward_hook`) sees a module's inputs and output each time it is
called: the way to look inside a model (diagnostics, attention maps) without changing it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from numpygpt.autograd import Tensor

from .parameter import Parameter


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
    _parameters: OrderedDict[str, Parameter]
    _modules: OrderedDict[str, Module]
    _buffers: OrderedDict[str, np.ndarray | None]
    _forward_hooks: OrderedDict[RemovableHandle, ForwardHook]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call: call super().__init__() first")
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        # NOTE: the value also lives in __dict__, so reading `self.weight` is a plain
        # attribute lookup on the hot path; the registries keep the order for naming.
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray | None, persistent: bool = True) -> None:
        """A non-learned array that belongs to the module (and, if persistent, its state_dict)."""
        object.__setattr__(self, name, array)
        if persistent:
            self._buffers[name] = array

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
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle] = hook
        if prepend:
            self._forward_hooks.move_to_end(handle, last=False)
        return handle

    # ----- walking the tree ---------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for self and every submodule, depth first, each once."""
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
        # exercise 2.1: Module.named_parameters: walk the submodules, yield (dotted name, parameter), a shared (tied) parameter once
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
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def to(self, dtype: Any) -> Module:
        """Convert every parameter and buffer to `dtype` in place (float64 for gradcheck)."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dtype)
                    p.grad = None
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f":
                    m.register_buffer(name, b.astype(dtype))
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ----- saving and loading -------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and persistent buffer array by dotted name (tied weights under each
        of their names, as PyTorch does). The arrays are the live ones, not copies."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mname, m in self.named_modules():
            pre = f"{mname}." if mname else ""
            for n, p in m._parameters.items():
                if p is not None:
                    out[pre + n] = p.data
            for n, b in m._buffers.items():
                if b is not None:
                    out[pre + n] = b
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, in place and in their own dtype.

        strict=True: a missing key, an unexpected key or a shape mismatch raises one error
        listing all of them. strict=False: shape mismatches still raise; the lists of
        missing and unexpected keys are returned.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [
            f"{k}: checkpoint {tuple(np.shape(state_dict[k]))} vs model {own[k].shape}"
            for k in own
            if k in state_dict and tuple(np.shape(state_dict[k])) != own[k].shape
        ]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        for k, arr in own.items():
            if k in state_dict:
                value = state_dict[k].data if isinstance(state_dict[k], Tensor) else state_dict[k]
                np.copyto(arr, np.asarray(value), casting="same_kind")
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


def indent(text: str, spaces: int = 2) -> str:
    """Indent every line of `text` but the first, so it nests inside a parent's repr."""
    return text.replace("\n", "\n" + " " * spaces)

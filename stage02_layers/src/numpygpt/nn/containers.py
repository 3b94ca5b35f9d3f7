"""Sequential, ModuleList and ModuleDict: modules that hold modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from numpygpt.autograd.checks import is_int, show

from .module import Module, _typename, indent


class _NumberedModules(Module):
    """Modules registered under the names "0", "1", ..., indexable and iterable in that order."""

    def __getitem__(self, i: int | slice) -> Any:
        """The module at index i (negative counts from the end), or a container of a slice of them."""
        modules = self._held()
        if isinstance(i, slice):
            return self._of(modules[i])
        if not is_int(i):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, got {show(i)}")
        if not -len(modules) <= i < len(modules):
            raise IndexError(f"index {i} is out of range for a {type(self).__name__} of {len(modules)} modules")
        return modules[i]

    def _of(self, modules: list[Module]) -> Module:
        """A new container of this kind holding `modules` (what a slice returns)."""
        raise NotImplementedError

    def _held(self) -> list[Module]:
        """The modules in order (a slot set to None holds none)."""
        return [m for m in self._modules.values() if m is not None]

    def _add(self, op: str, where: str, module: Any) -> None:
        """Register module under the next number; if it is not a Module, say so in PyTorch's words,
        naming `op` and `where` the value came from."""
        if not isinstance(module, Module):
            raise TypeError(f"{op}: {where}: {_typename(module)} is not a Module subclass")
        self.add_module(str(len(self._modules)), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._held())


class Sequential(_NumberedModules):
    """Calls its modules in order, each on the previous one's output."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            self._add("Sequential", f"argument {i}", m)

    def _of(self, modules: list[Module]) -> Module:
        return Sequential(*modules)

    def forward(self, x: Any) -> Any:
        for m in self._held():
            x = m(x)
        return x


class ModuleList(_NumberedModules):
    """A list of modules, registered under the names "0", "1", ... (no forward of its own)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        try:
            items = list(modules)
        except TypeError:  # not iterable, or a 0-d array
            raise TypeError(f"ModuleList: modules must be an iterable of Modules, got {show(modules)}") from None
        for i, m in enumerate(items):
            self._add("ModuleList", f"modules[{i}]", m)

    def _of(self, modules: list[Module]) -> Module:
        return ModuleList(modules)

    def append(self, module: Module) -> ModuleList:
        """Add module at the end; returns self."""
        self._add("ModuleList.append", "module", module)
        return self

    def __repr__(self) -> str:
        """As PyTorch: a run of modules that print alike is one line, `(0-3): 4 x Block(...)`."""
        if not self._modules:
            return "ModuleList()"
        runs: list[list] = []  # [first index, last index, repr]
        for i, m in enumerate(self._modules.values()):
            r = repr(m)
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [f"({a}): {indent(r)}" if a == b else f"({a}-{b}): {b - a + 1} x {indent(r)}" for a, b, r in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules, registered under their keys (no forward of its own)."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None and not isinstance(modules, Mapping):
            raise TypeError(f"ModuleDict: modules must be a mapping of names to Modules, got {show(modules)}")
        for k, m in (modules or {}).items():
            self[k] = m

    def __getitem__(self, key: str) -> Module:
        if not isinstance(key, str) or key not in self._modules:
            raise KeyError(f"ModuleDict has no module {show(key)}; its keys are {list(self._modules)}")
        return self._modules[key]  # type: ignore[return-value]  # a key set by __setitem__ holds a Module

    def __setitem__(self, key: str, module: Module) -> None:
        """Register module under key: a str without dots that is not another attribute (PyTorch's rules)."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {_typename(module)} is not a Module subclass (under key {show(key)})")
        self.add_module(key, module)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return [(k, m) for k, m in self._modules.items() if m is not None]

    def values(self) -> Iterable[Module]:
        return [m for m in self._modules.values() if m is not None]

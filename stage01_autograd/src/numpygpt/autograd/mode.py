"""Grad mode: the one piece of global state in the autograd engine.

While grad mode is on (the default), every Function call whose inputs require grad records
itself in the graph. Inside `no_grad()` nothing is recorded: evaluation, sampling and the
optimizer's parameter updates run without building a graph they would never use.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from .checks import check_bool, check_callable

_F = TypeVar("_F", bound=Callable[..., Any])

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when Function calls record the graph (PyTorch: torch.is_grad_enabled)."""
    return _grad_enabled


class _GradMode:
    """Sets grad mode to `self.mode` inside a `with` block or a decorated function."""

    mode: bool

    def __enter__(self) -> None:
        global _grad_enabled
        self.prev = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self.prev

    def __call__(self, fn: _F) -> _F:
        check_callable(type(self).__name__, "the decorated object", fn)
        mode = self.mode
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, mode)  # type: ignore[return-value]  # same signature as fn, via functools.wraps

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # functools.wraps gives wrapper fn's signature; mypy cannot see it


def _wrap_generator(
    fn: Callable[..., Generator[Any, None, Any]], mode: bool
) -> Callable[..., Generator[Any, None, Any]]:
    """A decorated generator function runs each step of its body in `mode`.

    NOTE: calling a generator function only creates the generator; its body runs later, a
    step per `next()`. Switching the mode around the call alone would leave the body in the
    caller's mode, so the mode is set around every step instead and the caller's own mode is
    back in force between steps (as PyTorch's decorators do).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, None, Any]:
        gen = fn(*args, **kwargs)
        try:
            while True:
                with set_grad_enabled(mode):
                    try:
                        item = next(gen)
                    except StopIteration as stop:
                        return stop.value
                yield item
        finally:
            with set_grad_enabled(mode):
                gen.close()

    return wrapper


class no_grad(_GradMode):
    """`with no_grad():` or `@no_grad()`: record no graph inside (PyTorch: torch.no_grad)."""

    mode = False


class enable_grad(_GradMode):
    """`with enable_grad():` turns recording back on inside a no_grad block."""

    mode = True


class set_grad_enabled(_GradMode):
    """`with set_grad_enabled(flag):` sets grad mode to `flag` for the block.

    Called on its own, `set_grad_enabled(False)` switches the mode at once and leaves it
    switched, as in PyTorch.
    """

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self.mode = check_bool("set_grad_enabled", "mode", mode)
        self.prev = _grad_enabled
        _grad_enabled = self.mode

    def __enter__(self) -> None:
        # The constructor already switched the mode; `prev` says what to restore on exit.
        return None

    def __call__(self, fn: _F) -> _F:
        # Used as a decorator, the switch made by the constructor must not outlive this line.
        self.__exit__()
        return super().__call__(fn)

"""Optimizer: the base class of SGD, Adam and AdamW.

An optimizer owns two things and walks them in `step()`:

    param_groups  a list of dicts, one per group of parameters sharing hyper-parameters:
                  [{"params": [W1, W2], "lr": 1e-3, "weight_decay": 0.1, ...},
                   {"params": [b1, b2], "lr": 1e-3, "weight_decay": 0.0, ...}]
    state         a dict keyed by parameter: that parameter's running buffers
                  (SGD's momentum buffer, Adam's two moments and step count)

A parameter is a Tensor (stage02's Parameter is one) with `.data` (an ndarray, updated in
place) and `.grad` (a Tensor or None): the optimizer never builds a graph, it only reads
`p.grad.data` and writes `p.data`.
A subclass writes `__init__` (validate, fill `defaults`) and `step`; everything else
(groups, zero_grad, checkpoints) lives here, with PyTorch's names, structure and messages.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import numpy as np

from numpygpt.autograd import Tensor, enable_grad

# What an optimizer accepts: parameters, (name, parameter) pairs, or group dicts.
ParamsT = Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Iterable[dict[str, Any]]
StateDict = dict[str, Any]


def _typename(obj: Any) -> str:
    """A type's name as torch.typename spells it: `int`, `numpy.ndarray`."""
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


class Optimizer:
    """Base class of all optimizers (PyTorch: torch.optim.Optimizer).

    Args:
        params: an iterable of parameters, of (name, parameter) pairs (`model.named_parameters()`),
            or of dicts each defining a parameter group: {"params": [...], "lr": ..., ...}.
            A hyper-parameter missing from a group takes its value from `defaults`.
        defaults: the hyper-parameters of the subclass, e.g. {"lr": 1e-3, "momentum": 0.0}.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got " + _typename(params)
            )
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)  # type: ignore[arg-type]  # a non-dict among dicts: add_param_group's TypeError names it

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group of parameters with its own hyper-parameters (e.g. unfrozen layers).

        Missing hyper-parameters are filled from `defaults`. A parameter may belong to one
        group only; a group of (name, parameter) pairs also records `param_names`.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        # NOTE: PyTorch stores the caller's dict itself; a copy keeps one group list reusable
        # for two optimizers without the first one's defaults leaking into the second.
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)

        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not (p.is_leaf or p._retain_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            param_group.setdefault(name, default)

        # Identity, not ==: Tensor.__eq__ compares values elementwise.
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        seen: set[int] = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(id(p) for p in params):
            raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient before the next backward.

        Args:
            set_to_none: drop the gradient (`p.grad = None`, the default: no memory, no pass
                over the array) instead of filling it with zeros. A parameter whose grad is
                None is skipped by `step()`; one whose grad is zeros is still stepped
                (its momentum and weight decay still move it).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.creator is not None:  # a gradient made with create_graph=True
                        p.grad = p.grad.detach()
                    p.grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure()'s loss, if given."""
        raise NotImplementedError(f"{type(self).__name__}.step is not written")

    @staticmethod
    def _closure_loss(closure: Callable[[], Any] | None) -> Any:
        """Run `closure` (zero_grad, forward, backward; returns the loss) with grad mode on."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ----- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """The optimizer's state as plain Python and NumPy values, for a checkpoint.

            {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, 1: {...}},
             "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}, {..., "params": [2]}]}

        Parameters are numbered in the order of the groups and of the parameters inside each
        group; the parameters themselves are not saved (the model's checkpoint holds them).

        NOTE: PyTorch returns references to its live buffers, which keep changing as training
        goes on. Here the arrays are copies: a saved dict is a snapshot that never changes.
        """
        index: dict[int, int] = {}
        start = 0
        param_groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            param_groups.append(packed)
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for p, s in self.state.items()
        }
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore the state saved by `state_dict()` into this optimizer's parameters.

        The groups must have the same sizes as when saved: parameter i of the checkpoint is
        parameter i of this optimizer. Buffers are copied and cast to their parameter's dtype;
        the hyper-parameters (lr included) are the saved ones.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups, strict=True)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
                strict=True,
            )
        )
        state: dict[Tensor, dict[str, Any]] = {}
        for i, saved in state_dict["state"].items():
            if i not in id_map:
                raise ValueError(
                    f"loaded state dict has state for parameter {i}, which is in none of its "
                    f"parameter groups (they hold parameters {sorted(id_map)})"
                )
            p = id_map[i]
            state[p] = {key: _load_value(p, i, key, value) for key, value in saved.items()}

        for group, saved in zip(groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _load_value(p: Tensor, index: int, key: str, value: Any) -> Any:
    """A saved buffer as a fresh array of p's shape and (floating) dtype; the step as an int."""
    if key == "step":  # also when a checkpoint format has turned the count into a 0-d array
        return int(value)
    if not isinstance(value, np.ndarray):
        return value
    if value.shape != p.shape:
        raise ValueError(
            f"load_state_dict: state {key!r} of parameter {index} has shape {value.shape}, but "
            f"that parameter has shape {p.shape}: is the checkpoint from another model?"
        )
    dtype = p.dtype if p.dtype.kind == "f" else value.dtype
    return np.array(value, dtype=dtype, copy=True)

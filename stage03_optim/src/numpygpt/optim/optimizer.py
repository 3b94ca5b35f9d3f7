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
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any

import numpy as np

from numpygpt.autograd import Tensor, enable_grad

from ._checks import check_bool, check_iterable, check_nonnegative, is_number, show, typename

# What an optimizer accepts: parameters, (name, parameter) pairs, or group dicts.
ParamsT = Iterable[Tensor] | Iterable[tuple[str, Tensor]] | Iterable[dict[str, Any]]
StateDict = dict[str, Any]
# Group entries that are not hyper-parameters: the parameters, their names, a schedule's start.
_GROUP_BOOKKEEPING = {"params", "param_names", "initial_lr"}


class Optimizer:
    """Base class of all optimizers (PyTorch: torch.optim.Optimizer).

    Args:
        params: an iterable of parameters, of (name, parameter) pairs (`model.named_parameters()`),
            or of dicts each defining a parameter group: {"params": [...], "lr": ..., ...}.
            A hyper-parameter missing from a group takes its value from `defaults`.
        defaults: the hyper-parameters of the subclass, e.g. {"lr": 1e-3, "momentum": 0.0}.

    Hyper-parameters are checked where they are given: in `defaults`, in each group
    (`add_param_group`) and in a loaded state (`load_state_dict`), all by `_check_group`,
    which a subclass extends with its own.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if not isinstance(defaults, dict):
            raise TypeError(f"optimizer defaults must be a dict of hyper-parameters, got {typename(defaults)}")
        # Checked before the parameters, as PyTorch does: a bad lr is reported even with bad params.
        self.defaults = dict(defaults)
        self._check_group(self.defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []

        if isinstance(params, (Tensor, str, bytes, Mapping)) or not isinstance(params, Iterable):
            hint = " (pass model.parameters(), not a dict)" if isinstance(params, Mapping) else ""
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got " + typename(params) + hint
            )
        param_groups = check_iterable(params, "params", "an iterable of Tensors or dicts", where=type(self).__name__)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)  # a non-dict among dicts: add_param_group's TypeError names it

    def _check_group(self, group: dict[str, Any]) -> None:
        """Check a group's hyper-parameters and store them as Python numbers, in place.

        The base class checks the lr (and a schedule's initial_lr); a subclass extends this with
        its own, in PyTorch's order, so that the first error is the one PyTorch would raise.
        """
        for key in ("lr", "initial_lr"):
            if key in group:
                group[key] = check_nonnegative(group[key], key, invalid="Invalid learning rate")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group of parameters with its own hyper-parameters (e.g. unfrozen layers).

        Missing hyper-parameters are filled from `defaults`. A parameter may belong to one
        group only; a group of (name, parameter) pairs also records `param_names`.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        if "params" not in param_group:
            raise ValueError(
                f"param_group must have a 'params' entry holding its parameters, got the keys {sorted(map(str, param_group))}"
            )
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
        elif isinstance(params, Mapping):
            raise TypeError(
                f"param_group['params'] must be a Tensor or an iterable of Tensors, but got {typename(params)}"
            )
        else:
            params = check_iterable(
                params, "param_group['params']", "a Tensor or an iterable of Tensors", where="add_param_group"
            )

        for p in params:
            if isinstance(p, tuple) and not (len(p) == 2 and isinstance(p[0], str)):
                raise TypeError(
                    f"optimizer params given as pairs must be (name: str, Tensor), but one of them is {show(p)}"
                )
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + typename(p))
            if not (p.is_leaf or p._retain_grad):
                raise ValueError(
                    "can't optimize a non-leaf Tensor: one of the params was computed from other tensors "
                    "(params must be leaves such as model.parameters(); use .detach() for a copy)"
                )
            if p.dtype.kind != "f":
                raise TypeError(
                    f"optimizer can only optimize floating point Tensors, but one of the params has dtype {p.dtype}"
                )

        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self._check_group(param_group)

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
        set_to_none = check_bool(set_to_none, "set_to_none", where=f"{type(self).__name__}.zero_grad")
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

    def _begin_step(self, closure: Callable[[], Any] | None) -> Any:
        """Run `closure` (zero_grad, forward, backward; returns the loss) with grad mode on, then
        check that every gradient fits its parameter; return the loss (None without a closure)."""
        loss = None
        if closure is not None:
            if not callable(closure):
                raise TypeError(
                    f"{type(self).__name__}.step: closure must be a function that computes and returns the loss, "
                    f"or None, got {typename(closure)}"
                )
            with enable_grad():
                loss = closure()
        # A gradient set by hand (p.grad = ...) is checked here, where PyTorch checks it on assignment.
        for i, p in enumerate(chain.from_iterable(g["params"] for g in self.param_groups)):
            grad = p.grad
            if grad is None:
                continue
            if not isinstance(grad, Tensor):
                raise TypeError(
                    f"{type(self).__name__}.step: parameter {i} has a .grad of type {typename(grad)}; "
                    "a .grad must be a Tensor (or None)"
                )
            if grad.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i} has a .grad of shape {grad.shape}, but the "
                    f"parameter has shape {p.shape}"
                )
        return loss

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

        All or nothing: every group and every buffer is checked (structure, hyper-parameters,
        the keys of this optimizer class, shapes, finite values) before anything is written,
        so a refused state leaves the optimizer exactly as it was.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: state_dict must be a dict as state_dict() returns, got {typename(state_dict)}")
        missing = {"state", "param_groups"} - set(state_dict)
        if missing:
            raise ValueError(
                f"{where}: state_dict has no {' or '.join(sorted(missing))}: expected the dict that "
                f"state_dict() returns, with the keys 'state' and 'param_groups', got {sorted(map(str, state_dict))}"
            )
        groups = self.param_groups
        saved_groups: Any = copy.deepcopy(state_dict["param_groups"])
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(s, dict) for s in saved_groups):
            raise TypeError(f"{where}: state_dict['param_groups'] must be a list of dicts, got {show(saved_groups)}")
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for i, (group, saved) in enumerate(zip(groups, saved_groups, strict=True)):
            self._check_saved_group(i, group, saved, where)
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
        group_of = {i: saved for saved in saved_groups for i in saved["params"]}
        saved_state = state_dict["state"]
        if not isinstance(saved_state, Mapping):
            raise TypeError(
                f"{where}: state_dict['state'] must be a dict keyed by parameter index, got {typename(saved_state)}"
            )
        state: dict[Tensor, dict[str, Any]] = {}
        for i, saved in saved_state.items():
            if i not in id_map:
                raise ValueError(
                    f"loaded state dict has state for parameter {show(i)}, which is in none of its "
                    f"parameter groups (they hold parameters {sorted(id_map)})"
                )
            p = id_map[i]
            state[p] = self._load_param_state(p, i, group_of[i], saved, where)

        for group, saved in zip(groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = list(saved_groups)

    def _check_saved_group(self, i: int, group: dict[str, Any], saved: dict[str, Any], where: str) -> None:
        """Check saved group i against this optimizer's group i: its parameter indices, that its
        hyper-parameters are this class's (not another optimizer's), and their values."""
        indices = saved.get("params")
        if not isinstance(indices, list) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in indices
        ):
            raise TypeError(
                f"{where}: param group {i} of state_dict must have 'params', a list of parameter indices, got {show(indices)}"
            )
        saved["params"] = [int(k) for k in indices]
        keys = set(saved) - _GROUP_BOOKKEEPING
        lacks = sorted(set(self.defaults) - keys)
        foreign = sorted(keys - set(self.defaults) - set(group))
        if lacks or foreign:
            what = [f"lacks {lacks}"] if lacks else []
            what += [f"has {foreign}, which {type(self).__name__} does not use"] if foreign else []
            raise ValueError(
                f"{where}: param group {i} of state_dict does not fit {type(self).__name__}: it "
                f"{' and '.join(what)} (is it another optimizer's state?)"
            )
        try:
            self._check_group(saved)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: param group {i} of state_dict: {e}") from e

    def _state_keys(self, group: dict[str, Any]) -> tuple[set[str], set[str]] | None:
        """The (required, optional) keys of a parameter's state in this class; None: anything goes."""
        return None

    def _load_param_state(self, p: Tensor, index: int, group: dict[str, Any], saved: Any, where: str) -> dict[str, Any]:
        """A parameter's saved state, checked against this class's keys, as fresh values of p's dtype."""
        if not isinstance(saved, Mapping):
            raise TypeError(f"{where}: the state of parameter {index} must be a dict, got {typename(saved)}")
        keys = self._state_keys(group)
        if keys is not None and saved:
            required, optional = keys
            lacks = sorted(required - set(saved))
            foreign = sorted(set(saved) - required - optional)
            if lacks or foreign:
                raise ValueError(
                    f"{where}: the state of parameter {index} does not fit {type(self).__name__}: it has "
                    f"{sorted(saved)}, expected {sorted(required)}"
                    + (f" (optional: {sorted(optional)})" if optional else "")
                )
        return {key: _load_value(p, index, key, value, where, strict=keys is not None) for key, value in saved.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _load_value(p: Tensor, index: int, key: str, value: Any, where: str, strict: bool) -> Any:
    """A saved buffer as a fresh array of p's shape and (floating) dtype; the step as an int.

    `strict` (a class that declares its state keys): every entry but the step must be an array.
    """
    what = f"{where}: state {key!r} of parameter {index}"
    if key == "step":  # also when a checkpoint format has turned the count into a 0-d array
        step = value.item() if isinstance(value, np.ndarray) and value.shape == () else value
        whole = isinstance(step, (int, np.integer)) or (
            isinstance(step, (float, np.floating)) and float(step).is_integer()
        )
        if not is_number(step) or not whole or step < 0:
            raise ValueError(f"{what} must be a whole number of steps >= 0, got {show(value)}")
        return int(step)
    if not isinstance(value, np.ndarray):
        if strict:
            raise TypeError(f"{what} must be an array of shape {p.shape}, got {typename(value)}")
        return value
    if value.shape != p.shape:
        raise ValueError(
            f"load_state_dict: state {key!r} of parameter {index} has shape {value.shape}, but "
            f"that parameter has shape {p.shape}: is the checkpoint from another model?"
        )
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{what} must hold numbers, got dtype {value.dtype}")
    if not np.isfinite(value).all():
        raise ValueError(f"{what} holds nan or inf: the run that saved it had diverged")
    dtype = p.dtype if p.dtype.kind == "f" else value.dtype
    return np.array(value, dtype=dtype, copy=True)

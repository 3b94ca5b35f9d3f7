"""Learning-rate schedules: set each param group's "lr" once per step.

    scheduler = WarmupCosineLR(optimizer, warmup_iters=100, max_iters=2000, min_lr=1e-4)
    for it in range(max_iters):
        ...backward...
        optimizer.step()
        scheduler.step()          # after optimizer.step(): the first step uses the lr at it = 0

A scheduler counts steps in `last_epoch` (PyTorch's name; it counts iterations when stepped
once per iteration). Creating one already takes step 0: it records each group's starting lr
as "initial_lr" (base_lrs) and writes the lr for last_epoch = 0. The same names, values and
state dicts as torch.optim.lr_scheduler, plus WarmupCosineLR, the schedule GPTs train with.
"""

from __future__ import annotations

import copy
import math
import types
from collections.abc import Callable, Mapping
from typing import Any

from ._checks import check_bool, check_int, check_nonnegative, show, typename
from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "CosineAnnealingLR", "WarmupCosineLR"]

_LR = "a finite number >= 0"
_BASE_STATE = {"base_lrs", "last_epoch", "_step_count", "_is_initial", "_last_lr"}  # LRScheduler's own attributes


def _is_lr(value: Any) -> bool:
    """Whether `value` can be an lr (or a factor of one): a finite number >= 0."""
    try:
        check_nonnegative(value, "lr")
    except (TypeError, ValueError):
        return False
    return True


def _check_optimizer(optimizer: Any) -> None:
    """A schedule sets the lr of an Optimizer's param groups: refuse anything else (PyTorch's words first)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{typename(optimizer)} is not an Optimizer (the schedule's optimizer must be one: SGD, Adam, AdamW, ...)"
        )


class LRScheduler:
    """Base class of the schedules (PyTorch: torch.optim.lr_scheduler.LRScheduler).

    A subclass writes `get_lr()`: the lr of every param group at step `self.last_epoch`.

    Args:
        optimizer: the optimizer whose param groups' "lr" this schedule sets.
        last_epoch: the index of the last step taken; -1 (default) starts a new schedule.
            Anything else resumes one and needs "initial_lr" in every param group (restored by
            the optimizer's load_state_dict); usually load_state_dict is simpler.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        where = type(self).__name__
        last_epoch = check_int(
            last_epoch,
            "last_epoch",
            "-1 (a new schedule) or the index >= 0 of the last step taken",
            lambda n: n >= -1,
            where=where,
        )
        if last_epoch != -1:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"scheduler with last_epoch >= 0 (here last_epoch={last_epoch}): load the "
                        f"optimizer's state_dict first, or start a new schedule with last_epoch=-1"
                    )
        # Every starting lr is checked, and step 0 taken, before "initial_lr" is written into the
        # optimizer: a schedule refused here leaves the optimizer as it was.
        base_lrs = [
            check_nonnegative(group.get("initial_lr", group["lr"]), f"param_groups[{i}]['initial_lr']", where=where)
            for i, group in enumerate(optimizer.param_groups)
        ]
        self.optimizer = optimizer
        self.base_lrs: list[float] = base_lrs
        self.last_epoch = last_epoch
        self._initial_step()
        for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
            group.setdefault("initial_lr", base_lr)

    def _set_settings(self, settings: dict[str, Any]) -> None:
        """Check a subclass's own arguments with `_check_settings` and keep them as attributes."""
        self.__dict__.update(self._check_settings(settings))

    @staticmethod
    def _check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        """A subclass's own arguments by name, checked and normalised (used again by load_state_dict)."""
        return settings

    def _initial_step(self) -> None:
        """Take step 0 at construction, as PyTorch does; get_lr sees `_is_initial` True."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lr of every param group at step `last_epoch` (called by step())."""
        raise NotImplementedError(f"{type(self).__name__}.get_lr is not written")

    def step(self) -> None:
        """Advance one step: last_epoch += 1 and write the new lr into every param group.

        Every new lr is checked (a finite number >= 0) before any is written: a schedule that
        went wrong raises here, with the optimizer and the step count left as they were.
        """
        self.last_epoch += 1
        try:
            values = self.get_lr()
            for i, lr in enumerate(values):
                if not _is_lr(lr):
                    settings = ", ".join(
                        f"{k}={show(v)}" for k, v in vars(self).items() if k not in _BASE_STATE | {"optimizer"}
                    )
                    raise ValueError(
                        f"{type(self).__name__}: the schedule gives lr {show(lr)} to param group {i} at step "
                        f"{self.last_epoch}; an lr must be {_LR} (the schedule's settings: {settings}; the "
                        f"group's initial lr: {show(self.base_lrs[i])})"
                    )
        except BaseException:
            self.last_epoch -= 1
            raise
        self._step_count += 1
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lr of every param group as last set by this scheduler."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (which has a state_dict of its own)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by state_dict(); the optimizer's lrs come from its own.

        All or nothing: the keys must be this class's (not another schedule's) and every value
        is checked as the constructor checks it before any attribute is written.
        """
        self.__dict__.update(self._checked_state(state_dict))

    def _checked_state(self, state_dict: Any) -> dict[str, Any]:
        """A deep copy of `state_dict` once its keys and values are known to fit this scheduler."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: state_dict must be a dict as state_dict() returns, got {typename(state_dict)}")
        state = copy.deepcopy(dict(state_dict))
        expected = set(self.state_dict())
        lacks, foreign = sorted(expected - set(state)), sorted(set(state) - expected)
        if lacks or foreign:
            what = ([f"lacks {lacks}"] if lacks else []) + ([f"has {foreign}"] if foreign else [])
            raise ValueError(
                f"{where}: state_dict does not fit {type(self).__name__}: it {' and '.join(what)} "
                "(is it another schedule's state?)"
            )
        n = len(self.optimizer.param_groups)
        state["last_epoch"] = check_int(
            state["last_epoch"], "last_epoch", "an int >= -1", lambda k: k >= -1, where=where
        )
        state["_step_count"] = check_int(
            state["_step_count"], "_step_count", "an int >= 0", lambda k: k >= 0, where=where
        )
        state["_is_initial"] = check_bool(state["_is_initial"], "_is_initial", where=where)
        for key in ("base_lrs", "_last_lr"):
            values = state[key]
            if not isinstance(values, (list, tuple)) or len(values) != n:
                raise ValueError(f"{where}: {key} must be a list of {n} lrs, one per param group, got {show(values)}")
            state[key] = [check_nonnegative(v, f"{key}[{i}]", where=where) for i, v in enumerate(values)]
        settings = {k: state[k] for k in expected - _BASE_STATE - {"lr_lambdas"}}
        try:
            state.update(self._check_settings(settings))
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {str(e).removeprefix(type(self).__name__ + ': ')}") from e
        return state


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(step): any schedule given as a multiplicative factor.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the step index returning a factor, or a list of such
            functions, one per param group.
        last_epoch: see LRScheduler (default: -1).

    The state dict saves a callable object's attributes, but not a function or lambda: those
    are code, to be passed again when the scheduler is rebuilt.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]] | tuple[Callable[[int], float], ...],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        lr_lambdas: list[Any] = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda]
        for fn in lr_lambdas:
            if not callable(fn):
                raise TypeError(
                    "LambdaLR: lr_lambda must be a function of the step (or a list of them, one per param group), "
                    f"got {typename(fn)} {show(fn)}"
                )
        if not isinstance(lr_lambda, (list, tuple)):
            lr_lambdas *= len(optimizer.param_groups)
        elif len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        self.lr_lambdas = lr_lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base_lr * self._factor(i, lmbda)
            for i, (lmbda, base_lr) in enumerate(zip(self.lr_lambdas, self.base_lrs, strict=True))
        ]

    def _factor(self, group: int, lmbda: Callable[[int], float]) -> float:
        """lr_lambda(last_epoch), checked: a finite number >= 0."""
        factor = lmbda(self.last_epoch)
        if not _is_lr(factor):
            raise ValueError(
                f"LambdaLR: lr_lambda({self.last_epoch}) returned {show(factor)} for param group {group}; "
                f"the factor must be {_LR}"
            )
        return float(factor)

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = self._checked_state(state_dict)
        lr_lambdas = state.pop("lr_lambdas")
        if not isinstance(lr_lambdas, (list, tuple)) or len(lr_lambdas) != len(self.lr_lambdas):
            raise ValueError(
                f"LambdaLR.load_state_dict: lr_lambdas must be a list of {len(self.lr_lambdas)} entries "
                f"(None, or a callable object's attributes), got {show(lr_lambdas)}"
            )
        for i, saved in enumerate(lr_lambdas):
            if saved is not None and not isinstance(saved, dict):
                raise TypeError(
                    f"LambdaLR.load_state_dict: lr_lambdas[{i}] must be None or a dict, got {typename(saved)}"
                )
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas, strict=True):
            if saved is not None:
                fn.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the lr by gamma every step_size steps: lr_t = initial_lr · gamma^⌊t / step_size⌋.

    Computed recursively, as PyTorch does (the group's current lr times gamma at each multiple
    of step_size), so another change to the lr in between is kept.

    Args:
        optimizer: the optimizer.
        step_size: the period of the decay, in steps.
        gamma: the factor applied at each period (default: 0.1).
        last_epoch: see LRScheduler (default: -1).
    """

    step_size: int  # checked by _check_settings in __init__ and load_state_dict
    gamma: float

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self._set_settings({"step_size": step_size, "gamma": gamma})
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "step_size": check_int(
                settings["step_size"], "step_size", "a positive number of steps", lambda n: n >= 1, where="StepLR"
            ),
            "gamma": check_nonnegative(settings["gamma"], "gamma", where="StepLR"),
        }

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the lr from initial_lr to eta_min along half a cosine over T_max steps.

    The closed form (SGDR without restarts), periodic with period 2·T_max:

        lr_t = eta_min + (initial_lr − eta_min) · (1 + cos(π t / T_max)) / 2

    NOTE: computed recursively from the group's current lr, as PyTorch does,
        lr_t = eta_min + (lr_{t−1} − eta_min) · (1 + cos(π t / T_max)) / (1 + cos(π (t−1) / T_max)),
    which equals the closed form up to float rounding (and keeps outside changes to the lr);
    at t = T_max + 1 (mod 2·T_max), where the ratio would divide by zero, the lr climbs back
    by the closed-form increment instead.

    Args:
        optimizer: the optimizer.
        T_max: the number of steps of the half cosine.
        eta_min: the lowest lr (default: 0).
        last_epoch: see LRScheduler (default: -1).

    Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
    """

    T_max: int  # checked by _check_settings in __init__ and load_state_dict
    eta_min: float

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self._set_settings({"T_max": T_max, "eta_min": eta_min})
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        where = "CosineAnnealingLR"
        return {
            "T_max": check_int(settings["T_max"], "T_max", "a positive number of steps", lambda n: n >= 1, where=where),
            "eta_min": check_nonnegative(settings["eta_min"], "eta_min", where=where),
        }

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:  # step 0, or a resume with last_epoch >= 0: keep the group's lr
            return [group["lr"] for group in groups]
        if (t - 1 - T) % (2 * T) == 0:
            lrs = [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, groups, strict=True)
            ]
        else:
            lrs = [
                (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group["lr"] - eta_min)
                + eta_min
                for group in groups
            ]
        # NOTE: the exact lr always lies between the group's lr and eta_min, so it is >= 0; with an
        # eta_min far above the lr (1e14 against 0.1) rounding can push it below 0 (PyTorch's too).
        return [max(lr, 0.0) for lr in lrs]


class WarmupCosineLR(LRScheduler):
    r"""Linear warmup, then cosine decay to min_lr: the GPT schedule (nanoGPT's get_lr).

    At step t, for each group with initial lr η (W = warmup_iters, M = max_iters):

        t < W:        lr = η · (t + 1) / (W + 1)                          linear warmup
        W ≤ t ≤ M:    lr = min_lr + (η − min_lr) · (1 + cos(π (t − W) / (M − W))) / 2
        t > M:        lr = min_lr

    The warmup starts at η/(W+1), not at 0, as nanoGPT's current `(it + 1) / (warmup_iters + 1)`
    does (its first version started at 0, wasting the first step), and reaches η at t = W
    exactly. Early in training Adam's moments are poor estimates and the weights are random,
    so large steps would be erratic: the warmup keeps them small until the statistics settle.
    Computed in closed form from the step index, so resuming needs only last_epoch.

    Args:
        optimizer: the optimizer.
        warmup_iters: the number of warmup steps W (0 for none).
        max_iters: the step M at which the decay reaches min_lr (nanoGPT: lr_decay_iters).
        min_lr: the final lr, the same for every group (default: 0; nanoGPT uses η/10).
        last_epoch: see LRScheduler (default: -1).
    """

    warmup_iters: int  # checked by _check_settings in __init__ and load_state_dict
    max_iters: int
    min_lr: float

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_iters: int,
        max_iters: int,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self._set_settings({"warmup_iters": warmup_iters, "max_iters": max_iters, "min_lr": min_lr})
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_settings(settings: dict[str, Any]) -> dict[str, Any]:
        where = "WarmupCosineLR"
        warmup_iters = check_int(settings["warmup_iters"], "warmup_iters", "an int >= 0", lambda n: n >= 0, where=where)
        max_iters = check_int(
            settings["max_iters"],
            "max_iters",
            f"an int greater than warmup_iters ({warmup_iters})",
            lambda n: n > warmup_iters,
            where=where,
        )
        min_lr = check_nonnegative(settings["min_lr"], "min_lr", where=where)
        return {"warmup_iters": warmup_iters, "max_iters": max_iters, "min_lr": min_lr}

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.last_epoch, base_lr) for base_lr in self.base_lrs]

    def lr_at(self, it: int, base_lr: float) -> float:
        """The lr at step `it` (an int >= 0) for a group whose initial lr is `base_lr` (the formula above)."""
        it = check_int(it, "it", "a step index >= 0", lambda n: n >= 0, where="WarmupCosineLR.lr_at")
        base_lr = check_nonnegative(base_lr, "base_lr", where="WarmupCosineLR.lr_at")
        # exercise 3.5: WarmupCosineLR.lr_at: the learning rate at step `it`
        if it < self.warmup_iters:
            return base_lr * (it + 1) / (self.warmup_iters + 1)
        if it > self.max_iters:
            return self.min_lr
        decay_ratio = (it - self.warmup_iters) / (self.max_iters - self.warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # from 1 down to 0
        return self.min_lr + coeff * (base_lr - self.min_lr)
        # end exercise 3.5

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
from collections.abc import Callable
from typing import Any

from .optimizer import Optimizer


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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"scheduler with last_epoch >= 0 (here last_epoch={last_epoch}): load the "
                        f"optimizer's state_dict first, or start a new schedule with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

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
        """Advance one step: last_epoch += 1 and write the new lr into every param group."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lr of every param group as last set by this scheduler."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (which has a state_dict of its own)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by state_dict(); the optimizer's lrs come from its own."""
        self.__dict__.update(copy.deepcopy(state_dict))


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
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        else:
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * lmbda(self.last_epoch) for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = copy.deepcopy(state_dict)
        lr_lambdas = state.pop("lr_lambdas")
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

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive number of steps, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

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

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of steps, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:  # step 0, or a resume with last_epoch >= 0: keep the group's lr
            return [group["lr"] for group in groups]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (group["lr"] - eta_min) + eta_min
            for group in groups
        ]


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

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_iters: int,
        max_iters: int,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if warmup_iters < 0:
            raise ValueError(f"WarmupCosineLR: warmup_iters must be >= 0, got {warmup_iters}")
        if max_iters <= warmup_iters:
            raise ValueError(
                f"WarmupCosineLR: max_iters ({max_iters}) must be greater than warmup_iters ({warmup_iters})"
            )
        if min_lr < 0:
            raise ValueError(f"WarmupCosineLR: min_lr must be >= 0, got {min_lr}")
        self.warmup_iters = warmup_iters
        self.max_iters = max_iters
        self.min_lr = min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.last_epoch, base_lr) for base_lr in self.base_lrs]

    def lr_at(self, it: int, base_lr: float) -> float:
        """The lr at step `it` for a group whose initial lr is `base_lr` (the formula above)."""
        # exercise 3.5: WarmupCosineLR.lr_at: linear warm-up, then a cosine from base_lr down to min_lr, then min_lr
        if it < self.warmup_iters:
            return base_lr * (it + 1) / (self.warmup_iters + 1)
        if it > self.max_iters:
            return self.min_lr
        decay_ratio = (it - self.warmup_iters) / (self.max_iters - self.warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # from 1 down to 0
        return self.min_lr + coeff * (base_lr - self.min_lr)
        # end exercise 3.5

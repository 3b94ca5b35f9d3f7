"""Learning-rate schedules: closed forms at chosen steps, PyTorch's stepping rules, state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.autograd import Tensor
from numpygpt.autograd.exercises import check_value
from numpygpt.optim import SGD, AdamW
from numpygpt.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    StepLR,
    WarmupCosineLR,
)

pytestmark = pytest.mark.lr_scheduler


def make_opt(*lrs: float) -> SGD:
    return SGD([{"params": [Tensor(np.zeros(1, np.float32), requires_grad=True)], "lr": lr} for lr in lrs])


def lrs_over(scheduler: LRScheduler, steps: int) -> list[float]:
    """The first group's lr at steps 0..steps (step 0 is set when the scheduler is built)."""
    out = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr()[0])
    return out


def test_steplr_closed_form_at_chosen_steps() -> None:
    lrs = lrs_over(StepLR(make_opt(0.1), step_size=3, gamma=0.5), 12)
    for t in (0, 2, 3, 5, 6, 9, 12):
        assert lrs[t] == pytest.approx(0.1 * 0.5 ** (t // 3), rel=1e-12), f"StepLR at step {t}"


def test_cosine_closed_form_at_chosen_steps() -> None:
    lr, eta_min, T = 0.1, 0.01, 8
    lrs = lrs_over(CosineAnnealingLR(make_opt(lr), T_max=T, eta_min=eta_min), 2 * T + 3)
    assert lrs[0] == lr
    assert lrs[T // 2] == pytest.approx((lr + eta_min) / 2, rel=1e-12)  # halfway: the mean
    assert lrs[T] == pytest.approx(eta_min, rel=1e-12)  # the bottom
    for t in range(2 * T + 3):  # and beyond T it climbs back, period 2·T_max
        closed = eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
        assert lrs[t] == pytest.approx(closed, rel=1e-12), f"cosine at step {t}"


@pytest.mark.ex3_5
def test_warmup_cosine_by_hand() -> None:
    lr, W, M, min_lr = 0.1, 2, 6, 0.01
    got = np.array(lrs_over(WarmupCosineLR(make_opt(lr), warmup_iters=W, max_iters=M, min_lr=min_lr), 8))
    t = np.arange(9)
    cos = lambda ratio: 0.5 * (1 + np.cos(np.pi * ratio))  # noqa: E731
    ratio = np.clip((t - W) / (M - W), 0, 1)
    right = np.where(t < W, lr * (t + 1) / (W + 1), min_lr + cos(ratio) * (lr - min_lr))
    check_value(
        got,
        right,
        f"WarmupCosineLR(lr {lr}, warmup_iters {W}, max_iters {M}, min_lr {min_lr}) at steps 0..8",
        {
            "the warm-up starts at 0, wasting the first step: step t of the warm-up uses lr (t + 1) / (W + 1)": (
                np.where(t < W, lr * t / W, right)
            ),
            "the cosine is measured from step 0: it runs from warmup_iters (the peak) to max_iters (min_lr)": (
                np.where(t < W, right, min_lr + cos(np.clip(t / M, 0, 1)) * (lr - min_lr))
            ),
            "the cosine ends at 0: it falls from the peak to min_lr": np.where(
                (t < W) | (t > M), right, cos(ratio) * lr
            ),
            "after max_iters the cosine rises again: past max_iters the lr stays at min_lr": np.where(
                t < W, right, min_lr + cos((t - W) / (M - W)) * (lr - min_lr)
            ),
        },
        rtol=1e-12,
    )


def test_warmup_cosine_at_chosen_steps() -> None:
    lr, W, M, min_lr = 6e-4, 10, 50, 6e-5
    lrs = lrs_over(WarmupCosineLR(make_opt(lr), warmup_iters=W, max_iters=M, min_lr=min_lr), M + 5)
    assert lrs[0] == pytest.approx(lr / (W + 1), rel=1e-12), "warmup starts at lr/(W+1), not 0"
    assert lrs[W - 1] == pytest.approx(lr * W / (W + 1), rel=1e-12)
    assert lrs[W] == pytest.approx(lr, rel=1e-12), "the peak is reached at t = warmup_iters"
    assert lrs[(W + M) // 2] == pytest.approx((lr + min_lr) / 2, rel=1e-12)
    assert lrs[M] == pytest.approx(min_lr, rel=1e-12)
    assert lrs[M + 1 :] == [min_lr] * 5


@settings(max_examples=40, deadline=None)
@given(
    W=st.integers(0, 20),
    span=st.integers(1, 40),
    lr=st.floats(1e-5, 1.0),
    ratio=st.floats(0.0, 1.0),
)
def test_warmup_cosine_rises_then_falls_between_min_lr_and_lr(W: int, span: int, lr: float, ratio: float) -> None:
    M, min_lr = W + span, lr * ratio
    lrs = np.array(lrs_over(WarmupCosineLR(make_opt(lr), W, M, min_lr), M + 3))
    assert np.all(np.diff(lrs[: W + 1]) > 0), "warmup must increase the lr at every step"
    assert np.all(np.diff(lrs[W:]) <= 1e-15), "after warmup the lr must never increase"
    assert lrs[W] == pytest.approx(lr) and lrs[-1] == min_lr
    assert np.all(lrs <= lr * (1 + 1e-12))
    assert np.all(lrs[W:] >= min_lr * (1 - 1e-12)), "after warmup the lr never drops below min_lr"


def test_lambdalr_multiplies_each_groups_initial_lr() -> None:
    opt = make_opt(0.1, 0.5)
    sched = LambdaLR(opt, [lambda t: 0.5**t, lambda t: 1 + t])
    for _ in range(3):
        opt.step()
        sched.step()
    assert sched.get_last_lr() == [0.1 * 0.5**3, 0.5 * 4]
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]


def test_a_scheduler_sets_step_zero_and_records_initial_lr() -> None:
    opt = make_opt(0.3)
    sched = WarmupCosineLR(opt, warmup_iters=2, max_iters=10)
    assert sched.last_epoch == 0 and sched.base_lrs == [0.3]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1), "built: the lr of step 0 is in place"
    sched.get_last_lr().append(1.0)
    assert sched.get_last_lr() == [pytest.approx(0.1)], "get_last_lr returns a copy"


def test_steplr_keeps_a_change_made_to_the_lr_in_between() -> None:
    # Recursive, as PyTorch: at the next multiple of step_size, gamma multiplies the *current* lr.
    opt = make_opt(1.0)
    sched = StepLR(opt, step_size=2, gamma=0.1)
    sched.step()
    opt.param_groups[0]["lr"] = 0.5
    sched.step()
    assert sched.get_last_lr() == [pytest.approx(0.05)]


class Halving:
    """A callable object: its attributes go into LambdaLR's state dict (a lambda's cannot)."""

    def __init__(self) -> None:
        self.factor = 0.5

    def __call__(self, t: int) -> float:
        return self.factor**t


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: StepLR(opt, step_size=3, gamma=0.5),
        lambda opt: CosineAnnealingLR(opt, T_max=7, eta_min=0.001),
        lambda opt: WarmupCosineLR(opt, warmup_iters=3, max_iters=12, min_lr=0.01),
        lambda opt: LambdaLR(opt, Halving()),
    ],
    ids=["step", "cosine", "warmup_cosine", "lambda"],
)
def test_schedule_state_round_trip(make) -> None:
    straight = make(make_opt(0.1))
    expected = lrs_over(straight, 10)

    first = make(make_opt(0.1))
    if isinstance(first, LambdaLR):
        first.lr_lambdas[0].factor = 0.9  # state the rebuilt scheduler must get from the dict
        expected = [0.1 * 0.9**t for t in range(11)]
    lrs_over(first, 4)
    optim_state, sched_state = first.optimizer.state_dict(), first.state_dict()
    assert "optimizer" not in sched_state

    opt = make_opt(0.1)
    resumed = make(opt)
    opt.load_state_dict(optim_state)
    resumed.load_state_dict(sched_state)
    assert resumed.last_epoch == 4
    got = lrs_over(resumed, 6)
    np.testing.assert_allclose(got, expected[4:], rtol=1e-12)


def test_lambdalr_state_skips_plain_functions() -> None:
    sched = LambdaLR(make_opt(0.1, 0.2), [lambda t: 1.0, Halving()])
    assert sched.state_dict()["lr_lambdas"] == [None, {"factor": 0.5}]


def test_resuming_with_last_epoch_continues_from_initial_lr() -> None:
    opt = make_opt(0.1)
    WarmupCosineLR(opt, warmup_iters=2, max_iters=10)  # records initial_lr = 0.1
    opt.param_groups[0]["lr"] = 0.7  # what a loaded optimizer state would overwrite anyway
    resumed = WarmupCosineLR(opt, warmup_iters=2, max_iters=10, last_epoch=4)
    assert resumed.base_lrs == [0.1], "the schedule is anchored at initial_lr, not the current lr"
    assert resumed.last_epoch == 5, "building takes one step: from last_epoch 4 to 5"
    assert resumed.get_last_lr() == [pytest.approx(resumed.lr_at(5, 0.1), rel=1e-12)]


def test_recursive_schedules_resume_from_the_groups_current_lr() -> None:
    # PyTorch's rule: a recursive schedule built with last_epoch >= 0 keeps the group's lr (as
    # restored by the optimizer's load_state_dict) and recurs from it on the next step.
    opt = make_opt(0.1)
    CosineAnnealingLR(opt, T_max=10)
    opt.param_groups[0]["lr"] = 0.05
    resumed = CosineAnnealingLR(opt, T_max=10, last_epoch=4)
    assert resumed.get_last_lr() == [0.05]
    resumed.step()
    ratio = (1 + math.cos(math.pi * 6 / 10)) / (1 + math.cos(math.pi * 5 / 10))
    assert resumed.get_last_lr() == [pytest.approx(0.05 * ratio, rel=1e-12)]


# ----- bad input ------------------------------------------------------------------------------


@pytest.mark.errors
def test_resuming_without_initial_lr() -> None:
    with pytest.raises(ValueError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        StepLR(make_opt(0.1), step_size=2, last_epoch=3)


@pytest.mark.errors
def test_a_scheduler_needs_an_optimizer() -> None:
    with pytest.raises(TypeError, match=r"^list is not an Optimizer \(the schedule's optimizer must be one"):
        StepLR([0.1], step_size=2)


@pytest.mark.errors
def test_lambdalr_needs_one_function_per_group() -> None:
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        LambdaLR(make_opt(0.1, 0.2), [lambda t: 1.0])


@pytest.mark.errors
def test_schedule_arguments_are_checked() -> None:
    opt = AdamW([Tensor(np.zeros(1, np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive number of steps, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive number of steps, got 0"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(
        ValueError, match=r"WarmupCosineLR: max_iters must be an int greater than warmup_iters \(10\), got 10"
    ):
        WarmupCosineLR(opt, warmup_iters=10, max_iters=10)
    with pytest.raises(ValueError, match="WarmupCosineLR: warmup_iters must be an int >= 0, got -1"):
        WarmupCosineLR(opt, warmup_iters=-1, max_iters=10)
    with pytest.raises(ValueError, match="WarmupCosineLR: min_lr must be a finite number >= 0, got -0.1"):
        WarmupCosineLR(opt, warmup_iters=1, max_iters=10, min_lr=-0.1)

"""Draw the learning-rate schedules of numpygpt.optim.lr_scheduler into docs/schedules.png.

    PYTHONPATH=stage01_autograd/src:stage02_layers/src:stage03_optim/src \\
        python stage03_optim/scripts/plot_schedules.py          (from the repo root)

The curves come from the real schedulers, stepped as in a training loop, so the picture in the
lesson is regenerated from the code it describes. matplotlib is needed here only (tooling, not a
dependency of the stage).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from numpygpt.autograd import Tensor
from numpygpt.optim import AdamW, Optimizer
from numpygpt.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    StepLR,
    WarmupCosineLR,
)

OUT = Path(__file__).resolve().parents[1] / "docs" / "schedules.png"


def curve(make: Callable[[Optimizer], LRScheduler], lr: float, steps: int) -> np.ndarray:
    """The lr at steps 0..steps-1 of the schedule `make(optimizer)`."""
    opt = AdamW([Tensor(np.zeros(1, np.float32), requires_grad=True)], lr=lr)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(sched.get_last_lr()[0])
        opt.step()  # no gradient: nothing moves, but the call order is the real one
        sched.step()
    return np.array(lrs)


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)

    steps = 100
    t = np.arange(steps)
    schedules = {
        "StepLR(step_size=25, gamma=0.5)": lambda o: StepLR(o, step_size=25, gamma=0.5),
        "LambdaLR(lambda t: 0.97**t)": lambda o: LambdaLR(o, lambda s: 0.97**s),
        "CosineAnnealingLR(T_max=100, eta_min=0.05)": lambda o: CosineAnnealingLR(o, T_max=steps, eta_min=0.05),
    }
    for label, make in schedules.items():
        left.plot(t, curve(make, 1.0, steps), label=label)
    left.set(title="StepLR, LambdaLR, CosineAnnealingLR (initial lr 1)", xlabel="step", ylabel="lr")
    left.set_ylim(0, 1.45)  # room for the legend above the curves
    left.legend(fontsize=8, loc="upper right")

    # lr, min_lr and warmup of nanoGPT's shakespeare_char config; 2000 iterations as this project's reference run
    lr, warmup, max_iters, min_lr = 1e-3, 100, 2000, 1e-4
    steps = 2200
    lrs = curve(lambda o: WarmupCosineLR(o, warmup_iters=warmup, max_iters=max_iters, min_lr=min_lr), lr, steps)
    right.plot(np.arange(steps), lrs * 1e3, color="C3")
    right.axvline(warmup, color="grey", lw=0.8, ls="--")
    right.axvline(max_iters, color="grey", lw=0.8, ls="--")
    right.text(warmup + 30, 0.5, f"warmup_iters={warmup}", fontsize=8)
    right.text(max_iters - 30, 0.5, f"max_iters={max_iters}", fontsize=8, ha="right")
    right.set(
        title=f"WarmupCosineLR: lr {lr:g}, min_lr {min_lr:g}",
        xlabel="iteration",
        ylabel="lr (×1e-3)",
    )

    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, pil_kwargs={"optimize": True})
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.1f} KB)")


if __name__ == "__main__":
    main()

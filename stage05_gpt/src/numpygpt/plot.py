"""Draw the loss curve of a run from its metrics.csv (needs matplotlib, a tooling extra).

python -m numpygpt.plot out/shakespeare_char/metrics.csv [loss.png]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from numpygpt.reference import ReferenceCurve


def pyplot(what: str) -> Any:
    """matplotlib.pyplot drawing to files, or None (saying how to get it) when it is not installed.

    The runtime needs only numpy; `nox -s train` and the stage's `plot` extra install
    matplotlib for the pictures. `what` names the picture in the message.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{what}: matplotlib is not installed (pip install matplotlib), skipping the PNG")
        return None
    return plt


def plot_metrics(metrics_csv: str | Path, png: str | Path, reference: ReferenceCurve | None = None) -> bool:
    """Write a PNG of training loss per logged iteration and train/val loss per evaluation.

    With `reference` (the default config's recorded curve, numpygpt/reference.py), its val-loss
    band is drawn behind the curves: where a run of this config is expected to be. Returns
    False when matplotlib is not installed.
    """
    plt = pyplot("loss curve")
    if plt is None:
        return False
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    step = [(int(r["iter"]), float(r["loss"])) for r in rows if r["loss"]]
    evals = [(int(r["iter"]), float(r["train_loss"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    if reference is None:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    else:
        fig, (ax, near) = plt.subplots(1, 2, figsize=(12, 4), dpi=100, gridspec_kw={"width_ratios": [7, 5]})
        _draw_band(near, reference, [(it, va) for it, _, va in evals])
        bands = sorted(reference.bands.values(), key=lambda b: b.iter)
        ax.fill_between(
            [b.iter for b in bands],
            [b.lo for b in bands],
            [b.hi for b in bands],
            color="tab:green",
            alpha=0.25,
            lw=0,
            label=f"reference val loss ({len(reference.seeds)} seeds, 95% band)",
        )
    if step:
        ax.plot(*zip(*step, strict=True), lw=0.8, alpha=0.6, label="training batch loss")
    if evals:
        it, tr, va = zip(*evals, strict=True)
        ax.plot(it, tr, "o-", label="train loss (estimate)")
        ax.plot(it, va, "s-", label="val loss (estimate)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    print(f"loss curve: {png}")
    return True


def _draw_band(ax: Any, reference: ReferenceCurve, val: list[tuple[int, float]]) -> None:
    """Close up: the run's val loss minus the reference's mean at each evaluation, inside its band or not."""
    bands = sorted(reference.bands.values(), key=lambda b: b.iter)
    ax.fill_between(
        [b.iter for b in bands],
        [b.lo - b.mean for b in bands],
        [b.hi - b.mean for b in bands],
        color="tab:green",
        alpha=0.25,
        lw=0,
    )
    ax.axhline(0.0, color="tab:green", lw=1, label=f"the reference: mean of {len(reference.seeds)} seeds, 95% band")
    near = [(it, v - reference.bands[it].mean) for it, v in val if it in reference.bands]
    if near:
        ax.plot(*zip(*near, strict=True), "s-", color="tab:green", label="this run's val loss")
    ax.set_title("is my loss normal? val loss minus the reference's mean", fontsize=10)
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


if __name__ == "__main__":
    plot_metrics(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else Path(sys.argv[1]).with_name("loss.png"))

"""Draw the loss curve of a run from its metrics.csv (needs matplotlib, a tooling extra)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def plot_metrics(metrics_csv: str | Path, png: str | Path) -> bool:
    """Write a PNG of training loss per logged iteration and train/val loss per evaluation.

    Returns False (and says how to get it) when matplotlib is not installed: the runtime
    needs only numpy, and `nox -s train` installs matplotlib for the picture.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("loss curve: matplotlib is not installed (pip install matplotlib), skipping the PNG")
        return False
    with open(metrics_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    step = [(int(r["iter"]), float(r["loss"])) for r in rows if r["loss"]]
    evals = [(int(r["iter"]), float(r["train_loss"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
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


if __name__ == "__main__":
    plot_metrics(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else Path(sys.argv[1]).with_name("loss.png"))

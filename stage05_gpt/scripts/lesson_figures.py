"""Draw the pictures of stage05's lesson section "Reading the diagnostics" from two real runs.

    python stage05_gpt/scripts/lesson_figures.py          # trains the runs first if they are not there

A healthy run (the default config) and a broken one (the same with a learning rate 30x too
high) are trained into out/lesson_healthy and out/lesson_lr30x (a few minutes each), unless
those folders already hold finished runs. Then it writes, into stage05_gpt/docs/:

    loss.png, loss_lr30x.png                 each run's loss curve over the default's reference band
    diagnostics.png, diagnostics_lr30x.png   each run's diagnostics
    attention.png                            the healthy model's attention on a line of the play

with the project's own plotting code (numpygpt.plot, numpygpt.diagnostics, numpygpt.inspect).
Run it from the repository root with stages 01-05 and matplotlib installed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.diagnostics import plot_diagnostics
from numpygpt.inspect import plot_attention, report
from numpygpt.plot import plot_metrics
from numpygpt.reference import ReferenceCurve
from numpygpt.sample import load_model
from numpygpt.train import train

DOCS = Path(__file__).resolve().parents[1] / "docs"
RUNS = {"": {}, "_lr30x": {"learning_rate": 3e-2}}  # picture suffix -> what differs from the default config
PROMPT = "JULIET:\nO Romeo, Romeo!"


def finished_run(suffix: str, changes: dict[str, float]) -> Path:
    """The folder of the run, trained now unless it holds a finished one."""
    cfg = dataclasses.replace(TrainConfig(), out_dir=f"out/lesson{suffix or '_healthy'}", sample_tokens=0, **changes)
    last = cfg.run_dir / "last.npz"
    if not (last.is_file() and load_checkpoint(last)["iter"] == cfg.max_iters):
        train(dataclasses.replace(cfg, overwrite=True))
    return cfg.run_dir


def shrink(png: Path) -> None:
    """Store the picture with a palette of 256 colours: a third of the bytes, the same to the eye."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(256)
    small.save(png, optimize=True)


def main() -> None:
    reference = ReferenceCurve.load()
    for suffix, changes in RUNS.items():
        run = finished_run(suffix, changes)
        plot_metrics(run / "metrics.csv", DOCS / f"loss{suffix}.png", reference)
        what = ", ".join(f"{k} {v:g}" for k, v in changes.items()) or "the default config"
        plot_diagnostics(run / "diagnostics.csv", DOCS / f"diagnostics{suffix}.png", title=f"diagnostics: {what}")
        shrink(DOCS / f"diagnostics{suffix}.png")
    model, tokenizer = load_model(Path("out/lesson_healthy") / "best.npz")
    maps, labels, lines = report(model, tokenizer, PROMPT)
    print("\n".join(lines))
    plot_attention(maps, labels, DOCS / "attention.png", title=f"attention of the default model on {PROMPT!r}")


if __name__ == "__main__":
    main()

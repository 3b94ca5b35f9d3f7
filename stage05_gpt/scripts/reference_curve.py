"""Record the reference curve of the default config: "is my loss normal?"

Trains the default configuration (`shakespeare_char`) once per seed and writes, for every
evaluation, the train and val loss of each seed, their mean, spread and the band a new seed's
loss should fall in, to src/numpygpt/reference_shakespeare_char.json. A default run's log
then says whether its val loss is inside that band, and loss.png draws it
(numpygpt/reference.py reads the file).

    python stage05_gpt/scripts/reference_curve.py                      # seeds 1337 1 2 3 4
    python stage05_gpt/scripts/reference_curve.py --seeds 1337 1 2      # fewer seeds

Run from the repository root with stages 01-05 installed (`nox -s reference_curve`); each seed
is a full default run (a few minutes on a laptop CPU). Losses do not depend on how busy the
machine is, only on the code and the seed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
import tempfile
from pathlib import Path

from numpygpt.configs import TrainConfig
from numpygpt.reference import FREE_FIELDS, REFERENCE_PATH, effective_settings
from numpygpt.train import train

# Student's t, 97.5% quantile, by degrees of freedom: the band mean ± t s sqrt(1 + 1/n) is a
# 95% prediction interval for the loss of one more seed (n seeds, sample standard deviation s).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def run_seed(seed: int, folder: Path) -> dict[int, tuple[float, float]]:
    """Train the default config with `seed` in `folder`; {iteration: (train loss, val loss)}."""
    cfg = dataclasses.replace(
        TrainConfig(), seed=seed, out_dir=str(folder / f"seed{seed}"), sample_tokens=0, diagnostics=False
    )
    train(cfg)
    with open(Path(cfg.out_dir) / "metrics.csv", newline="") as f:
        return {
            int(r["iter"]): (float(r["train_loss"]), float(r["val_loss"])) for r in csv.DictReader(f) if r["val_loss"]
        }


def summarise(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation, min, max and the 95% band for one more seed."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = T_975[n - 1] * std * math.sqrt(1 + 1 / n)
    return {
        "mean": round(mean, 5),
        "std": round(std, 5),
        "min": round(min(values), 5),
        "max": round(max(values), 5),
        "lo": round(mean - half, 5),
        "hi": round(mean + half, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2, 3, 4], help="two to ten seeds")
    parser.add_argument("--out", type=Path, default=REFERENCE_PATH, help="the JSON file to write")
    args = parser.parse_args()
    if not 2 <= len(args.seeds) <= 10:
        sys.exit(f"error: --seeds: give 2 to 10 seeds, got {len(args.seeds)}")
    runs: dict[int, dict[int, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            print(f"--- seed {seed} ---", flush=True)
            runs[seed] = run_seed(seed, Path(tmp))
    iters = sorted(set.intersection(*(set(r) for r in runs.values())))
    config = {k: v for k, v in effective_settings(TrainConfig()).items() if k not in FREE_FIELDS}
    record = {
        "what": "train and val loss of the default config at each evaluation, over several seeds",
        "made_by": "python stage05_gpt/scripts/reference_curve.py --seeds " + " ".join(map(str, args.seeds)),
        "band": "lo..hi = mean ± t(0.975, n-1) · std · sqrt(1 + 1/n): 95% of new seeds should land inside",
        "config": config,
        "seeds": args.seeds,
        "evaluations": [
            {
                "iter": it,
                "train": summarise([runs[s][it][0] for s in args.seeds]),
                "val": summarise([runs[s][it][1] for s in args.seeds]),
                "val_by_seed": [round(runs[s][it][1], 5) for s in args.seeds],
            }
            for it in iters
        ],
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    for e in record["evaluations"]:
        v = e["val"]
        print(f"iter {e['iter']:5d}: val {v['mean']:.4f} ± {v['std']:.4f} (band {v['lo']:.3f}–{v['hi']:.3f})")


if __name__ == "__main__":
    main()

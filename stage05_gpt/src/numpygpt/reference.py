"""Is my loss normal? The recorded reference curve of the default config, and the check against it.

reference_shakespeare_char.json (beside this file, written by
stage05_gpt/scripts/reference_curve.py) holds the train and val loss of the default config at
each evaluation, over several seeds, with a band that 95% of new seeds should land in. A run
whose settings are the default's (the seed, where files go and how often it logs or evaluates
may differ: none of them changes what the model learns) is compared with it at each evaluation:

    iter 2000: train loss 1.7551, val loss 1.8930 (reference 1.881–1.905 at iter 2000: inside)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

REFERENCE_PATH = Path(__file__).with_name("reference_shakespeare_char.json")

# TrainConfig fields that may differ from the reference's: none changes the weights a run
# reaches at a given iteration (evaluations draw from a generator of their own, the schedule
# follows lr_decay_iters, not max_iters; the seed is what the band's spread is over).
FREE_FIELDS = frozenset(
    {
        "seed",
        "out_dir",
        "data_dir",
        "data_source",
        "log_interval",
        "eval_interval",
        "max_iters",
        "resume",
        "overwrite",
        "sample_tokens",
        "diagnostics",
    }
)


@dataclasses.dataclass(frozen=True)
class Band:
    """The reference's val loss at one evaluation: the band [lo, hi] and the seeds' mean."""

    iter: int
    lo: float
    hi: float
    mean: float

    def verdict(self, val_loss: float) -> str:
        """`reference 1.881–1.905 at iter 2000: inside` (or `below`, `above`)."""
        where = "inside" if self.lo <= val_loss <= self.hi else ("below" if val_loss < self.lo else "above")
        return f"reference {self.lo:.3f}–{self.hi:.3f} at iter {self.iter}: {where}"


class ReferenceCurve:
    """The recorded curve: the config it was made with and the band at each evaluation."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.config: dict[str, Any] = record["config"]
        self.seeds: list[int] = record["seeds"]
        self.bands = {
            e["iter"]: Band(e["iter"], e["val"]["lo"], e["val"]["hi"], e["val"]["mean"]) for e in record["evaluations"]
        }
        self.train_bands = {
            e["iter"]: Band(e["iter"], e["train"]["lo"], e["train"]["hi"], e["train"]["mean"])
            for e in record["evaluations"]
        }

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReferenceCurve:
        """The curve recorded in path (default: REFERENCE_PATH)."""
        with open(path if path is not None else REFERENCE_PATH, encoding="utf-8") as f:
            return cls(json.load(f))

    def differences(self, cfg: Any) -> list[str]:
        """The settings of cfg (a TrainConfig) that make it another config than the reference's.

        Every field but FREE_FIELDS must equal the reference's; a field the reference does not
        record (added to TrainConfig after it was made) must keep its default, which by the
        project's rule reproduces the model as it was before the field existed.
        """
        out = []
        values = effective_settings(cfg)
        for f in dataclasses.fields(cfg):
            if f.name in FREE_FIELDS:
                continue
            want = self.config[f.name] if f.name in self.config else _default(f)
            have = values[f.name]
            if have != want:
                out.append(f"{f.name}={have!r} (reference: {want!r})")
        return out

    def matches(self, cfg: Any) -> bool:
        """True when cfg trains the reference's config (so its losses can be compared)."""
        return not self.differences(cfg)

    def band_at(self, it: int) -> Band | None:
        return self.bands.get(it)


def effective_settings(cfg: Any) -> dict[str, Any]:
    """cfg's fields as training uses them: min_lr None (learning_rate / 10) as the number it stands for."""
    return {**dataclasses.asdict(cfg), "min_lr": cfg.final_lr}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def reference_for(cfg: Any, path: str | Path | None = None) -> ReferenceCurve | None:
    """The reference curve (of path, default REFERENCE_PATH) if cfg is the config it was
    recorded with and the file exists, else None."""
    path = Path(path if path is not None else REFERENCE_PATH)
    if not path.is_file():
        return None
    curve = ReferenceCurve.load(path)
    return curve if curve.matches(cfg) else None

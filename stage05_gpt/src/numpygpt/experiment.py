"""Compare variants of the GPT trained alike:

    python -m numpygpt.experiment --variants baseline,rmsnorm,rope,swiglu,gqa,llama --max_iters 2000
    python -m numpygpt.experiment --variants baseline,llama --seeds 1337,1 --max_iters 500 --n_layer 2
    python -m numpygpt.experiment --help                      every option (any training setting too)

A variant is the default GPT with some of GPTConfig's architecture options changed (VARIANTS).
Each is trained by train.py's `train()` with the same settings, the same seed, the same
batches in the same order and the same number of tokens (max_iters x batch_size x
block_size), each run in a folder of its own:

    out/experiment/            --out_dir
        baseline-s1337/        a run folder per variant and seed (best.npz, last.npz, metrics.csv, loss.png, ...)
        rope-s1337/
        experiment.csv         one row per variant, seed and evaluation (EXPERIMENT_COLUMNS)
        experiment.png         val loss against iterations, and against training time

The command can always be run again: a finished run is not trained again (its row comes from
its folder), an interrupted one (Ctrl-C) resumes where it stopped, new variants or seeds are
added. A run that fails (diverges, say) is reported, and the others go on.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numpygpt.checkpoint import CheckpointError, load_checkpoint
from numpygpt.cli import ArgumentParser, ConfigError, add_options, fail, given_options, option, run
from numpygpt.configs import CONFIGS, SECTIONS, TrainConfig, resume_changes, resume_config, validate
from numpygpt.models import GPT, GPTConfig
from numpygpt.perf import tune_malloc
from numpygpt.rundir import CsvLog
from numpygpt.train import TrainingDiverged, draw, train
from numpygpt.utils.data.corpus import atomic_write_bytes

# Each variant and what it changes (numpygpt/models/gpt.py; the stage05 lesson, "Experiments").
VARIANTS = {
    "baseline": "GPT-2 as it is: LayerNorm, GELU MLP, learned positions, a key/value head per query head",
    "rmsnorm": "RMSNorm in place of every LayerNorm",
    "rope": "rotary position embeddings of q and k instead of the learned position table",
    "swiglu": "the SwiGLU MLP (three matrices, 8/3 n_embd wide) instead of GELU's (two, 4 n_embd wide)",
    "gqa": "grouped-query attention: the largest divisor of n_head below it as key/value heads (n_head / 2)",
    "mqa": "multi-query attention: one key/value head for all query heads",
    "llama": "the four together, as in LLaMA 2 (70B) and LLaMA 3: rmsnorm + rope + swiglu + gqa",
}
DEFAULT_VARIANTS = ("baseline", "rmsnorm", "rope", "swiglu", "gqa", "llama")
# TrainConfig fields the experiment sets itself (per variant and seed, or for every run).
MANAGED = (
    "norm",
    "mlp",
    "position",
    "n_kv_head",
    "seed",
    "out_dir",
    "resume",
    "overwrite",
    "init_from",
    "sample_tokens",
)
EXPERIMENT_COLUMNS = (
    "variant",
    "seed",
    "status",
    "parameters",
    "flops_per_token",
    "ms_per_iter",
    "ms_per_iter_min",
    "iter",
    "train_seconds",
    "train_loss",
    "val_loss",
)


def variant_options(variant: str, n_head: int) -> dict[str, Any]:
    """The TrainConfig fields that make `variant` (a name of VARIANTS) out of a model with n_head heads."""
    if variant in ("gqa", "llama") and n_head < 2:
        raise ConfigError(f"--variants {variant}: grouped-query attention needs --n_head >= 2, got {n_head}")
    grouped = max((d for d in range(1, n_head) if n_head % d == 0), default=1)  # 4 heads: 2 key/value heads
    changes: dict[str, dict[str, Any]] = {
        "baseline": {},
        "rmsnorm": {"norm": "rmsnorm"},
        "rope": {"position": "rope"},
        "swiglu": {"mlp": "swiglu"},
        "gqa": {"n_kv_head": grouped},
        "mqa": {"n_kv_head": 1},
    }
    changes["llama"] = {**changes["rmsnorm"], **changes["rope"], **changes["swiglu"], **changes["gqa"]}
    return changes[variant]


@dataclass
class ExperimentConfig:
    """The experiment's own settings; every training setting (TrainConfig's) is an option too."""

    variants: str = option(",".join(DEFAULT_VARIANTS), f"comma-separated variants to compare: {', '.join(VARIANTS)}")
    seeds: str = option("1337", "comma-separated seeds: every variant trains once per seed (their spread is the noise)")
    out_dir: str = option(
        "out/experiment", "the experiment's folder: a run folder per variant and seed, the CSV and PNG"
    )
    overwrite: bool = option(False, "train the variants and seeds asked for anew, deleting their runs")


@dataclass
class Run:
    """One variant trained with one seed: its training config, and what became of it."""

    variant: str
    seed: int
    config: TrainConfig
    status: str = "pending"  # done, failed, interrupted, pending (not reached)
    message: str = ""

    @property
    def folder(self) -> Path:
        return self.config.run_dir


def _names(value: str, option_name: str) -> list[str]:
    """ "a,b , c" -> ["a", "b", "c"], refusing an empty list or a name given twice."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--{option_name} {value!r}: must be a comma-separated list, each entry once")
    return names


def plan(exp: ExperimentConfig, base: TrainConfig) -> list[Run]:
    """The runs the experiment asks for, variant by variant, each seed in turn; a ConfigError for a mistake."""
    variants = _names(exp.variants, "variants")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"--variants {','.join(unknown)}: unknown; the variants are {', '.join(VARIANTS)}")
    try:
        seeds = [int(s) for s in _names(exp.seeds, "seeds")]
    except ValueError:
        raise ConfigError(f"--seeds {exp.seeds!r}: must be comma-separated integers >= 0") from None
    if any(s < 0 for s in seeds):
        raise ConfigError(f"--seeds {exp.seeds!r}: must be comma-separated integers >= 0")
    validate(base)
    out_dir = Path(exp.out_dir)
    runs = []
    for variant in variants:
        options = variant_options(variant, base.n_head)
        for seed in seeds:
            folder = out_dir / f"{variant}-s{seed}"
            resume = (folder / "last.npz").is_file() and not exp.overwrite
            cfg = dataclasses.replace(
                base, **options, seed=seed, out_dir=str(folder), resume=resume, overwrite=exp.overwrite
            )
            try:
                validate(cfg)
            except ConfigError as e:
                raise ConfigError(f"--variants {variant}: {e}") from e
            if resume:
                _check_resumable(cfg, exp.out_dir)
            runs.append(Run(variant, seed, cfg))
    return runs


def _check_resumable(cfg: TrainConfig, out_dir: str) -> None:
    """A ConfigError if the run already in cfg's folder is of another experiment: another model, data
    or seed, or more iterations than cfg asks. (A damaged checkpoint is train()'s to report, for that
    run alone.)"""
    try:
        ck = load_checkpoint(cfg.run_dir / "last.npz", require=("iter", "train_config"))
    except CheckpointError:
        return
    saved = ck["train_config"]
    try:
        resume_changes(saved, resume_config(cfg, dataclasses.asdict(cfg), saved))
    except ConfigError as e:
        first = str(e).splitlines()[0]
        raise ConfigError(
            f"--out_dir {out_dir} holds another experiment ({cfg.run_dir.name}: {first.lstrip('-')}): choose another "
            f"--out_dir, or --overwrite to train its runs anew"
        ) from e
    if ck["iter"] > cfg.max_iters:
        raise ConfigError(
            f"--max_iters {cfg.max_iters}: {cfg.run_dir} has run {ck['iter']} iterations already: choose another "
            f"--out_dir, or --overwrite to train its runs anew"
        )


def run_experiment(
    exp: ExperimentConfig, base: TrainConfig, on_step: Callable[[int, float, GPT], None] | None = None
) -> list[Run]:
    """Train every run of the plan that is not finished, each with train(); write the CSV and PNG.

    A run that fails is reported and the next one starts; a Ctrl-C stops the experiment after
    saving the run it interrupted (the command, run again, resumes it). on_step is passed to
    train() (tests use it).
    """
    runs = plan(exp, base)
    tokens = base.max_iters * base.batch_size * base.block_size * base.gradient_accumulation_steps
    print(f"experiment: {len(runs)} runs of {base.max_iters} iterations ({tokens:,} tokens each) in {exp.out_dir}")
    for r in runs:
        print(f"\n=== {r.variant}, seed {r.seed}: {VARIANTS[r.variant]} ({r.folder}) ===", flush=True)
        before = _iteration(r.folder) if r.config.resume else None
        try:
            done = train(r.config, on_step=on_step)
        except (TrainingDiverged, CheckpointError, ValueError, OSError) as e:  # ConfigError is a ValueError
            r.status, r.message = "failed", str(e)
            print(f"{r.variant}, seed {r.seed}: failed: {e}", flush=True)
            continue
        if done["interrupted"]:
            r.status = "interrupted"
            break
        r.status = "done"
        if done["iter"] != before:  # it trained now: the run's own loss.png and diagnostics.png
            draw(r.config)
    write_results(runs, Path(exp.out_dir))
    return runs


def _iteration(folder: Path) -> int | None:
    """The iteration of folder's last.npz (None if it cannot be read: train() will say why)."""
    try:
        return int(load_checkpoint(folder / "last.npz")["iter"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


# ----- the results ------------------------------------------------------------------------------


def run_rows(r: Run) -> list[dict[str, Any]]:
    """The rows of experiment.csv for one run: one per evaluation in its metrics.csv (one empty row if none)."""
    steps: list[tuple[int, float]] = []  # (iteration, ms/iter) of each logged step
    evals: list[tuple[int, float, float]] = []  # (iteration, train loss, val loss) of each evaluation
    for row in CsvLog.read_rows(r.folder / "metrics.csv"):  # iter,loss,lr,ms_per_iter,tokens_per_s,train_loss,val_loss
        if row[1]:
            steps.append((int(row[0]), float(row[3])))
        if row[6]:
            evals.append((int(row[0]), float(row[5]), float(row[6])))
    parameters, flops = "", ""
    if (r.folder / "last.npz").is_file():
        try:
            model = GPT(GPTConfig(**load_checkpoint(r.folder / "last.npz")["model_config"]))
            parameters, flops = str(model.num_parameters()), f"{model.flops_per_token():.0f}"
        except (CheckpointError, KeyError, TypeError, ValueError):
            pass  # a damaged run: its losses still count
    # ms/iter: the median of the logged intervals, and the fastest (on a shared machine, the one
    # least slowed down by other jobs: the closest to what the variant itself costs).
    timing = {
        "ms_per_iter": f"{statistics.median(ms for _, ms in steps):.2f}" if steps else "",
        "ms_per_iter_min": f"{min(ms for _, ms in steps):.2f}" if steps else "",
    }
    common: dict[str, Any] = dict(
        variant=r.variant, seed=r.seed, status=r.status, parameters=parameters, flops_per_token=flops, **timing
    )
    if not evals:
        return [common]
    # Training time at each evaluation: each logged ms/iter is the mean over the steps since the log before it.
    seconds, out, prev, j = 0.0, [], 0, 0
    for it, train_loss, val_loss in evals:
        while j < len(steps) and steps[j][0] <= it:
            seconds += steps[j][1] * (steps[j][0] - prev) / 1000
            prev = steps[j][0]
            j += 1
        out.append(
            {
                **common,
                "iter": it,
                "train_seconds": f"{seconds:.1f}",
                "train_loss": f"{train_loss:.4f}",
                "val_loss": f"{val_loss:.4f}",
            }
        )
    return out


def write_results(runs: Sequence[Run], out_dir: Path) -> list[dict[str, Any]]:
    """experiment.csv and experiment.png in out_dir, and the summary printed; returns the rows."""
    rows = [row for r in runs for row in run_rows(r)]
    out_dir.mkdir(parents=True, exist_ok=True)
    text = [",".join(EXPERIMENT_COLUMNS)]
    for row in rows:
        text.append(",".join(str(row.get(c, "")) for c in EXPERIMENT_COLUMNS))
    atomic_write_bytes(out_dir / "experiment.csv", ("\n".join(text) + "\n").encode())
    print(f"\n{summary(runs, rows)}\nresults: {out_dir / 'experiment.csv'}")
    plot_experiment(rows, out_dir / "experiment.png")
    return rows


def summary(runs: Sequence[Run], rows: Sequence[dict[str, Any]]) -> str:
    """A table of the variants: parameters, FLOPs per token, ms/iter (the mean of the runs' medians, and
    the fastest logged interval of any run), the last val loss (mean over seeds, and each seed's), then a
    line per run not done."""
    last = {(row["variant"], row["seed"]): row for row in rows}  # each run's last evaluation
    lines = [
        f"{'variant':10} {'params':>8} {'MFLOP/tok':>9} {'ms/iter':>7} {'fastest':>7} {'iter':>5}  val loss (seeds)"
    ]
    for variant in dict.fromkeys(r.variant for r in runs):
        mine = [last[(r.variant, r.seed)] for r in runs if r.variant == variant]
        finals = [float(row["val_loss"]) for row in mine if row.get("val_loss")]
        ms = [float(row["ms_per_iter"]) for row in mine if row.get("ms_per_iter")]
        fastest = [float(row["ms_per_iter_min"]) for row in mine if row.get("ms_per_iter_min")]
        params = next((row["parameters"] for row in mine if row["parameters"]), "")
        flops = next((float(row["flops_per_token"]) / 1e6 for row in mine if row["flops_per_token"]), math.nan)
        its = [row["iter"] for row in mine if row.get("val_loss")]
        loss = f"{np.mean(finals):.4f}" if finals else "-"
        if len(finals) > 1:
            loss += f" ({', '.join(f'{f:.4f}' for f in finals)})"
        lines.append(
            f"{variant:10} {params:>8} {flops:>9.2f} {np.mean(ms) if ms else math.nan:>7.1f} "
            f"{min(fastest) if fastest else math.nan:>7.1f} "
            f"{max(its) if its else '-':>5}  {loss}"
        )
    lines += [f"{r.variant}, seed {r.seed}: {r.status}" for r in runs if r.status not in ("done", "failed")]
    lines += [f"{r.variant}, seed {r.seed} failed: {r.message.splitlines()[0]}" for r in runs if r.status == "failed"]
    return "\n".join(lines)


def plot_experiment(rows: Sequence[dict[str, Any]], png: Path) -> bool:
    """Val loss of every run against iterations (left) and against training seconds (right).

    Returns False (and says how to get it) when matplotlib is not installed.
    """
    from numpygpt.plot import pyplot

    plt = pyplot("experiment plot")
    if plt is None:
        return False
    curves: dict[tuple[str, int], list[tuple[int, float, float]]] = {}
    for row in rows:
        if row.get("val_loss"):
            curves.setdefault((row["variant"], int(row["seed"])), []).append(
                (int(row["iter"]), float(row["train_seconds"]), float(row["val_loss"]))
            )
    if not curves:
        return False
    variants = list(dict.fromkeys(v for v, _ in curves))
    seeds = list(dict.fromkeys(s for _, s in curves))
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100, sharey=True)
    for (variant, seed), points in curves.items():
        it, secs, val = zip(*points, strict=True)
        label = variant if seed == seeds[0] or len(seeds) == 1 else None
        style = dict(color=colors[variant], ls=styles[seeds.index(seed) % len(styles)], marker="o", ms=3, lw=1.2)
        axes[0].plot(it, val, label=label, **style)
        axes[1].plot(secs, val, **style)
    # The interesting part is the end: the scale follows the evaluations after the first quarter.
    last_iter = max(p[0] for pts in curves.values() for p in pts)
    late = [p[2] for pts in curves.values() for p in pts if p[0] >= last_iter / 4]
    if late:
        spread = max(late) - min(late)
        axes[0].set_ylim(min(late) - 0.05 * spread - 0.01, max(late) + 0.05 * spread + 0.01)
    axes[0].set_xlabel("iteration")
    axes[1].set_xlabel("training time (s): the steps only, on a shared machine")
    axes[0].set_ylabel("val loss (nats per token)")
    seeds_note = "" if len(seeds) == 1 else f"; line style = seed ({', '.join(map(str, seeds))})"
    axes[0].set_title(f"val loss against iterations{seeds_note}", fontsize=10)
    axes[1].set_title("val loss against training time", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    print(f"experiment plot: {png}")
    return True


# ----- the command ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[ExperimentConfig, TrainConfig]:
    """The experiment's settings and the training config every run starts from.

    `--config NAME` picks a training preset (default shakespeare_char); any TrainConfig field
    but those the experiment sets itself (MANAGED) may be given. lr_decay_iters follows
    --max_iters unless given: each run's schedule ends where its budget does.
    """
    parser = ArgumentParser(
        "python -m numpygpt.experiment",
        "Train variants of the GPT alike (same seed, batches and token budget), each in a run folder of its "
        "own under --out_dir, and compare them: experiment.csv and experiment.png. Run it again to resume.",
    )
    scratch = sorted(name for name, preset in CONFIGS.items() if "init_from" not in preset)
    parser.add_argument(
        "--config",
        default="shakespeare_char",
        choices=scratch,
        metavar="NAME",
        help=f"the training preset every run starts from: {', '.join(scratch)} (default: %(default)s)",
    )
    add_options(parser, ExperimentConfig)
    add_options(parser, TrainConfig, SECTIONS, skip=MANAGED)
    args = parser.parse_args(argv)
    exp = ExperimentConfig(**given_options(args, ExperimentConfig))
    given = {k: v for k, v in given_options(args, TrainConfig).items() if k not in MANAGED}
    values = {**CONFIGS[args.config], **given}
    if "max_iters" in given and "lr_decay_iters" not in given:
        values["lr_decay_iters"] = given["max_iters"]
    return exp, TrainConfig(**{**values, "sample_tokens": 0})


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 every run done, 1 a run failed, 2 a usage mistake, 130 Ctrl-C."""
    exp, base = parse_args(argv)
    tune_malloc()  # keep freed arrays for the next step (see numpygpt/perf.py)
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported by train(), once
            runs = run_experiment(exp, base)
    except ConfigError as e:
        return fail(str(e), 2)
    except OSError as e:  # the experiment's own folder (experiment.csv) cannot be written
        return fail(f"{e.filename}: {e.strerror or e}" if e.filename else str(e), 1)
    except KeyboardInterrupt:
        return fail("interrupted: run the same command again to resume", 130)
    if any(r.status == "interrupted" for r in runs):
        print("interrupted: run the same command again to resume")
        return 130
    return 1 if any(r.status == "failed" for r in runs) else 0


if __name__ == "__main__":
    sys.exit(run(main))

"""Train a GPT:  python -m numpygpt.train [--config NAME] [--field value ...]   (--help lists every field)

The wiring of stages 01-04, top to bottom:
    corpus -> tokenizer -> uint16 ids (stage04) -> random (B, T) windows (get_batch)
    -> GPT.forward -> cross_entropy (stage02) -> backward (stage01)
    -> clip_grad_norm_ -> AdamW.step -> WarmupCosineLR.step (stage03) -> checkpoint

A run lives in its folder, out_dir (numpygpt/rundir.py says what is there and why): a new run
never starts over another's checkpoint, --resume continues one exactly, and a checkpoint is
written only with finite weights and losses, so a run that diverges never spoils the last good one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shlex
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numpygpt.nn as nn
from numpygpt.autograd import no_grad
from numpygpt.checkpoint import CheckpointError, load_weights, non_finite, save_checkpoint
from numpygpt.cli import ConfigError, fail, run
from numpygpt.configs import COMMAND_ONLY, TrainConfig, parse_args, validate, with_init_from
from numpygpt.diagnostics import DiagnosticsLog, Probe
from numpygpt.models import GPT, GPTConfig
from numpygpt.models.pretrained import DownloadError, config_from_hf, resolve
from numpygpt.optim import AdamW, clip_grad_norm_, configure_weight_decay
from numpygpt.optim.lr_scheduler import WarmupCosineLR
from numpygpt.perf import tune_malloc
from numpygpt.reference import reference_for
from numpygpt.rundir import MetricsLog, claim, open_run
from numpygpt.tokenizer import Tokenizer, load_tokenizer
from numpygpt.utils.data import get_batch, load_split, prepare
from numpygpt.utils.data.prepare import DATASETS


class TrainingDiverged(RuntimeError):
    """The loss (or a weight) became NaN or infinite."""


class _StopFlag:
    """Inside `with`, the first Ctrl-C asks training to stop after the current iteration (and
    save); a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: saving after this iteration (Ctrl-C again to quit at once)", flush=True)

    def __enter__(self) -> _StopFlag:
        self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def build(
    cfg: TrainConfig, pretrained: bool = False
) -> tuple[GPT, AdamW, WarmupCosineLR, Tokenizer, dict[str, np.ndarray]]:
    """Prepare the data and make the model, optimizer and schedule that cfg describes.

    pretrained: start from the weights of cfg.init_from (a new fine-tuning run; a resumed one
    loads its own checkpoint's weights instead).
    """
    gpt2_files = None
    if cfg.tokenizer == "gpt2":  # GPT-2's vocabulary, from the folder or hub repository of init_from
        gpt2_files = resolve(cfg.init_from, ("vocab.json", "merges.txt"))
    try:
        ds_dir = prepare(
            cfg.dataset,
            cfg.data_dir,
            source=cfg.data_source or None,
            tokenizer=cfg.tokenizer,
            vocab_size=cfg.bpe_vocab_size,
            tokenizer_dir=gpt2_files,
            sha256=cfg.data_sha256 or None,
        )
    except ValueError as e:  # a corpus that is not the one expected (checksum), not UTF-8, too short
        raise ConfigError(str(e)) from e
    tokenizer = load_tokenizer(ds_dir / "tokenizer.json")
    splits: dict[str, np.ndarray] = {s: load_split(ds_dir, s) for s in ("train", "val")}
    for split, data in splits.items():
        if len(data) <= cfg.block_size:  # a window needs block_size + 1 tokens
            raise ConfigError(
                f"--block_size {cfg.block_size}: must be below the {len(data)} tokens of the {split} split in {ds_dir}"
            )
    nn.manual_seed(cfg.seed)
    if pretrained:
        try:
            model = GPT.from_pretrained(cfg.init_from, dropout=cfg.dropout)
        except ValueError as e:  # files that are not a GPT-2 this model can be
            raise ConfigError(f"--init_from {cfg.init_from}: {e}") from e
        model.crop_block_size(cfg.block_size)  # GPT-2 knows 1024 positions; fine-tuning uses the first block_size
        model.train()
        if model.config.vocab_size != tokenizer.vocab_size:
            raise ConfigError(
                f"--init_from {cfg.init_from}: its model has {model.config.vocab_size} tokens, its tokenizer {tokenizer.vocab_size}"
            )
    else:
        model = GPT(
            GPTConfig(
                block_size=cfg.block_size,
                vocab_size=tokenizer.vocab_size,
                n_layer=cfg.n_layer,
                n_head=cfg.n_head,
                n_embd=cfg.n_embd,
                dropout=cfg.dropout,
                bias=cfg.bias,
                gelu=cfg.gelu,
                norm=cfg.norm,
                mlp=cfg.mlp,
                position=cfg.position,
                n_kv_head=cfg.n_kv_head,
            )
        )
    groups = configure_weight_decay(model.named_parameters(), cfg.weight_decay)
    optimizer = AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))
    scheduler = WarmupCosineLR(
        optimizer, warmup_iters=cfg.warmup_iters, max_iters=cfg.lr_decay_iters, min_lr=cfg.final_lr
    )
    return model, optimizer, scheduler, tokenizer, splits


@no_grad()
def estimate_loss(model: GPT, splits: dict[str, np.ndarray], cfg: TrainConfig, it: int) -> dict[str, float]:
    """Mean loss over cfg.eval_iters batches of each split, in eval mode (no dropout).

    The batches come from their own generator, seeded by (seed, it): evaluating never
    changes the training batches, so a resumed run sees the same data as an unbroken one.
    """
    model.eval()
    out = {}
    for split, data in splits.items():
        rng = np.random.default_rng([cfg.seed, it, split == "val"])
        losses = [model(*get_batch(data, cfg.batch_size, cfg.block_size, rng))[1].item() for _ in range(cfg.eval_iters)]
        out[split] = float(np.mean(losses))
    model.train()
    return out


def checkpoint_state(
    cfg: TrainConfig,
    model: GPT,
    optimizer: AdamW,
    tokenizer: Tokenizer,
    rng: np.random.Generator,
    it: int,
    best_val: float,
    metrics_rows: int,
) -> dict[str, Any]:
    """Everything a run needs to continue exactly where it was."""
    return {
        "iter": it,
        "best_val_loss": best_val,
        "metrics_rows": metrics_rows,  # rows of metrics.csv up to this checkpoint (a resume drops later ones)
        "train_config": dataclasses.asdict(cfg),
        "model_config": model.config_dict(),
        "model": dict(model.state_dict()),
        "optimizer": optimizer.state_dict(),
        "rng": {"data": rng.bit_generator.state, "nn": nn.get_rng_state()},
        "tokenizer": tokenizer.to_dict(),
    }


def restore(
    ck: dict[str, Any], path: Path, model: GPT, optimizer: AdamW, scheduler: WarmupCosineLR, rng: np.random.Generator
) -> None:
    """Continue from checkpoint ck: the weights, AdamW's moments, the schedule's position, both generators.

    The hyper-parameters stay those the optimizer and schedule were built with (cfg's): a
    learning rate or schedule changed on the command line takes effect.
    """
    load_weights(model, ck["model"], path)
    try:
        optimizer.load_state_dict({**optimizer.state_dict(), "state": ck["optimizer"]["state"]})
        rng.bit_generator.state = ck["rng"]["data"]
        nn.set_rng_state(ck["rng"]["nn"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be resumed: {type(e).__name__}: {e}") from e
    scheduler.last_epoch = ck["iter"] - 1
    scheduler.step()  # the lr of iteration ck["iter"] on cfg's schedule, written into every param group


def _diverged(
    it: int, what: str, cfg: TrainConfig, saved_at: int | None, ck: dict[str, Any] | None
) -> TrainingDiverged:
    """The error for `what` gone non-finite at iteration it, naming the newest good checkpoint and a way on.

    The advice resumes from last.npz with a 10x lower learning rate and every other setting
    this run had changed from those saved in it (ck: the checkpoint this run resumed from).
    """
    lower = {"learning_rate": cfg.learning_rate / 10}
    if cfg.min_lr is not None:  # else the floor follows the learning rate down by itself
        lower["min_lr"] = cfg.min_lr / 10
    if saved_at is None:  # diverged before its first checkpoint: nothing to continue from
        where = "there is no checkpoint yet"
        advice = "the same options and " + shlex.join(["--overwrite", *_flags(lower)])
    else:
        saved = ck["train_config"] if ck is not None and saved_at == ck["iter"] else dataclasses.asdict(cfg)
        changed = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in COMMAND_ONLY and saved.get(k) != v}
        where = f"the newest good checkpoint is {Path(cfg.out_dir) / 'last.npz'}, at iteration {saved_at}"
        advice = shlex.join(["--out_dir", cfg.out_dir, "--resume", *_flags({**changed, **lower})])
    return TrainingDiverged(
        f"iteration {it}: {what} is not finite; stopped, nothing saved: {where}.\n"
        f"To go on with a 10x lower learning rate, run with: {advice}"
    )


def _flags(values: dict[str, Any]) -> list[str]:
    """{"max_iters": 500} -> ["--max_iters", "500"]."""
    return [s for k, v in values.items() for s in (f"--{k}", f"{v:g}" if isinstance(v, float) else str(v))]


def pretrained_sizes(cfg: TrainConfig) -> TrainConfig:
    """cfg with the sizes of the pretrained model of cfg.init_from (its config.json), checked against block_size."""
    folder = resolve(cfg.init_from, ("config.json",))
    try:
        hf = config_from_hf(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    except (ValueError, json.JSONDecodeError) as e:
        raise ConfigError(f"--init_from {cfg.init_from}: {e}") from e
    if cfg.block_size > hf.block_size:
        raise ConfigError(
            f"--block_size {cfg.block_size}: must be at most the {hf.block_size} positions of {cfg.init_from}"
        )
    return dataclasses.replace(cfg, n_layer=hf.n_layer, n_head=hf.n_head, n_embd=hf.n_embd, bias=hf.bias, gelu=hf.gelu)


def train(
    cfg: TrainConfig, on_step: Callable[[int, float, GPT], None] | None = None, given: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the training that cfg describes (with cfg.resume, continue it); returns a summary.

    given: the fields the command line gave explicitly; on --resume the others come from the
    checkpoint (None: every field of cfg counts as asked). on_step(it, loss, model), if given,
    is called after every iteration (tests use it).
    """
    cfg = with_init_from(cfg, given)  # a pretrained model brings its tokenizer, gpt2
    validate(cfg)
    cfg = dataclasses.replace(cfg, out_dir=str(cfg.run_dir))
    out_dir = Path(cfg.out_dir)
    last_path, best_path = out_dir / "last.npz", out_dir / "best.npz"
    with contextlib.ExitStack() as run_scope:
        run_scope.enter_context(claim(out_dir, cfg.resume))  # locked for this run; stale temporary files removed
        cfg, ck = open_run(cfg, given)  # refuses to start over a run; on --resume, its checkpoint
        if ck is None and cfg.init_from != "scratch":
            cfg = pretrained_sizes(cfg)
        validate(cfg)
        model, optimizer, scheduler, tokenizer, splits = build(
            cfg, pretrained=ck is None and cfg.init_from != "scratch"
        )
        rng = np.random.default_rng(cfg.seed)  # the training batches' generator
        it, best_val, saved_at = 0, math.inf, None  # saved_at: the iteration last.npz holds
        if ck is not None:
            if ck["tokenizer"] != tokenizer.to_dict():
                raise CheckpointError(f"checkpoint {last_path}: its tokenizer is not the one in {cfg.data_dir} now")
            restore(ck, last_path, model, optimizer, scheduler, rng)
            it, best_val, saved_at = ck["iter"], ck["best_val_loss"], ck["iter"]
            print(f"resuming from {last_path} at iteration {it}")
        metrics = run_scope.enter_context(MetricsLog(out_dir / "metrics.csv", ck["metrics_rows"] if ck else None))
        diagnostics = (  # what one step looks like inside, at each log interval (numpygpt/diagnostics.py)
            run_scope.enter_context(DiagnosticsLog(out_dir / "diagnostics.csv", ck["iter"] if ck else None))
            if cfg.diagnostics
            else None
        )
        stop = run_scope.enter_context(_StopFlag())
        start_it = it
        tokens_per_iter = cfg.batch_size * cfg.block_size * cfg.gradient_accumulation_steps
        print(
            f"model: {model.num_parameters() / 1e6:.2f} M parameters, {model.flops_per_token() * tokens_per_iter / 1e9:.2f} GFLOP per iteration"
        )
        reference = reference_for(cfg)  # the default config's recorded curve, if this run is that config
        if reference is not None:
            print(
                f"the default config: each val loss is compared with its reference curve ({len(reference.seeds)} seeds)"
            )
        losses = {"train": math.nan, "val": math.nan}
        t_start, step_seconds, it_last = time.perf_counter(), 0.0, it  # step_seconds: since the last log line
        while True:
            # Evaluate and save, unless last.npz holds this iteration already (saved after its evaluation).
            if (it % cfg.eval_interval == 0 or it == cfg.max_iters) and it != saved_at:
                losses = estimate_loss(model, splits, cfg, it)
                band = reference.band_at(it) if reference is not None else None  # is my loss normal?
                verdict = f" ({band.verdict(losses['val'])})" if band is not None else ""
                print(f"iter {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}{verdict}", flush=True)
                metrics.evaluation(it, losses)
                if not (math.isfinite(losses["train"]) and math.isfinite(losses["val"])):
                    what = f"the estimated loss (train {losses['train']}, val {losses['val']})"
                    raise _diverged(it, what, cfg, saved_at, ck)
                state = checkpoint_state(
                    cfg, model, optimizer, tokenizer, rng, it, min(best_val, losses["val"]), metrics.rows
                )
                if losses["val"] < best_val:
                    best_val = losses["val"]
                    save_checkpoint(best_path, state)
                save_checkpoint(last_path, state)
                saved_at = it
            if it == cfg.max_iters or stop.requested:
                break

            t0 = time.perf_counter()
            logged = (it + 1) % cfg.log_interval == 0 or it + 1 == cfg.max_iters  # this step ends with a log line
            probe = Probe(model) if diagnostics is not None and logged else None  # watches this step's first pass
            loss_value, passes = 0.0, cfg.gradient_accumulation_steps
            for _ in range(passes):  # gradients add up over the passes (+=): one step of passes * B sequences
                x, y = get_batch(splits["train"], cfg.batch_size, cfg.block_size, rng)  # (B, T) each
                logits, loss = model(x, y)
                if not math.isfinite(loss.item()):
                    raise _diverged(it, f"the training loss ({loss.item()})", cfg, saved_at, ck)
                (loss / passes).backward()  # the mean over all passes' tokens, as one big batch would give
                loss_value += loss.item() / passes
                # NOTE: the graph behind logits and loss holds every activation of the pass; let it go
                # now, or it lives on through the next pass's forward, which doubles the activations
                # held at once (nanoGPT's shakespeare_char model, batch 16: peak 2.06 -> 1.25 GB).
                del logits, loss
            if probe is not None:
                probe.gradients()  # the gradients before clipping, and the weights before the update
            if cfg.grad_clip > 0:
                clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if probe is not None:
                probe.update()  # what the step changed, against the weights
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            it += 1
            step_seconds += time.perf_counter() - t0
            if on_step is not None:
                on_step(it, loss_value, model)

            if logged:
                ms = step_seconds * 1000 / (it - it_last)  # training steps only, evaluations excluded
                eta = (cfg.max_iters - it) * ms / 1000
                print(
                    f"iter {it}: loss {loss_value:.4f}, lr {lr:.2e}, {ms:.1f} ms/iter, "
                    f"{tokens_per_iter * 1000 / ms:,.0f} tokens/s, ETA {int(eta // 60)}m{int(eta % 60):02d}s",
                    flush=True,
                )
                metrics.step(it, loss_value, lr, ms, tokens_per_iter * 1000 / ms)
                if probe is not None and diagnostics is not None:
                    diagnostics.write(it, probe.rows)
                step_seconds, it_last = 0.0, it

        if it != saved_at:  # stopped by Ctrl-C between two evaluations: save where it is
            if (problem := non_finite(dict(model.state_dict()))) is not None:
                raise _diverged(it, f"a weight ({problem})", cfg, saved_at, ck)
            save_checkpoint(
                last_path, checkpoint_state(cfg, model, optimizer, tokenizer, rng, it, best_val, metrics.rows)
            )
    elapsed = time.perf_counter() - t_start
    if it < cfg.max_iters:
        print(f"stopped at iteration {it}: {last_path} holds it; continue with --resume", flush=True)
        return {"iter": it, "interrupted": True, "last": last_path, "best": best_path, "losses": losses, "config": cfg}
    print(f"done: {it - start_it} iterations in {elapsed:.1f} s; best val loss {best_val:.4f} ({best_path})")
    return {
        "iter": it,
        "interrupted": False,
        "last": last_path,
        "best": best_path,
        "losses": losses,
        "best_val_loss": best_val,
        "seconds": elapsed,
        "model": model,
        "tokenizer": tokenizer,
        "config": cfg,  # the run's own: on --resume, the checkpoint's with the command line's changes
    }


def _os_error(e: OSError, cfg: TrainConfig) -> str:
    """One line for a failed read or write: the path, the reason, and the option that chose the folder."""
    if e.filename is None:
        return str(e)
    path, reason = Path(e.filename).absolute(), e.strerror or str(e)
    if path.is_relative_to(cfg.run_dir.absolute()):
        return f"{e.filename}: {reason} (the run folder, --out_dir {cfg.run_dir}); the checkpoints already there are unchanged"
    if path.is_relative_to(Path(cfg.data_dir).absolute()):
        return f"{e.filename}: {reason} (the data folder, --data_dir {cfg.data_dir})"
    return f"{e.filename}: {reason}"


def draw(cfg: TrainConfig) -> None:
    """The run's pictures: loss.png from metrics.csv and diagnostics.png from diagnostics.csv."""
    from numpygpt.diagnostics import plot_diagnostics
    from numpygpt.plot import plot_metrics

    plot_metrics(cfg.run_dir / "metrics.csv", cfg.run_dir / "loss.png", reference_for(cfg))
    if cfg.diagnostics:
        plot_diagnostics(cfg.run_dir / "diagnostics.csv", cfg.run_dir / "diagnostics.png")


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 done, 1 failed (diverged, an OS or network error), 2 a usage mistake, 130 Ctrl-C."""
    cfg, given = parse_args(argv)  # argparse's own errors: one line, status 2
    tune_malloc()  # keep freed arrays for the next step (see numpygpt/perf.py)
    try:
        # NOTE: a blow-up is reported once, clearly, by the loop itself (TrainingDiverged);
        # NumPy's overflow warnings on the way there would only bury that line.
        with np.errstate(over="ignore", invalid="ignore"):
            summary = train(cfg, given=given)
        run_cfg = summary["config"]
        draw(run_cfg)  # at the end, and after a Ctrl-C
        if summary["interrupted"]:
            return 130
        if run_cfg.sample_tokens > 0:
            from numpygpt.sample import sample_from_checkpoint

            print(f"\n--- a sample from {summary['best']} ---")
            sample_from_checkpoint(
                summary["best"],
                "\n",
                max_new_tokens=run_cfg.sample_tokens,
                temperature=0.8,
                top_k=40,
                seed=run_cfg.seed,
            )
    except (ConfigError, CheckpointError) as e:
        return fail(str(e), 2)
    except TrainingDiverged as e:
        return fail(str(e), 1)
    except (DownloadError, ImportError) as e:  # a pretrained model: no internet, or the [hub] extra missing
        return fail(str(e), 1)
    except ConnectionError as e:  # the corpus could not be downloaded
        reason = getattr(e.__cause__, "reason", None) or e
        return fail(
            f"could not download the corpus from {DATASETS[cfg.dataset].url}: {reason}. Without internet, "
            f"pass --data_source PATH (or set NUMPYGPT_DATA) to a local copy of it",
            1,
        )
    except OSError as e:  # a full disk, a read-only or forbidden folder
        return fail(_os_error(e, cfg), 1)
    except KeyboardInterrupt:
        last = cfg.run_dir / "last.npz"
        return fail(
            f"interrupted: stopped at once; {last} holds the newest checkpoint" if last.exists() else "interrupted", 130
        )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

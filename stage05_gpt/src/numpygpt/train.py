"""Train a GPT on tiny Shakespeare:  python -m numpygpt.train [--config NAME] [--field value ...]

The wiring of stages 01-04, top to bottom:
    corpus -> tokenizer -> uint16 ids (stage04) -> random (B, T) windows (get_batch)
    -> GPT.forward -> cross_entropy (stage02) -> backward (stage01)
    -> clip_grad_norm_ -> AdamW.step -> WarmupCosineLR.step (stage03) -> checkpoint
"""

from __future__ import annotations

import csv
import dataclasses
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numpygpt.nn as nn
from numpygpt.autograd import no_grad
from numpygpt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numpygpt.configs import TrainConfig, parse_args
from numpygpt.models import GPT, GPTConfig
from numpygpt.optim import AdamW, clip_grad_norm_, configure_weight_decay
from numpygpt.optim.lr_scheduler import WarmupCosineLR
from numpygpt.perf import tune_malloc
from numpygpt.tokenizer import Tokenizer, load_tokenizer
from numpygpt.utils.data import get_batch, load_split, prepare


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class _StopFlag:
    """The first Ctrl-C asks training to stop after the current iteration (and save);
    a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: saving after this iteration (Ctrl-C again to quit at once)", flush=True)


def build(cfg: TrainConfig) -> tuple[GPT, AdamW, WarmupCosineLR, Tokenizer, dict[str, np.ndarray]]:
    """Prepare the data and make the model, optimizer and schedule that cfg describes."""
    ds_dir = prepare(
        cfg.dataset,
        cfg.data_dir,
        source=cfg.data_source or None,
        tokenizer=cfg.tokenizer,
        vocab_size=cfg.bpe_vocab_size,
        sha256=cfg.data_sha256 or None,
    )
    tokenizer = load_tokenizer(ds_dir / "tokenizer.json")
    splits: dict[str, np.ndarray] = {s: load_split(ds_dir, s) for s in ("train", "val")}
    nn.manual_seed(cfg.seed)
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
        )
    )
    groups = configure_weight_decay(model.named_parameters(), cfg.weight_decay)
    optimizer = AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))
    scheduler = WarmupCosineLR(
        optimizer, warmup_iters=cfg.warmup_iters, max_iters=cfg.lr_decay_iters, min_lr=cfg.min_lr
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
    scheduler: WarmupCosineLR,
    tokenizer: Tokenizer,
    rng: np.random.Generator,
    it: int,
    best_val: float,
) -> dict[str, Any]:
    """Everything a run needs to continue exactly where it was."""
    return {
        "iter": it,
        "best_val_loss": best_val,
        "train_config": dataclasses.asdict(cfg),
        "model_config": model.config_dict(),
        "model": dict(model.state_dict()),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"data": rng.bit_generator.state, "nn": nn.get_rng_state()},
        "tokenizer": tokenizer.to_dict(),
    }


def train(cfg: TrainConfig, on_step: Callable[[int, float, GPT], None] | None = None) -> dict[str, Any]:
    """Run the training loop of cfg; returns a summary (final iteration, losses, paths).

    on_step(it, loss, model), if given, is called after every iteration (tests use it).
    """
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path, metrics_path = out_dir / "last.npz", out_dir / "best.npz", out_dir / "metrics.csv"
    model, optimizer, scheduler, tokenizer, splits = build(cfg)
    rng = np.random.default_rng(cfg.seed)  # the training batches' generator
    it, best_val = 0, math.inf
    if cfg.resume:
        ck = load_checkpoint(last_path)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        rng.bit_generator.state = ck["rng"]["data"]
        nn.set_rng_state(ck["rng"]["nn"])
        it, best_val = ck["iter"], ck["best_val_loss"]
        print(f"resuming from {last_path} at iteration {it}")
    start_it = it
    tokens_per_iter = cfg.batch_size * cfg.block_size
    print(
        f"model: {model.num_parameters() / 1e6:.2f} M parameters, {model.flops_per_token() * tokens_per_iter / 1e9:.2f} GFLOP per iteration"
    )

    stop = _StopFlag()
    previous_handler = signal.signal(signal.SIGINT, stop)
    new_file = not (cfg.resume and metrics_path.exists())
    # NOTE: closed in the `finally` below, which also restores the Ctrl-C handler.
    metrics_file = open(metrics_path, "w" if new_file else "a", newline="")  # noqa: SIM115
    metrics = csv.writer(metrics_file)
    if new_file:
        metrics.writerow(["iter", "loss", "lr", "ms_per_iter", "tokens_per_s", "train_loss", "val_loss"])
    losses = {"train": math.nan, "val": math.nan}
    t_start, step_seconds, it_last = time.perf_counter(), 0.0, it  # step_seconds: since the last log line
    try:
        while True:
            # An evaluation iteration, unless it is the one a resumed run starts on (done before the save).
            is_eval = it % cfg.eval_interval == 0 or it == cfg.max_iters
            if is_eval and not (it == start_it and cfg.resume):
                losses = estimate_loss(model, splits, cfg, it)
                print(f"iter {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}", flush=True)
                metrics.writerow([it, "", "", "", "", f"{losses['train']:.6f}", f"{losses['val']:.6f}"])
                metrics_file.flush()
                state = checkpoint_state(
                    cfg, model, optimizer, scheduler, tokenizer, rng, it, min(best_val, losses["val"])
                )
                if losses["val"] < best_val:
                    best_val = losses["val"]
                    save_checkpoint(best_path, state)
                save_checkpoint(last_path, state)
            if it >= cfg.max_iters:
                break

            t0 = time.perf_counter()
            x, y = get_batch(splits["train"], cfg.batch_size, cfg.block_size, rng)  # (B, T) each
            _, loss = model(x, y)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"iteration {it}: the loss is {loss_value}; stopping. The last good checkpoint "
                    f"is {last_path} (lower learning_rate or grad_clip, then --resume)"
                )
            loss.backward()
            if cfg.grad_clip > 0:
                clip_grad_norm_(model.parameters(), cfg.grad_clip)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            it += 1
            step_seconds += time.perf_counter() - t0
            if on_step is not None:
                on_step(it, loss_value, model)

            if it % cfg.log_interval == 0 or it == cfg.max_iters:
                ms = step_seconds * 1000 / (it - it_last)  # training steps only, evaluations excluded
                eta = (cfg.max_iters - it) * ms / 1000
                print(
                    f"iter {it}: loss {loss_value:.4f}, lr {lr:.2e}, {ms:.1f} ms/iter, "
                    f"{tokens_per_iter * 1000 / ms:,.0f} tokens/s, ETA {int(eta // 60)}m{int(eta % 60):02d}s",
                    flush=True,
                )
                metrics.writerow(
                    [it, f"{loss_value:.6f}", f"{lr:.6g}", f"{ms:.2f}", f"{tokens_per_iter * 1000 / ms:.0f}", "", ""]
                )
                step_seconds, it_last = 0.0, it
            if stop.requested:
                save_checkpoint(
                    last_path, checkpoint_state(cfg, model, optimizer, scheduler, tokenizer, rng, it, best_val)
                )
                print(f"saved {last_path} at iteration {it}; continue with --resume", flush=True)
                return {"iter": it, "interrupted": True, "last": last_path, "best": best_path, "losses": losses}
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        metrics_file.close()
    elapsed = time.perf_counter() - t_start
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
    }


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    tune_malloc()  # keep freed arrays for the next step (see numpygpt/perf.py)
    try:
        summary = train(cfg)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except CheckpointError as e:  # --resume without a usable last.npz
        print(f"error: {e}", file=sys.stderr)
        return 2
    if summary["interrupted"]:
        return 130
    from numpygpt.plot import plot_metrics

    plot_metrics(Path(cfg.out_dir) / "metrics.csv", Path(cfg.out_dir) / "loss.png")
    if cfg.sample_tokens > 0:
        from numpygpt.sample import sample_from_checkpoint

        print(f"\n--- a sample from {summary['best']} ---")
        sample_from_checkpoint(
            summary["best"], prompt="\n", max_new_tokens=cfg.sample_tokens, temperature=0.8, top_k=40, seed=cfg.seed
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training configurations: one dataclass, named presets, command-line overrides."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class TrainConfig:
    # data
    dataset: str = "shakespeare"  # the corpus prepared by numpygpt.utils.data.prepare
    tokenizer: str = "char"  # "char" (65 tokens) or "bpe" (byte-pair, vocab_size below)
    bpe_vocab_size: int = 512  # vocabulary size when tokenizer="bpe"
    data_dir: str = "data"  # where the corpus and the encoded token ids live
    data_source: str = ""  # a local copy of the corpus ("" = $NUMPYGPT_DATA or download)
    data_sha256: str = ""  # the corpus's expected SHA-256 ("" = tiny Shakespeare's); for other texts
    # model
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64  # context length
    dropout: float = 0.0
    bias: bool = True
    gelu: str = "tanh"  # "tanh" (GPT-2) or "none" (exact erf)
    # optimisation: AdamW with linear warmup then cosine decay to min_lr
    batch_size: int = 12
    max_iters: int = 2000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 2000  # the cosine reaches min_lr here (usually = max_iters)
    weight_decay: float = 0.1  # on matrices only (numpygpt.optim.configure_weight_decay)
    beta1: float = 0.9
    beta2: float = 0.99  # a little below Adam's 0.999: few tokens per step, as nanoGPT
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = off)
    # evaluation, logging, checkpoints
    eval_interval: int = 250  # estimate train and val loss every this many iterations
    eval_iters: int = 20  # batches per estimate
    log_interval: int = 10
    out_dir: str = "out/shakespeare_char"
    seed: int = 1337
    resume: bool = False  # continue from out_dir/last.npz
    sample_tokens: int = 500  # tokens to sample at the end (0 = none)


CONFIGS: dict[str, dict[str, Any]] = {
    # The CPU recipe: about 0.8 M parameters, a few minutes on a laptop, val loss ~1.89.
    "shakespeare_char": {},
    "shakespeare_bpe": {"tokenizer": "bpe", "out_dir": "out/shakespeare_bpe"},
    # Seconds, for trying the wiring: not enough steps to learn much.
    "smoke": {
        "n_layer": 2,
        "n_embd": 64,
        "n_head": 2,
        "block_size": 32,
        "max_iters": 50,
        "warmup_iters": 5,
        "lr_decay_iters": 50,
        "eval_interval": 25,
        "eval_iters": 2,
        "log_interval": 5,
        "out_dir": "out/smoke",
        "sample_tokens": 100,
    },
}


def _parse_bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {s!r}")


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """`--config NAME` picks a preset; `--field value` overrides any TrainConfig field."""
    parser = argparse.ArgumentParser(
        prog="python -m numpygpt.train", description="Train a GPT on tiny Shakespeare with NumPy."
    )
    parser.add_argument("--config", default="shakespeare_char", choices=sorted(CONFIGS), help="a named preset")
    for f in dataclasses.fields(TrainConfig):
        kind = (
            _parse_bool
            if f.type in (bool, "bool")
            else {"int": int, "float": float, "str": str}.get(str(f.type), f.type)
        )
        names = sorted({f"--{f.name}", f"--{f.name.replace('_', '-')}"})
        # A bool may stand alone (`--resume`) or take a value (`--bias false`).
        nargs, const = ("?", True) if kind is _parse_bool else (None, None)
        parser.add_argument(*names, dest=f.name, type=kind, default=None, nargs=nargs, const=const)
    args = parser.parse_args(argv)
    values = dict(CONFIGS[args.config])
    values.update({k: v for k, v in vars(args).items() if k != "config" and v is not None})
    return TrainConfig(**values)

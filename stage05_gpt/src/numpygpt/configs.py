"""Training configurations: one dataclass, named presets, command-line overrides, validation.

    python -m numpygpt.train --config smoke --n_layer 3      a preset, then any field overridden
    python -m numpygpt.train --help                          every field, its meaning and default

The dataclass is the one source: each field's help text (in `option(...)`) is what --help
prints, and `fixed=True` marks what a resumed run must keep (the model, tokenizer and data).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numpygpt.cli import ArgumentParser, ConfigError, add_options, given_options, option
from numpygpt.models.config import OPTIONS
from numpygpt.models.pretrained import PRETRAINED
from numpygpt.utils.data.prepare import DATASETS, TOKENIZERS


@dataclass
class TrainConfig:
    """Every setting of a training run; each field is a command-line option (`--n_layer 6`)."""

    dataset: str = option("shakespeare", "the corpus (numpygpt.utils.data.prepare knows it)", fixed=True)
    tokenizer: str = option(
        "char", "char (one token per character), bpe (byte-pair), or gpt2 (GPT-2's own: with --init_from)", fixed=True
    )
    bpe_vocab_size: int = option(512, "vocabulary size of the bpe tokenizer, 256..65536", fixed=True)
    data_dir: str = option("data", "where the corpus and its encoded token ids are kept")
    data_source: str = option("", "a local copy of the corpus (default: $NUMPYGPT_DATA, else download)")
    data_sha256: str = option(
        "", "the corpus's SHA-256, for a text other than tiny Shakespeare (default: its own)", fixed=True
    )
    init_from: str = option(
        "scratch",
        "scratch (a new model), or a pretrained GPT-2 to fine-tune: gpt2, gpt2-medium, gpt2-large, gpt2-xl "
        "(from the Hugging Face hub), or a folder in Hugging Face's layout; it sets the model's sizes and "
        "the tokenizer (gpt2)",
        fixed=True,
    )
    n_layer: int = option(4, "transformer blocks", fixed=True)
    n_head: int = option(4, "attention heads per block; must divide n_embd", fixed=True)
    n_embd: int = option(128, "width of the residual stream", fixed=True)
    block_size: int = option(64, "context length in tokens", fixed=True)
    dropout: float = option(0.0, "dropout probability, 0 <= p < 1")
    bias: bool = option(True, "biases in Linear layers and LayerNorms", fixed=True)
    gelu: str = option("tanh", "GELU form: tanh (GPT-2's) or none (exact erf)", fixed=True)
    norm: str = option(
        "layernorm", "normalisation: layernorm (GPT-2's) or rmsnorm (LLaMA's: no mean, no bias)", fixed=True
    )
    mlp: str = option(
        "gelu",
        "MLP: gelu (GPT-2's, 4 n_embd wide) or swiglu (LLaMA's gated MLP, 8/3 n_embd rounded up to 64)",
        fixed=True,
    )
    position: str = option(
        "learned", "positions: learned (GPT-2's table wpe) or rope (rotary embeddings of q and k)", fixed=True
    )
    n_kv_head: int | None = option(
        None,
        "key/value heads per block, shared by the query heads: a divisor of n_head, 1 = multi-query "
        "(default: n_head, one per query head)",
        fixed=True,
    )
    batch_size: int = option(12, "sequences per forward pass")
    gradient_accumulation_steps: int = option(
        1, "forward passes whose gradients add up to one step (a batch of batch_size x this, in one pass's memory)"
    )
    max_iters: int = option(2000, "training steps in all")
    learning_rate: float = option(1e-3, "peak learning rate of AdamW")
    min_lr: float | None = option(
        None, "learning rate at the end of the cosine decay (default: learning_rate / 10, as nanoGPT)"
    )
    warmup_iters: int = option(100, "steps of linear warmup")
    lr_decay_iters: int = option(2000, "the step at which the cosine reaches min_lr (usually max_iters)")
    weight_decay: float = option(0.1, "AdamW weight decay, on matrices only")
    beta1: float = option(0.9, "AdamW beta1")
    beta2: float = option(0.99, "AdamW beta2 (a little below 0.999: few tokens per step, as nanoGPT)")
    grad_clip: float = option(1.0, "clip the global gradient norm to this (0 = off)")
    eval_interval: int = option(250, "estimate train and val loss every this many steps")
    eval_iters: int = option(20, "batches per loss estimate")
    log_interval: int = option(10, "print and record the training loss every this many steps")
    diagnostics: bool = option(
        True, "at each log interval, record what one step looks like inside: diagnostics.csv and .png"
    )
    out_dir: str = option(
        "out/shakespeare_{tokenizer}", "the run folder; {tokenizer} becomes char, bpe<bpe_vocab_size> or gpt2"
    )
    seed: int = option(1337, "seed of the initial weights, the batches and dropout", fixed=True)
    resume: bool = option(False, "continue the run in out_dir from its last.npz")
    overwrite: bool = option(False, "replace the run already in out_dir (its checkpoints are deleted)")
    sample_tokens: int = option(500, "tokens to sample from best.npz at the end (0 = none)")

    @property
    def final_lr(self) -> float:
        """min_lr, or learning_rate / 10 when min_lr is not set: a new learning rate brings its own floor."""
        return self.min_lr if self.min_lr is not None else self.learning_rate / 10

    @property
    def run_dir(self) -> Path:
        """out_dir with {tokenizer} filled in: out/shakespeare_char, out/shakespeare_bpe512."""
        tag = f"bpe{self.bpe_vocab_size}" if self.tokenizer == "bpe" else self.tokenizer
        return Path(self.out_dir.replace("{tokenizer}", tag))


# --help shows the options in sections, each starting at the field named here.
SECTIONS = {
    "dataset": "data",
    "init_from": "model",
    "batch_size": "optimisation: AdamW, linear warmup, then cosine decay to min_lr",
    "eval_interval": "evaluation, logging and the run folder",
}

CONFIGS: dict[str, dict[str, Any]] = {
    # The CPU recipe: about 0.8 M parameters, a few minutes on a laptop, val loss ~1.89.
    "shakespeare_char": {},
    "shakespeare_bpe": {"tokenizer": "bpe"},
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
        "out_dir": "out/smoke_{tokenizer}",
        "sample_tokens": 100,
    },
    # nanoGPT's finetune_shakespeare sized for a CPU: OpenAI's GPT-2 (124 M) on tiny Shakespeare in
    # GPT-2's tokens, 256-token windows, 8 sequences a step in 2 passes, a small constant learning rate.
    "finetune_shakespeare": {
        "init_from": "gpt2",
        "block_size": 256,
        "batch_size": 2,
        "gradient_accumulation_steps": 4,
        "max_iters": 20,
        "learning_rate": 3e-5,
        "min_lr": 3e-5,
        "warmup_iters": 0,
        "lr_decay_iters": 20,
        "beta2": 0.95,
        "eval_interval": 10,
        "eval_iters": 4,
        "log_interval": 1,
        "sample_tokens": 200,
    },
}

# The fields a pretrained model decides (--init_from): its sizes and its tokenizer.
PRETRAINED_FIELDS = (
    "n_layer",
    "n_head",
    "n_embd",
    "bias",
    "gelu",
    "norm",
    "mlp",
    "position",
    "n_kv_head",
    "tokenizer",
    "bpe_vocab_size",
)


def with_init_from(cfg: TrainConfig, given: dict[str, Any] | None) -> TrainConfig:
    """cfg with GPT-2's tokenizer when --init_from names a pretrained model; a ConfigError if the
    command line also set what the pretrained model decides (its sizes, its tokenizer)."""
    if cfg.init_from == "scratch":
        return cfg
    clash = [
        f"--{k}"
        for k in PRETRAINED_FIELDS
        if k in (given or {}) and not (k == "tokenizer" and given and given[k] == "gpt2")
    ]
    if clash:
        raise ConfigError(
            f"{', '.join(clash)}: set by the pretrained model of --init_from {cfg.init_from}; drop "
            f"{'it' if len(clash) == 1 else 'them'}, or train from scratch (--init_from scratch)"
        )
    return dataclasses.replace(cfg, tokenizer="gpt2")


# Where the run and the corpus are, and how this command treats the run: this command's own,
# never taken from a checkpoint on --resume (the corpus's copy in data_dir is what a resumed run reads).
COMMAND_ONLY = ("out_dir", "data_source", "resume", "overwrite")


def parse_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig, dict[str, Any]]:
    """`--config NAME` picks a preset; `--field value` overrides any TrainConfig field.

    Returns the config and the fields the command line gave explicitly (--resume takes every
    other field from the checkpoint: see resume_config).
    """
    parser = ArgumentParser(
        "python -m numpygpt.train",
        "Train a GPT with NumPy. A run lives in its out_dir: best.npz, last.npz, metrics.csv, loss.png. "
        "A new run refuses to start where a run is; --resume continues it, --overwrite replaces it.",
    )
    parser.add_argument(
        "--config",
        default="shakespeare_char",
        choices=sorted(CONFIGS),
        metavar="NAME",
        help=f"a preset: {', '.join(CONFIGS)} (default: %(default)s); the options below override it",
    )
    add_options(parser, TrainConfig, SECTIONS)
    args = parser.parse_args(argv)
    given = given_options(args, TrainConfig)
    return TrainConfig(**{**CONFIGS[args.config], **given}), given


def resume_config(asked: TrainConfig, given: dict[str, Any], saved: dict[str, Any]) -> TrainConfig:
    """The config of a resumed run: the checkpoint's `saved` config, with what was `given` explicitly.

    The COMMAND_ONLY fields come from this command. Whether a given value may differ from the
    saved one is for `resume_changes` to say.
    """
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in saved.items() if k in names}
    values.update(given)
    values.update({k: getattr(asked, k) for k in COMMAND_ONLY}, out_dir=str(asked.run_dir))
    return TrainConfig(**values)


def resume_changes(saved: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The settings of cfg that differ from the checkpoint's, as `name: old -> new` lines.

    Raises ConfigError, one line per field, if a fixed field (model, tokenizer, data) differs.
    """
    mismatched, changed = [], []
    for f in dataclasses.fields(TrainConfig):
        if f.name in COMMAND_ONLY or f.name not in saved or saved[f.name] == getattr(cfg, f.name):
            continue
        if f.metadata["fixed"]:
            mismatched.append(f"--{f.name}: the checkpoint has {saved[f.name]!r}, asked {getattr(cfg, f.name)!r}")
        else:
            changed.append(f"{f.name}: {saved[f.name]!r} -> {getattr(cfg, f.name)!r}")
    if mismatched:
        raise ConfigError(
            "\n".join(mismatched) + f"\n--resume keeps the model, tokenizer and data of the run in {cfg.run_dir}: "
            f"drop these options, or start a new run with another --out_dir"
        )
    return changed


def _allowed(cfg: TrainConfig) -> dict[str, tuple[bool, str]]:
    """For each field that has a rule: (is its value allowed, what is allowed)."""

    def finite(x: float, low: float) -> bool:
        return math.isfinite(x) and x >= low

    return {
        "dataset": (cfg.dataset in DATASETS, "one of " + ", ".join(sorted(DATASETS))),
        "tokenizer": (
            cfg.tokenizer in TOKENIZERS and (cfg.tokenizer != "gpt2" or cfg.init_from != "scratch"),
            "one of " + ", ".join(TOKENIZERS) + " (gpt2 comes with --init_from, the GPT-2 whose tokenizer it is)",
        ),
        "bpe_vocab_size": (256 <= cfg.bpe_vocab_size <= 65536, "256..65536 (ids are stored as uint16)"),
        "data_source": (not cfg.data_source or os.path.isfile(cfg.data_source), "an existing file"),
        "data_sha256": (
            not cfg.data_sha256 or re.fullmatch("[0-9a-fA-F]{64}", cfg.data_sha256) is not None,
            "64 hex digits",
        ),
        "init_from": (
            cfg.init_from in ("scratch", *PRETRAINED) or os.path.isdir(cfg.init_from) or "/" in cfg.init_from,
            f"scratch, {', '.join(PRETRAINED)}, a folder in Hugging Face's layout, or a hub repository owner/name",
        ),
        "n_layer": (cfg.n_layer >= 1, ">= 1"),
        "n_embd": (cfg.n_embd >= 1, ">= 1"),
        "n_head": (cfg.n_head >= 1 and cfg.n_embd % cfg.n_head == 0, f"a divisor of --n_embd ({cfg.n_embd})"),
        "block_size": (cfg.block_size >= 1, ">= 1"),
        "dropout": (0.0 <= cfg.dropout < 1.0, "0 <= dropout < 1"),
        "gelu": (
            cfg.gelu in ("tanh", "none") and (cfg.mlp != "swiglu" or cfg.gelu == "tanh"),
            "tanh or none (with --mlp swiglu, whose gate is SiLU, it has no effect: leave it at tanh)",
        ),
        "norm": (cfg.norm in OPTIONS["norm"], " or ".join(OPTIONS["norm"])),
        "mlp": (cfg.mlp in OPTIONS["mlp"], " or ".join(OPTIONS["mlp"])),
        "position": (
            cfg.position == "learned"
            or (cfg.position == "rope" and cfg.n_head >= 1 and cfg.n_embd // cfg.n_head % 2 == 0),
            f"learned, or rope with an even head size (--n_embd / --n_head = {cfg.n_embd} / {cfg.n_head})",
        ),
        "n_kv_head": (
            cfg.n_kv_head is None or (cfg.n_kv_head >= 1 and cfg.n_head % cfg.n_kv_head == 0),
            f"a divisor of --n_head ({cfg.n_head}): 1 = multi-query attention, {cfg.n_head} = one per query head",
        ),
        "batch_size": (cfg.batch_size >= 1, ">= 1"),
        "gradient_accumulation_steps": (cfg.gradient_accumulation_steps >= 1, ">= 1"),
        "max_iters": (cfg.max_iters >= 0, ">= 0"),
        "learning_rate": (finite(cfg.learning_rate, 0.0) and cfg.learning_rate > 0, "a finite number > 0"),
        "min_lr": (
            cfg.min_lr is None or (finite(cfg.min_lr, 0.0) and cfg.min_lr <= cfg.learning_rate),
            f"a finite number >= 0, at most --learning_rate ({cfg.learning_rate})",
        ),
        "warmup_iters": (cfg.warmup_iters >= 0, ">= 0"),
        "lr_decay_iters": (cfg.lr_decay_iters > cfg.warmup_iters, f"more than --warmup_iters ({cfg.warmup_iters})"),
        "weight_decay": (finite(cfg.weight_decay, 0.0), "a finite number >= 0"),
        "beta1": (0.0 <= cfg.beta1 < 1.0, "0 <= beta1 < 1"),
        "beta2": (0.0 <= cfg.beta2 < 1.0, "0 <= beta2 < 1"),
        "grad_clip": (finite(cfg.grad_clip, 0.0), "a finite number >= 0 (0 = no clipping)"),
        "eval_interval": (cfg.eval_interval >= 1, ">= 1"),
        "eval_iters": (cfg.eval_iters >= 1, ">= 1"),
        "log_interval": (cfg.log_interval >= 1, ">= 1"),
        "out_dir": (cfg.out_dir.strip() != "", "a folder name"),
        "seed": (cfg.seed >= 0, ">= 0"),
        "overwrite": (not (cfg.overwrite and cfg.resume), "false when --resume is given"),
        "sample_tokens": (cfg.sample_tokens >= 0, ">= 0 (0 = no sample)"),
    }


# The values each annotation accepts (a bool is an int to Python, but not a number of layers).
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (int, float),
    "float | None": (int, float, type(None)),
    "int | None": (int, type(None)),
    "str": str,
    "bool": bool,
}


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError naming the first option whose value is not allowed, before any work starts.

    Checks each value's type and range, then the memory a training step would need.
    """
    for f in dataclasses.fields(TrainConfig):
        value, kind = getattr(cfg, f.name), str(f.type)
        if not isinstance(value, _PYTHON_TYPES[kind]) or (kind != "bool" and isinstance(value, bool)):
            raise ConfigError(f"--{f.name} {value!r}: must be of type {kind}")
    for name, (ok, allowed) in _allowed(cfg).items():
        if not ok:
            raise ConfigError(f"--{name} {getattr(cfg, name)!r}: must be {allowed}")
    need, have = training_memory(cfg), physical_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"--block_size {cfg.block_size}, --batch_size {cfg.batch_size}, --n_layer {cfg.n_layer}, "
            f"--n_head {cfg.n_head}, --n_embd {cfg.n_embd}: a training step would need about {_bytes(need)} "
            f"of memory, more than this machine's {_bytes(have)}; make the model or the batch smaller"
        )


def training_memory(cfg: TrainConfig, vocab_size: int | None = None) -> int:
    """About how many bytes a training step holds at its peak (float32), to refuse absurd sizes.

    Weights, gradients and AdamW's two moments (4 numbers per parameter); per token, what the
    blocks keep for backward (about 60 numbers per layer and channel) and the logits, their
    softmax and gradient; attention's (B, nh, T, T) scores and probabilities. The constants
    were measured: within 20% of the peak RSS of a few steps (block_size 64-512, batch 12-64),
    less the 40-50 MB that Python, NumPy and the data take anyway.
    """
    V = vocab_size or {"bpe": cfg.bpe_vocab_size, "gpt2": 50257}.get(cfg.tokenizer, 256)
    B, T, C, L, nh = cfg.batch_size, cfg.block_size, cfg.n_embd, cfg.n_layer, cfg.n_head
    params = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
    floats = 4 * params + B * T * (60 * L * C + 3 * V) + 2 * L * B * nh * T * T
    return 4 * floats


def physical_memory() -> int | None:
    """This machine's RAM in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n: float) -> str:
    """1234567 -> '1.2 MiB'."""
    power = min(int(math.log(max(n, 1), 1024)), 4)
    return f"{n / 1024**power:,.1f} {('bytes', 'KiB', 'MiB', 'GiB', 'TiB')[power]}"

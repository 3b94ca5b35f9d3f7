"""Sample from a trained GPT:

    python -m numpygpt.sample --prompt "ROMEO:" --max_new_tokens 500 --temperature 0.8 --top_k 40 --seed 1
    python -m numpygpt.sample --out_dir out/shakespeare_bpe512     the best.npz of another run
    python -m numpygpt.sample --init_from gpt2 --prompt "Hello"    OpenAI's GPT-2 (from the Hugging Face hub)
    python -m numpygpt.sample --help                                every option and its default

Text is printed as it is generated; `| head` may close the pipe at any moment.
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from numpygpt.checkpoint import CheckpointError, load_checkpoint, load_weights
from numpygpt.cli import ArgumentParser, ConfigError, add_options, fail, given_options, option, run
from numpygpt.configs import TrainConfig
from numpygpt.models import GPT, GPTConfig
from numpygpt.models.pretrained import DownloadError, tokenizer_from_pretrained
from numpygpt.nn import init
from numpygpt.tokenizer import GPT2Tokenizer, Tokenizer, tokenizer_from_dict


@dataclass
class SampleConfig:
    """The sampling command's settings; each field is a command-line option."""

    out_dir: str = option(str(TrainConfig().run_dir), "the run folder to sample from (its best.npz), as train's")
    checkpoint: str = option("", "a checkpoint file to sample from instead of OUT_DIR/best.npz")
    init_from: str = option(
        "",
        "a pretrained GPT-2 to sample from instead of a checkpoint: gpt2, gpt2-medium, gpt2-large, gpt2-xl "
        "(from the Hugging Face hub) or a folder in Hugging Face's layout",
    )
    prompt: str = option("\n", "the text to continue")
    max_new_tokens: int = option(500, "tokens to generate")
    temperature: float = option(0.8, "0 = always the likeliest token; higher = more varied")
    top_k: int = option(40, "draw from the k likeliest tokens only (0 = from all)")
    seed: int = option(-1, "seed of the draws, for a repeatable sample (-1 = a fresh one each time)")


def load_model(path: str | Path) -> tuple[GPT, Tokenizer]:
    """The model and tokenizer stored in a checkpoint, with a CheckpointError naming what does not fit."""
    ck = load_checkpoint(path, require=("model_config", "model", "tokenizer"))
    try:
        config = GPTConfig(**ck["model_config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: its model_config is not valid: {e}") from e
    try:
        tokenizer = tokenizer_from_dict(ck["tokenizer"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: its tokenizer is not valid: {type(e).__name__}: {e}") from e
    if tokenizer.vocab_size != config.vocab_size:
        raise CheckpointError(
            f"checkpoint {path}: its tokenizer has {tokenizer.vocab_size} tokens, its model_config {config.vocab_size}"
        )
    model = init.skip_init(GPT, config)  # every weight is loaded next
    load_weights(model, ck["model"], path)
    model.eval()
    return model, tokenizer


def sample_from_checkpoint(path: str | Path, prompt: str = "\n", *args: Any, **kwargs: Any) -> str:
    """`sample` (the same arguments after the prompt) from the model and tokenizer of a checkpoint."""
    model, tokenizer = load_model(path)
    return sample(model, tokenizer, prompt, *args, **kwargs)


def sample(
    model: GPT,
    tokenizer: Tokenizer,
    prompt: str = "\n",
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int | None = None,
    out: TextIO | None = None,
) -> str:
    """Generate from `prompt` with `model`, writing each piece of text to `out` (default: stdout) as it comes.

    A "<|endoftext|>" in the prompt of a GPT-2 tokenizer is that token (GPT-2's document separator).
    """
    out = out if out is not None else sys.stdout
    if isinstance(tokenizer, GPT2Tokenizer):
        ids = np.asarray(tokenizer.encode(prompt, allowed_special="all"), dtype=np.int64)[None, :]  # (1, T)
    else:
        ids = np.asarray(tokenizer.encode(prompt), dtype=np.int64)[None, :]  # (1, T)
    out.write(prompt)
    text = _stream_text(model, tokenizer, ids, max_new_tokens, temperature, top_k, seed, out)
    out.write("\n")
    return prompt + text


def _stream_text(
    model: GPT,
    tokenizer: Tokenizer,
    ids: np.ndarray,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    seed: int | None,
    out: TextIO,
) -> str:
    """Write decoded text to `out` as tokens arrive, and return it all."""
    pieces: list[str] = []
    pending: list[int] = []
    for nxt in model.stream(ids, max_new_tokens, temperature=temperature, top_k=top_k, seed=seed):
        pending.append(int(nxt[0]))
        text = tokenizer.decode(pending)
        if "\ufffd" not in text:  # a byte-level token may end mid-character: wait for the rest
            out.write(text)
            out.flush()
            pieces.append(text)
            pending = []
    if pending:
        pieces.append(tokenizer.decode(pending))
        out.write(pieces[-1])
    return "".join(pieces)


def no_checkpoint(path: Path, out_dir: str) -> CheckpointError:
    """The error for a checkpoint that is not there: the command that makes one (for out_dir)."""
    flags = "" if out_dir == str(TrainConfig().run_dir) else f" --out_dir {shlex.quote(out_dir)}"
    return CheckpointError(
        f"checkpoint {path} does not exist: train a model first with "
        f"`python -m numpygpt.train{flags}` (or `nox -s train{' --' + flags if flags else ''}`)"
    )


def _validate(cfg: SampleConfig) -> None:
    """ConfigError naming the first option whose value is not allowed."""
    rules = {
        "max_new_tokens": (cfg.max_new_tokens >= 0, ">= 0"),
        "temperature": (math.isfinite(cfg.temperature) and cfg.temperature >= 0, "a finite number >= 0"),
        "top_k": (cfg.top_k >= 0, ">= 0 (0 = all tokens)"),
        "seed": (cfg.seed >= -1, ">= 0, or -1 for a fresh seed"),
    }
    for name, (ok, allowed) in rules.items():
        if not ok:
            raise ConfigError(f"--{name} {getattr(cfg, name)!r}: must be {allowed}")


def load_pretrained(init_from: str) -> tuple[GPT, GPT2Tokenizer]:
    """A pretrained GPT-2 and its tokenizer (--init_from: a hub name or a folder).

    A download that fails, a missing extra or a missing file raise as they are; a folder that
    does not hold a GPT-2 is a ConfigError naming the option.
    """
    try:
        return GPT.from_pretrained(init_from), tokenizer_from_pretrained(init_from)
    except ValueError as e:
        raise ConfigError(f"--init_from {init_from}: {e}") from e


def _sample_pretrained(cfg: SampleConfig) -> int:
    """Sample from a pretrained GPT-2 (--init_from): the command's exit status."""
    try:
        model, tokenizer = load_pretrained(cfg.init_from)
    except (DownloadError, ImportError, FileNotFoundError) as e:
        return fail(str(e), 1)
    print(f"{cfg.init_from}: {model.num_parameters() / 1e6:.0f} M parameters", file=sys.stderr)
    top_k = cfg.top_k if cfg.top_k > 0 else None
    sample(
        model, tokenizer, cfg.prompt, cfg.max_new_tokens, cfg.temperature, top_k, cfg.seed if cfg.seed >= 0 else None
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 done, 2 a usage mistake or a missing or unusable checkpoint."""
    parser = ArgumentParser("python -m numpygpt.sample", "Sample text from a trained GPT.")
    add_options(parser, SampleConfig)
    cfg = SampleConfig(**given_options(parser.parse_args(argv), SampleConfig))
    path = Path(cfg.checkpoint) if cfg.checkpoint else Path(cfg.out_dir) / "best.npz"
    try:
        _validate(cfg)
        if cfg.init_from:
            return _sample_pretrained(cfg)
        if not path.is_file():
            raise no_checkpoint(path, cfg.out_dir)
        sample_from_checkpoint(
            path,
            cfg.prompt,
            cfg.max_new_tokens,
            cfg.temperature,
            cfg.top_k if cfg.top_k > 0 else None,
            cfg.seed if cfg.seed >= 0 else None,
        )
    except (CheckpointError, ConfigError) as e:
        return fail(str(e), 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))

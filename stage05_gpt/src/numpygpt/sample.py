"""Sample from a trained GPT:

    python -m numpygpt.sample --checkpoint out/shakespeare_char/best.npz --prompt "ROMEO:" \
        --max-new-tokens 500 --temperature 0.8 --top-k 40 --seed 1

Characters are printed as they are generated.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from numpygpt.checkpoint import CheckpointError, load_checkpoint
from numpygpt.models import GPT, GPTConfig
from numpygpt.perf import blas_threads
from numpygpt.tokenizer import Tokenizer, tokenizer_from_dict


def load_model(path: str | Path) -> tuple[GPT, Tokenizer]:
    """The model and tokenizer stored in a checkpoint, with a clear error if they do not fit."""
    ck = load_checkpoint(path)
    try:
        config = GPTConfig(**ck["model_config"])
        model = GPT(config)
        model.load_state_dict(ck["model"])
        tokenizer = tokenizer_from_dict(ck["tokenizer"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this version's GPT: {e}") from e
    model.eval()
    return model, tokenizer


def sample_from_checkpoint(
    path: str | Path,
    prompt: str = "\n",
    max_new_tokens: int = 500,
    temperature: float = 0.8,
    top_k: int | None = 40,
    seed: int | None = None,
    out: TextIO | None = None,
) -> str:
    """Generate from `prompt`, writing each piece of text to `out` (default: stdout) as soon as it exists."""
    out = out if out is not None else sys.stdout
    model, tokenizer = load_model(path)
    ids = np.asarray(tokenizer.encode(prompt), dtype=np.int64)[None, :]  # (1, T)
    out.write(prompt)
    with blas_threads(1):  # tiny matrices: one BLAS thread is faster (see numpygpt/perf.py)
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


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m numpygpt.sample", description="Sample text from a trained GPT.")
    p.add_argument("--checkpoint", default="out/shakespeare_char/best.npz")
    p.add_argument("--prompt", default="\n")
    p.add_argument("--max-new-tokens", "--max_new_tokens", dest="max_new_tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", "--top_k", dest="top_k", type=int, default=40)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    try:
        sample_from_checkpoint(
            args.checkpoint,
            args.prompt,
            args.max_new_tokens,
            args.temperature,
            args.top_k if args.top_k and args.top_k > 0 else None,
            args.seed,
        )
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

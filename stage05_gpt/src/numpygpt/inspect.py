"""Look inside a trained GPT on a prompt of your own:

    python -m numpygpt.inspect out/shakespeare_char/best.npz --prompt "ROMEO:"
    python -m numpygpt.inspect --out_dir out/shakespeare_bpe512      the best.npz of another run
    python -m numpygpt.inspect --init_from gpt2 --prompt "Hello"     OpenAI's GPT-2 (from the Hugging Face hub)
    python -m numpygpt.inspect --help                                every option and its default

prints two tables and draws one picture:
  * the most likely next tokens at a few positions of the prompt, with their probabilities;
  * the nearest tokens in embedding space (cosine similarity of wte's rows) of a few of the
    prompt's tokens: what the model has learned to treat alike;
  * attention.png (beside the checkpoint, or --out PATH): the attention weights of every head
    of every layer over the prompt's tokens, a grid of layer (rows) x head (columns); row t of a
    map is what token t looks at, so everything above the diagonal is 0 (the causal mask).

The attention weights are recomputed from the q and k each attention layer was given, by
`numpygpt.diagnostics.attention_probs` (the fused op keeps them to itself), through forward hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad
from numpygpt.checkpoint import CheckpointError
from numpygpt.cli import ArgumentParser, ConfigError, add_options, fail, given_options, option, run
from numpygpt.configs import TrainConfig
from numpygpt.diagnostics import attention_probs
from numpygpt.models.gpt import GPT, CausalSelfAttention
from numpygpt.models.pretrained import DownloadError
from numpygpt.plot import pyplot
from numpygpt.sample import load_model, load_pretrained, no_checkpoint
from numpygpt.tokenizer import Tokenizer

# Characters a token may hold that would vanish or break a table line or a tick label.
VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


def token_label(tokenizer: Tokenizer, token: int) -> str:
    """A token as text you can see: spaces as ␣, newlines as ↵ (`'␣the'`, `'↵'`)."""
    return tokenizer.decode([token]).translate(VISIBLE)


@no_grad()
def attention_maps(model: GPT, ids: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Run ids (T,) through the model: each layer's attention weights (nh, T, T), and the
    probabilities of the next token at every position (T, V)."""
    maps: list[np.ndarray] = []

    def keep(attn: CausalSelfAttention) -> Any:
        return lambda module, args, qkv: maps.append(attention_probs(*attn.queries_keys(qkv.data))[0])

    attns = [m for m in model.modules() if isinstance(m, CausalSelfAttention)]
    handles = [a.c_attn.register_forward_hook(keep(a)) for a in attns]
    try:
        logits, _ = model(ids[None, :])  # (1, T, V)
    finally:
        for h in handles:
            h.remove()
    probs = F.softmax(Tensor(logits.data[0].astype(np.float64)), dim=-1).data  # (T, V)
    return maps, probs


def top_next_tokens(probs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k most likely tokens of one distribution (V,), most likely first, as (id, probability)."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), float(probs[i])) for i in order]


def nearest_tokens(embedding: np.ndarray, token: int, k: int) -> list[tuple[int, float]]:
    """The k tokens whose embedding rows (V, C) are closest to token's by cosine similarity,
    the token itself left out, as (id, similarity), most similar first."""
    e = embedding.astype(np.float64)
    unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)  # (V, C)
    sims = unit @ unit[token]  # (V,)
    sims[token] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(int(i), float(sims[i])) for i in order]


def positions_to_show(T: int, n: int) -> list[int]:
    """n positions spread evenly over 0..T-1, always the last one (the prompt's next token)."""
    return sorted({int(round(x)) for x in np.linspace(0, T - 1, min(n, T))})


def plot_attention(maps: Sequence[np.ndarray], labels: Sequence[str], png: str | Path, title: str = "") -> bool:
    """Draw the attention weights as a grid: one row per layer, one column per head.

    maps: per layer (nh, T, T); labels: the T tokens, shown along both axes when they fit.
    Returns False (and says how to get it) when matplotlib is not installed.
    """
    plt = pyplot("attention maps")
    if plt is None:
        return False
    n_layer, n_head, T = len(maps), maps[0].shape[0], maps[0].shape[-1]
    cell = 2.2 if T <= 24 else 1.6
    fig, axes = plt.subplots(n_layer, n_head, figsize=(cell * n_head + 1, cell * n_layer + 0.8), squeeze=False)
    show_labels = T <= 32
    for layer, heads in enumerate(maps):
        for h in range(n_head):
            ax = axes[layer, h]
            ax.imshow(heads[h], cmap="Blues", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if show_labels and layer == n_layer - 1:
                ax.set_xticks(range(T), labels, rotation=90, fontsize=7)
            if show_labels and h == 0:
                ax.set_yticks(range(T), labels, fontsize=7)
            if layer == 0:
                ax.set_title(f"head {h}", fontsize=9)
            if h == 0:
                ax.set_ylabel(f"layer {layer}\nquery", fontsize=9)
    fig.suptitle(title or "attention weights: row = query token, column = key token it looks at", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print(f"attention maps: {png}")
    return True


def report(
    model: GPT, tokenizer: Tokenizer, prompt: str, positions: int = 4, top: int = 5, neighbours: int = 5
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Inspect the model on prompt: (attention maps per layer, the prompt's token labels, the report's lines)."""
    ids = np.asarray(tokenizer.encode(prompt), dtype=np.int64)
    if ids.size == 0:
        raise ValueError("inspect: --prompt encodes to no tokens; give at least one character")
    lines = []
    if ids.size > model.config.block_size:
        lines.append(
            f"the prompt has {ids.size} tokens; the model sees {model.config.block_size}: keeping the last ones"
        )
        ids = ids[-model.config.block_size :]
    labels = [token_label(tokenizer, int(t)) for t in ids]
    maps, probs = attention_maps(model, ids)

    lines.append(f"next-token probabilities (top {top}) after position t of the prompt:")
    width = min(24, max(len("".join(labels[: t + 1])) for t in range(len(ids))))
    for t in positions_to_show(len(ids), positions):
        context = "".join(labels[: t + 1])[-width:]
        best = "  ".join(f"{token_label(tokenizer, i)!r} {p:.3f}" for i, p in top_next_tokens(probs[t], top))
        lines.append(f"  t={t:<3} {context:>{width}} -> {best}")

    wte = model.transformer.wte.weight.data
    lines.append(f"nearest tokens in embedding space (cosine similarity of wte rows), top {neighbours}:")
    for token in list(dict.fromkeys(int(t) for t in ids))[:positions]:
        near = "  ".join(f"{token_label(tokenizer, i)!r} {s:+.2f}" for i, s in nearest_tokens(wte, token, neighbours))
        lines.append(f"  {token_label(tokenizer, token)!r:>8} ~ {near}")
    return maps, labels, lines


@dataclass
class InspectConfig:
    """The inspect command's settings; each field is a command-line option."""

    out_dir: str = option(str(TrainConfig().run_dir), "the run folder whose best.npz to inspect, as train's")
    init_from: str = option(
        "",
        "a pretrained GPT-2 to inspect instead of a checkpoint: gpt2, gpt2-medium, gpt2-large, gpt2-xl "
        "(from the Hugging Face hub) or a folder in Hugging Face's layout",
    )
    prompt: str = option("ROMEO:", "the text to look at")
    out: str = option("", "the PNG to write (default: attention.png beside the checkpoint; with --init_from, here)")
    positions: int = option(4, "positions in the next-token table, and tokens in the neighbour table")
    top: int = option(5, "next tokens shown per position")
    neighbours: int = option(5, "nearest tokens shown per token")


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 done, 1 a download or a file that failed, 2 a usage mistake or an unusable checkpoint."""
    parser = ArgumentParser(
        "python -m numpygpt.inspect",
        "Attention maps, next-token probabilities and embedding neighbours of a trained GPT on a prompt.",
    )
    parser.usage = "%(prog)s [CHECKPOINT] [--option VALUE ...]"
    parser.add_argument("checkpoint", nargs="?", default="", help="a checkpoint file (default: OUT_DIR/best.npz)")
    add_options(parser, InspectConfig)
    args = parser.parse_args(argv)
    cfg = InspectConfig(**given_options(args, InspectConfig))
    path = Path(args.checkpoint) if args.checkpoint else Path(cfg.out_dir) / "best.npz"
    tokenizer: Tokenizer  # a checkpoint's char or BPE tokenizer, or GPT-2's
    try:
        for name in ("positions", "top", "neighbours"):
            if getattr(cfg, name) < 1:
                raise ConfigError(f"--{name} {getattr(cfg, name)!r}: must be >= 1")
        if cfg.init_from:
            model, tokenizer = load_pretrained(cfg.init_from)
            source, png = cfg.init_from, Path("attention.png")
        elif path.is_file():
            model, tokenizer = load_model(path)
            source, png = str(path), path.with_name("attention.png")
        else:
            raise no_checkpoint(path, cfg.out_dir)
        maps, labels, lines = report(model, tokenizer, cfg.prompt, cfg.positions, cfg.top, cfg.neighbours)
    except (CheckpointError, ValueError) as e:  # ConfigError is a ValueError, as is an unknown character
        return fail(str(e), 2)
    except (DownloadError, ImportError, FileNotFoundError) as e:  # --init_from: the hub, the extra, a file
        return fail(str(e), 1)
    print("\n".join(lines))
    plot_attention(maps, labels, cfg.out or png, title=f"attention of {source} on {cfg.prompt!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))

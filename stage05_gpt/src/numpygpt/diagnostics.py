"""Training diagnostics: what the inside of a training step looks like, at each log interval.

    python -m numpygpt.diagnostics out/shakespeare_char     # the latest values, and diagnostics.png

The loss says whether a model learns, not why it does not. At each log interval the training
script lets a `Probe` watch one step and writes what it saw to diagnostics.csv (one row per
iteration, name and statistic: `iter,name,stat,value`):

    per parameter tensor (name = its parameter name)
        grad_norm      ||g||, the gradient before clipping
        weight_norm    ||θ||
        update_ratio   log10(RMS(Δθ) / RMS(θ)), Δθ what the optimizer step changed θ by: how
                       far one step moves a weight, relative to its size. The rule of thumb
                       (Karpathy's makemore lectures) is about -3, 1/1000 per step; in the default
                       run here it peaks near -1.6 after the warmup and falls to about -3.2 as
                       the learning rate decays
    per block (name = the module's name)
        mean, std      of the output of each block (the residual stream), of its attention and
                       of its MLP (what each sublayer adds to the stream)
        tail_fraction  the fraction of the GELU's inputs below GELU_TAIL (its flat tail, where
                       the slope is nearly 0: units that pass almost no gradient)
        entropy_head{h}  the attention entropy of head h, -Σ p log p in nats, averaged over the
                       batch and the query positions (0: each query looks at one key; the larger,
                       the more evenly it spreads over the keys it may see)

Everything is measured inside the real step, so watching changes nothing: the same weights,
batches and losses as a run without diagnostics (tested). Forward hooks (stage02's
`register_forward_hook`) see the activations; attention's fused op does not keep its
probabilities for anyone else, so `attention_probs` recomputes them from the q and k the op
was given (`CausalSelfAttention.queries_keys`: rotated with RoPE, shared key heads repeated
with grouped-query attention). All of it costs time on watched steps only; the steps between
run as without it.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numpygpt.nn as nn
from numpygpt.autograd import Tensor
from numpygpt.cli import ArgumentParser, fail, run
from numpygpt.configs import TrainConfig
from numpygpt.models.gpt import MLP, Block, CausalSelfAttention
from numpygpt.plot import pyplot
from numpygpt.rundir import CsvLog

# GELU(x) for x < -3 is within 0.004 of 0 and its slope within 0.012 of 0: a flat tail.
GELU_TAIL = -3.0
HEALTHY_UPDATE_RATIO = -3.0  # log10 of 1e-3, the rule of thumb, drawn as a guide line


# NOTE: masked scores are set to this rather than -inf: exp gives exactly 0 all the same, and
# 0 times it is 0 in the entropy's sum of p log p, where 0 times -inf would be NaN.
MASKED = -1e30


def causal_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The attention scores (B, nh, T, T) of queries and keys (B, nh, T, hs), ready for a softmax.

    q and k are what an attention layer scores, one key head per query head
    (`CausalSelfAttention.queries_keys` makes them from c_attn's output). s = q k^T / sqrt(hs),
    MASKED above the diagonal (query t sees keys 0..t), each row shifted so that its largest
    score is 0 (then exp never overflows).
    """
    T, hs = q.shape[-2:]
    s = q @ k.swapaxes(-1, -2)  # (B, nh, T, T)
    s *= np.asarray(1.0 / math.sqrt(hs), dtype=s.dtype)
    s += np.triu(np.full((T, T), MASKED, dtype=s.dtype), k=1)
    s -= s.max(axis=-1, keepdims=True)
    return s


def attention_probs(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The causal attention weights P (B, nh, T, T) of queries and keys (B, nh, T, hs).

    P = softmax(q k^T / sqrt(hs) + causal mask) per row: the matrix that
    scaled_dot_product_attention multiplies v by (equal to it: tested).
    """
    e = np.exp(causal_scores(q, k))
    return e / (e @ np.ones(e.shape[-1], e.dtype))[..., None]  # row sums, as a BLAS product (faster than sum)


def attention_entropy(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Mean attention entropy per head, in nats, of queries and keys (B, nh, T, hs) -> (nh,).

    H = -Σ_j p_j log p_j over each query's row, averaged over batch and queries. With the
    shifted scores s, p_j = e_j / Z (e = exp(s), Z = Σ e) and log p_j = s_j - log Z, so
    H = log Z - Σ_j e_j s_j / Z: no log of the whole (B, nh, T, T) array.
    """
    s = causal_scores(q, k)
    e = np.exp(s)
    ones = np.ones(s.shape[-1], s.dtype)  # row sums as BLAS products: faster than .sum(-1) on short rows
    z = e @ ones  # (B, nh, T)
    e *= s
    h = np.log(z) - (e @ ones) / z  # (B, nh, T)
    return h.mean(axis=(0, 2))


def update_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """log10(RMS(after - before) / RMS(before)); NaN when either RMS is 0 (no ratio to take)."""
    norm_update, norm_weight = float(np.linalg.norm(after - before)), float(np.linalg.norm(before))
    if norm_update == 0.0 or norm_weight == 0.0:
        return math.nan
    return math.log10(norm_update / norm_weight)  # the 1/sqrt(n) of both RMS cancel


class Probe:
    """Watches one training step of a GPT; made just before a logged step's forward pass.

    probe = Probe(model)      # forward hooks on for one forward pass: activations, GELU inputs, attention
    _, loss = model(x, y)
    loss.backward()
    probe.gradients()         # gradient norms (before clipping); weights copied
    clip_grad_norm_(...)
    optimizer.step()
    probe.update()            # update-to-data ratios: the weights against the copy
    probe.rows                # [(name, stat, value), ...]
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.rows: list[tuple[str, str, float]] = []
        self._before: dict[str, np.ndarray] = {}
        self._handles: list[nn.RemovableHandle] = []
        for name, m in model.named_modules():
            if isinstance(m, (Block, CausalSelfAttention, MLP)):
                self._handles.append(m.register_forward_hook(self._spread(name)))
            if isinstance(m, nn.GELU):
                self._handles.append(m.register_forward_hook(self._gelu_tail(name)))
            if isinstance(m, CausalSelfAttention):
                self._handles.append(m.c_attn.register_forward_hook(self._entropy(name, m)))
        # One forward pass is watched (the first, when a step accumulates gradients over several):
        # the model's own hook, which runs after all the inner ones, takes them off.
        self._handles.append(model.register_forward_hook(lambda module, args, out: self.close()))

    def _spread(self, name: str) -> nn.module.ForwardHook:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
            self.rows += [(name, "mean", float(out.data.mean())), (name, "std", float(out.data.std()))]

        return hook

    def _gelu_tail(self, name: str) -> nn.module.ForwardHook:
        def hook(module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
            x = args[0].data
            self.rows.append((name, "tail_fraction", float(np.count_nonzero(x < GELU_TAIL) / x.size)))

        return hook

    def _entropy(self, name: str, attn: CausalSelfAttention) -> nn.module.ForwardHook:
        def hook(module: nn.Module, args: tuple[Any, ...], qkv: Tensor) -> None:
            entropy = attention_entropy(*attn.queries_keys(qkv.data))
            self.rows += [(name, f"entropy_head{h}", float(e)) for h, e in enumerate(entropy)]

        return hook

    def gradients(self) -> None:
        """After backward, before clipping: each tensor's gradient and weight norm; a copy of
        the weights, for the update ratio. (Hooks still on, had no forward pass run, come off.)"""
        self.close()
        for name, p in self.model.named_parameters():
            if p.grad is not None:
                self.rows.append((name, "grad_norm", float(np.linalg.norm(p.grad.data))))
            self.rows.append((name, "weight_norm", float(np.linalg.norm(p.data))))
            self._before[name] = p.data.copy()

    def update(self) -> None:
        """After the optimizer step: log10(RMS(Δθ) / RMS(θ)) of every tensor copied by gradients()."""
        for name, p in self.model.named_parameters():
            if name in self._before:
                self.rows.append((name, "update_ratio", update_ratio(self._before[name], p.data)))
        self._before.clear()

    def close(self) -> None:
        """Take the hooks off (gradients() does; call it if the step is abandoned)."""
        for h in self._handles:
            h.remove()
        self._handles.clear()


class DiagnosticsLog(CsvLog):
    """diagnostics.csv: the rows of each watched step, appended as the run goes.

    resume_iter=None starts a new file; a number (the iteration a resumed run continues from)
    keeps the rows of the file there up to that iteration and drops those after it, which an
    interrupted run wrote past its checkpoint and the resumed run will write again.
    """

    HEADER = ("iter", "name", "stat", "value")

    def __init__(self, path: str | Path, resume_iter: int | None = None) -> None:
        path = Path(path)
        kept = [] if resume_iter is None else [r for r in self.read_rows(path) if int(r[0]) <= resume_iter]
        super().__init__(path, kept)

    def write(self, it: int, rows: Sequence[tuple[str, str, float]]) -> None:
        """The rows of the step that ended at iteration it."""
        self._write(*([it, name, stat, f"{value:.6g}"] for name, stat, value in rows))


Series = dict[tuple[str, str], tuple[list[int], list[float]]]


def read_diagnostics(path: str | Path) -> Series:
    """diagnostics.csv as {(name, stat): (iterations, values)}, in file order."""
    series: Series = defaultdict(lambda: ([], []))
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            its, values = series[r["name"], r["stat"]]
            its.append(int(r["iter"]))
            values.append(float(r["value"]))
    return dict(series)


def _layer(name: str) -> int | None:
    """The block index in a name (`transformer.h.2.mlp.c_fc.weight` -> 2), None outside blocks."""
    m = re.search(r"\.h\.(\d+)\.|\.h\.(\d+)$", name)
    return None if m is None else int(m.group(1) or m.group(2))


def _is_matrix(name: str) -> bool:
    """A weight matrix: every weight but the LayerNorms' (ln_1, ln_2, ln_f), which are vectors."""
    return re.search(r"(?<!ln_.)\.weight$", name) is not None


def plot_diagnostics(csv_path: str | Path, png: str | Path, title: str = "") -> bool:
    """Draw diagnostics.csv as a 2 x 3 grid of panels over iterations; one colour per block.

    Update ratios (log10) of the weight matrices with the -3 guide line; their gradient norms;
    their weight norms; the std of each block's output (solid), attention (dashed) and MLP
    (dotted); the fraction of GELU inputs in its flat tail; the attention entropy of every head.
    Returns False (and says how to get it) when matplotlib is not installed.
    """
    plt = pyplot("diagnostics")
    if plt is None:
        return False
    series = read_diagnostics(csv_path)
    if not series:
        print(f"diagnostics: {csv_path} holds no rows yet, no picture")
        return False
    layers = sorted({i for (name, _) in series if (i := _layer(name)) is not None})
    cmap = plt.get_cmap("viridis")

    def colour(name: str) -> Any:
        i = _layer(name)
        return "0.3" if i is None else cmap(i / max(1, len(layers) - 1) * 0.85)

    matrices = sorted(n for (n, s) in series if s == "update_ratio" and _is_matrix(n))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), dpi=100)
    panels = [
        (axes[0, 0], "update_ratio", "update / data ratio, log10 (weight matrices)", False),
        (axes[0, 1], "grad_norm", "gradient norm before clipping (weight matrices)", True),
        (axes[0, 2], "weight_norm", "weight norm (weight matrices)", False),
    ]
    for ax, stat, label, logy in panels:
        for n in matrices:
            if (n, stat) in series:
                ax.plot(*series[n, stat], color=colour(n), lw=0.8, alpha=0.8)
        ax.set_title(label, fontsize=10)
        if logy:
            ax.set_yscale("log")
    axes[0, 0].axhline(HEALTHY_UPDATE_RATIO, color="red", ls="--", lw=1)
    axes[0, 0].text(
        0.01,
        HEALTHY_UPDATE_RATIO,
        " 1e-3, the rule of thumb",
        color="red",
        va="bottom",
        transform=axes[0, 0].get_yaxis_transform(),
    )
    styles = {"": "-", ".attn": "--", ".mlp": ":"}
    for (n, s), (its, vals) in series.items():
        if s == "std" and _layer(n) is not None:
            suffix = n[n.rfind(".") :] if n.endswith((".attn", ".mlp")) else ""
            axes[1, 0].plot(its, vals, color=colour(n), ls=styles[suffix], lw=1)
        if s == "tail_fraction":
            axes[1, 1].plot(its, vals, color=colour(n), lw=1)
        if s.startswith("entropy_head"):
            axes[1, 2].plot(its, vals, color=colour(n), lw=0.8)
    axes[1, 0].set_title("activation std: block output —, attention --, MLP ··", fontsize=10)
    axes[1, 0].set_yscale("log")  # a healthy run's spread is about 1; a broken one's can be hundreds
    axes[1, 1].set_title(f"fraction of GELU inputs below {GELU_TAIL:g} (flat tail)", fontsize=10)
    axes[1, 2].set_title("attention entropy per head (nats)", fontsize=10)
    for ax in axes.flat:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colour(f"x.h.{i}."), lw=2) for i in layers]
    handles.append(plt.Line2D([], [], color="0.3", lw=2))
    labels = [f"block {i}" for i in layers] + ["embeddings"]
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.965), ncol=len(handles), frameon=False)
    fig.suptitle(title or "training diagnostics", y=0.995, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(png)
    plt.close(fig)
    print(f"diagnostics: {png}")
    return True


def summary(series: Series) -> list[str]:
    """Lines that describe the last watched step: each block's statistics, then the embeddings'
    (the update ratios: the lowest and highest of the weight matrices)."""
    last = {key: vals[-1] for key, (_, vals) in series.items()}
    it = max(its[-1] for its, _ in series.values())
    by_layer: dict[int | None, list[float]] = defaultdict(list)
    for (n, s), v in last.items():
        if s == "update_ratio" and _is_matrix(n) and not math.isnan(v):
            by_layer[_layer(n)].append(v)
    lines = [
        f"iteration {it}",
        f"{'':10} {'update ratio':>16} {'stream std':>10} {'attn std':>9} {'mlp std':>8} {'GELU tail':>9} {'entropy/head':>20}",
    ]
    layers = sorted(i for i in by_layer if i is not None)
    for i in layers:
        pre = next(n for (n, _) in last if _layer(n) == i).split(f".h.{i}")[0] + f".h.{i}"
        ents = [v for (n, s), v in sorted(last.items()) if n == f"{pre}.attn" and s.startswith("entropy_head")]
        tail = next((v for (n, s), v in last.items() if s == "tail_fraction" and _layer(n) == i), math.nan)
        lines.append(
            f"block {i:<4} {min(by_layer[i]):7.2f} .. {max(by_layer[i]):5.2f} "
            f"{last.get((pre, 'std'), math.nan):10.3f} {last.get((pre + '.attn', 'std'), math.nan):9.3f} "
            f"{last.get((pre + '.mlp', 'std'), math.nan):8.3f} {tail:9.3f} "
            f"{' '.join(f'{e:.2f}' for e in ents):>20}"
        )
    if None in by_layer:
        lines.append(f"{'embeddings':10} {min(by_layer[None]):7.2f} .. {max(by_layer[None]):5.2f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """The command: exit status 0 done, 2 no diagnostics.csv to read."""
    parser = ArgumentParser("python -m numpygpt.diagnostics", "Summarise a run's diagnostics.csv and draw it.")
    parser.usage = "%(prog)s [RUN] [--out PNG]"
    default_run = str(TrainConfig().run_dir)
    parser.add_argument(
        "run", nargs="?", default=default_run, help=f"a run folder or its diagnostics.csv (default: {default_run})"
    )
    parser.add_argument("--out", default="", help="the PNG to write (default: diagnostics.png beside the CSV)")
    args = parser.parse_args(argv)
    path = Path(args.run) / "diagnostics.csv" if Path(args.run).is_dir() else Path(args.run)
    if not path.is_file():
        return fail(f"{path} does not exist: a training run writes it unless --diagnostics false", 2)
    series = read_diagnostics(path)
    if not series:
        return fail(f"{path} holds no rows yet: a run writes them at each log interval", 2)
    print("\n".join(summary(series)))
    plot_diagnostics(path, args.out or path.with_name("diagnostics.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))

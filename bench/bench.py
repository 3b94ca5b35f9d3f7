"""Benchmark a full GPT training step: numpygpt against PyTorch eager on the same CPU.

    python bench/bench.py                 # parity check, then the timing table (nox -s bench)
    python bench/bench.py --profile       # where numpygpt's step spends its time, per Function
    python bench/bench.py --sweep         # step time against n_embd, block_size, batch, and at two whole
                                          # configs (NAMED: nanoGPT's shakespeare_char, GPT-2 124M): CSV + PNG
    python bench/bench.py --gpt2          # GPT-2 124M-sized: generation with and without the KV cache
                                          # against transformers, a fine-tuning step against PyTorch (gpt2.py)

How it measures (and why):
- Each side runs in a process of its own (peak memory is then each side's own), with the
  same BLAS/OpenMP thread count set before numpy or torch loads.
- Blocks of steps alternate between the sides, and the first steps of every block are
  discarded. NOTE: after NumPy's last matrix product, OpenBLAS's worker threads keep spinning
  for about 0.1 s; a step of the other side started in that window shares the cores with
  them and looks up to 3x slower. Interleaving single steps would flatter NumPy by ~2.5x.
- Before any timing, one step of each side on the same weights and batch must agree in
  loss and every gradient, so the two sides are known to do the same work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, vocab_size=65, gelu="tanh")
# Whole configurations the sweep times besides its one-knob variations of DEFAULT.
NAMED = {
    # nanoGPT's config/train_shakespeare_char.py model (its batch of 64 cut to 8 for a CPU)
    "shakespeare_char": dict(DEFAULT, n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=8),
    # fine-tuning GPT-2 124M on 256-token windows, one sequence per step
    "gpt2_124M": dict(DEFAULT, n_layer=12, n_head=12, n_embd=768, vocab_size=50257, block_size=256, batch_size=1),
}


class Worker:
    """A benchmark worker process (bench/worker.py) for one side."""

    def __init__(self, side: str, cfg: dict, threads: int) -> None:
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        self.side = side
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "worker.py"), side, json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ask_raw()  # "ready"

    def ask_raw(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.side} worker died (exit code {self.proc.wait()})")
        return json.loads(line)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.ask_raw()

    def close(self) -> None:
        self.proc.stdin.write('{"cmd": "quit"}\n')
        self.proc.stdin.flush()
        self.proc.wait()


def parity_check(cfg: dict) -> tuple[float, float, str]:
    """One step of both models on the same weights and batch: loss and every gradient must agree."""
    import torch

    import numpygpt.nn as nn
    from numpygpt.models import GPT, GPTConfig

    sys.path.insert(0, str(ROOT / "bench"))
    from torch_gpt import TorchGPT, TorchGPTConfig

    keys = ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "gelu")
    nn.manual_seed(0)
    ours = GPT(GPTConfig(**{k: cfg[k] for k in keys}))
    theirs = TorchGPT(TorchGPTConfig(**{k: cfg[k] for k in keys}))
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})  # a plain load
    rng = np.random.default_rng(0)
    x = rng.integers(0, cfg["vocab_size"], (cfg["batch_size"], cfg["block_size"]))
    y = np.roll(x, -1, axis=1)
    _, loss = ours(x, y)
    loss.backward()
    _, tloss = theirs(torch.from_numpy(x), torch.from_numpy(y))
    tloss.backward()
    tgrads = dict(theirs.named_parameters())
    worst, worst_name = 0.0, ""
    for name, p in ours.named_parameters():
        ref = tgrads[name].grad.numpy()
        err = float(np.abs(p.grad.data - ref).max() / (np.abs(ref).max() + 1e-12))
        if err > worst:
            worst, worst_name = err, name
    loss_err = abs(loss.item() - tloss.item())
    if loss_err > 1e-4 or worst > 1e-3:
        raise SystemExit(
            f"parity check FAILED: |loss diff| {loss_err:.2e}, worst relative gradient error {worst:.2e} ({worst_name})"
        )
    return loss_err, worst, worst_name


def tokens(cfg: dict) -> int:
    return cfg["batch_size"] * cfg["block_size"]


def flops_per_step(cfg: dict) -> float:
    """Model FLOPs of one training step (forward + backward), as GPT.flops_per_token counts them."""
    import numpygpt.nn as nn
    from numpygpt.models import GPT, GPTConfig

    nn.manual_seed(0)
    m = GPT(GPTConfig(**{k: cfg[k] for k in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "gelu")}))
    return m.flops_per_token() * tokens(cfg)


def timed_blocks(cfg: dict, threads: int, blocks: int, steps: int, discard: int, warmup: int = 5) -> dict:
    """Median and spread of ms/step for each side, from alternating blocks of steps."""
    workers = {side: Worker(side, cfg, threads) for side in ("numpy", "torch")}
    try:
        for w in workers.values():
            w.ask(cmd="run", steps=warmup)
        ms: dict[str, list[float]] = {"numpy": [], "torch": []}
        for b in range(blocks):
            order = ("numpy", "torch") if b % 2 == 0 else ("torch", "numpy")
            for side in order:
                ms[side] += workers[side].ask(cmd="run", steps=steps + discard)["ms"][discard:]
        result = {
            side: {
                "median": float(np.median(v)),
                "p10": float(np.percentile(v, 10)),
                "p90": float(np.percentile(v, 90)),
                "n": len(v),
            }
            for side, v in ms.items()
        }
        for side, w in workers.items():
            result[side]["peak_mb"] = w.ask(cmd="mem")["peak_mb"]
        result["matmul_gflops"] = workers["numpy"].ask(cmd="matmul")["gflops"]
        return result | {"workers": workers}
    except BaseException:
        for w in workers.values():
            w.proc.kill()
        raise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BLAS/OpenMP threads on both sides")
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per block")
    ap.add_argument("--discard", type=int, default=3, help="steps discarded at the start of each block")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--gpt2", action="store_true", help="the GPT-2 124M-sized benchmark instead (bench/gpt2.py)")
    ap.add_argument("--gpt2-tokens", type=int, default=64, help="--gpt2: tokens to generate")
    ap.add_argument(
        "--gpt2-gen-threads",
        type=int,
        default=1,
        help="--gpt2: BLAS/OpenMP threads for transformers' generation (numpygpt's runs on one)",
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = dict(DEFAULT)
    if args.gpt2:
        import gpt2

        results = gpt2.run(
            args.threads, args.gpt2_tokens, min(args.blocks, 2), min(args.steps, 3), gen_threads=args.gpt2_gen_threads
        )
        (out / "gpt2.json").write_text(json.dumps(results, indent=1))
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads per side: {args.threads}"
    )
    loss_err, worst, name = parity_check(cfg)
    print(
        f"parity: same weights, same batch: |loss diff| {loss_err:.1e}, worst relative gradient error {worst:.1e} ({name}): OK"
    )

    if args.profile:
        w = Worker("numpy", cfg, args.threads)
        w.ask(cmd="run", steps=5)
        prof = w.ask(cmd="profile", steps=30)
        w.close()
        print_profile(prof)
        return

    r = timed_blocks(cfg, args.threads, args.blocks, args.steps, args.discard)
    workers = r.pop("workers")
    sampling = {
        "numpygpt_command": workers["numpy"].ask(cmd="sample", tokens=500, how="command")["seconds"],
        "numpygpt_generate": workers["numpy"].ask(cmd="sample", tokens=500, how="generate")["seconds"],
        "pytorch_generate": workers["torch"].ask(cmd="sample", tokens=500, how="generate")["seconds"],
    }
    for w in workers.values():
        w.close()
    flops = flops_per_step(cfg)
    ratio = r["numpy"]["median"] / r["torch"]["median"]
    util = flops / (r["numpy"]["median"] / 1000) / (r["matmul_gflops"] * 1e9)
    print(
        f"timing: {args.blocks} alternating blocks of {args.steps} steps per side, the first {args.discard} steps of each block discarded"
    )
    print()
    print("| side | ms/step median (p10–p90) | tokens/s | peak memory |")
    print("|---|---|---|---|")
    for side, label in (("numpy", "numpygpt (NumPy)"), ("torch", "PyTorch eager")):
        s = r[side]
        print(
            f"| {label} | {s['median']:.1f} ({s['p10']:.1f}–{s['p90']:.1f}) | {tokens(cfg) * 1000 / s['median']:,.0f} | {s['peak_mb']:.0f} MB |"
        )
    print()
    print(f"ratio numpygpt/torch (median step time): {ratio:.2f}")
    print(
        f"model FLOPs per step: {flops / 1e9:.2f} GFLOP; float32 matmul throughput here: {r['matmul_gflops']:.0f} GFLOP/s; "
        f"numpygpt utilisation: {util:.0%}"
    )
    print(
        f"sampling 500 tokens (batch 1, top-k 40; median of 3): numpygpt's sample command "
        f"{sampling['numpygpt_command']:.2f} s, numpygpt's model.generate {sampling['numpygpt_generate']:.2f} s, "
        f"PyTorch (nanoGPT's generate, as its sample.py calls it) {sampling['pytorch_generate']:.2f} s"
    )
    (out / "latest.json").write_text(
        json.dumps(
            {
                "config": cfg,
                "threads": args.threads,
                **r,
                "ratio": ratio,
                "flops_per_step": flops,
                "utilisation": util,
                "sample_500_s": sampling,
            },
            indent=1,
        )
    )

    if args.sweep:
        sweep(cfg, args, out)


def print_profile(prof: dict) -> None:
    total = prof["total_ms"]
    print(
        f"\nnumpygpt training step: {total:.1f} ms " + ", ".join(f"{k} {v:.1f} ms" for k, v in prof["phases"].items())
    )
    print("\n| Function | forward ms | backward ms | share of step |")
    print("|---|---|---|---|")
    names = sorted(
        {k.rsplit(".", 1)[0] for k in prof["ops"]},
        key=lambda n: -(prof["ops"].get(n + ".forward", 0) + prof["ops"].get(n + ".backward", 0)),
    )
    inside = 0.0
    for n in names:
        f, b = prof["ops"].get(n + ".forward", 0.0), prof["ops"].get(n + ".backward", 0.0)
        inside += f + b
        print(f"| {n} | {f:.2f} | {b:.2f} | {(f + b) / total:.0%} |")
    opt = prof["phases"].get("optimizer", 0.0)
    print(f"| AdamW step + zero_grad | | | {opt / total:.0%} |")
    print(f"| graph bookkeeping, Python glue | | | {(total - inside - opt) / total:.0%} |")


def sweep(base: dict, args: argparse.Namespace, out: Path) -> None:
    points = (
        [("n_embd", v, dict(base, n_embd=v)) for v in (64, 128, 256, 512)]
        + [("block_size", v, dict(base, block_size=v)) for v in (32, 64, 128, 256)]
        + [("batch_size", v, dict(base, batch_size=v)) for v in (4, 12, 32)]
        + [("config", name, cfg) for name, cfg in NAMED.items()]
    )
    rows = []
    for key, value, cfg in points:
        r = timed_blocks(cfg, args.threads, blocks=2, steps=8, discard=2, warmup=3)
        for w in r.pop("workers").values():
            w.close()
        row = dict(
            param=key,
            value=value,
            numpy_ms=r["numpy"]["median"],
            torch_ms=r["torch"]["median"],
            ratio=r["numpy"]["median"] / r["torch"]["median"],
            gflop_per_step=flops_per_step(cfg) / 1e9,
        )
        rows.append(row)
        print(
            f"sweep {key}={value}: numpygpt {row['numpy_ms']:.1f} ms, torch {row['torch_ms']:.1f} ms, ratio {row['ratio']:.2f}, {row['gflop_per_step']:.2f} GFLOP",
            flush=True,
        )
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for p in ("n_embd", "block_size", "batch_size"):
        rs = [r for r in rows if r["param"] == p]
        per = [r["numpy_ms"] / r["gflop_per_step"] for r in rs]
        print(
            f"numpygpt ms per GFLOP as {p} grows {rs[0]['value']} -> {rs[-1]['value']}: "
            + " -> ".join(f"{x:.1f}" for x in per)
            + (" (time grows no faster than FLOPs)" if per[-1] <= per[0] * 1.05 else " (time grows FASTER than FLOPs)")
        )
    plot_sweep(rows, out / "sweep.png")
    print(f"wrote {out / 'sweep.csv'} and {out / 'sweep.png'}")


def plot_sweep(rows: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = ["n_embd", "block_size", "batch_size"]
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5), dpi=90)
    for j, p in enumerate(params):
        rs = [r for r in rows if r["param"] == p]
        v = [r["value"] for r in rs]
        ax = axes[0, j]
        ax.plot(v, [r["numpy_ms"] for r in rs], "o-", label="numpygpt")
        ax.plot(v, [r["torch_ms"] for r in rs], "s-", label="PyTorch")
        scale = rs[0]["numpy_ms"] / rs[0]["gflop_per_step"]
        ax.plot(v, [r["gflop_per_step"] * scale for r in rs], ":", color="grey", label="∝ FLOPs")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"ms/step vs {p}")
        ax.legend(fontsize=8)
        ax2 = axes[1, j]
        ax2.plot(v, [r["ratio"] for r in rs], "o-", color="C3")
        ax2.axhline(1.0, color="grey", lw=0.8)
        ax2.set_xscale("log", base=2)
        ax2.set_title(f"numpygpt / PyTorch vs {p}")
        ax2.set_xlabel(p)
    named = [r for r in rows if r["param"] == "config"]
    x = np.arange(len(named))
    ax = axes[0, 3]
    ax.bar(x - 0.2, [r["numpy_ms"] for r in named], 0.4, label="numpygpt")
    ax.bar(x + 0.2, [r["torch_ms"] for r in named], 0.4, label="PyTorch")
    ax.set_yscale("log")
    ax.set_xticks(x, [r["value"] for r in named], fontsize=8)
    ax.set_title("ms/step, whole configs")
    ax.legend(fontsize=8)
    ax2 = axes[1, 3]
    ax2.bar(x, [r["ratio"] for r in named], 0.5, color="C3")
    ax2.axhline(1.0, color="grey", lw=0.8)
    ax2.set_xticks(x, [r["value"] for r in named], fontsize=8)
    ax2.set_title("numpygpt / PyTorch, whole configs")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


if __name__ == "__main__":
    main()

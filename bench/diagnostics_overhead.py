"""What training diagnostics cost: the real training loop at the default config, with them on and off.

    python bench/diagnostics_overhead.py                  # nox -s bench_diagnostics
    python bench/diagnostics_overhead.py --blocks 8 --iters 300

Diagnostics are on by default only if they cost at most 3% of a step at the default config.
This measures that with `numpygpt.train.train` itself, at the default config (its model,
batch, optimizer and log_interval; no sample, one evaluation at each end), in runs alternately
with diagnostics on and off (off, on, on, off, ...: a drift of the machine's speed falls on
both sides alike).

Only some iterations pay: the watched one (every log_interval-th: the probe's hooks, its
gradient norms and copy of the weights, its update ratios) and the one after it, where the
rows are written with the log line. An `on_step` callback reads the clock after every
iteration; per run, the cost of one log window beyond its plain steps is

    extra = (time of the watched iteration - a plain one) + (time of the one after - a plain one)

(medians), which holds the log line's own cost too; the difference of `extra` between the runs
with and without diagnostics, over log_interval plain steps, is the overhead. It is measured
twice: in CPU time of this process (the figure to read on a busy machine: others' load does not
count, as long as BLAS runs one thread, OPENBLAS_NUM_THREADS=1) and in wall-clock time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from numpygpt.configs import TrainConfig
from numpygpt.perf import tune_malloc
from numpygpt.train import train

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def iteration_times(cfg: TrainConfig) -> dict[str, list[tuple[int, float]]]:
    """Train cfg; for each clock, the seconds of each iteration it (from the end of it - 1 to the end of it)."""
    marks: list[tuple[int, dict[str, float]]] = []

    def clock(it: int, loss: float, model: Any) -> None:
        marks.append((it, {name: read() for name, read in CLOCKS.items()}))

    train(cfg, on_step=clock)
    return {
        name: [(it, now[name] - before[name]) for (_, before), (it, now) in zip(marks, marks[1:], strict=False)]
        for name in CLOCKS
    }


def window_cost(times: list[tuple[int, float]], log_interval: int) -> tuple[float, float]:
    """(median plain iteration, extra seconds of a log window: its watched iteration and the next)."""
    plain = statistics.median(t for it, t in times if it % log_interval not in (0, 1))
    watched = statistics.median(t for it, t in times if it % log_interval == 0)
    after = statistics.median(t for it, t in times if it % log_interval == 1)
    return plain, (watched - plain) + (after - plain)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=8, help="runs in all, half of them with diagnostics")
    ap.add_argument("--iters", type=int, default=200, help="training steps per run")
    args = ap.parse_args()
    tune_malloc()  # as the training command does
    base = TrainConfig()
    times: dict[bool, dict[str, list[tuple[int, float]]]] = {on: {c: [] for c in CLOCKS} for on in (False, True)}
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(args.blocks):
            on = b % 4 in (1, 2)  # off, on, on, off, off, on, ...
            cfg = dataclasses.replace(
                base,
                max_iters=args.iters,
                eval_interval=args.iters,
                eval_iters=1,
                sample_tokens=0,
                diagnostics=on,
                out_dir=str(Path(tmp) / f"run{b}"),
            )
            for clock, per_it in iteration_times(cfg).items():
                times[on][clock] += per_it
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "BLAS default"
    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; BLAS threads: {threads}")
    print(
        f"default config (n_layer {base.n_layer}, n_embd {base.n_embd}, block {base.block_size}, batch "
        f"{base.batch_size}), log_interval {base.log_interval}: {args.blocks} runs of {args.iters} steps, "
        f"half with diagnostics"
    )
    for clock in CLOCKS:
        plain_off, extra_off = window_cost(times[False][clock], base.log_interval)
        plain_on, extra_on = window_cost(times[True][clock], base.log_interval)
        cost = extra_on - extra_off  # seconds per log window that diagnostics add
        print(
            f"{clock:>4} time: a plain step {1000 * plain_off:.1f} ms (off) / {1000 * plain_on:.1f} ms (on); "
            f"diagnostics add {1000 * cost:.1f} ms per window of {base.log_interval} steps: "
            f"{100 * cost / (base.log_interval * plain_off):+.1f}% of a step"
        )
    print("the default is on while this is at most 3%; on a busy machine read the CPU-time line")


if __name__ == "__main__":
    main()

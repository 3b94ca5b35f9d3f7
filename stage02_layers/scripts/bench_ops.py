"""Micro-benchmark: forward + backward time of each layer op, fused versus composed.

    python stage02_layers/scripts/bench_ops.py            (stages 01 and 02 installed)
    python stage02_layers/scripts/bench_ops.py --repeats 50 --only gelu,sdpa

At the shapes of the small GPT of stage05 (batch B=12, block T=64, n_embd C=128, n_head H=4,
vocabulary V=65), in float32, each op runs forward, then backward with a fixed random
upstream gradient, `--repeats` times after a warm-up; the table shows the median. "fused" is
numpygpt.nn.functional (one Function per op, backward derived by hand), "composed" is
numpygpt.nn.functional.composed (the same maths as a chain of stage01 primitives, backward
derived by autograd). "nodes" counts the Functions each version records in the graph.

Fused and composed are timed in separate blocks, each after its own warm-up runs, so
OpenBLAS threads left spinning by one block do not slow the first runs of the next.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor
from numpygpt.nn.functional import composed as C

B, T, C_EMBD, H, V = 12, 64, 128, 4, 65
HS = C_EMBD // H
P_DROP = 0.1


def count_functions(y: Tensor) -> int:
    """The number of Functions recorded in the graph that produced y."""
    seen: set[int] = set()
    stack = [y.creator] if y.creator is not None else []
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        stack.extend(t.creator for t in f.inputs if t.creator is not None)
    return len(seen)


def cases(
    rng: np.random.Generator,
) -> dict[str, tuple[list[tuple[int, ...]], Callable[..., Tensor], Callable[..., Tensor]]]:
    """name -> (shapes of the float inputs, fused op, composed op)."""
    ids = rng.integers(0, V, size=(B, T))
    targets = rng.integers(0, V, size=B * T)
    mask_gen_seed = 0

    def fused_dropout(x: Tensor) -> Tensor:
        return F.dropout(x, P_DROP, generator=np.random.default_rng(mask_gen_seed))

    def composed_dropout(x: Tensor) -> Tensor:
        gen = np.random.default_rng(mask_gen_seed)  # draw a mask in the composed time too
        keep = gen.random(x.shape, dtype=x.dtype) >= P_DROP
        return C.dropout(x, keep * np.asarray(1 / (1 - P_DROP), dtype=x.dtype))

    cos, sin = F.rotary_tables(HS, T)
    return {
        "linear (B,T,C)->(B,T,4C)": ([(B, T, C_EMBD), (4 * C_EMBD, C_EMBD), (4 * C_EMBD,)], F.linear, C.linear),
        "embedding (B,T) in (V,C)": ([(V, C_EMBD)], lambda w: F.embedding(ids, w), lambda w: C.embedding(ids, w)),
        "layer_norm (B,T,C)": (
            [(B, T, C_EMBD), (C_EMBD,), (C_EMBD,)],
            lambda x, w, b: F.layer_norm(x, C_EMBD, w, b),
            lambda x, w, b: C.layer_norm(x, C_EMBD, w, b),
        ),
        "rms_norm (B,T,C)": (
            [(B, T, C_EMBD), (C_EMBD,)],
            lambda x, w: F.rms_norm(x, C_EMBD, w),
            lambda x, w: C.rms_norm(x, (C_EMBD,), w),
        ),
        "gelu (B,T,4C)": ([(B, T, 4 * C_EMBD)], F.gelu, C.gelu),
        "gelu tanh (B,T,4C)": ([(B, T, 4 * C_EMBD)], lambda x: F.gelu(x, "tanh"), lambda x: C.gelu(x, "tanh")),
        "relu (B,T,4C)": ([(B, T, 4 * C_EMBD)], F.relu, C.relu),
        "silu (B,T,4C)": ([(B, T, 4 * C_EMBD)], F.silu, C.silu),
        # LLaMA's hidden size 8/3 C rounded up to a multiple of 64: 384 = 3C here
        "swiglu (B,T,3C)": ([(B, T, 3 * C_EMBD)] * 2, F.swiglu, C.swiglu),
        "softmax (B,H,T,T)": ([(B, H, T, T)], lambda x: F.softmax(x, -1), lambda x: C.softmax(x, -1)),
        "log_softmax (B*T,V)": ([(B * T, V)], lambda x: F.log_softmax(x, -1), lambda x: C.log_softmax(x, -1)),
        "cross_entropy (B*T,V)": (
            [(B * T, V)],
            lambda x: F.cross_entropy(x, targets),
            lambda x: C.cross_entropy(x, targets),
        ),
        "dropout p=0.1 (B,T,C)": ([(B, T, C_EMBD)], fused_dropout, composed_dropout),
        "rotary (B,H,T,hs)": (
            [(B, H, T, HS)],
            lambda x: F.rotary_embedding(x, cos, sin),
            lambda x: C.rotary_embedding(x, cos, sin),
        ),
        "attention causal (B,H,T,hs)": (
            [(B, H, T, HS)] * 3,
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda q, k, v: C.scaled_dot_product_attention(q, k, v, is_causal=True),
        ),
        "attention causal gqa (B,H,T,hs), 2 kv heads": (
            [(B, H, T, HS), (B, 2, T, HS), (B, 2, T, HS)],
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
            lambda q, k, v: C.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
        ),
    }


def time_op(fn: Callable[..., Tensor], inputs: list[Tensor], gy: Tensor, repeats: int, warmup: int) -> float:
    """Median seconds of forward + backward."""
    times = []
    for i in range(warmup + repeats):
        for x in inputs:
            x.grad = None
        t0 = time.perf_counter()
        y = fn(*inputs)
        y.backward(gy)
        dt = time.perf_counter() - t0
        del y
        if i >= warmup:
            times.append(dt)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per op and version (median reported)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs before each block")
    parser.add_argument("--only", default="", help="comma-separated substrings of op names to run")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    print(f"B={B} T={T} C={C_EMBD} H={H} V={V}, float32, forward + backward, median of {args.repeats} runs\n")
    print("| op | fused (ms) | composed (ms) | speed-up | nodes fused / composed |")
    print("|---|---:|---:|---:|---:|")
    for name, (shapes, fused, composed) in cases(rng).items():
        if wanted and not any(w in name for w in wanted):
            continue
        inputs = [Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
        out_shape = fused(*inputs).shape
        gy = Tensor(rng.standard_normal(out_shape).astype(np.float32))
        nodes = (count_functions(fused(*inputs)), count_functions(composed(*inputs)))
        t_fused = time_op(fused, inputs, gy, args.repeats, args.warmup)
        t_composed = time_op(composed, inputs, gy, args.repeats, args.warmup)
        speedup = t_composed / t_fused if t_fused > 0 else math.inf
        print(f"| {name} | {t_fused * 1e3:.3f} | {t_composed * 1e3:.3f} | {speedup:.1f}x | {nodes[0]} / {nodes[1]} |")


if __name__ == "__main__":
    main()

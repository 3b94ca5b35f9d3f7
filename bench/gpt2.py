"""GPT-2 124M-sized benchmark (random weights, the same work): `python bench/bench.py --gpt2`.

    generation   tokens/s of greedy generation (batch 1, a 16-token prompt), numpygpt with and
                 without its KV cache against transformers' generate with and without its cache
    fine-tuning  one training step (forward, backward, AdamW) at block 256, batch 1 and 4, against
                 PyTorch eager with nanoGPT's model (bench/torch_gpt.py), in alternating blocks
                 (bench.py's timed_blocks: see its docstring for why)

Every measurement runs in a process of its own, so each peak memory is that side's alone; both
sides get the same BLAS/OpenMP thread count. Generation defaults to one thread per side, as
numpygpt's generation always runs (GPT.next_token_logits sets it; --gpt2-gen-threads then
changes transformers' side only): a batch-1 step is matrix-vector products, which a second
BLAS thread barely speeds up and, on a busy machine, slows down several times (measured here:
10 tokens/s on one thread, 1-2.5 on two, with other jobs on the cores). Figures depend on what
else the machine is doing: report the load with them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GPT2 = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, gelu="tanh")
PROMPT = 16  # tokens


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_numpy(new_tokens: int, use_cache: bool) -> dict:
    import numpygpt.nn as nn
    from numpygpt.models import GPT, GPTConfig

    nn.manual_seed(0)
    model = GPT(GPTConfig(block_size=1024, **GPT2)).eval()
    prompt = np.random.default_rng(0).integers(0, GPT2["vocab_size"], (1, PROMPT))
    model.generate(prompt, 2, temperature=0, use_cache=use_cache)  # warm up
    t0 = time.perf_counter()
    out = model.generate(prompt, new_tokens, temperature=0, use_cache=use_cache)
    seconds = time.perf_counter() - t0
    return {"tokens_per_s": new_tokens / seconds, "peak_mb": peak_mb(), "tokens": out[0, PROMPT:].tolist()}


def generate_transformers(new_tokens: int, use_cache: bool) -> dict:
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(n_positions=1024, **{k: v for k, v in GPT2.items() if k != "gelu"})
    model = transformers.GPT2LMHeadModel(config).eval()
    prompt = torch.from_numpy(np.random.default_rng(0).integers(0, GPT2["vocab_size"], (1, PROMPT)))
    kwargs = dict(do_sample=False, use_cache=use_cache, pad_token_id=0, attention_mask=torch.ones_like(prompt))
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=2, **kwargs)  # warm up
        t0 = time.perf_counter()
        out = model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kwargs)
        seconds = time.perf_counter() - t0
    return {"tokens_per_s": new_tokens / seconds, "peak_mb": peak_mb(), "tokens": out[0, PROMPT:].tolist()}


def in_process(side: str, new_tokens: int, use_cache: bool, threads: int) -> dict:
    """Run one generation measurement in a fresh process (peak memory of that side alone)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    args = [sys.executable, __file__, side, str(new_tokens), str(int(use_cache))]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(threads: int, new_tokens: int, blocks: int, steps: int, gen_threads: int = 1) -> dict:
    """Print the table of both benchmarks; return the figures."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench import timed_blocks

    results: dict = {"threads": threads, "generation": {}, "finetune": {}}
    print(
        f"GPT-2 124M shape (12 layers, 12 heads, 768 wide, 50,257 tokens), random weights; {threads} threads per side"
    )
    print(f"\ngeneration: greedy, batch 1, {PROMPT}-token prompt, {new_tokens} new tokens\n")
    print("| side | KV cache | tokens/s | peak memory |")
    print("|---|---|---|---|")
    for side, label in (("numpy", "numpygpt"), ("transformers", "transformers")):
        for use_cache in (True, False):
            r = in_process(side, new_tokens, use_cache, gen_threads)
            results["generation"][f"{side}/{'cache' if use_cache else 'no_cache'}"] = r
            print(f"| {label} | {'yes' if use_cache else 'no'} | {r['tokens_per_s']:.1f} | {r['peak_mb']:.0f} MB |")
    print(
        f"\nfine-tuning step (forward, backward, AdamW), block 256, {threads} threads per side; "
        f"{blocks} alternating blocks of {steps} steps\n"
    )
    print("| batch | numpygpt ms/step | PyTorch ms/step | ratio | numpygpt peak | PyTorch peak |")
    print("|---|---|---|---|---|---|")
    for batch_size in (1, 4):
        cfg = dict(GPT2, block_size=256, batch_size=batch_size)
        r = timed_blocks(cfg, threads, blocks, steps, discard=1, warmup=1)
        for w in r.pop("workers").values():
            w.close()
        ratio = r["numpy"]["median"] / r["torch"]["median"]
        results["finetune"][f"batch{batch_size}"] = r | {"ratio": ratio}
        print(
            f"| {batch_size} | {r['numpy']['median']:.0f} | {r['torch']['median']:.0f} | {ratio:.2f} | "
            f"{r['numpy']['peak_mb']:.0f} MB | {r['torch']['peak_mb']:.0f} MB |"
        )
    return results


if __name__ == "__main__":
    side, n, cache = sys.argv[1], int(sys.argv[2]), bool(int(sys.argv[3]))
    result = (generate_numpy if side == "numpy" else generate_transformers)(n, cache)
    print(json.dumps(result))

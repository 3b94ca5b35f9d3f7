"""One side of the benchmark, in a process of its own: numpygpt or the PyTorch reference.

    python bench/worker.py numpy|torch CONFIG_JSON

It builds the model and a fixed batch, prints one JSON line ("ready"), then answers
commands on stdin, one JSON line each:
    {"cmd": "run", "steps": N}     time N full training steps -> {"ms": [...]}
    {"cmd": "profile", "steps": N} numpygpt only: per-Function forward/backward time
    {"cmd": "matmul"}              float32 matmul throughput of this process's BLAS
    {"cmd": "sample", "tokens": N, "how": H}
                                   time generating N tokens with batch 1 (top-k 40, temperature 0.8):
                                   H "generate" calls model.generate as a learner would, H "command"
                                   runs what the sample command runs (numpygpt.sample.sample; for
                                   PyTorch, nanoGPT's sample.py calls generate too)
    {"cmd": "mem"}                 peak resident memory of this process (MB)
Thread counts are set by the parent through the environment before numpy/torch load.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def batch(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, cfg["vocab_size"], (cfg["batch_size"], cfg["block_size"]))
    return x, np.roll(x, -1, axis=1)


def numpy_side(cfg: dict):
    import numpygpt.nn as nn
    from numpygpt.models import GPT, GPTConfig
    from numpygpt.optim import AdamW, configure_weight_decay
    from numpygpt.perf import tune_malloc

    tune_malloc()
    nn.manual_seed(0)
    model = GPT(GPTConfig(**{k: cfg[k] for k in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "gelu")}))
    opt = AdamW(configure_weight_decay(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))
    x, y = batch(cfg)

    def step(phases: dict | None = None) -> float:
        t0 = time.perf_counter()
        _, loss = model(x, y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if phases is not None:
            phases["forward"] += t1 - t0
            phases["backward"] += t2 - t1
            phases["optimizer"] += time.perf_counter() - t2
        return loss.item()

    def sample(n: int, how: str) -> None:
        import io

        from numpygpt.sample import sample as sample_command
        from numpygpt.tokenizer import CharTokenizer

        model.eval()
        if how == "command":
            tokenizer = CharTokenizer([chr(32 + i) for i in range(cfg["vocab_size"])])
            sample_command(model, tokenizer, tokenizer.decode([int(x[0, 0])]), n, 0.8, 40, seed=0, out=io.StringIO())
        else:
            model.generate(x[:1, :1], n, temperature=0.8, top_k=40, seed=0)
        model.train()

    return model, step, sample


def torch_side(cfg: dict, state: dict[str, np.ndarray] | None = None):
    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    from torch_gpt import TorchGPT, TorchGPTConfig

    torch.manual_seed(0)
    model = TorchGPT(
        TorchGPTConfig(**{k: cfg[k] for k in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "gelu")})
    )
    if state is not None:
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99)
    )
    x, y = (torch.from_numpy(a) for a in batch(cfg))

    def step() -> float:
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    def sample(n: int, how: str) -> None:  # nanoGPT's sample.py calls generate: one way for both
        model.eval()
        model.generate(x[:1, :1], n, temperature=0.8, top_k=40, generator=torch.Generator().manual_seed(0))
        model.train()

    return model, step, sample


def profile(step, steps: int) -> dict:
    """Time every Function subclass's forward and backward during `steps` training steps."""
    from numpygpt.autograd import Function

    times: dict[str, float] = defaultdict(float)

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    originals = {}
    for cls in set(subclasses(Function)):
        for kind in ("forward", "backward"):
            if kind in cls.__dict__:
                fn = cls.__dict__[kind]
                originals[(cls, kind)] = fn

                def timed(self, *a, _fn=fn, _key=f"{cls.__name__}.{kind}", **k):
                    t = time.perf_counter()
                    r = _fn(self, *a, **k)
                    times[_key] += time.perf_counter() - t
                    return r

                setattr(cls, kind, timed)
    phases: dict[str, float] = defaultdict(float)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(phases)
    total = time.perf_counter() - t0
    for (cls, kind), fn in originals.items():
        setattr(cls, kind, fn)
    return {
        "total_ms": total * 1000 / steps,
        "ops": {k: v * 1000 / steps for k, v in times.items()},
        "phases": {k: v * 1000 / steps for k, v in phases.items()},
    }


def peak_memory_mb() -> float:
    """This process's peak resident memory.

    NOTE: VmHWM from /proc, not getrusage's ru_maxrss: on Linux ru_maxrss survives exec, so a
    worker started by a parent that had imported torch would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_gflops() -> float:
    """float32 GFLOP/s of one large matrix product: the best of ten, so noise cannot lower it."""
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    best = np.inf
    for _ in range(10):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    side, cfg = sys.argv[1], json.loads(sys.argv[2])
    if side == "numpy":
        model, step, sample = numpy_side(cfg)
    else:
        state = dict(np.load(cfg["state_path"])) if cfg.get("state_path") else None
        model, step, sample = torch_side(cfg, state)
    reply({"ready": True})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            ms = []
            for _ in range(cmd["steps"]):
                t = time.perf_counter()
                step()
                ms.append((time.perf_counter() - t) * 1000)
            reply({"ms": ms})
        elif cmd["cmd"] == "profile":
            reply(profile(step, cmd["steps"]))
        elif cmd["cmd"] == "matmul":
            reply({"gflops": matmul_gflops()})
        elif cmd["cmd"] == "sample":
            runs = []
            for _ in range(cmd.get("repeats", 3)):
                time.sleep(0.3)  # let the other process's idle BLAS threads stop spinning
                t = time.perf_counter()
                sample(cmd["tokens"], cmd.get("how", "generate"))
                runs.append(time.perf_counter() - t)
            reply({"seconds": float(np.median(runs)), "runs": runs})
        elif cmd["cmd"] == "mem":
            reply({"peak_mb": peak_memory_mb()})
        elif cmd["cmd"] == "quit":
            break


if __name__ == "__main__":
    main()

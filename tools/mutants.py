"""Classic mistakes, each a small exact-text patch to the reference, and proof that a test catches it.

    python tools/mutants.py              every mutant (what `nox -s mutants` runs)
    python tools/mutants.py NAME ...     only these
    python tools/mutants.py --list       the catalogue with its hints

For each mutant: copy the five stages to a scratch folder (the real tree is never touched),
apply the patch there, run the owning stage's tests with `-x -q` and PYTHONPATH on the
scratch copy's src folders, and report the first failing test and the first line of its
message. A mutant that no test catches is a hole in the tests: the run exits non-zero, as
it does when a mutant's `old` snippet is no longer in the reference (the catalogue must not
rot silently when the code changes). The first failing test's message should name the
mistake in a learner's words; a caught mutant whose message does not is marked "weak".

Stdlib only; the Python running it needs numpy, pytest and hypothesis (nox installs them).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stagetests import ROOT, STAGES, Outcome, copy_stages, run_tests


@dataclass(frozen=True)
class Mutant:
    """One classic mistake: replace `old` (which must occur exactly once in `file`) by `new`."""

    name: str
    file: str  # relative to the repository root; the stage is its first folder
    old: str
    new: str
    hint: str  # what the learner did wrong, in their words

    @property
    def stage(self) -> str:
        return self.file.split("/")[0]


# Two test runs side by side on two cores: one BLAS thread each, or they fight over the cores.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

A = "stage01_autograd/src/numpygpt/autograd/"
N = "stage02_layers/src/numpygpt/nn/"
OPT = "stage03_optim/src/numpygpt/optim/"
D = "stage04_data/src/numpygpt/"
G = "stage05_gpt/src/numpygpt/"

MUTANTS: list[Mutant] = [
    # ----- stage01: autograd -------------------------------------------------------------------
    Mutant(
        "grad-assigned-not-accumulated",
        A + "engine.py",
        "        x.grad.data += gx.data\n",
        "        x.grad.data = gx.data\n",
        "a leaf's .grad must add up (+=) across backward calls, never be overwritten (=)",
    ),
    Mutant(
        "shared-tensor-grad-overwritten",
        A + "engine.py",
        "pending[id(x)] = gx if prev is None else prev + gx",
        "pending[id(x)] = gx",
        "a tensor used by two Functions must receive the sum of both gradients",
    ),
    Mutant(
        "backward-ignores-generation",
        A + "engine.py",
        "heapq.heappush(heap, (-f.generation, id(f), f))",
        "heapq.heappush(heap, (len(seen), id(f), f))",
        "backward visits Functions in the order it finds them, not newest generation first",
    ),
    Mutant(
        "sum-to-is-a-no-op",
        A + "ops/shape.py",
        "    if x.shape == tuple(shape):\n        return x\n    return SumTo(shape)(x)\n",
        "    return x\n",
        "backward never undoes broadcasting: gradients keep the broadcast shape",
    ),
    Mutant(
        "mul-backward-swapped",
        A + "ops/elementwise.py",
        "ga = sum_to(gy * b, a.shape)",
        "ga = sum_to(gy * a, a.shape)",
        "d(a*b)/da is b, not a",
    ),
    Mutant(
        "tanh-derivative-wrong",
        A + "ops/elementwise.py",
        "return gy * (1 - y * y)",
        "return gy * (1 - y)",
        "d tanh(x)/dx is 1 - tanh(x)^2, not 1 - tanh(x)",
    ),
    Mutant(
        "scalar-grad-assigned",
        A + "scalar.py",
        "            self.grad += other.data * out.grad\n",
        "            self.grad = other.data * out.grad\n",
        "micrograd's classic: a Scalar used twice (x * x) must accumulate both gradients",
    ),
    Mutant(
        "scalar-backward-wrong-order",
        A + "scalar.py",
        "        for node in reversed(topo):\n",
        "        for node in topo:\n",
        "Scalar.backward must run _backward from the output towards the leaves",
    ),
    Mutant(
        "gradcheck-one-sided-difference",
        A + "gradcheck.py",
        "g[j] = (f_plus - f_minus) / (2 * eps)",
        "g[j] = (f_plus - f_minus) / eps",
        "a central difference divides by the full step, 2 eps",
    ),
    # ----- stage02: layers ---------------------------------------------------------------------
    Mutant(
        "softmax-without-max-shift",
        N + "functional/softmax.py",
        "        y = x - x.max(axis=self.dim, keepdims=True)\n",
        "        y = x.copy()\n",
        "softmax must subtract the row max before exp, or large logits overflow to inf/nan",
    ),
    Mutant(
        "softmax-backward-missing-sum",
        N + "functional/softmax.py",
        "return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))",
        "return y * gy",
        "softmax's Jacobian is diag(y) - y y^T: the - sum(gy * y) term is missing",
    ),
    Mutant(
        "cross-entropy-missing-1-over-n",
        N + "functional/cross_entropy.py",
        'scale = gy / max(self.count, 1) if self.reduction == "mean" else gy',
        "scale = gy",
        "the mean loss divides by N, so its gradient must too",
    ),
    Mutant(
        "layer-norm-missing-mean-terms",
        N + "functional/layer_norm.py",
        "        gx -= m1[:, None]\n        gx -= xhat * m2[:, None]\n",
        "",
        "layer-norm backward forgot the paths through the mean and the variance",
    ),
    Mutant(
        "attention-without-causal-mask",
        N + "functional/attention.py",
        "        bias = causal_bias(L, S, dt.str)\n",
        "        bias = None\n",
        "is_causal=True must hide the future: query i sees keys 0..i only",
    ),
    Mutant(
        "attention-mask-hides-the-diagonal",
        N + "functional/attention.py",
        "np.full((L, S), -np.inf, dtype=dtype), k=1)",
        "np.full((L, S), -np.inf, dtype=dtype), k=0)",
        "the causal mask is off by one: a token must see itself (np.triu(..., k=1))",
    ),
    Mutant(
        "attention-scale-1-over-d",
        N + "functional/attention.py",
        "scale = 1.0 / math.sqrt(E) if scale is None else scale",
        "scale = 1.0 / E if scale is None else scale",
        "attention scores are scaled by 1/sqrt(d), not 1/d",
    ),
    Mutant(
        "dropout-active-in-eval",
        N + "layers.py",
        "return F.dropout(x, self.p, self.training)",
        "return F.dropout(x, self.p, True)",
        "nn.Dropout must be the identity after model.eval()",
    ),
    Mutant(
        "dropout-without-rescale",
        N + "functional/dropout.py",
        "return keep * np.asarray(1.0 / (1.0 - p), dtype=dtype) if p < 1 else np.zeros(shape, dtype)",
        "return keep.astype(dtype)",
        "inverted dropout scales the kept values by 1/(1-p), so the expected output is unchanged",
    ),
    Mutant(
        "embedding-backward-drops-repeated-ids",
        N + "functional/embedding.py",
        "out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)",
        "out[ids] = rows",
        "a token id used twice must get the sum of both gradients (W[ids] = ... keeps only one)",
    ),
    Mutant(
        "tied-parameter-listed-twice",
        N + "module.py",
        "if p is None or (remove_duplicate and id(p) in seen):",
        "if p is None:",
        "a tied (shared) parameter must be listed once, or the optimizer updates it twice",
    ),
    # ----- stage03: optim ----------------------------------------------------------------------
    Mutant(
        "adam-without-bias-correction",
        OPT + "adam.py",
        "                bias_correction1 = 1 - beta1**t\n                bias_correction2 = 1 - beta2**t\n",
        "                bias_correction1 = 1.0\n                bias_correction2 = 1.0\n",
        "Adam divides m and v by (1 - beta^t): they start at 0 and are too small early on",
    ),
    Mutant(
        "adamw-weight-decay-in-the-gradient",
        OPT + "adam.py",
        "                    if decoupled:\n",
        "                    if False:\n",
        "AdamW shrinks the weights directly (decoupled); adding λθ to the gradient is Adam's L2",
    ),
    Mutant(
        "sgd-momentum-never-decays",
        OPT + "sgd.py",
        "buf *= momentum  # b_t",
        "buf *= 1.0  # b_t",
        "the momentum buffer is b = μ b + g: the old buffer must be multiplied by μ",
    ),
    Mutant(
        "clip-also-scales-small-gradients-up",
        OPT + "clip.py",
        "clip_coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), one)",
        "clip_coef = total.dtype.type(max_norm) / (total + total.dtype.type(1e-6))",
        "clipping only ever scales down: min(max_norm / norm, 1)",
    ),
    Mutant(
        "warmup-starts-at-zero",
        OPT + "lr_scheduler.py",
        "return base_lr * (it + 1) / (self.warmup_iters + 1)",
        "return base_lr * it / self.warmup_iters",
        "warm-up step it uses lr * (it + 1) / (warmup_iters + 1): the first step is not wasted at lr 0",
    ),
    # ----- stage04: data -----------------------------------------------------------------------
    Mutant(
        "get-batch-targets-not-shifted",
        D + "utils/data/batch.py",
        "y = np.ascontiguousarray(windows[:, 1:])",
        "y = np.ascontiguousarray(windows[:, :-1])",
        "the target of position t is the token at t + 1: y is x shifted left by one",
    ),
    Mutant(
        "token-dataset-targets-not-shifted",
        D + "utils/data/dataset.py",
        "return window[:-1], window[1:]",
        "return window[:-1], window[:-1]",
        "the target of position t is the token at t + 1: y is x shifted left by one",
    ),
    Mutant(
        "get-batch-never-draws-the-last-window",
        D + "utils/data/batch.py",
        "rng.integers(0, len(data) - block_size, size=batch_size)",
        "rng.integers(0, len(data) - block_size - 1, size=batch_size)",
        "an off-by-one in the start range: the window ending at the last token is never drawn",
    ),
    Mutant(
        "char-vocab-not-sorted",
        D + "tokenizer/char.py",
        "self.chars: list[str] = sorted(vocab)",
        "self.chars: list[str] = list(vocab)",
        "a set has no stable order: sort the characters, or ids change from run to run",
    ),
    Mutant(
        "bpe-merge-overlaps",
        D + "tokenizer/bpe.py",
        "            out.append(new_id)\n            i += 2\n",
        "            out.append(new_id)\n            i += 1\n",
        "after merging a pair, skip both of its tokens (i += 2)",
    ),
    # ----- stage05: the GPT --------------------------------------------------------------------
    Mutant(
        "gpt-attention-not-causal",
        G + "models/gpt.py",
        "q, k, v, is_causal=True,",
        "q, k, v, is_causal=False,",
        "a language model must not see the tokens it is asked to predict: is_causal=True",
    ),
    Mutant(
        "gpt-head-untied",
        G + "models/gpt.py",
        "self.lm_head.weight = self.transformer.wte.weight",
        "self.lm_head.weight = nn.Parameter(self.transformer.wte.weight.data.copy())",
        "weight tying: lm_head must share wte's Parameter, not a copy of it",
    ),
    Mutant(
        "gpt-attention-dropout-in-eval",
        G + "models/gpt.py",
        "is_causal=True, dropout_p=self.dropout if self.training else 0.0",
        "is_causal=True, dropout_p=self.dropout",
        "attention dropout must be off in eval mode (a functional op does not know model.eval())",
    ),
    Mutant(
        "gpt-no-residual",
        G + "models/gpt.py",
        "x = x + self.attn(self.ln_1(x))",
        "x = self.attn(self.ln_1(x))",
        "each block adds to the residual stream: x = x + attn(ln_1(x))",
    ),
    Mutant(
        "gpt-no-position-embedding",
        G + "models/gpt.py",
        "x = tr.drop(tok + pos)",
        "x = tr.drop(tok)",
        "the input is token embedding + position embedding",
    ),
    Mutant(
        "generate-does-not-crop-context",
        G + "models/gpt.py",
        "context = idx[:, -self.config.block_size :]",
        "context = idx",
        "generation must feed at most block_size tokens back in",
    ),
    Mutant(
        "kv-cache-new-token-at-position-zero",
        G + "models/gpt.py",
        "logits = self.next_token_logits(idx[:, seen:], start=seen)",
        "logits = self.next_token_logits(idx[:, seen:])",
        "with a KV cache the new token sits at position P (the tokens cached), not 0: its position embedding must say so",
    ),
    Mutant(
        "kv-cache-mask-aligned-top-left",
        G + "models/kv_cache.py",
        "np.tril(np.ones((T, self.pos), dtype=bool), k=self.pos - T)",
        "np.tril(np.ones((T, self.pos), dtype=bool))",
        "queries fed after a cache are the newest positions: the causal mask is aligned to the bottom right",
    ),
]


def check_catalogue(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Every problem with the catalogue: a duplicate name, or an `old` snippet not found exactly once."""
    problems = []
    names = [m.name for m in mutants]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"mutant name {n!r} is used twice")
    for m in mutants:
        path = root / m.file
        if m.stage not in STAGES:
            problems.append(f"{m.name}: {m.file} is not in a stage folder")
            continue
        if not path.is_file():
            problems.append(f"{m.name}: {m.file} does not exist")
            continue
        n = path.read_text(encoding="utf-8").count(m.old)
        if n != 1:
            problems.append(
                f"{m.name}: its snippet occurs {n} times in {m.file} (it must occur exactly once): {m.old.strip()[:70]!r}"
            )
    return problems


def run_one(m: Mutant, scratch: Path) -> Outcome:
    """Apply `m` in the scratch copy, run its stage's tests, put the file back."""
    path = scratch / m.file
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(m.old, m.new, 1), encoding="utf-8")
    try:
        srcs = [scratch / s / "src" for s in STAGES[: STAGES.index(m.stage) + 1]]
        return run_tests(scratch / m.stage / "tests", srcs, ["-x", "-q"], env_extra=ONE_THREAD)
    finally:
        path.write_text(original, encoding="utf-8")


def baseline(scratch: Path, stages: list[str]) -> list[str]:
    """The stages whose unmutated tests fail in the scratch copy (then no verdict means anything)."""
    bad = []
    for s in stages:
        srcs = [scratch / f / "src" for f in STAGES[: STAGES.index(s) + 1]]
        out = run_tests(scratch / s / "tests", srcs, ["-x", "-q"], env_extra=ONE_THREAD)
        if not out.passed:
            bad.append(f"{s}: {out.first_failure}: {out.message}")
    return bad


def is_weak(message: str) -> bool:
    """A message that does not explain the mistake: empty, or a bare `assert` expression."""
    return not message or message.startswith("assert ") or message.startswith("(no test ran)")


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """A plain-text table: mutant | verdict | caught by | message."""
    header = ("mutant", "verdict", "caught by", "message")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header[:3], widths, strict=True)) + " | " + header[3]]
    lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 40)
    for r in rows:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + " | " + r[3])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring. Returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="run only these mutants (default: all)")
    ap.add_argument("--list", action="store_true", help="list the catalogue and exit")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="mutants run at once (default: 2)")
    ap.add_argument("--no-baseline", action="store_true", help="skip checking that the unmutated tests pass first")
    args = ap.parse_args(argv)

    problems = check_catalogue(MUTANTS)
    if problems:
        print("mutants: the catalogue does not fit the reference any more:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:<40} {m.stage:<17} {m.hint}")
        return 0
    unknown = [n for n in args.names if n not in {m.name for m in MUTANTS}]
    if unknown:
        print(f"mutants: unknown mutant(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="numpygpt-mutants-") as tmp:
        jobs = max(1, args.jobs)
        scratches: queue.Queue[Path] = queue.Queue()
        for i in range(jobs):
            scratches.put(copy_stages(Path(tmp) / f"w{i}"))
        if not args.no_baseline:
            stages = sorted({m.stage for m in chosen}, key=STAGES.index)
            groups = [(Path(tmp) / f"w{i}", stages[i::jobs]) for i in range(jobs)]  # one scratch copy each
            with ThreadPoolExecutor(jobs) as pool:
                bad = sum(pool.map(lambda g: baseline(*g), groups), [])
            if bad:
                print(
                    "mutants: the unmutated reference fails its tests, so no verdict would mean anything:",
                    file=sys.stderr,
                )
                for b in bad:
                    print(f"  {b}", file=sys.stderr)
                return 2
            print(f"baseline: the unmutated tests of {len(stages)} stage(s) pass ({time.perf_counter() - t0:.0f} s)")

        def work(m: Mutant) -> Outcome:
            """Run one mutant in whichever scratch copy is free, and say how it went."""
            scratch = scratches.get()
            try:
                out = run_one(m, scratch)
            finally:
                scratches.put(scratch)
            verdict = "SURVIVED" if out.passed else ("weak" if is_weak(out.message) else "caught")
            print(f"  {m.name}: {verdict} in {out.seconds:.1f} s", flush=True)
            return out

        with ThreadPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(work, chosen))

    rows = []
    for m, out in zip(chosen, outcomes, strict=True):
        if out.passed:
            rows.append((m.name, "SURVIVED", "-", f"no test failed ({out.summary}); hint: {m.hint}"))
        else:
            rows.append((m.name, "weak" if is_weak(out.message) else "caught", out.first_failure, out.message))
    print()
    print(table(rows))
    survived = [m.name for m, o in zip(chosen, outcomes, strict=True) if o.passed]
    weak = [r[0] for r in rows if r[1] == "weak"]
    print()
    print(
        f"{len(chosen) - len(survived)}/{len(chosen)} mutants caught ({len(weak)} with a message that does not "
        f"explain the mistake) in {time.perf_counter() - t0:.0f} s"
    )
    if survived:
        print(f"SURVIVED (holes in the tests): {', '.join(survived)}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

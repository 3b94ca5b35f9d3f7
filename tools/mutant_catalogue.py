"""The catalogue of classic mistakes that tools/mutants.py applies one at a time.

Each Mutant replaces `old` (which must occur exactly once in `file`) by `new`: a mistake a learner
plausibly makes. A mutant whose snippet lies inside an exercise's marked region belongs to that
exercise (tools/mutants.py finds which) and must be caught under that exercise's marker; `expect`
is a regular expression (case-insensitive) that the first failing test's message must match:
the words that name this mistake, so that a message meant for another mistake does not count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One classic mistake: replace `old` (exactly once in `file`) by `new`."""

    name: str
    file: str  # relative to the repository root; the stage is its first folder
    old: str
    new: str
    hint: str  # what the learner did wrong, in their words
    expect: str  # a regular expression the first failure's message must match (it names the mistake)
    select: tuple[str, ...] = ()  # pytest arguments narrowing the tests run (a mutant outside any exercise)

    @property
    def stage(self) -> str:
        return self.file.split("/")[0]


A = "stage01_autograd/src/numpygpt/autograd/"
N = "stage02_layers/src/numpygpt/nn/"
OPT = "stage03_optim/src/numpygpt/optim/"
D = "stage04_data/src/numpygpt/"
G = "stage05_gpt/src/numpygpt/"

MUTANTS: list[Mutant] = [
    # ----- stage01: autograd -------------------------------------------------------------------
    # exercise 1.1: Scalar.backward
    Mutant(
        "scalar-backward-wrong-order",
        A + "scalar.py",
        "        for node in reversed(topo):\n",
        "        for node in topo:\n",
        "Scalar.backward must run _backward from the output towards the leaves",
        expect=r"run them from the output towards the leaves",
    ),
    Mutant(
        "scalar-backward-not-seeded",
        A + "scalar.py",
        "        self.grad = 1.0\n        for node in reversed(topo):\n",
        "        for node in reversed(topo):\n",
        "the output's own gradient d(out)/d(out) = 1 must be set before the closures run",
        expect=r"d\(d\)/d\(d\), is 1",
    ),
    Mutant(
        "scalar-backward-visits-a-node-twice",
        A + "scalar.py",
        "                visited.add(id(node))\n",
        "",
        "the topological sort keeps a visited set: a node used twice must not be listed (and run) twice",
        expect=r"ran its _backward twice",
    ),
    # exercise 1.2: Scalar a * b
    Mutant(
        "scalar-grad-assigned",
        A + "scalar.py",
        "            self.grad += other.data * out.grad\n",
        "            self.grad = other.data * out.grad\n",
        "micrograd's classic: a Scalar used twice (x * x) must accumulate both gradients",
        expect=r"must add \(\+=\) every share",
    ),
    Mutant(
        "scalar-mul-derivatives-swapped",
        A + "scalar.py",
        "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n",
        "            self.grad += self.data * out.grad\n            other.grad += other.data * out.grad\n",
        "d(a*b)/da is b and d(a*b)/db is a, not the other way round",
        expect=r"gradients of a and b are swapped",
    ),
    Mutant(
        "scalar-mul-ignores-out-grad",
        A + "scalar.py",
        "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n",
        "            self.grad += other.data\n            other.grad += self.data\n",
        "the chain rule multiplies the local derivative by out.grad",
        expect=r"ignores out\.grad",
    ),
    # exercise 1.3: numerical_vjp
    Mutant(
        "gradcheck-one-sided-difference",
        A + "gradcheck.py",
        "g[j] = (f_plus - f_minus) / (2 * eps)",
        "g[j] = (f_plus - f_minus) / eps",
        "a central difference divides by the full step, 2 eps",
        expect=r"twice the derivative.*divide by 2 eps",
    ),
    Mutant(
        "numerical-vjp-forward-difference",
        A + "gradcheck.py",
        "            x.data[j] = orig - eps\n            f_minus = objective()\n",
        "            x.data[j] = orig - eps\n            f_minus = objective()\n            x.data[j] = orig\n            f_minus = objective() - (f_plus - objective())\n",
        "a one-sided difference (f(x + eps) - f(x)) / eps is off by about eps * f'': use the central one",
        expect=r"one-sided difference",
    ),
    Mutant(
        "numerical-vjp-leaves-the-input-nudged",
        A + "gradcheck.py",
        "            f_minus = objective()\n            x.data[j] = orig\n",
        "            f_minus = objective()\n",
        "after nudging an element, put it back: the caller's tensor must come back unchanged",
        expect=r"put each element back",
    ),
    Mutant(
        "numerical-vjp-nudges-a-copy",
        A + "gradcheck.py",
        "        for j in np.ndindex(x.shape):\n            orig = x.data[j]\n            x.data[j] = orig + eps\n            f_plus = objective()\n            x.data[j] = orig - eps\n            f_minus = objective()\n            x.data[j] = orig\n            g[j] = (f_plus - f_minus) / (2 * eps)\n",
        "        flat, gflat = x.data.reshape(-1), g.reshape(-1)\n        for j in range(flat.size):\n            orig = flat[j]\n            flat[j] = orig + eps\n            f_plus = objective()\n            flat[j] = orig - eps\n            f_minus = objective()\n            flat[j] = orig\n            gflat[j] = (f_plus - f_minus) / (2 * eps)\n",
        "x.data.reshape(-1) is a copy for a non-contiguous array: nudging it leaves x unchanged",
        expect=r"nudges did not reach x",
    ),
    # exercise 1.4: the backward loop
    Mutant(
        "shared-tensor-grad-overwritten",
        A + "engine.py",
        "pending[id(x)] = gx if prev is None else prev + gx",
        "pending[id(x)] = gx",
        "a tensor used by two Functions must receive the sum of both gradients",
        expect=r"only one branch's gradient.*never overwrite",
    ),
    Mutant(
        "backward-ignores-generation",
        A + "engine.py",
        "heapq.heappush(heap, (-f.generation, id(f), f))",
        "heapq.heappush(heap, (len(seen), id(f), f))",
        "backward visits Functions in the order it finds them, not newest generation first",
        expect=r"pop Functions newest generation first",
    ),
    Mutant(
        "backward-oldest-generation-first",
        A + "engine.py",
        "heapq.heappush(heap, (-f.generation, id(f), f))",
        "heapq.heappush(heap, (f.generation, id(f), f))",
        "Python's heapq pops the smallest: push -generation to pop the newest Function first",
        expect=r"newest generation first|from the output down",
    ),
    Mutant(
        "backward-runs-a-function-twice",
        A + "engine.py",
        "            if id(f) not in seen:\n                seen.add(id(f))\n                # NOTE",
        "            if True:\n                # NOTE",
        "a Function whose outputs feed several users must still be scheduled (and run) once",
        expect=r"ran backward 2 times: schedule each Function once",
    ),
    Mutant(
        "leaf-grad-assigned-in-the-loop",
        A + "engine.py",
        "                    _accumulate(x, gx, gys, create_graph)\n                else:",
        "                    x.grad = gx\n                else:",
        "a leaf's gradient goes through _accumulate, which adds to .grad (and copies a borrowed array)",
        expect=r"never assigned",
    ),
    Mutant(
        "backward-constant-gets-a-grad",
        A + "engine.py",
        "                if not needed or gx is None:\n",
        "                if gx is None:\n",
        "an input that does not require grad gets no gradient, whatever backward returned for it",
        expect=r"constant \(requires_grad=False\) input received a \.grad",
    ),
    Mutant(
        "backward-single-gradient-not-wrapped",
        A + "engine.py",
        "            if not isinstance(gxs, tuple):\n                gxs = (gxs,)\n",
        "",
        "a one-input Function's backward returns one Tensor, not a tuple of one",
        expect=r"returns its one gradient as a Tensor, not a tuple",
    ),
    Mutant(
        "backward-no-gradient-count-check",
        A + "engine.py",
        "            if len(gxs) != len(f.inputs):\n",
        "            if len(gxs) > len(f.inputs):\n",
        "a backward returning fewer gradients than inputs must stop the loop with a clear error",
        expect=r"one gradient per input",
    ),
    Mutant(
        "backward-no-shape-check",
        A + "engine.py",
        "                if gx.shape != x.shape:\n",
        "                if gx.ndim < x.ndim:\n",
        "a gradient of the wrong shape must stop the loop, naming the Function (did it forget sum_to?)",
        expect=r"check that each gradient a backward returns has its input's shape",
    ),
    Mutant(
        "backward-errors-not-named",
        A + "engine.py",
        "            except Exception as e:\n                raise _backward_error(f, e) from e\n",
        "            except ZeroDivisionError as e:\n                raise _backward_error(f, e) from e\n",
        "an error inside a backward must be re-raised by _backward_error, naming the Function and its history",
        expect=r"_backward_error",
    ),
    # exercise 1.5: Mul.backward
    Mutant(
        "mul-backward-swapped",
        A + "ops/elementwise.py",
        "ga = sum_to(gy * b, a.shape)",
        "ga = sum_to(gy * a, a.shape)",
        "d(a*b)/da is b, not a",
        expect=r"gradients of a and b are swapped",
    ),
    Mutant(
        "mul-backward-forgets-gy",
        A + "ops/elementwise.py",
        "ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None\n        gb = sum_to(gy * a, b.shape)",
        "ga = sum_to(b * 1, a.shape) if self.needs_input_grad[0] else None\n        gb = sum_to(a * 1, b.shape)",
        "the chain rule multiplies the local derivative by the upstream gradient gy",
        expect=r"gy is missing",
    ),
    Mutant(
        "mul-backward-no-sum-to",
        A + "ops/elementwise.py",
        "gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None",
        "gb = gy * a if self.needs_input_grad[1] else None",
        "a broadcast input's gradient must be summed back to its shape",
        expect=r"keeps the broadcast shape.*sum_to",
    ),
    # exercise 1.6: _sum_to_array
    Mutant(
        "sum-to-only-leading-dims",
        A + "ops/shape.py",
        "    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)\n",
        "    axes = tuple(range(lead))\n",
        "broadcasting also stretches size-1 dimensions: sum over those too",
        expect=r"only the \d leading dimension|stretched from size 1 was not summed",
    ),
    Mutant(
        "sum-to-drops-the-size-1-dims",
        A + "ops/shape.py",
        "    y = x.sum(axis=axes, keepdims=True) if axes else x\n    return y.reshape(shape) if lead or y.shape != shape else y\n",
        "    return x.sum(axis=axes) if axes else x\n",
        "summing a stretched dimension must keep it with size 1: the result has exactly the target shape",
        expect=r"summed away, not kept with size 1",
    ),
    # exercise 1.7: MatMul.backward
    Mutant(
        "matmul-backward-no-transpose",
        A + "ops/matmul.py",
        "ga = sum_to(gy @ _mT(b), a.shape)",
        "ga = sum_to(gy @ b, a.shape)",
        "the gradient of a is gy @ b^T: b must be transposed",
        expect=r"only one product of gy with a transposed operand",
    ),
    Mutant(
        "matmul-backward-no-batch-sum",
        A + "ops/matmul.py",
        "gb = sum_to(_mT(a) @ gy, b.shape)",
        "gb = _mT(a) @ gy",
        "b used by every matrix of a batch gets the sum of their gradients",
        expect=r"keeps the batch dimension",
    ),
    # outside the exercises
    Mutant(
        "grad-assigned-not-accumulated",
        A + "engine.py",
        "        x.grad.data += gx.data\n",
        "        x.grad.data = gx.data\n",
        "a leaf's .grad must add up (+=) across backward calls, never be overwritten (=)",
        expect=r"never assigned",
        select=("tests/test_engine.py",),
    ),
    Mutant(
        "sum-to-is-a-no-op",
        A + "ops/shape.py",
        "    if x.shape == tuple(shape):\n        return x\n    return SumTo(shape)(x)\n",
        "    return x\n",
        "backward never undoes broadcasting: gradients keep the broadcast shape",
        expect=r"did backward undo broadcasting \(sum_to\)",
        select=("tests/test_broadcasting.py",),
    ),
    Mutant(
        "tanh-derivative-wrong",
        A + "ops/elementwise.py",
        "return gy * (1 - y * y)",
        "return gy * (1 - y)",
        "d tanh(x)/dx is 1 - tanh(x)^2, not 1 - tanh(x)",
        expect=r"the backward of tanh disagrees with central differences",
        select=("tests/test_ops.py", "-k", "tanh"),
    ),
    Mutant(
        "getitem-backward-drops-repeated-indices",
        A + "ops/shape.py",
        "            np.add.at(gx, self.index, gy)\n",
        "            gx[self.index] = gy\n",
        "x[[0, 0]] uses element 0 twice: its gradient must add both (np.add.at), not keep one",
        expect=r"repeated.ind",
        select=("tests/test_ops.py", "-k", "repeated"),
    ),
    Mutant(
        "grad-mode-decorator-not-restored-on-error",
        A + "mode.py",
        "            with set_grad_enabled(mode):\n                return fn(*args, **kwargs)\n",
        "            prev = is_grad_enabled()\n            set_grad_enabled(mode)\n            out = fn(*args, **kwargs)\n            set_grad_enabled(prev)\n            return out\n",
        "@no_grad() must restore grad mode even when the decorated function raises",
        expect=r"the decorator must restore the mode even when the function raises",
        select=("tests/test_engine.py", "-k", "grad"),
    ),
    Mutant(
        "gradcheck-upstream-gradient-of-ones",
        A + "gradcheck.py",
        "grads = [rng.standard_normal(o.shape) for o in outs]",
        "grads = [np.ones(o.shape) for o in outs]",
        "an upstream gradient of ones sees only the Jacobian's column sums: softmax's are 0 whatever backward does",
        expect=r"cannot see this wrong softmax",
        select=("tests/test_gradcheck.py",),
    ),
    Mutant(
        "gradcheck-upstream-gradient-tied-to-the-seed",
        A + "gradcheck.py",
        "rng = np.random.default_rng([seed, UPSTREAM_STREAM])",
        "rng = np.random.default_rng(seed)",
        "default_rng(seed) repeats the draws of a test's own default_rng(seed): g proportional to x",
        expect=r"nearly proportional",
        select=("tests/test_gradcheck.py",),
    ),
    Mutant(
        "gradcheck-passes-most-elements",
        A + "gradcheck.py",
        "        if (err > 0).any() or not np.isfinite(ana).all():\n",
        "        if (err > 0).mean() > 0.5 or not np.isfinite(ana).all():\n",
        "every element of the gradient must agree, not most of them",
        expect=r"wrong in one element only",
        select=("tests/test_gradcheck.py",),
    ),
    # ----- stage02: layers ---------------------------------------------------------------------
    Mutant(
        "softmax-without-max-shift",
        N + "functional/softmax.py",
        "        y = x - x.max(axis=self.dim, keepdims=True)\n",
        "        y = x.copy()\n",
        "softmax must subtract the row max before exp, or large logits overflow to inf/nan",
        expect=r"overflow|inf|nan|finite",
        select=("tests/test_numerics.py",),
    ),
    Mutant(
        "softmax-backward-missing-sum",
        N + "functional/softmax.py",
        "return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))",
        "return y * gy",
        "softmax's Jacobian is diag(y) - y y^T: the - sum(gy * y) term is missing",
        expect=r"softmax's backward is",
    ),
    Mutant(
        "cross-entropy-missing-1-over-n",
        N + "functional/cross_entropy.py",
        'scale = gy / max(self.count, 1) if self.reduction == "mean" else gy',
        "scale = gy",
        "the mean loss divides by N, so its gradient must too",
        expect=r"divided by N",
    ),
    Mutant(
        "layer-norm-missing-mean-terms",
        N + "functional/layer_norm.py",
        "        gx -= m1[:, None]\n        gx -= xhat * m2[:, None]\n",
        "",
        "layer-norm backward forgot the paths through the mean and the variance",
        expect=r"the two mean terms",
    ),
    Mutant(
        "attention-without-causal-mask",
        N + "functional/attention.py",
        "        bias = causal_bias(L, S, dt.str)\n",
        "        bias = None\n",
        "is_causal=True must hide the future: query i sees keys 0..i only",
        expect=r"is_causal hide exactly the keys j > i",
        select=("tests/test_fused_vs_composed.py", "-k", "sdpa"),
    ),
    Mutant(
        "attention-mask-hides-the-diagonal",
        N + "functional/attention.py",
        "np.full((L, S), -np.inf, dtype=dtype), k=1)",
        "np.full((L, S), -np.inf, dtype=dtype), k=0)",
        "the causal mask is off by one: a token must see itself (np.triu(..., k=1))",
        expect=r"a query sees itself and the past",
    ),
    Mutant(
        "attention-scale-1-over-d",
        N + "functional/attention.py",
        "scale = 1.0 / math.sqrt(E) if scale is None else scale",
        "scale = 1.0 / E if scale is None else scale",
        "attention scores are scaled by 1/sqrt(d), not 1/d",
        expect=r"scaled by 1/sqrt\(E\)",
        select=("tests/test_fused_vs_composed.py", "-k", "sdpa"),
    ),
    Mutant(
        "dropout-active-in-eval",
        N + "layers.py",
        "return F.dropout(x, self.p, self.training)",
        "return F.dropout(x, self.p, True)",
        "nn.Dropout must be the identity after model.eval()",
        expect=r"dropout must be off after model.eval\(\)",
        select=("tests/test_module.py",),
    ),
    Mutant(
        "dropout-without-rescale",
        N + "functional/dropout.py",
        "return keep * np.asarray(1.0 / (1.0 - p), dtype=dtype) if p < 1 else np.zeros(shape, dtype)",
        "return keep.astype(dtype)",
        "inverted dropout scales the kept values by 1/(1-p), so the expected output is unchanged",
        expect=r"scaled by 1/\(1-p\)",
        select=("tests/test_fused_vs_composed.py", "-k", "dropout"),
    ),
    Mutant(
        "embedding-backward-drops-repeated-ids",
        N + "functional/embedding.py",
        "out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)",
        "out[ids] = rows",
        "a token id used twice must get the sum of both gradients (W[ids] = ... keeps only one)",
        expect=r"a repeated id adds up",
        select=("tests/test_fused_vs_composed.py", "-k", "embedding"),
    ),
    Mutant(
        "tied-parameter-listed-twice",
        N + "module.py",
        "if p is None or (remove_duplicate and id(p) in seen):",
        "if p is None:",
        "a tied (shared) parameter must be listed once, or the optimizer updates it twice",
        expect=r"each parameter once",
    ),
    # ----- stage03: optim ----------------------------------------------------------------------
    Mutant(
        "adam-without-bias-correction",
        OPT + "adam.py",
        "                bias_correction1 = 1 - beta1**t\n                bias_correction2 = 1 - beta2**t\n",
        "                bias_correction1 = 1.0\n                bias_correction2 = 1.0\n",
        "Adam divides m and v by (1 - beta^t): they start at 0 and are too small early on",
        expect=r"bias correction",
    ),
    Mutant(
        "adamw-weight-decay-in-the-gradient",
        OPT + "adam.py",
        "                    if decoupled:\n",
        "                    if False:\n",
        "AdamW shrinks the weights directly (decoupled); adding λθ to the gradient is Adam's L2",
        expect=r"never add λθ to the gradient",
    ),
    Mutant(
        "sgd-momentum-never-decays",
        OPT + "sgd.py",
        "buf *= momentum  # b_t",
        "buf *= 1.0  # b_t",
        "the momentum buffer is b = μ b + g: the old buffer must be multiplied by μ",
        expect=r"the old buffer decays by μ",
    ),
    Mutant(
        "clip-also-scales-small-gradients-up",
        OPT + "clip.py",
        "clip_coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), one)",
        "clip_coef = total.dtype.type(max_norm) / (total + total.dtype.type(1e-6))",
        "clipping only ever scales down: min(max_norm / norm, 1)",
        expect=r"min\(max_norm / norm, 1\)",
    ),
    Mutant(
        "warmup-starts-at-zero",
        OPT + "lr_scheduler.py",
        "return base_lr * (it + 1) / (self.warmup_iters + 1)",
        "return base_lr * it / self.warmup_iters",
        "warm-up step it uses lr * (it + 1) / (warmup_iters + 1): the first step is not wasted at lr 0",
        expect=r"warmup starts at lr/\(W\+1\), not 0",
    ),
    # ----- stage04: data -----------------------------------------------------------------------
    Mutant(
        "get-batch-targets-not-shifted",
        D + "utils/data/batch.py",
        "y = np.ascontiguousarray(windows[:, 1:])",
        "y = np.ascontiguousarray(windows[:, :-1])",
        "the target of position t is the token at t + 1: y is x shifted left by one",
        expect=r"y must be x shifted left by one",
    ),
    Mutant(
        "token-dataset-targets-not-shifted",
        D + "utils/data/dataset.py",
        "return window[:-1], window[1:]",
        "return window[:-1], window[:-1]",
        "the target of position t is the token at t + 1: y is x shifted left by one",
        expect=r"y must be x shifted left by one",
    ),
    Mutant(
        "get-batch-never-draws-the-last-window",
        D + "utils/data/batch.py",
        "rng.integers(0, len(data) - block_size, size=batch_size)",
        "rng.integers(0, len(data) - block_size - 1, size=batch_size)",
        "an off-by-one in the start range: the window ending at the last token is never drawn",
        expect=r"the last window ends on the last token",
    ),
    Mutant(
        "char-vocab-not-sorted",
        D + "tokenizer/char.py",
        "self.chars: list[str] = sorted(vocab)",
        "self.chars: list[str] = list(vocab)",
        "a set has no stable order: sort the characters, or ids change from run to run",
        expect=r"sorted by code point",
        select=("tests/test_char_tokenizer.py",),
    ),
    Mutant(
        "bpe-merge-overlaps",
        D + "tokenizer/bpe.py",
        "            out.append(new_id)\n            i += 2\n",
        "            out.append(new_id)\n            i += 1\n",
        "after merging a pair, skip both of its tokens (i += 2)",
        expect=r"occurrences must not overlap",
    ),
    # ----- stage05: the GPT --------------------------------------------------------------------
    Mutant(
        "gpt-attention-not-causal",
        G + "models/gpt.py",
        "q, k, v, is_causal=True,",
        "q, k, v, is_causal=False,",
        "a language model must not see the tokens it is asked to predict: is_causal=True",
        expect=r"attend causally",
    ),
    Mutant(
        "gpt-head-untied",
        G + "models/gpt.py",
        "self.lm_head.weight = self.transformer.wte.weight",
        "self.lm_head.weight = nn.Parameter(self.transformer.wte.weight.data.copy())",
        "weight tying: lm_head must share wte's Parameter, not a copy of it",
        expect=r"weight tying",
        select=("tests/test_model.py",),
    ),
    Mutant(
        "gpt-attention-dropout-in-eval",
        G + "models/gpt.py",
        "is_causal=True, dropout_p=self.dropout if self.training else 0.0",
        "is_causal=True, dropout_p=self.dropout",
        "attention dropout must be off in eval mode (a functional op does not know model.eval())",
        expect=r"every dropout, including attention's dropout_p, must be off after model.eval\(\)",
    ),
    Mutant(
        "gpt-no-residual",
        G + "models/gpt.py",
        "x = x + self.attn(self.ln_1(x))",
        "x = self.attn(self.ln_1(x))",
        "each block adds to the residual stream: x = x + attn(ln_1(x))",
        expect=r"added to the residual stream",
    ),
    Mutant(
        "gpt-no-position-embedding",
        G + "models/gpt.py",
        "x = tr.drop(tok + pos)",
        "x = tr.drop(tok)",
        "the input is token embedding + position embedding",
        expect=r"is the position embedding added",
    ),
    Mutant(
        "generate-does-not-crop-context",
        G + "models/gpt.py",
        "context = idx[:, -self.config.block_size :]",
        "context = idx",
        "generation must feed at most block_size tokens back in",
        expect=r"exceed block_size",
        select=("tests/test_generate.py",),
    ),
    Mutant(
        "kv-cache-new-token-at-position-zero",
        G + "models/gpt.py",
        "logits = self.next_token_logits(idx[:, seen:], start=seen)",
        "logits = self.next_token_logits(idx[:, seen:])",
        "with a KV cache the new token sits at position P (the tokens cached), not 0: its position embedding must say so",
        expect=r"with the cache holding P tokens it sits at position P",
        select=("tests/test_sampling_with_cache.py", "-k", "next_position"),
    ),
    Mutant(
        "kv-cache-mask-aligned-top-left",
        G + "models/kv_cache.py",
        "np.tril(np.ones((T, self.pos), dtype=bool), k=self.pos - T)",
        "np.tril(np.ones((T, self.pos), dtype=bool))",
        "queries fed after a cache are the newest positions: the causal mask is aligned to the bottom right",
        expect=r"aligned to the newest position \(bottom right\)",
        select=("tests/test_sampling_with_cache.py", "-k", "chunks"),
    ),
]

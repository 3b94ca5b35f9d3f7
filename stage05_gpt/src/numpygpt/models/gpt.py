"""The GPT: token and position embeddings, n_layer pre-LayerNorm blocks, a tied LM head.

Parameter names follow GPT-2's (transformer.wte.weight, transformer.h.0.attn.c_attn.weight,
...), with Linear weights stored (out_features, in_features) as PyTorch does, so a
state_dict moves between this model and PyTorch GPT implementations without renaming.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad
from numpygpt.nn import init

from .heads import merge_heads, split_heads
from .kv_cache import KVCache


@dataclass
class GPTConfig:
    block_size: int = 64  # the longest context the model sees (positions 0..block_size-1)
    vocab_size: int = 65  # number of distinct tokens (65 characters in tiny Shakespeare)
    n_layer: int = 4  # number of transformer blocks
    n_head: int = 4  # attention heads per block; n_embd must divide evenly among them
    n_embd: int = 128  # width of the residual stream
    dropout: float = 0.0  # dropout on attention weights, and after attention and MLP
    bias: bool = True  # biases in the Linear layers and LayerNorms, as GPT-2
    gelu: str = "tanh"  # GPT-2's tanh-approximated GELU ("none" = the exact erf form)

    def __post_init__(self) -> None:
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"GPTConfig: {name} must be a positive int, got {getattr(self, name)!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout}")
        if self.gelu not in ("none", "tanh"):
            raise ValueError(f"GPTConfig: gelu must be 'none' or 'tanh', got {self.gelu!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.dropout = config.n_head, config.dropout
        self.kv_cache: KVCache | None = None  # set by GPT.stream for each generation step

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, T, C); nh = n_head heads of size hs = C / nh
        if self.kv_cache is not None:
            return self.forward_cached(x, self.kv_cache)
        # exercise 5.1: CausalSelfAttention.forward: q, k, v heads from c_attn(x), causal attention (dropout only in training), heads merged, c_proj
        q, k, v = split_heads(self.c_attn(x), self.n_head)  # (B, T, 3C) -> 3 x (B, nh, T, hs)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, T, hs)
        y = merge_heads(y)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y))
        # end exercise 5.1

    def forward_cached(self, x: Tensor, cache: KVCache) -> Tensor:
        """forward during generation: x (B, T, C) holds only the tokens the cache has not seen;
        their queries attend to the P cached keys and values and to their own."""
        q, k, v = split_heads(self.c_attn(x), self.n_head)  # 3 x (B, nh, T, hs)
        k, v = cache.update(k, v)  # (B, nh, P + T, hs): the cached positions, then these T
        mask = cache.attention_mask(q.shape[2])  # (T, P + T): causal, aligned to the newest position
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )  # (B, nh, T, hs)
        return self.resid_dropout(self.c_proj(merge_heads(y)))  # (B, T, C)


class MLP(nn.Module):
    """Position-wise feed-forward: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(x)): pre-LayerNorm residual block."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        # exercise 5.2: Block.forward: x = x + attn(ln_1(x)), then x + mlp(ln_2(x))
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
        # end exercise 5.2


class Transformer(nn.ModuleDict):
    """The ModuleDict holding GPT-2's `transformer.*` entries; the annotations let a type checker
    see what each one is (a plain ModuleDict's entries are unknown until run time)."""

    wte: nn.Embedding  # token embedding (V, C)
    wpe: nn.Embedding  # position embedding (block_size, C)
    drop: nn.Dropout
    h: nn.ModuleList  # the n_layer Blocks
    ln_f: nn.LayerNorm  # the final LayerNorm


class GPT(nn.Module):
    """GPT-2 architecture (Radford et al., 2019) sized by a GPTConfig."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = Transformer(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the output layer scores each token with its own input embedding.
        self.lm_head.weight = self.transformer.wte.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2's init: N(0, 0.02) weights, zero biases, and the projections that write into
        the residual stream scaled by 1/sqrt(2 n_layer), so its variance stays put with depth."""
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                init.normal_(p, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
            elif name.endswith(".bias"):
                init.zeros_(p)
            elif p.ndim == 2:
                init.normal_(p, 0.0, 0.02)

    def forward(
        self, idx: Tensor | np.ndarray, targets: Tensor | np.ndarray | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) token ids -> logits (B, T, vocab_size), and the mean cross-entropy
        against `targets` (B, T) when given (else None)."""
        ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(
                f"GPT.forward: idx must be a (B, T) array of integer token ids, got shape {ids.shape}, dtype {ids.dtype}"
            )
        B, T = ids.shape
        if self.config.block_size < T:
            raise ValueError(f"GPT.forward: sequence length {T} exceeds block_size {self.config.block_size}")
        # exercise 5.3: GPT.forward: token + position embeddings, the blocks, ln_f, the tied lm_head; the mean cross-entropy when targets are given
        tr = self.transformer
        tok = tr.wte(ids)  # (B, T, C)
        pos = tr.wpe(np.arange(T))  # (T, C), broadcast over the batch
        x = tr.drop(tok + pos)  # (B, T, C)
        for block in tr.h:
            x = block(x)  # (B, T, C)
        x = tr.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
        if t.shape != (B, T):
            raise ValueError(f"GPT.forward: targets shape {t.shape} should equal idx shape {(B, T)}")
        loss = F.cross_entropy(logits.reshape(B * T, -1), t.reshape(-1))
        return logits, loss
        # end exercise 5.3

    @no_grad()
    def stream(
        self,
        idx: np.ndarray,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[np.ndarray]:
        """Yield max_new_tokens next tokens (B,) one at a time, each fed back in.

        With use_cache, each layer keeps the keys and values of the tokens it has seen (a
        KVCache in its attention), so a step runs the model on the new token only, for as
        long as the context fits in block_size. After that the context is cropped and every
        token moves to a new position: the cached keys no longer hold, and each step runs on
        the whole cropped context, as without a cache. Both ways give the same tokens.
        """
        if temperature < 0 or not math.isfinite(temperature):
            raise ValueError(f"generate: temperature must be >= 0 (0 = greedy), got {temperature}")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"generate: top_k must be a positive int or None, got {top_k!r}")
        if max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"generate: idx must be (B, T) with T >= 1 prompt tokens, got shape {idx.shape}")
        rng = np.random.default_rng(seed) if seed is not None else nn.default_generator()
        caches = [KVCache(self.config.block_size) for _ in self.transformer.h] if use_cache else None
        for _ in range(max_new_tokens):
            if caches is not None and idx.shape[1] <= self.config.block_size:
                seen = caches[0].pos  # feed only the tokens the caches have not seen yet
                with self.kv_caches(caches):
                    logits = self.next_token_logits(idx[:, seen:], start=seen)
            else:
                caches = None  # cropping moves every position: the cached keys are stale for good
                context = idx[:, -self.config.block_size :]  # crop: the model knows block_size positions
                logits = self.next_token_logits(context)
            # (B, V) scores for the next token; float64 for the sampling arithmetic only (V numbers)
            logits = logits.astype(np.float64)
            # exercise 5.4: sampling the next token: argmax at temperature 0; else logits / temperature, keep the top_k, softmax, one uniform draw per row
            if temperature == 0:
                nxt = logits.argmax(axis=-1)
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    kth = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs /= probs.sum(axis=-1, keepdims=True)
                # Inverse-CDF sampling: one uniform number per row.
                u = rng.random((probs.shape[0], 1))
                nxt = np.minimum((probs.cumsum(axis=-1) < u).sum(axis=-1), probs.shape[-1] - 1)
            # end exercise 5.4
            nxt = nxt.astype(idx.dtype)
            idx = np.concatenate([idx, nxt[:, None]], axis=1)
            yield nxt

    def generate(
        self,
        idx: np.ndarray,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> np.ndarray:
        """Extend idx (B, T) by max_new_tokens sampled tokens -> (B, T + max_new_tokens).

        temperature 0 picks the most likely token (greedy); top_k keeps only the k most
        likely tokens before sampling; seed makes the sample reproducible; use_cache keeps
        each layer's keys and values between steps (see `stream`): the same tokens, faster.
        """
        idx = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        new = list(self.stream(idx, max_new_tokens, temperature, top_k, seed, use_cache))
        return np.concatenate([idx, np.stack(new, axis=1)], axis=1) if new else idx

    def next_token_logits(self, idx: np.ndarray, start: int = 0) -> np.ndarray:
        """The forward pass of generation: scores (B, V) for the token after idx (B, T), whose
        first token sits at position `start` (the number of tokens the KV caches hold).

        As `forward`, but ln_f and lm_head run on the last position only: the others' scores
        are never used, and at GPT-2's vocabulary the head is the largest product of a step.
        """
        B, T = idx.shape
        if start + T > self.config.block_size:
            raise ValueError(f"GPT: positions {start}..{start + T - 1} exceed block_size {self.config.block_size}")
        tr = self.transformer
        x = tr.wte(idx) + tr.wpe(np.arange(start, start + T))  # (B, T, C)
        for block in tr.h:
            x = block(x)  # (B, T, C)
        x = tr.ln_f(x[:, T - 1 :])  # (B, 1, C)
        return self.lm_head(x).data[:, 0]  # (B, V)

    @contextlib.contextmanager
    def kv_caches(self, caches: list[KVCache]) -> Iterator[None]:
        """Give each layer's attention its cache for the duration of one step, then take them back,
        so that a forward pass outside generation never sees a cache."""
        attentions = [cast(Block, block).attn for block in self.transformer.h]
        for attn, cache in zip(attentions, caches, strict=True):
            attn.kv_cache = cache
        try:
            yield
        finally:
            for attn in attentions:
                attn.kv_cache = None

    def flops_per_token(self) -> float:
        """Training FLOPs per token (forward + backward): 6 per parameter per token for the
        matmuls, plus attention's 12 * n_layer * n_embd * block_size (PaLM appendix B)."""
        c = self.config
        n = self.num_parameters() - self.transformer.wpe.weight.data.size
        return 6.0 * n + 12.0 * c.n_layer * c.n_embd * c.block_size

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Any], config: GPTConfig) -> GPT:
        """A GPT of `config` holding the arrays of `state_dict` (GPT-2 names)."""
        model = cls(config)
        model.load_state_dict(state_dict)
        return model

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def crop_block_size(self, block_size: int) -> None:
        """Keep only the first block_size positions (nanoGPT's surgery for fine-tuning GPT-2's 1024
        on shorter contexts): the position table shrinks to (block_size, C); nothing else depends on it."""
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, int)
            or not 1 <= block_size <= self.config.block_size
        ):
            raise ValueError(
                f"crop_block_size: block_size must be an int in 1..{self.config.block_size}, got {block_size!r}"
            )
        wpe = self.transformer.wpe
        wpe.weight = nn.Parameter(wpe.weight.data[:block_size].copy())  # (block_size, C)
        wpe.num_embeddings = block_size
        self.config = dataclasses.replace(self.config, block_size=block_size)

    @classmethod
    def from_pretrained(cls, name_or_folder: str | Path, dropout: float = 0.0) -> GPT:
        """OpenAI's GPT-2 ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", from the Hugging Face hub)
        or a folder in Hugging Face's layout (config.json + model.safetensors), in eval mode.
        Needs the `hub` extra; see models/pretrained.py for the name mapping."""
        from .pretrained import from_pretrained

        return from_pretrained(name_or_folder, dropout)

    def save_pretrained(self, folder: str | Path, tokenizer: Any = None) -> list[Path]:
        """Write this model (and a GPT-2 or BPE tokenizer) in Hugging Face's layout, which
        transformers.GPT2LMHeadModel.from_pretrained loads; returns the files written."""
        from .pretrained import save_pretrained

        return save_pretrained(self, folder, tokenizer)

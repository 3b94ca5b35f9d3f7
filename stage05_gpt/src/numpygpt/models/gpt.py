"""The GPT: token and position embeddings, n_layer pre-LayerNorm blocks, a tied LM head.

Parameter names follow GPT-2's (transformer.wte.weight, transformer.h.0.attn.c_attn.weight,
...), with Linear weights stored (out_features, in_features) as PyTorch does, so a
state_dict moves between this model and PyTorch GPT implementations without renaming.

Four options of GPTConfig (models/config.py) swap in the changes LLaMA made to GPT-2 (the
stage05 lesson, "Experiments"): norm="rmsnorm", mlp="swiglu", position="rope" and
n_kv_head < n_head (grouped-query attention). Their defaults are GPT-2: the same modules,
names, shapes and numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np

import numpygpt.nn as nn
import numpygpt.nn.functional as F
from numpygpt.autograd import Tensor, no_grad
from numpygpt.autograd.checks import check_int, is_int
from numpygpt.nn import init
from numpygpt.perf import blas_threads

from . import _checks
from .config import GPTConfig
from .heads import merge_heads, split_heads
from .kv_cache import KVCache


def norm(config: GPTConfig) -> nn.LayerNorm | nn.RMSNorm:
    """The normalisation of the residual stream: GPT-2's LayerNorm, or RMSNorm (norm="rmsnorm",
    eps 1e-5 as the LayerNorm's, so that the normalisation is the only change)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=1e-5)
    return nn.LayerNorm(config.n_embd, bias=config.bias)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only.

    With n_kv_head < n_head, grouped-query attention: each of the n_kv_head key/value heads is
    shared by n_head / n_kv_head query heads (1: multi-query). With position="rope", q and k are
    rotated by their positions (rotary embeddings) before their scores are taken.
    """

    def __init__(self, config: GPTConfig) -> None:
        _checks.check_instance(config, GPTConfig, "config", "CausalSelfAttention")
        super().__init__()
        hs = config.n_embd // config.n_head
        self.n_head, self.n_kv_head, self.dropout = config.n_head, config.kv_heads, config.dropout
        # q, k, v at once: n_head query heads, then n_kv_head key and n_kv_head value heads of hs each (3C wide
        # when n_kv_head = n_head, GPT-2's c_attn)
        self.c_attn = nn.Linear(config.n_embd, (self.n_head + 2 * self.n_kv_head) * hs, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.grouped = self.n_kv_head < self.n_head  # query heads share key/value heads (enable_gqa)
        # RoPE's cos and sin tables for positions 0..block_size-1 (extended if generation goes past them): no parameters
        self.rotary = nn.RotaryEmbedding(hs, config.block_size) if config.position == "rope" else None
        self.kv_cache: KVCache | None = None  # set by GPT.stream for each generation step

    def forward(self, x: Tensor) -> Tensor:
        # x: (B, T, C); nh = n_head query heads and nkv = n_kv_head key/value heads, of size hs = C / nh
        _checks.hidden_states(x, self.c_proj.out_features, "CausalSelfAttention.forward")
        if self.kv_cache is not None:
            return self.forward_cached(x, self.kv_cache)
        # exercise 5.1: CausalSelfAttention.forward: causal multi-head self-attention of x, from c_attn to resid_dropout
        q, k, v = split_heads(self.c_attn(x), self.n_head, self.n_kv_head)  # q (B, nh, T, hs), k and v (B, nkv, T, hs)
        if self.rotary is not None:
            q, k = self.rotary(q, k)  # RoPE: row t of q and of k rotated by position t
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0, enable_gqa=self.grouped
        )  # (B, nh, T, hs)
        y = merge_heads(y)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y))
        # end exercise 5.1

    def forward_cached(self, x: Tensor, cache: KVCache) -> Tensor:
        """forward during generation: x (B, T, C) holds only the tokens the cache has not seen;
        their queries attend to the cached keys and values they may see and to their own."""
        _checks.hidden_states(x, self.c_proj.out_features, "CausalSelfAttention.forward_cached")
        _checks.check_instance(cache, KVCache, "cache", "CausalSelfAttention.forward_cached")
        q, k, v = self.heads(self.c_attn(x), offset=cache.pos)  # q (B, nh, T, hs), k and v (B, nkv, T, hs)
        k, v = cache.update(k, v)  # (B, nkv, S, hs): the S positions these T queries may see, these T last
        mask = cache.attention_mask(q.shape[2])  # (T, S): causal, aligned to the newest position
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, enable_gqa=self.grouped
        )  # (B, nh, T, hs)
        return self.resid_dropout(self.c_proj(merge_heads(y)))  # (B, T, C)

    def heads(self, qkv: Tensor, offset: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """c_attn's output (B, T, (nh + 2 nkv) hs) as q (B, nh, T, hs), k and v (B, nkv, T, hs), q and k
        rotated by the positions offset..offset+T-1 when the positions are rotary."""
        _checks.projected(qkv, Tensor, self.c_attn.out_features, "CausalSelfAttention.heads")
        offset = check_int("CausalSelfAttention.heads", "offset", offset, min=0)
        q, k, v = split_heads(qkv, self.n_head, self.n_kv_head)
        if self.rotary is not None:  # a key keeps the rotation of its absolute position for good
            q, k = self.rotary(q, k, offset=offset)
        return q, k, v

    @no_grad()
    def queries_keys(self, qkv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """q and k (B, nh, T, hs) whose scaled products are this layer's attention scores, from c_attn's
        output qkv (B, T, (nh + 2 nkv) hs) at positions 0..T-1: rotated (RoPE), and each key head
        repeated for the query heads that share it (head h reads key head h // (nh / nkv)).
        For the diagnostics and attention maps, which watch c_attn's output."""
        _checks.projected(qkv, np.ndarray, self.c_attn.out_features, "CausalSelfAttention.queries_keys")
        q, k, _ = self.heads(Tensor(qkv))
        return q.data, np.repeat(k.data, self.n_head // self.n_kv_head, axis=1)


class MLP(nn.Module):
    """Position-wise feed-forward. GPT-2's (mlp="gelu"): widen 4x, GELU, project back.

    LLaMA's (mlp="swiglu"): c_proj(silu(c_fc(x)) * c_up(x)), hidden width 8/3 n_embd rounded up to
    a multiple of 64. c_fc, c_up and c_proj are LLaMA's gate_proj, up_proj and down_proj: c_fc's
    output goes through the nonlinearity, as in GPT-2's MLP.
    """

    def __init__(self, config: GPTConfig) -> None:
        _checks.check_instance(config, GPTConfig, "config", "MLP")
        super().__init__()
        hidden = config.mlp_hidden
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu) if config.mlp == "gelu" else None
        self.c_up = nn.Linear(config.n_embd, hidden, bias=config.bias) if config.mlp == "swiglu" else None
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        _checks.hidden_states(x, self.c_fc.in_features, "MLP.forward")
        if self.c_up is not None:  # SwiGLU: the gate silu(c_fc(x)) scales c_up(x), elementwise
            return self.dropout(self.c_proj(F.swiglu(self.c_fc(x), self.c_up(x))))  # (B, T, C)
        assert self.gelu is not None
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(x)): pre-LayerNorm residual block (ln_1 and ln_2 are
    RMSNorms with norm="rmsnorm")."""

    def __init__(self, config: GPTConfig) -> None:
        _checks.check_instance(config, GPTConfig, "config", "Block")
        super().__init__()
        self.ln_1 = norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = norm(config)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        _checks.hidden_states(x, self.mlp.c_fc.in_features, "Block.forward")
        # exercise 5.2: Block.forward: the pre-LayerNorm residual block of attention and MLP
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
        # end exercise 5.2


class Transformer(nn.ModuleDict):
    """The ModuleDict holding GPT-2's `transformer.*` entries; the annotations let a type checker
    see what each one is (a plain ModuleDict's entries are unknown until run time)."""

    wte: nn.Embedding  # token embedding (V, C)
    wpe: nn.Embedding  # position embedding (block_size, C); none with position="rope"
    drop: nn.Dropout
    h: nn.ModuleList  # the n_layer Blocks
    ln_f: nn.LayerNorm | nn.RMSNorm  # the final normalisation


class GPT(nn.Module):
    """GPT-2 architecture (Radford et al., 2019) sized by a GPTConfig."""

    def __init__(self, config: GPTConfig) -> None:
        _checks.check_instance(config, GPTConfig, "config", "GPT")
        super().__init__()
        self.config = config
        embeddings = {"wte": nn.Embedding(config.vocab_size, config.n_embd)}
        if config.position == "learned":  # with rope, positions enter inside attention, as rotations
            embeddings["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        self.transformer = Transformer(
            dict(
                **embeddings,
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                ln_f=norm(config),
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
        ids = _checks.token_ids(idx, "idx", "GPT.forward")
        if targets is not None and _checks.token_ids(targets, "targets", "GPT.forward").shape != ids.shape:
            raise ValueError(f"GPT.forward: targets shape {np.shape(targets)} should equal idx shape {ids.shape}")
        B, T = ids.shape
        if self.config.block_size < T:
            raise ValueError(f"GPT.forward: sequence length {T} exceeds block_size {self.config.block_size}")
        # exercise 5.3: GPT.forward: from token ids to logits, and the loss when targets are given
        tr = self.transformer
        tok = tr.wte(ids)  # (B, T, C)
        if self.config.position == "rope":
            x = tr.drop(tok)  # no position embedding: attention rotates q and k by their positions
        else:
            pos = tr.wpe(np.arange(T))  # (T, C), broadcast over the batch
            x = tr.drop(tok + pos)  # (B, T, C)
        for block in tr.h:
            x = block(x)  # (B, T, C)
        x = tr.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)  # (B, T): checked above
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
        KVCache in its attention), so a step runs the model on the new token only. Within
        block_size both ways give the same tokens. Past it, without a cache the context is
        cropped to its last block_size tokens and run again from position 0 at every step.
        With learned positions, cropping moves every token to a new position: the cached keys
        no longer hold, and the cached path does the same. With rotary positions a key keeps
        the rotation of its absolute position, so the cache slides instead: each new token
        attends to the keys and values of the block_size newest positions, computed once each
        (a prompt longer than block_size is cropped to its last block_size tokens first).
        """
        max_new_tokens, top_k = _checks.sampling(max_new_tokens, temperature, top_k, seed, use_cache)
        idx = _checks.token_ids(idx, "idx", "generate")
        rng = np.random.default_rng(seed) if seed is not None else nn.default_generator()
        block_size, sliding = self.config.block_size, self.config.position == "rope"
        caches = [KVCache(block_size, sliding=sliding) for _ in self.transformer.h] if use_cache else None
        seen = max(0, idx.shape[1] - block_size) if sliding else 0  # idx[:, seen:]: what the caches have not seen
        for _ in range(max_new_tokens):
            if caches is not None and (sliding or idx.shape[1] <= block_size):
                with self.kv_caches(caches):  # feed only the tokens the caches have not seen yet
                    logits = self.next_token_logits(idx[:, seen:], start=caches[0].pos)
                seen = idx.shape[1]
            else:
                caches = None  # cropping moves every position: the cached keys are stale for good
                context = idx[:, -self.config.block_size :]  # crop: the model knows block_size positions
                logits = self.next_token_logits(context)
            # (B, V) scores for the next token; float64 for the sampling arithmetic only (V numbers)
            logits = logits.astype(np.float64)
            _checks.finite_scores(logits, temperature)
            # exercise 5.4: sampling the next token of each row from the logits, with temperature and top_k
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
        each layer's keys and values between steps (see `stream`): the same tokens, faster
        (past block_size with position="rope", a sliding window instead of a cropped context).
        """
        idx = _checks.token_ids(idx, "idx", "generate")
        new = list(self.stream(idx, max_new_tokens, temperature, top_k, seed, use_cache))
        return np.concatenate([idx, np.stack(new, axis=1)], axis=1) if new else idx

    def next_token_logits(self, idx: np.ndarray, start: int = 0) -> np.ndarray:
        """The forward pass of generation: scores (B, V) for the token after idx (B, T), whose
        first token sits at position `start` (the number of tokens the KV caches have seen).

        As `forward`, but ln_f and lm_head run on the last position only: the others' scores
        are never used, and at GPT-2's vocabulary the head is the largest product of a step.
        Rotary positions have no end: only T is limited to block_size (the caches' window).
        """
        idx = _checks.token_ids(idx, "idx", "GPT.next_token_logits")
        start = check_int("GPT.next_token_logits", "start", start, min=0)
        B, T = idx.shape
        c = self.config
        if c.block_size < T or (c.position == "learned" and start + T > c.block_size):
            raise ValueError(
                f"GPT.next_token_logits: positions {start}..{start + T - 1} (start={start}) exceed block_size {c.block_size}"
            )
        tr = self.transformer
        with blas_threads(1):  # NOTE: small products; a second BLAS thread only slows them (see numpygpt/perf.py)
            x = tr.wte(idx)  # (B, T, C)
            if c.position == "learned":
                x = x + tr.wpe(np.arange(start, start + T))  # with rope, the attention layers rotate by position
            for block in tr.h:
                x = block(x)  # (B, T, C)
            x = tr.ln_f(x[:, T - 1 :])  # (B, 1, C)
            return self.lm_head(x).data[:, 0]  # (B, V)

    @contextlib.contextmanager
    def kv_caches(self, caches: list[KVCache]) -> Iterator[None]:
        """Give each layer's attention its cache for the duration of one step, then take them back,
        so that a forward pass outside generation never sees a cache."""
        attentions = [cast(Block, block).attn for block in self.transformer.h]
        _checks.kv_cache_list(caches, len(attentions))
        for attn, cache in zip(attentions, caches, strict=True):
            attn.kv_cache = cache
        try:
            yield
        finally:
            for attn in attentions:
                attn.kv_cache = None

    def flops_per_token(self) -> float:
        """Training FLOPs per token (forward + backward): 6 per parameter per token for the
        matmuls, plus attention's 12 * n_layer * n_embd * block_size (PaLM appendix B).

        The position table is a lookup, not a product: it is left out. So the count follows
        each option: SwiGLU's three matrices, grouped-query attention's narrower c_attn, no
        wpe with rope. The scores term is the same for grouped-query attention (every query
        head still scores block_size keys) and RoPE's rotations are elementwise, not counted.
        """
        c = self.config
        n = self.num_parameters()
        if "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.data.size
        return 6.0 * n + 12.0 * c.n_layer * c.n_embd * c.block_size

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Any], config: GPTConfig) -> GPT:
        """A GPT of `config` holding the arrays of `state_dict` (GPT-2 names)."""
        _checks.check_instance(config, GPTConfig, "config", "GPT.from_state_dict")
        model = init.skip_init(cls, config)  # every weight is loaded next
        model.load_state_dict(state_dict)
        return model

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def crop_block_size(self, block_size: int) -> None:
        """Keep only the first block_size positions (nanoGPT's surgery for fine-tuning GPT-2's 1024
        on shorter contexts): the position table shrinks to (block_size, C); nothing else depends on it
        (with rotary positions there is no table: only the config changes)."""
        if not is_int(block_size) or not 1 <= block_size <= self.config.block_size:
            raise ValueError(
                f"crop_block_size: block_size must be an int in 1..{self.config.block_size}, got {block_size!r}"
            )
        block_size = int(block_size)
        if "wpe" in self.transformer:
            wpe = self.transformer.wpe
            wpe.weight = nn.Parameter(wpe.weight.data[:block_size].copy())  # (block_size, C)
            wpe.num_embeddings = block_size
        self.config = dataclasses.replace(self.config, block_size=block_size)

    @classmethod
    def from_pretrained(cls, name_or_folder: str | Path, dropout: float = 0.0) -> GPT:
        """OpenAI's GPT-2 ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", from the Hugging Face hub)
        or a folder in Hugging Face's layout (config.json + model.safetensors), in eval mode.
        Needs the `hub` extra; see models/pretrained.py for the name mapping."""
        _checks.check_path_like(name_or_folder, "name_or_folder", "GPT.from_pretrained")
        from .pretrained import from_pretrained

        return from_pretrained(name_or_folder, dropout)

    def save_pretrained(self, folder: str | Path, tokenizer: Any = None) -> list[Path]:
        """Write this model (and a GPT-2 or BPE tokenizer) in Hugging Face's layout, which
        transformers.GPT2LMHeadModel.from_pretrained loads; returns the files written."""
        _checks.check_path_like(folder, "folder", "GPT.save_pretrained")
        from .pretrained import save_pretrained

        return save_pretrained(self, folder, tokenizer)

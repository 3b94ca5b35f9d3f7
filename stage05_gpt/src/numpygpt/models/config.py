"""GPTConfig: the sizes of a GPT and the architecture options, checked when it is made.

The defaults are GPT-2's. Four options swap in the changes LLaMA made to it (the stage05
lesson, "Experiments"): norm="rmsnorm", mlp="swiglu", position="rope" and n_kv_head < n_head
(grouped-query attention); models/gpt.py builds what they describe.
"""

from __future__ import annotations

from dataclasses import dataclass

from numpygpt.autograd.checks import MAX_ELEMENTS, check_bool, is_int, is_real


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
    norm: str = "layernorm"  # "rmsnorm": RMSNorm (no mean subtracted, no bias) in place of every LayerNorm
    mlp: str = "gelu"  # "swiglu": c_proj(silu(c_fc(x)) * c_up(x)), hidden 8/3 n_embd rounded up to 64
    position: str = "learned"  # "rope": rotary embeddings of q and k in every attention layer, no wpe
    n_kv_head: int | None = None  # key/value heads: None = n_head, 1 = multi-query, a divisor = grouped-query

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads (n_kv_head, or n_head when it is None)."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def mlp_hidden(self) -> int:
        """The MLP's hidden width: 4 n_embd (GPT-2), or for SwiGLU LLaMA's 8/3 n_embd rounded up to a
        multiple of 64 (three matrices of that width hold about as many weights as GPT-2's two)."""
        if self.mlp == "swiglu":
            return -(-(8 * self.n_embd // 3) // 64) * 64
        return 4 * self.n_embd

    def __post_init__(self) -> None:
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not is_int(value) or value <= 0:
                raise (ValueError if is_int(value) else TypeError)(
                    f"GPTConfig: {name} must be a positive int, got {value!r}"
                )
            setattr(self, name, int(value))  # np.int64(64) is 64: the config stays plain (asdict, JSON)
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        largest = max(self.vocab_size, self.block_size, 4 * self.n_embd) * self.n_embd
        if largest > MAX_ELEMENTS:
            raise ValueError(
                f"GPTConfig: a weight of {largest} numbers (vocab_size, block_size or 4 n_embd, times n_embd) "
                "is more than an array can hold"
            )
        if not is_real(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise (ValueError if is_real(self.dropout) else TypeError)(
                f"GPTConfig: dropout must be in [0, 1), got {self.dropout!r}"
            )
        self.dropout = float(self.dropout)
        self.bias = check_bool("GPTConfig", "bias", self.bias)
        for name, allowed in {"gelu": ("none", "tanh"), **OPTIONS}.items():
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in allowed:
                raise ValueError(
                    f"GPTConfig: {name} must be {' or '.join(map(repr, allowed))}, got {getattr(self, name)!r}"
                )
        kv = self.n_kv_head
        if kv is not None and (not is_int(kv) or kv <= 0 or self.n_head % kv):
            raise ValueError(
                f"GPTConfig: n_kv_head must be None or a divisor of n_head={self.n_head} "
                f"(1 = multi-query, n_head = multi-head attention), got {kv!r}"
            )
        self.n_kv_head = None if kv is None else int(kv)
        if self.position == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError(
                f"GPTConfig: position='rope' rotates pairs of numbers and needs an even head size; "
                f"n_embd / n_head = {self.n_embd} / {self.n_head} = {self.n_embd // self.n_head}"
            )
        if self.mlp == "swiglu" and self.gelu != "tanh":
            raise ValueError(
                f"GPTConfig: gelu={self.gelu!r} has no effect with mlp='swiglu' (its gate is SiLU); leave gelu at 'tanh'"
            )


# The architecture options and their values; the first of each is GPT-2's (the default).
OPTIONS = {"norm": ("layernorm", "rmsnorm"), "mlp": ("gelu", "swiglu"), "position": ("learned", "rope")}

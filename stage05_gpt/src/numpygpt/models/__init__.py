"""numpygpt.models — stage 05: the GPT built from stages 01-04."""

from .gpt import GPT, MLP, Block, CausalSelfAttention, GPTConfig
from .kv_cache import KVCache

__all__ = ["GPT", "GPTConfig", "Block", "CausalSelfAttention", "MLP", "KVCache"]

"""numpygpt.models — stage 05: the GPT built from stages 01-04."""

from .config import GPTConfig
from .gpt import GPT, MLP, Block, CausalSelfAttention
from .kv_cache import KVCache

__all__ = ["GPT", "GPTConfig", "Block", "CausalSelfAttention", "MLP", "KVCache"]

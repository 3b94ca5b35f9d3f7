"""Argument checks at the top of the model's public methods: a mistake named where it is made.

Without them a wrong argument travels into a layer and comes back as that layer's complaint
(`layer_norm: input of shape (1, 2, 5) does not end in normalized_shape (8,)` from a Block, an
AttributeError from `GPT(None)`); with them the message names the model's method, the argument
and what it must be. Each check is a few attribute tests, never a pass over an array.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from numpygpt.autograd import Tensor
from numpygpt.autograd.checks import check_bool, check_int, is_int, is_real, show

from .kv_cache import KVCache


def check_instance(value: Any, cls: type, name: str, where: str) -> None:
    """`value` must be a `cls` (a GPTConfig, a KVCache...)."""
    if not isinstance(value, cls):
        raise TypeError(f"{where}: {name} must be a {cls.__name__}, got {show(value)}")


def projected(qkv: Any, kind: type[Tensor] | type[np.ndarray], width: int, where: str) -> None:
    """`qkv` must be c_attn's output: a floating point `kind` (Tensor or ndarray) of shape (B, T, width)."""
    allowed = f"c_attn's output, a floating point {kind.__name__} (B, T, {width})"
    if not isinstance(qkv, kind):
        raise TypeError(f"{where}: qkv must be {allowed}, got {show(qkv)}")
    if qkv.ndim != 3 or qkv.shape[-1] != width or qkv.dtype.kind != "f":
        raise ValueError(f"{where}: qkv must be {allowed}, got shape {qkv.shape}, dtype {qkv.dtype}")


def check_path_like(value: Any, name: str, where: str) -> None:
    """`value` must name a file or a folder: a non-empty str or an os.PathLike (pathlib.Path)."""
    empty = isinstance(value, str) and value == ""
    if not isinstance(value, (str, os.PathLike)) or empty:
        raise (ValueError if empty else TypeError)(
            f"{where}: {name} must be a non-empty str or a pathlib.Path, got {show(value)}"
        )


def token_ids(idx: Any, name: str, where: str) -> np.ndarray:
    """`idx` (a Tensor, an ndarray or nested lists) as a (B, T) integer array with T >= 1."""
    try:
        ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
    except ValueError:  # a ragged list: [[1, 2], [3]]
        raise ValueError(f"{where}: {name} must be a (B, T) array of integer token ids, got {show(idx)}") from None
    if ids.ndim != 2 or ids.dtype.kind not in "iu" or ids.shape[1] == 0:
        raise ValueError(
            f"{where}: {name} must be a (B, T) array of integer token ids with T >= 1, got shape {ids.shape}, "
            f"dtype {ids.dtype}"
        )
    return ids


def hidden_states(x: Any, n_embd: int, where: str) -> None:
    """`x` must be the residual stream: a floating point Tensor (B, T, n_embd)."""
    allowed = f"a floating point Tensor (B, T, n_embd={n_embd})"
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: x must be {allowed}, got {show(x)}")
    if x.ndim != 3 or x.shape[-1] != n_embd or x.dtype.kind != "f":
        raise ValueError(f"{where}: x must be {allowed}, got a Tensor of shape {x.shape}, dtype {x.dtype}")


def sampling(max_new_tokens: Any, temperature: Any, top_k: Any, seed: Any, use_cache: Any) -> tuple[int, int | None]:
    """generate's settings checked; returns max_new_tokens and top_k as Python ints (np.uint64(3) as 3:
    sampling computes -top_k, which would wrap)."""
    if not is_real(temperature) or temperature < 0 or not math.isfinite(temperature):
        raise ValueError(f"generate: temperature must be >= 0 (0 = greedy), got {show(temperature)}")
    if 0 < temperature < 1e-300:  # logits / temperature would overflow float64
        raise ValueError(f"generate: temperature must be 0 (greedy) or at least 1e-300, got {show(temperature)}")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(f"generate: top_k must be a positive int or None, got {top_k!r}")
    if seed is not None:
        check_int("generate", "seed", seed, min=0)
    check_bool("generate", "use_cache", use_cache)
    return check_int("generate", "max_new_tokens", max_new_tokens, min=0), None if top_k is None else int(top_k)


def finite_scores(logits: np.ndarray, temperature: float) -> None:
    """The next token's scores divided by temperature must be finite: NaN weights (or an overflow)
    would otherwise sample token 0 every time, in silence (PyTorch's multinomial refuses them too)."""
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(logits / (temperature or 1.0)).all()
    if not finite:
        raise ValueError(
            f"generate: the scores of the next token divided by temperature={temperature} are not all finite: "
            "the model's logits hold nan or inf, or the temperature is too small for float64 (0 is greedy)"
        )


def kv_cache_list(caches: Any, n_layer: int) -> None:
    """GPT.kv_caches takes one KVCache per block."""
    if not isinstance(caches, (list, tuple)) or len(caches) != n_layer:
        raise ValueError(
            f"GPT.kv_caches: caches must be a list of {n_layer} KVCaches, one per block, got {show(caches)}"
        )
    for cache in caches:
        check_instance(cache, KVCache, "each of caches", "GPT.kv_caches")

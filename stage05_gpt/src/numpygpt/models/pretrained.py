"""OpenAI's GPT-2 in and out: Hugging Face's folder layout (config.json + model.safetensors) and hub.

Our GPT *is* GPT-2: the same modules under the same names, so the mapping between a Hugging Face
checkpoint and `GPT.state_dict()` is short, and it all lives here:

- names: Hugging Face's GPT2LMHeadModel uses ours (``transformer.h.0.attn.c_attn.weight``);
  checkpoints of the bare GPT2Model, such as OpenAI's on the hub, drop the ``transformer.``
  prefix. ``lm_head.weight`` is the token embedding (tied), so a file may leave it out.
- Conv1D: GPT-2's four projections (c_attn, attn.c_proj, c_fc, mlp.c_proj) were written in
  TensorFlow as ``y = x @ W + b`` with W stored (in_features, out_features); Hugging Face kept
  that layout in a module it calls Conv1D. Our Linear, like PyTorch's, computes
  ``y = x @ W.T + b`` with W stored (out_features, in_features). Same numbers, transposed.
- buffers: older checkpoints store ``attn.bias`` (the causal mask as a (1, 1, 1024, 1024)
  array) and ``attn.masked_bias``; attention here makes its mask on the fly, so they are skipped.
- config: n_positions -> block_size, n_embd, n_layer, n_head, vocab_size as they are; the
  activation "gelu_new" is GPT-2's tanh GELU. Dropout is 0 unless asked for (fine-tuning).

safetensors (reading and writing the weights with NumPy) and huggingface_hub (downloads into
its usual cache, ~/.cache/huggingface/hub) are the optional extra `hub` of this stage, imported
only inside these functions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from numpygpt.nn import init
from numpygpt.tokenizer import BPETokenizer, GPT2Tokenizer
from numpygpt.utils.data.corpus import atomic_write_bytes

from .gpt import GPT, GPTConfig

INSTALL_HINT = "pip install 'numpygpt-stage05-gpt[hub]' (or: pip install safetensors huggingface_hub)"
# The names GPT.from_pretrained knows, and their repositories on the Hugging Face hub.
PRETRAINED = {
    "gpt2": "openai-community/gpt2",  # 124 M parameters
    "gpt2-medium": "openai-community/gpt2-medium",  # 350 M
    "gpt2-large": "openai-community/gpt2-large",  # 774 M
    "gpt2-xl": "openai-community/gpt2-xl",  # 1558 M
}
CONV1D = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
IGNORED_BUFFERS = (".attn.bias", ".attn.masked_bias")  # the causal mask, precomputed (not a parameter)
PREFIX = "transformer."
TIED = "lm_head.weight"
# Hugging Face config key -> GPTConfig field, for the sizes that mean the same thing in both.
CONFIG_NAMES = {
    "n_positions": "block_size",
    "vocab_size": "vocab_size",
    "n_layer": "n_layer",
    "n_head": "n_head",
    "n_embd": "n_embd",
}
ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}  # Hugging Face -> GPTConfig.gelu
# Settings of Hugging Face's GPT-2 that this GPT has one fixed value for: (key, the value it must have).
FIXED = {
    "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
}


class DownloadError(ConnectionError):
    """A file of the Hugging Face hub could not be had (no internet, no such repository or file)."""


def _need(module: str) -> Any:
    """Import an optional dependency, or fail with the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"GPT.from_pretrained / save_pretrained need {module.split('.')[0]}: {INSTALL_HINT}") from e


# ----- config.json ---------------------------------------------------------------------------------


def config_from_hf(hf: dict[str, Any], dropout: float = 0.0) -> GPTConfig:
    """The GPTConfig of a Hugging Face GPT-2 config.json; a ValueError names any setting we cannot run."""
    if hf.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"from_pretrained: config.json describes a {hf.get('model_type')!r} model, not 'gpt2'")
    for key, value in FIXED.items():
        if key in hf and hf[key] != value:
            raise ValueError(f"from_pretrained: config.json has {key}={hf[key]!r}; this GPT supports only {value!r}")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"from_pretrained: config.json has activation_function={activation!r}; expected one of {sorted(ACTIVATIONS)}"
        )
    if hf.get("n_inner") not in (None, 4 * hf.get("n_embd", 768)):
        raise ValueError(f"from_pretrained: config.json has n_inner={hf['n_inner']}; this GPT's MLP is 4 * n_embd wide")
    missing = [k for k in CONFIG_NAMES if k not in hf]
    if missing:
        raise ValueError(f"from_pretrained: config.json lacks {missing}")
    sizes = {ours: hf[theirs] for theirs, ours in CONFIG_NAMES.items()}
    return GPTConfig(**sizes, dropout=dropout, bias=True, gelu=ACTIVATIONS[activation])


def config_to_hf(config: GPTConfig, eos_token_id: int | None = None) -> dict[str, Any]:
    """Hugging Face's config.json for a GPTConfig; a ValueError naming every setting that GPT-2's
    layout cannot hold (no biases, RMSNorm, SwiGLU, rotary positions, shared key/value heads)."""
    defaults = GPTConfig()
    mapped = {*CONFIG_NAMES.values(), "dropout", "gelu"}
    foreign = [
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(GPTConfig)
        if f.name not in mapped
        and getattr(config, f.name) != getattr(defaults, f.name)
        and not (f.name == "n_kv_head" and config.kv_heads == config.n_head)  # as many as n_head: plain GPT-2
    ]
    if foreign:
        raise ValueError(
            f"save_pretrained: GPT-2's layout has no place for {', '.join(foreign)} (Hugging Face's GPT-2 has "
            f"biases, LayerNorm, a GELU MLP 4 n_embd wide, learned positions and a key/value head per query "
            f"head); keep this model as a numpygpt checkpoint"
        )
    activation = next(hf for hf, ours in ACTIVATIONS.items() if ours == config.gelu)
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        **{theirs: getattr(config, ours) for theirs, ours in CONFIG_NAMES.items()},
        "n_inner": None,
        "activation_function": activation,
        **{key: config.dropout for key in ("resid_pdrop", "embd_pdrop", "attn_pdrop")},
        "initializer_range": 0.02,
        **FIXED,
        "bos_token_id": eos_token_id,
        "eos_token_id": eos_token_id,
        "dtype": "float32",
    }


# ----- the weights -----------------------------------------------------------------------------------


def is_conv1d(name: str) -> bool:
    """Whether the Hugging Face weight `name` is stored (in_features, out_features)."""
    return name.endswith(CONV1D)


def state_dict_from_hf(tensors: Iterator[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Our state_dict from Hugging Face's (name, array) pairs: prefix added, Conv1D transposed, buffers skipped."""
    out: dict[str, np.ndarray] = {}
    for name, array in tensors:
        if name.endswith(IGNORED_BUFFERS):
            continue
        ours = name if name.startswith(PREFIX) or name == TIED else PREFIX + name
        out[ours] = array.T if is_conv1d(name) else array
    return out


def state_dict_to_hf(model: GPT) -> dict[str, np.ndarray]:
    """The arrays of Hugging Face's GPT2LMHeadModel file: Conv1D transposed, the tied head left out."""
    return {
        name: np.ascontiguousarray(array.T if is_conv1d(name) else array, dtype=np.float32)
        for name, array in model.state_dict().items()
        if name != TIED
    }


def _read_safetensors(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Each (name, array) of a .safetensors file, one at a time (a 6 GB file never sits in memory twice)."""
    safetensors = _need("safetensors")
    with safetensors.safe_open(str(path), framework="np") as f:
        for name in f.keys():  # noqa: SIM118  (safe_open is not a dict)
            yield name, f.get_tensor(name)


# ----- folders and the hub ---------------------------------------------------------------------------


def resolve(name_or_folder: str | Path, files: tuple[str, ...]) -> Path:
    """The local folder holding `files`: `name_or_folder` itself, or its download from the hub."""
    folder = Path(name_or_folder)
    if folder.is_dir():
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"from_pretrained: {folder} has no {' and no '.join(missing)}")
        return folder
    name = str(name_or_folder)
    if name not in PRETRAINED and "/" not in name:
        raise ValueError(
            f"from_pretrained: {name!r} is neither a folder nor a known name ({', '.join(PRETRAINED)}) "
            "nor a hub repository ('owner/name')"
        )
    return download(PRETRAINED.get(name, name), files, name)


def download(repo_id: str, files: tuple[str, ...], name: str) -> Path:
    """Fetch `files` of a hub repository into huggingface_hub's cache (progress bar, resumable) and
    verify each against the SHA-256 the hub named it by; returns the snapshot folder."""
    hub = _need("huggingface_hub")
    paths = []
    for filename in files:
        try:
            paths.append(Path(hub.hf_hub_download(repo_id=repo_id, filename=filename)))
        except Exception as e:  # NOTE: the hub client raises HTTP, offline and missing-file errors of many types
            raise DownloadError(
                f"from_pretrained: could not get {filename} of {name!r} from the Hugging Face hub "
                f"({type(e).__name__}: {e}). Without internet, copy a folder holding {' + '.join(files)} "
                f"(e.g. from ~/.cache/huggingface/hub on a machine that has it) and pass its path: "
                f"GPT.from_pretrained('path/to/{Path(name).name}'), or --init_from path/to/{Path(name).name} on the command line"
            ) from e
        verify_blob(paths[-1])
    return paths[0].parent


def verify_blob(path: Path) -> None:
    """Check a file of huggingface_hub's cache against its name: a large (LFS) file is stored as
    blobs/<its SHA-256> and the snapshot links to it. Small files (named by a git hash) pass."""
    blob = path.resolve()
    expected = blob.name
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        return
    digest = hashlib.sha256()
    with open(blob, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ValueError(
            f"from_pretrained: {path} is damaged: its SHA-256 is {digest.hexdigest()}, the hub's is {expected}; "
            f"delete {blob} and load again to download it anew"
        )


# ----- the two entry points ------------------------------------------------------------------------


def from_pretrained(name_or_folder: str | Path, dropout: float = 0.0) -> GPT:
    """GPT-2's weights in our GPT, in eval mode (as transformers returns its models).

    Args:
        name_or_folder: a folder in Hugging Face's layout (config.json + model.safetensors), or
            "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl" (or any hub repository "owner/name"
            of a GPT-2), downloaded once into huggingface_hub's cache.
        dropout: the dropout for fine-tuning (0: none, as for inference).
    """
    folder = resolve(name_or_folder, ("config.json", "model.safetensors"))
    hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = init.skip_init(GPT, config_from_hf(hf_config, dropout))  # every weight is loaded below
    state = state_dict_from_hf(_read_safetensors(folder / "model.safetensors"))
    wte = state.get(PREFIX + "wte.weight")
    if TIED in state and wte is not None and not np.array_equal(state[TIED], wte):
        raise ValueError(
            f"from_pretrained: {folder / 'model.safetensors'} holds an lm_head.weight that differs from "
            "transformer.wte.weight; GPT-2 ties them (one matrix for both)"
        )
    if wte is not None:
        state[TIED] = wte  # the tied head is stored once, if at all
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"from_pretrained: {folder / 'model.safetensors'} does not fit its config.json: {e}") from e
    model.eval()
    return model


def tokenizer_from_pretrained(name_or_folder: str | Path) -> GPT2Tokenizer:
    """GPT-2's tokenizer (vocab.json + merges.txt) of a folder or a hub name, as for from_pretrained."""
    return GPT2Tokenizer.from_pretrained(resolve(name_or_folder, ("vocab.json", "merges.txt")))


def save_pretrained(model: GPT, folder: str | Path, tokenizer: Any = None) -> list[Path]:
    """Write `model` in Hugging Face's layout, which transformers.GPT2LMHeadModel.from_pretrained loads.

    config.json and model.safetensors (float32; Conv1D weights transposed; no lm_head.weight, the
    head being tied), plus vocab.json, merges.txt and tokenizer_config.json when `tokenizer` is a
    GPT2Tokenizer or a BPETokenizer. Returns the files written.
    """
    safetensors_numpy = _need("safetensors.numpy")
    if tokenizer is not None and not isinstance(tokenizer, GPT2Tokenizer | BPETokenizer):
        raise TypeError(
            f"save_pretrained: Hugging Face reads byte-level BPE tokenizers only (GPT2Tokenizer, BPETokenizer), "
            f"got {type(tokenizer).__name__}; pass tokenizer=None to write the model alone"
        )
    if tokenizer is not None and tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"save_pretrained: the tokenizer has {tokenizer.vocab_size} tokens, the model's vocab_size is "
            f"{model.config.vocab_size}"
        )
    eos = tokenizer.eot_token if isinstance(tokenizer, GPT2Tokenizer) else None
    hf_config = config_to_hf(model.config, eos)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # NOTE: transformers refuses a safetensors file whose metadata does not say which framework wrote its
    # layout; "pt" is the layout of PyTorch's state dicts, which this is.
    # Written under a temporary name, then renamed: an interrupted export never leaves half a file.
    partial = folder / ".model.safetensors.partial"
    safetensors_numpy.save_file(state_dict_to_hf(model), str(partial), metadata={"format": "pt"})
    os.replace(partial, folder / "model.safetensors")
    atomic_write_bytes(folder / "config.json", (json.dumps(hf_config, indent=2) + "\n").encode("utf-8"))
    written = [folder / "config.json", folder / "model.safetensors"]
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
        written += [folder / "vocab.json", folder / "merges.txt", folder / "tokenizer_config.json"]
    return written

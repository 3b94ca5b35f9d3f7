"""Checkpoints: one .npz file holding arrays and a JSON description of everything else.

    arrays  model/<parameter name>, optimizer/... (numbers too large for JSON)
    meta    a JSON string: iteration, configs, optimizer settings, RNG states, the tokenizer,
            the best validation loss, how many metrics rows the run had written

Writing is atomic (stage04's atomic_writer): the file is written under a temporary name in
the same folder, flushed to disk, then renamed over the old one. A crash or Ctrl-C mid-write
leaves the previous checkpoint whole; a reader never sees half a file.

A checkpoint is checked both ways: an array holding NaN or infinity is never written (a
diverged run cannot overwrite a good checkpoint), and reading one that is damaged, lacks an
array or an entry, holds non-finite numbers or weights of the wrong shape is a
CheckpointError naming the file and what is wrong in it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import numpygpt.nn as nn
from numpygpt.utils.data.corpus import atomic_writer

FORMAT = "numpygpt-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, damaged, or does not fit the model."""


def _encode(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able form of obj; arrays move to `arrays` and leave a reference behind.

    Dicts with non-string keys and tuples are tagged so they come back as they went in.
    """
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _encode(v, f"{prefix}/{k}", arrays) for k, v in obj.items()}
        return {"__dict__": [[k, _encode(v, f"{prefix}/{k}", arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    return obj


def _decode(obj: Any, arrays: dict[str, np.ndarray], path: Path) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            if obj["__array__"] not in arrays:
                raise CheckpointError(f"checkpoint {path}: the array {obj['__array__'].lstrip('/')!r} is missing")
            return np.array(arrays[obj["__array__"]])
        if "__dict__" in obj:
            return {k: _decode(v, arrays, path) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays, path) for v in obj["__tuple__"])
        return {k: _decode(v, arrays, path) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays, path) for v in obj]
    return obj


def non_finite(arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with the first array holding NaN or infinity (`model/w: 3 NaN, 0 inf of 12`), or None."""
    for name, a in arrays.items():
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            return f"{name.lstrip('/')} holds {int(np.isnan(a).sum())} NaN and {int(np.isinf(a).sum())} infinite values of {a.size}"
    return None


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (nested dicts, lists, numbers, strings and ndarrays) to `path` atomically.

    Raises CheckpointError, writing nothing, if an array holds NaN or infinity; an OSError
    (a full disk, a read-only folder) names `path` and leaves the previous file as it was.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = _encode(state, "", arrays)
    if (problem := non_finite(arrays)) is not None:
        raise CheckpointError(f"refusing to write {path}: {problem}")
    payload = {("a" + k): v for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps({"format": FORMAT, "state": meta}))
    try:
        with atomic_writer(path) as f:  # stage04's temporary-file-then-rename writer
            np.savez(f, allow_pickle=False, **payload)  # load_checkpoint refuses pickles: never write one
    except OSError as e:  # OSError(errno, ...) comes back as the matching subclass (PermissionError, ...)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e


def load_checkpoint(path: str | Path, require: Sequence[str] = ()) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, with a clear error if it cannot be.

    `require` names the entries the caller needs (e.g. "model", "tokenizer"); a missing one
    is a CheckpointError, as is a damaged file, a missing array or a non-finite number.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise CheckpointError(f"checkpoint {path} has no 'meta' record: not a numpygpt checkpoint")
            meta = json.loads(str(z["meta"]))
            arrays = {k[1:]: z[k] for k in z.files if k != "meta"}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, json.JSONDecodeError) as e:
        raise CheckpointError(
            f"checkpoint {path} is damaged or not a numpygpt checkpoint ({type(e).__name__}: {e})"
        ) from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path} has format {found!r}, expected {FORMAT!r}")
    state = _decode(meta.get("state"), arrays, path)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds no state (its meta record has no 'state' dict)")
    if (problem := non_finite(arrays)) is not None:
        raise CheckpointError(f"checkpoint {path}: {problem} (was it written by a run that had diverged?)")
    missing = [name for name in require if name not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} has no {', '.join(map(repr, missing))} entry")
    return state


def load_weights(module: nn.Module, weights: Any, path: str | Path) -> None:
    """module.load_state_dict(weights), with a CheckpointError naming the file and what does not fit."""
    if not isinstance(weights, dict) or not all(isinstance(v, np.ndarray) for v in weights.values()):
        raise CheckpointError(f"checkpoint {path}: its 'model' entry is not a dict of arrays")
    wrong_dtype = [f"{k} ({v.dtype})" for k, v in weights.items() if v.dtype.kind != "f"]
    if wrong_dtype:
        raise CheckpointError(f"checkpoint {path}: weights that are not floating-point: {', '.join(wrong_dtype)}")
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path}: its weights do not fit the model its config describes: {e}") from e

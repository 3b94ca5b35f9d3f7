"""Checkpoints: one .npz file holding arrays and a JSON description of everything else.

    arrays  model/<parameter name>, optimizer/... (numbers too large for JSON)
    meta    a JSON string: iteration, configs, optimizer and scheduler settings, RNG states,
            the tokenizer, the best validation loss

Writing is atomic (stage04's atomic_writer): the file is written under a temporary name in
the same folder, flushed to disk, then renamed over the old one. A crash or Ctrl-C mid-write leaves the previous
checkpoint whole; a reader never sees half a file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

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


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            return np.array(arrays[obj["__array__"]])
        if "__dict__" in obj:
            return {k: _decode(v, arrays) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (nested dicts, lists, numbers, strings and ndarrays) to `path` atomically."""
    arrays: dict[str, np.ndarray] = {}
    meta = _encode(state, "", arrays)
    payload = {("a" + k): v for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps({"format": FORMAT, "state": meta}))
    with atomic_writer(path) as f:  # stage04's temporary-file-then-rename writer
        np.savez(f, allow_pickle=False, **payload)  # load_checkpoint refuses pickles: never write one


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint, with a clear error if it cannot be."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"checkpoint {path} has format {meta.get('format')!r}, expected {FORMAT!r}")
            arrays = {k[1:]: z[k] for k in z.files if k != "meta"}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError, json.JSONDecodeError) as e:
        raise CheckpointError(
            f"checkpoint {path} is damaged or not a numpygpt checkpoint ({type(e).__name__}: {e})"
        ) from e
    return _decode(meta["state"], arrays)

"""Checkpoints: what goes in comes back, a write is all or nothing, and a bad file is a clear error.

Every way a checkpoint can be malformed (damaged, not ours, an array or an entry missing,
NaN or infinite numbers, weights of the wrong shape or kind, a config or tokenizer that does
not fit) is a CheckpointError naming the file and what is wrong in it, and the commands
print it as one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from numpygpt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.sample import load_model
from numpygpt.train import train


@pytest.fixture
def trained(cfg: TrainConfig) -> Path:
    train(cfg)
    return Path(cfg.out_dir) / "last.npz"


def rewrite(src: Path, dst: Path, edit: Callable[[dict[str, Any], dict[str, np.ndarray]], None]) -> Path:
    """Copy a checkpoint file, letting `edit` change its description and arrays in place (no checks)."""
    with np.load(src) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    edit(meta, arrays)
    np.savez(dst, **arrays, **({"meta": np.array(json.dumps(meta))} if meta else {}))  # an emptied meta: none
    return dst


@pytest.mark.training
def test_a_checkpoint_round_trip_keeps_types(tmp_path: Path) -> None:
    state = {
        "iter": 3,
        "betas": (0.9, 0.99),
        "state": {0: {"step": 2, "m": np.ones(3, np.float32)}},
        "s": "x",
        "f": math.inf,
    }
    save_checkpoint(tmp_path / "c.npz", state)
    back = load_checkpoint(tmp_path / "c.npz")
    assert back["betas"] == (0.9, 0.99) and back["state"][0]["step"] == 2 and back["s"] == "x" and back["f"] == math.inf
    assert back["state"][0]["m"].dtype == np.float32


@pytest.mark.training
def test_an_interrupted_save_leaves_the_previous_checkpoint_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.npz"
    save_checkpoint(path, {"iter": 1, "w": np.arange(5.0)})

    def savez_then_ctrl_c(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", savez_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"iter": 2, "w": np.zeros(5)})
    ck = load_checkpoint(path)
    assert ck["iter"] == 1 and np.array_equal(ck["w"], np.arange(5.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"], "no temporary file is left behind"


@pytest.mark.training
def test_non_finite_arrays_are_never_written(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.npz", {"iter": 1, "model": {"w": np.ones(4, np.float32)}})
    w = np.ones(4, np.float32)
    w[1], w[2] = np.nan, -np.inf
    with pytest.raises(
        CheckpointError, match=r"refusing to write \S+c.npz: model/w holds 1 NaN and 1 infinite values of 4"
    ):
        save_checkpoint(tmp_path / "c.npz", {"iter": 2, "model": {"w": w}})
    assert load_checkpoint(tmp_path / "c.npz")["iter"] == 1


def drop_array(name: str) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    return lambda meta, arrays: arrays.pop("a/model/" + name)


def drop_entry(name: str) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    return lambda meta, arrays: meta["state"].pop(name)


def poison(name: str, value: float, count: int) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    def edit(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        arrays[name] = arrays[name].copy()
        arrays[name].reshape(-1)[:count] = value

    return edit


def set_meta(*keys: str, value: Any) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    def edit(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        d = meta
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return edit


def set_array(name: str, value: np.ndarray) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    return lambda meta, arrays: arrays.__setitem__(name, value)


WTE = "transformer.wte.weight"
MALFORMED = [
    ("no meta", lambda meta, arrays: meta.clear(), "has no 'meta' record: not a numpygpt checkpoint"),
    ("another format", set_meta("format", value="nanogpt"), "has format 'nanogpt', expected 'numpygpt-checkpoint-1'"),
    ("no state", lambda meta, arrays: meta.pop("state"), "holds no state"),
    ("an array missing", drop_array(WTE), f"the array 'model/{WTE}' is missing"),
    ("no model entry", drop_entry("model"), "has no 'model' entry"),
    ("no tokenizer entry", drop_entry("tokenizer"), "has no 'tokenizer' entry"),
    ("no model_config entry", drop_entry("model_config"), "has no 'model_config' entry"),
    ("NaN weights", poison(f"a/model/{WTE}", np.nan, 3), rf"model/{WTE} holds 3 NaN and 0 infinite values of 544"),
    ("an infinite weight", poison(f"a/model/{WTE}", np.inf, 1), rf"model/{WTE} holds 0 NaN and 1 infinite values"),
    ("NaN moments", poison("a/optimizer/state/0/exp_avg", np.nan, 2), r"optimizer/state/0/exp_avg holds 2 NaN"),
    (
        "a wrong shape",
        set_meta("state", "model_config", "n_embd", value=32),
        rf"its weights do not fit the model its config describes: .*shape mismatch: {WTE}: "
        r"checkpoint \(34, 16\) vs model \(34, 32\)",
    ),
    (
        "integer weights",
        set_array(f"a/model/{WTE}", np.ones((34, 16), np.int64)),
        rf"weights that are not floating-point: {WTE} \(int64\)",
    ),
    (
        "an invalid model_config",
        set_meta("state", "model_config", "n_head", value=3),
        "its model_config is not valid: GPTConfig: n_embd=16 is not divisible by n_head=3",
    ),
    (
        "an unknown model_config field",
        set_meta("state", "model_config", "n_expert", value=8),
        "its model_config is not valid: .*unexpected keyword argument 'n_expert'",
    ),
    ("an unknown tokenizer", set_meta("state", "tokenizer", value={"type": "word"}), "its tokenizer is not valid"),
    (
        "a tokenizer of another size",
        set_meta("state", "model_config", "vocab_size", value=40),
        "its tokenizer has 34 tokens, its model_config 40",
    ),
    (
        "a model that is not a dict",
        set_meta("state", "model", value=[1, 2]),
        "its 'model' entry is not a dict of arrays",
    ),
]


@pytest.mark.cli
@pytest.mark.parametrize("edit, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_checkpoint_is_an_error_naming_the_file_and_the_fault(
    trained: Path, tmp_path: Path, edit: Callable[..., None], message: str, run_sample
) -> None:
    bad = rewrite(trained, tmp_path / "bad.npz", edit)
    with pytest.raises(CheckpointError, match=rf"checkpoint {bad}.*{message}"):
        load_model(bad)
    code, out, err = run_sample(["--checkpoint", str(bad)])
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith(f"error: checkpoint {bad}")


@pytest.mark.cli
@pytest.mark.parametrize(
    "content, message",
    [(None, "does not exist"), (b"", "is damaged or not a numpygpt checkpoint"), (b"hello", "is damaged")],
)
def test_a_missing_empty_or_foreign_file_is_an_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "c.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} {message}"):
        load_checkpoint(path)


@pytest.mark.cli
def test_a_truncated_checkpoint_is_an_error(trained: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(trained.read_bytes()[: trained.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or not a numpygpt checkpoint"):
        load_model(truncated)


@pytest.mark.cli
@pytest.mark.parametrize(
    "edit, message",
    [
        (drop_entry("optimizer"), "has no 'optimizer' entry"),
        (drop_entry("metrics_rows"), "has no 'metrics_rows' entry"),
        (set_meta("state", "rng", "data", value={"bit_generator": "Nope"}), "cannot be resumed: ValueError: "),
        (
            set_meta("state", "optimizer", "state", "__dict__", value=[[999, {}]]),
            "cannot be resumed: ValueError: loaded state dict has state for parameter 999",
        ),
    ],
    ids=["no optimizer", "no metrics_rows", "a foreign generator state", "a foreign optimizer state"],
)
def test_resuming_from_a_malformed_last_checkpoint_is_one_line(
    cfg: TrainConfig, trained: Path, edit: Callable[..., None], message: str, run_train
) -> None:
    rewrite(trained, trained, edit)
    code, out, err = run_train(["--out_dir", cfg.out_dir, "--resume", "--max_iters", "13"])
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"error: checkpoint {trained}") and message in err, err

"""The run folder (out_dir): what a training run keeps there, and the rules that protect it.

    best.npz      the checkpoint with the lowest val loss so far (sampling reads it)
    last.npz      the newest checkpoint (--resume continues from it)
    metrics.csv   one row per logged step and per evaluation
    loss.png      the loss curve drawn from metrics.csv
    diagnostics.csv, diagnostics.png   what a step looks like inside, at each log interval
                  (numpygpt/diagnostics.py; --diagnostics false leaves them out)
    attention.png the attention maps `python -m numpygpt.inspect` draws from best.npz
    .lock         held while a run trains here: two runs never write one folder

The rules:
  * a new run never starts over a checkpoint: it is refused, naming what is there, unless
    --resume (continue it) or --overwrite (delete it) says what to do with it;
  * kill -9 at any moment leaves last.npz whole (it is written atomically) and at most a
    temporary file (`.last.npz.*.tmp`), which the next start in this folder removes;
  * a checkpoint records how many metrics rows the run had written when it was saved; a
    resumed run drops the rows written after that, so no row is doubled or missing (and the
    diagnostics rows of iterations after the checkpoint's).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from numpygpt.checkpoint import CheckpointError, load_checkpoint
from numpygpt.cli import ConfigError
from numpygpt.configs import TrainConfig, resume_changes, resume_config
from numpygpt.utils.data.corpus import atomic_write_bytes

RUN_FILES = ("best.npz", "last.npz", "metrics.csv", "loss.png", "diagnostics.csv", "diagnostics.png", "attention.png")
# What --resume needs from last.npz (sampling needs only model_config, model, tokenizer).
RESUME_ENTRIES = ("iter", "best_val_loss", "train_config", "model", "optimizer", "rng", "tokenizer", "metrics_rows")

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the folder is not guarded against a second run
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def claim(out_dir: Path, resume: bool = False) -> Iterator[None]:
    """Hold out_dir for this run: create it, lock it, and remove temporary files a crash left behind.

    With resume=True, out_dir must hold a last.npz already (CheckpointError otherwise).
    """
    if resume and not (out_dir / "last.npz").is_file():
        raise CheckpointError(
            f"checkpoint {out_dir / 'last.npz'} does not exist: nothing to resume in {out_dir} "
            f"(start a new run without --resume)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "a+") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                raise ConfigError(
                    f"--out_dir {out_dir}: another training run (pid {lock.read().strip() or '?'}) is using "
                    f"this folder; wait for it to finish, or choose another --out_dir"
                ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        # Safe now that no other run can be writing here: any temporary file is a crash's leftover.
        for name in RUN_FILES:
            for stale in out_dir.glob(f".{name}.*.tmp"):
                stale.unlink()
                print(f"removed {stale}, left behind by an interrupted save")
        yield


def describe(out_dir: Path) -> str:
    """What the run in out_dir has reached: `last.npz at iteration 2000, best val loss 1.8930`."""
    for name in ("last.npz", "best.npz"):
        if (out_dir / name).exists():
            try:
                ck = load_checkpoint(out_dir / name)
                return (
                    f"{name} at iteration {ck.get('iter')}, best val loss {ck.get('best_val_loss', float('nan')):.4f}"
                )
            except CheckpointError as e:
                return f"{name}, which cannot be read ({e})"
    return "no checkpoint"


def open_run(cfg: TrainConfig, given: dict[str, Any] | None) -> tuple[TrainConfig, dict[str, Any] | None]:
    """Make cfg's run folder ready: return the run's config and the checkpoint to resume (None: a new run).

    --resume: last.npz's config, with the fields `given` on the command line (None: all of
    cfg's); a changed model, tokenizer or data is refused, other changes are printed.
    Otherwise: a checkpoint already in the folder is refused, or deleted with --overwrite.
    """
    out_dir = cfg.run_dir
    if cfg.resume:
        ck = load_checkpoint(out_dir / "last.npz", require=RESUME_ENTRIES)
        saved = ck["train_config"]
        cfg = resume_config(cfg, dataclasses.asdict(cfg) if given is None else given, saved)
        for change in resume_changes(saved, cfg):
            print(f"resume: {change}")
        if ck["iter"] > cfg.max_iters:
            raise ConfigError(
                f"--max_iters {cfg.max_iters}: the run in {out_dir} is already at iteration {ck['iter']}; "
                f"must be >= {ck['iter']}"
            )
        return cfg, ck
    there = [name for name in ("best.npz", "last.npz") if (out_dir / name).exists()]
    if there and not cfg.overwrite:
        raise ConfigError(
            f"--out_dir {out_dir} already holds a run ({describe(out_dir)}): continue it with --resume, "
            f"start a new one elsewhere with --out_dir DIR, or replace it with --overwrite"
        )
    if there:
        print(f"overwrite: deleting the run in {out_dir} ({describe(out_dir)})")
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)
    return cfg, None


LogT = TypeVar("LogT", bound="CsvLog")


class CsvLog:
    """A CSV file that a run appends to row by row, each row flushed at once.

    It starts with HEADER and the rows of an earlier file at path that the subclass keeps
    (`kept`, none for a new run), written atomically; then rows are added with `_write`.
    """

    HEADER: tuple[str, ...] = ()

    def __init__(self, path: Path, kept: list[list[str]]) -> None:
        self.path = path
        text = io.StringIO()
        csv.writer(text).writerows([self.HEADER, *kept])
        atomic_write_bytes(path, text.getvalue().encode())
        self.rows = len(kept)
        self._file = open(path, "a", newline="")  # noqa: SIM115 (closed by close())
        self._csv = csv.writer(self._file)

    @staticmethod
    def read_rows(path: Path) -> list[list[str]]:
        """The rows of the file at path below its header (none if there is no file)."""
        if not path.exists():
            return []
        with open(path, newline="") as f:
            return list(csv.reader(f))[1:]

    def _write(self, *rows: list[Any]) -> None:
        # Flushed at once: a checkpoint counts only rows that are in the file.
        try:
            self._csv.writerows(rows)
            self._file.flush()
        except OSError as e:
            raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e
        self.rows += len(rows)

    def close(self) -> None:
        self._file.close()

    def __enter__(self: LogT) -> LogT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MetricsLog(CsvLog):
    """metrics.csv: one row per logged step, one per evaluation; it counts its rows for the checkpoint.

    keep_rows=None starts a new file; a number (a resumed run's checkpoint's) keeps that many
    rows of the file there and drops the rest, written after that checkpoint.
    """

    HEADER = ("iter", "loss", "lr", "ms_per_iter", "tokens_per_s", "train_loss", "val_loss")

    def __init__(self, path: Path, keep_rows: int | None = None) -> None:
        rows = [] if keep_rows is None else self.read_rows(path)[:keep_rows]
        if keep_rows is not None and len(rows) < keep_rows:
            print(f"resume: {path} has {len(rows)} of the {keep_rows} rows the checkpoint counts; the rest are lost")
        super().__init__(path, rows)

    def step(self, it: int, loss: float, lr: float, ms: float, tokens_per_s: float) -> None:
        self._write([it, f"{loss:.6f}", f"{lr:.6g}", f"{ms:.2f}", f"{tokens_per_s:.0f}", "", ""])

    def evaluation(self, it: int, losses: dict[str, float]) -> None:
        self._write([it, "", "", "", "", f"{losses['train']:.6f}", f"{losses['val']:.6f}"])

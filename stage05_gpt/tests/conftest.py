"""Shared fixtures of stage05's tests: a tiny training config on a small corpus, and the commands."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import numpygpt.sample as sample_mod
import numpygpt.train as train_mod
from numpygpt.autograd import Tensor
from numpygpt.configs import TrainConfig

TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\nJULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n"
) * 40


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that tries to reach another machine fails: the corpus always comes from tmp_path."""
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"stage05 tests must not touch the network (tried {address!r})")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.delenv("NUMPYGPT_DATA", raising=False)


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip fsync in this process: it guards against a power cut, which no test here makes, and
    would be most of a tiny run's time. (Tests that kill a process run it in one of its own.)"""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def cfg(tmp_path: Path) -> TrainConfig:
    """A run of 12 iterations of a 1-layer model on a 4 KB corpus: evaluations at 0, 6 and 12, logs every 3."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(TEXT.encode())
    return TrainConfig(
        data_dir=str(tmp_path / "data"),
        data_source=str(corpus),
        data_sha256=hashlib.sha256(TEXT.encode()).hexdigest(),
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=16,
        batch_size=4,
        max_iters=12,
        warmup_iters=2,
        lr_decay_iters=12,
        eval_interval=6,
        eval_iters=2,
        log_interval=3,
        out_dir=str(tmp_path / "out"),
        dropout=0.1,
        sample_tokens=0,
    )


def as_argv(cfg: TrainConfig, **changes: object) -> list[str]:
    """The command line that asks for cfg (with `changes`) explicitly, every field given
    (but those left None, whose value the command works out: min_lr)."""
    values = {**dataclasses.asdict(cfg), **changes}
    return [f"--{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items() if v is not None]


@pytest.fixture
def argv() -> Callable[..., list[str]]:
    return as_argv


def _in_process(
    capsys: pytest.CaptureFixture[str], main: Callable[[list[str]], int]
) -> Callable[..., tuple[int, str, str]]:
    def run(args: list[str]) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = main(args)
        except SystemExit as e:  # argparse's errors and --help
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def run_train(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `python -m numpygpt.train ARGS` in this process: (exit status, stdout, stderr)."""
    return _in_process(capsys, train_mod.main)


@pytest.fixture
def run_sample(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `python -m numpygpt.sample ARGS` in this process: (exit status, stdout, stderr)."""
    return _in_process(capsys, sample_mod.main)


def command(module: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    """Start `python -m numpygpt.MODULE ARGS` in a process of its own, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", f"numpygpt.{module}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.fixture
def start() -> Callable[..., subprocess.Popen[str]]:
    return command


def _fused_attention_probs(out: Tensor) -> list[np.ndarray]:
    """The probabilities P each fused attention Function in the graph behind `out` computed, first layer first."""
    found, seen, stack = [], set(), [out.creator]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        if type(fn).__name__ == "ScaledDotProductAttention":
            found.append(fn)
        stack.extend(t.creator for t in fn.inputs)
    return [fn.p for fn in sorted(found, key=lambda f: f.generation)]


@pytest.fixture
def fused_attention_probs() -> Callable[[Tensor], list[np.ndarray]]:
    """What the model's attention really used: for the recomputed probabilities to be compared with."""
    return _fused_attention_probs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The model's own tests first, the command scenarios (markers training and cli) after.

    With -x (as the mutant check runs), a broken model then stops the session at the test
    that names the mistake, in seconds, rather than after the scenarios of every command.
    """
    items.sort(key=lambda item: any(item.get_closest_marker(m) for m in ("training", "cli")))

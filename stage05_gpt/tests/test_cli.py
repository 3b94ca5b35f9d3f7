"""The commands' words: every mistake is one line before any work, --help says everything, pipes close.

Mistakes in a configuration, a full disk, a read-only folder or no network each end in one
line `error: ...` naming the option (or the path, or the URL) and what to do, never a traceback.
"""

from __future__ import annotations

import builtins
import dataclasses
import errno
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import numpygpt.configs as configs
from numpygpt.checkpoint import load_checkpoint
from numpygpt.configs import TrainConfig
from numpygpt.sample import SampleConfig
from numpygpt.train import train

# ----- 6. every configuration mistake: one line, status 2, before any work --------------------

MISTAKES = [
    (["--n_head", "3"], r"--n_head 3: must be a divisor of --n_embd \(128\)"),
    (["--n_layer", "0"], "--n_layer 0: must be >= 1"),
    (["--tokenizer", "word"], "--tokenizer 'word': must be one of char, bpe"),
    (["--tokenizer", "bpe", "--bpe_vocab_size", "70000"], "--bpe_vocab_size 70000: must be 256..65536"),
    (["--dataset", "wikipedia"], "--dataset 'wikipedia': must be one of shakespeare"),
    (["--eval_interval", "0"], "--eval_interval 0: must be >= 1"),
    (["--eval_iters", "0"], "--eval_iters 0: must be >= 1"),
    (["--log_interval", "-5"], "--log_interval -5: must be >= 1"),
    (["--seed", "-1"], "--seed -1: must be >= 0"),
    (["--dropout", "1"], "--dropout 1.0: must be 0 <= dropout < 1"),
    (["--gelu", "relu"], "--gelu 'relu': must be tanh or none"),
    (["--norm", "batchnorm"], "--norm 'batchnorm': must be layernorm or rmsnorm"),
    (["--mlp", "relu"], "--mlp 'relu': must be gelu or swiglu"),
    (
        ["--mlp", "swiglu", "--gelu", "none"],
        r"--gelu 'none': must be tanh or none \(with --mlp swiglu, whose gate is SiLU",
    ),
    (["--position", "alibi"], r"--position 'alibi': must be learned, or rope with an even head size \(--n_embd"),
    (
        ["--position", "rope", "--n_embd", "36"],
        r"--position 'rope': must be learned, or rope with an even head size \(--n_embd / --n_head = 36 / 4\)",
    ),
    (["--n_kv_head", "3"], r"--n_kv_head 3: must be a divisor of --n_head \(4\): 1 = multi-query attention"),
    (["--n_kv_head", "0"], r"--n_kv_head 0: must be a divisor of --n_head \(4\)"),
    (["--n_kv_head", "two"], r"argument --n_kv_head: invalid int value: 'two'"),
    (["--batch_size", "0"], "--batch_size 0: must be >= 1"),
    (["--max_iters", "-1"], "--max_iters -1: must be >= 0"),
    (["--learning_rate", "nan"], "--learning_rate nan: must be a finite number > 0"),
    (["--min_lr", "0.01"], r"--min_lr 0.01: must be a finite number >= 0, at most --learning_rate \(0.001\)"),
    (["--warmup_iters", "100", "--lr_decay_iters", "50"], r"--lr_decay_iters 50: must be more than --warmup_iters"),
    (["--weight_decay", "inf"], "--weight_decay inf: must be a finite number >= 0"),
    (["--beta2", "1"], "--beta2 1.0: must be 0 <= beta2 < 1"),
    (["--grad_clip", "-1"], r"--grad_clip -1.0: must be a finite number >= 0 \(0 = no clipping\)"),
    (["--sample_tokens", "-1"], "--sample_tokens -1: must be >= 0"),
    (["--data_source", "/no/such/corpus.txt"], "--data_source '/no/such/corpus.txt': must be an existing file"),
    (["--data_sha256", "abc"], "--data_sha256 'abc': must be 64 hex digits"),
    (["--resume", "--overwrite"], "--overwrite True: must be false when --resume is given"),
    (
        ["--block_size", "200000"],
        r"--block_size 200000, --batch_size 12, --n_layer 4, --n_head 4, --n_embd 128: a training step would "
        r"need about [\d.,]+ TiB of memory, more than this machine's [\d.,]+ [KMGT]iB; make the model or the batch smaller",
    ),
    (
        ["--resume"],
        r"checkpoint \S+last.npz does not exist: nothing to resume in \S+ \(start a new run without --resume\)",
    ),
    (["--n_layer", "two"], r"argument --n_layer: invalid int value: 'two' \(see python -m numpygpt.train --help\)"),
    (["--bias", "maybe"], "argument --bias: expected true or false, got 'maybe'"),
    (["--config", "huge"], "argument --config: invalid choice: 'huge'"),
    (["--no_such_field", "1"], "unrecognized arguments: --no_such_field 1"),
]


@pytest.mark.cli
@pytest.mark.parametrize("args, message", MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_configuration_mistake_is_one_line_before_any_work(
    args: list[str], message: str, run_train, tmp_path: Path
) -> None:
    where = ["--out_dir", str(tmp_path / "out"), "--data_dir", str(tmp_path / "data")]
    code, out, err = run_train(where + args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.match(f"error: {message}", err), err
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists(), "nothing was done"


@pytest.mark.cli
def test_the_command_prints_one_line_and_no_traceback(start, tmp_path: Path) -> None:
    proc = start("train", "--n_head", "3", "--out_dir", str(tmp_path / "out"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err == "error: --n_head 3: must be a divisor of --n_embd (128)\n"


@pytest.mark.cli
def test_the_memory_estimate_follows_the_size_of_the_model() -> None:
    small, wide = TrainConfig(), TrainConfig(block_size=256, batch_size=32)
    assert 50e6 < configs.training_memory(small) < 200e6, "the default run's step: about 110 MB"
    assert configs.training_memory(wide) > 10 * configs.training_memory(small)


@pytest.mark.cli
def test_the_memory_check_refuses_what_this_machine_cannot_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configs, "physical_memory", lambda: 64 * 2**20)
    with pytest.raises(ValueError, match=r"about [\d.]+ MiB of memory, more than this machine's 64.0 MiB"):
        configs.validate(TrainConfig())
    configs.validate(TrainConfig(n_layer=1, n_embd=32, n_head=2, block_size=32, batch_size=4))


@pytest.mark.cli
def test_a_wrong_type_given_in_python_is_a_clear_error(cfg: TrainConfig) -> None:
    with pytest.raises(ValueError, match="--n_layer '4': must be of type int"):
        train(dataclasses.replace(cfg, n_layer="4"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="--learning_rate True: must be of type float"):
        train(dataclasses.replace(cfg, learning_rate=True))


@pytest.mark.cli
def test_a_block_size_longer_than_the_data_is_one_line(cfg: TrainConfig, argv, run_train) -> None:
    code, _, err = run_train(argv(cfg, block_size=500))
    assert code == 2
    assert re.fullmatch(r"error: --block_size 500: must be below the 432 tokens of the val split in \S+\n", err)


@pytest.mark.cli
def test_a_corpus_that_is_not_the_expected_text_is_one_line(cfg: TrainConfig, argv, run_train, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("Not Shakespeare at all.\n" * 100)
    code, _, err = run_train(argv(cfg, data_source=str(other)))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: checksum mismatch for {other}: expected sha256 {cfg.data_sha256}, got ")


# ----- 6. OS and network errors: one line naming the path or URL and the option ---------------


@pytest.mark.cli
def test_a_full_disk_is_one_line_and_the_earlier_checkpoints_stay(
    cfg: TrainConfig, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_savez, calls, before = np.savez, [], {}

    def savez_on_a_full_disk(f, **arrays):
        calls.append(1)
        if len(calls) == 3:  # after both checkpoints of iteration 0
            before.update({p.name: p.read_bytes() for p in Path(cfg.out_dir).glob("*.npz")})
            f.write(b"PK\x03\x04 a partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_on_a_full_disk)
    code, _, err = run_train(argv(cfg))
    out_dir = Path(cfg.out_dir)
    assert code == 1
    assert re.fullmatch(
        rf"error: {out_dir}/(best|last).npz: No space left on device \(the run folder, --out_dir {out_dir}\); "
        r"the checkpoints already there are unchanged\n",
        err,
    ), err
    assert {p.name: p.read_bytes() for p in out_dir.glob("*.npz")} == before
    assert not list(out_dir.glob(".*.tmp")), "no partial file left behind"
    monkeypatch.undo()  # space freed
    assert run_train(["--out_dir", cfg.out_dir, "--resume"])[0] == 0
    assert load_checkpoint(out_dir / "last.npz")["iter"] == 12


def refuse_writes_in(folder: Path, monkeypatch: pytest.MonkeyPatch, err: int) -> None:
    """Make every write under `folder` fail with OSError(err), as a read-only or forbidden folder does.

    NOTE: chmod cannot make a folder read-only for root (the test may run as root), so the
    refusal is simulated at the two calls every write goes through, open and os.open.
    """
    real_open, real_os_open = builtins.open, os.open

    def inside(path: object) -> bool:
        return isinstance(path, (str, Path)) and Path(path).absolute().is_relative_to(folder.absolute())

    def guarded_open(file, mode="r", *args, **kwargs):
        if inside(file) and any(c in mode for c in "wax+"):
            raise OSError(err, os.strerror(err), str(file))
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(err, os.strerror(err), str(path))
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


@pytest.mark.cli
@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES], ids=["read-only", "forbidden"])
def test_a_run_folder_that_cannot_be_written_is_one_line_and_nothing_changes(
    cfg: TrainConfig, argv, run_train, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    assert run_train(argv(cfg, max_iters=6))[0] == 0
    out_dir = Path(cfg.out_dir)
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    refuse_writes_in(out_dir, monkeypatch, err)
    code, out, stderr = run_train(["--out_dir", cfg.out_dir, "--resume", "--max_iters", "12"])
    monkeypatch.undo()
    assert code == 1 and out == ""
    assert stderr == (
        f"error: {out_dir}/.lock: {os.strerror(err)} (the run folder, --out_dir {out_dir}); "
        "the checkpoints already there are unchanged\n"
    )
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


@pytest.mark.cli
def test_a_data_folder_that_cannot_be_written_names_data_dir(
    cfg: TrainConfig, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_writes_in(Path(cfg.data_dir), monkeypatch, errno.EROFS)
    code, _, err = run_train(argv(cfg))
    monkeypatch.undo()
    assert code == 1
    assert err.count("\n") == 1 and "Read-only file system (the data folder, --data_dir " in err


@pytest.mark.cli
def test_no_network_is_one_line_naming_the_url_and_train_s_own_flag(
    cfg: TrainConfig, argv, run_train, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    code, _, err = run_train(argv(cfg, data_source="", data_sha256=""))
    assert code == 1
    assert err == (
        "error: could not download the corpus from "
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt: "
        "[Errno -3] Temporary failure in name resolution. Without internet, pass --data_source PATH "
        "(or set NUMPYGPT_DATA) to a local copy of it\n"
    )
    assert "--source" not in err
    assert not list(Path(cfg.out_dir).glob("*.npz"))


# ----- 7. --help, sample's run folder, a closed pipe ----------------------------------------------


def help_text(run, *args: str) -> str:
    code, out, _ = run([*args, "--help"])
    assert code == 0
    return " ".join(out.split())


@pytest.mark.cli
@pytest.mark.parametrize("command, settings", [("train", TrainConfig), ("sample", SampleConfig)])
def test_help_shows_every_option_with_its_description_and_default(
    command: str, settings: type, run_train, run_sample
) -> None:
    text = help_text(run_train if command == "train" else run_sample)
    defaults = settings()
    for f in dataclasses.fields(settings):
        kind = str(f.type).split(" |")[0].upper()  # `float | None`: a FLOAT whose default is worked out
        described = f"--{f.name} [BOOL]" if f.type == "bool" else f"--{f.name} {kind}"
        default = getattr(defaults, f.name)
        shown = f" (default: {default!r})" if default not in ("", None) else ""
        assert f"{described} {f.metadata['help']}{shown}" in text, f.name


@pytest.mark.cli
def test_min_lr_follows_the_learning_rate_unless_given() -> None:
    cfg, given = configs.parse_args(["--learning_rate", "3e-5"])
    configs.validate(cfg)  # a learning rate below the recipe's floor needs no --min_lr of its own
    assert cfg.min_lr is None and cfg.final_lr == pytest.approx(3e-6) and "min_lr" not in given
    cfg, _ = configs.parse_args(["--learning_rate", "3e-5", "--min_lr", "0"])
    assert cfg.final_lr == 0.0, "a min_lr given explicitly is the floor, whatever the learning rate"
    assert TrainConfig().final_lr == pytest.approx(1e-4), "the default recipe decays from 1e-3 to 1e-4"


@pytest.mark.cli
def test_an_abbreviated_option_is_refused_not_guessed(run_train) -> None:
    code, out, err = run_train(["--max_it", "5"])
    assert code == 2 and out == ""
    assert err.startswith("error: unrecognized arguments: --max_it"), err


@pytest.mark.cli
def test_dashes_and_underscores_name_the_same_option(run_train) -> None:
    cfg, given = configs.parse_args(["--max-iters", "5", "--learning_rate=0.002", "--n-layer=3"])
    assert (cfg.max_iters, cfg.learning_rate, cfg.n_layer) == (5, 0.002, 3)
    assert given == {"max_iters": 5, "learning_rate": 0.002, "n_layer": 3}, "what the command line gave"
    assert configs.parse_args([]) == (TrainConfig(), {})


@pytest.mark.cli
def test_sample_without_a_checkpoint_names_the_command_that_makes_one(
    run_sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_sample([])
    assert code == 2
    assert err == (
        "error: checkpoint out/shakespeare_char/best.npz does not exist: train a model first with "
        "`python -m numpygpt.train` (or `nox -s train`)\n"
    )
    code, _, err = run_sample(["--out_dir", "runs/my run"])
    assert err == (
        "error: checkpoint runs/my run/best.npz does not exist: train a model first with "
        "`python -m numpygpt.train --out_dir 'runs/my run'` (or `nox -s train -- --out_dir 'runs/my run'`)\n"
    )


@pytest.mark.cli
@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "-1"], "--temperature -1.0: must be a finite number >= 0"),
        (["--top_k", "-2"], r"--top_k -2: must be >= 0 \(0 = all tokens\)"),
        (["--max_new_tokens", "-1"], "--max_new_tokens -1: must be >= 0"),
        (["--seed", "-7"], "--seed -7: must be >= 0, or -1 for a fresh seed"),
        (["--top_k", "many"], "argument --top_k: invalid int value: 'many'"),
    ],
)
def test_a_sampling_mistake_is_one_line(args: list[str], message: str, run_sample) -> None:
    code, out, err = run_sample(args)
    assert code == 2 and out == "" and err.count("\n") == 1 and re.match(f"error: {message}", err), err


@pytest.mark.cli
def test_a_closed_pipe_ends_sampling_quietly(cfg: TrainConfig) -> None:
    train(cfg)
    sample = f"{sys.executable} -m numpygpt.sample --out_dir '{cfg.out_dir}' --max_new_tokens 20000"
    shell = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sample} | head -c 10"], capture_output=True, text=True, timeout=120
    )
    assert shell.returncode == 0 and len(shell.stdout) == 10
    assert shell.stderr == "", "no BrokenPipeError, no traceback"

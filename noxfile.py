"""The learner's entry point: one nox session per stage, plus the main job.

    nox                  run every stage's tests, each in a fresh environment, then the mutant check
    nox -s stage03       a fresh environment holding stages 01-03 only; run stage03's tests
    nox -s stage03 -- -k adamw    arguments after `--` reach pytest

The learner's loop (see tools/workspace.py):

    nox -s workspace -- stage02              workspaces/stage02_layers: the stage with its exercises left to write
    nox -s workspace -- --list               where each exercise is in your workspace, written or not
    nox -s stage02 -- --workspace -m ex2_3   every test of exercise 2.3 against that workspace (earlier stages: the reference)
    nox -s stage02 -- --collect-only -q -m ex2_3    the list of those tests
    nox -s mutants                           prove the tests name the classic mistakes (tools/mutants.py)

Each stage environment installs that stage and the stages before it from the local
folders (editable, in one install call) and nothing later, so a stage can never lean on
code it has not been taught yet. uv makes a fresh environment take seconds; without uv,
nox falls back to virtualenv + pip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
STAGES = [
    "stage01_autograd",
    "stage02_layers",
    "stage03_optim",
    "stage04_data",
    "stage05_gpt",
]
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100"]
# Pinned: a new ruff or mypy release may add findings, a new numpy changes its stubs; upgrade on purpose.
LINT_DEPS = ["ruff==0.17.6", "mypy==2.4.1", "numpy==2.4.6", "pytest==9.2.0"]  # pytest: for the exercises plugin's types
TORCH_CPU = "torch==2.13.0+cpu"  # the reference for parity fixtures and benchmarks
# The optional extras each stage's environment installs with it (its tests exercise them):
# stage04's GPT-2 tokenizer needs `regex`; stage05's Hugging Face import and export, safetensors
# and huggingface_hub, and its pictures (loss curve, diagnostics, attention maps) matplotlib.
EXTRAS = {"stage04_data": "gpt2", "stage05_gpt": "hub,plot"}
# Hugging Face's libraries for the fixtures and benchmarks that compare against them (never for tests).
HF_REFERENCE = ["transformers>=5", "tokenizers>=0.22", "safetensors>=0.4"]

# uv must use the Python that runs nox, never download an interpreter of its own.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True


def existing_stages() -> list[str]:
    """The stage folders present in this checkout, in curriculum order."""
    return [s for s in STAGES if (ROOT / s / "pyproject.toml").exists()]


def install_stages(session: nox.Session, upto: str, *extra: str, last_from: Path | None = None) -> None:
    """Install stages 01..`upto` editable from their folders, plus `extra`, in one call.

    `last_from` installs stage `upto` from that folder instead (a learner's workspace).
    """
    stages = existing_stages()
    wanted = stages[: stages.index(upto) + 1]
    args: list[str] = []
    for folder in wanted:
        source = last_from if (folder == upto and last_from is not None) else ROOT / folder
        args += ["-e", f"{source}[{EXTRAS[folder]}]" if folder in EXTRAS else str(source)]
    if session.venv_backend == "uv":
        # NOTE: the environment is reused between runs with and without --workspace; make uv
        # reinstall the local stages so that the folder asked for this time is the one imported.
        args += [f"--reinstall-package={_dist_name(ROOT / f)}" for f in wanted]
    session.install(*args, *extra)


def tool_deps() -> list[str]:
    """What tools/mutants.py and tools/check_workspaces.py need to run every stage's tests from the
    stages' source folders: numpy, the test tools, and each stage's extra of EXTRAS (its tests use it)."""
    import tomllib  # the Python running nox: 3.11+ (the stages themselves support 3.10)

    deps = ["numpy>=1.26", *TEST_DEPS]
    for folder, extras in EXTRAS.items():
        with open(ROOT / folder / "pyproject.toml", "rb") as f:
            optional = tomllib.load(f)["project"]["optional-dependencies"]
        for extra in extras.split(","):
            deps += optional[extra]
    return deps


def _dist_name(folder: Path) -> str:
    """The distribution name in a stage's pyproject.toml (numpygpt-stage02-layers)."""
    for line in (folder / "pyproject.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("name = "):
            return line.split("=", 1)[1].strip().strip('"')
    raise RuntimeError(f"{folder}/pyproject.toml has no name")


def make_stage_session(folder: str) -> None:
    name = folder[: len("stage01")]

    @nox.session(name=name)
    def _stage(session: nox.Session) -> None:
        posargs = list(session.posargs)
        workspace = None
        if "--workspace" in posargs:
            posargs.remove("--workspace")
            workspace = ROOT / "workspaces" / folder
            if not (workspace / "pyproject.toml").is_file():
                session.error(f"no workspace at {workspace}: create it with `nox -s workspace -- {name}`")
            session.log(f"testing the workspace {workspace} (earlier stages: the reference)")
        install_stages(session, folder, *TEST_DEPS, last_from=workspace)
        # Always the reference tests: what is installed (reference or workspace) is what they test.
        session.run("pytest", str(ROOT / folder / "tests"), *posargs)

    _stage.__doc__ = (
        f"Run {folder}'s tests in a fresh environment holding stages up to it "
        f"(`-- --workspace`: this stage from workspaces/{folder})."
    )


for _folder in existing_stages():
    make_stage_session(_folder)


def corpus_env() -> dict[str, str]:
    """Point the data step at a verified offline copy of the corpus when one is at hand.

    NUMPYGPT_DATA, if set, wins; otherwise a copy in ../shared/data beside this checkout
    (how this project's offline build machines carry it). Without either, the data step
    downloads the corpus and checks its SHA-256.
    """
    if os.environ.get("NUMPYGPT_DATA"):
        return {"NUMPYGPT_DATA": os.environ["NUMPYGPT_DATA"]}
    offline = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
    return {"NUMPYGPT_DATA": str(offline)} if offline.is_file() else {}


@nox.session
def train(session: nox.Session) -> None:
    """The main job: train the default GPT on tiny Shakespeare, then sample from it.

    Arguments after `--` go to the training script, e.g. `nox -s train -- --max_iters 500`.
    """
    install_stages(session, "stage05_gpt", "matplotlib>=3.7")
    session.run("python", "-m", "numpygpt.train", *session.posargs, env=corpus_env())


@nox.session
def sample(session: nox.Session) -> None:
    """Sample from a trained checkpoint: `nox -s sample -- --prompt "ROMEO:" --seed 1`;
    from OpenAI's GPT-2: `nox -s sample -- --init_from gpt2 --prompt "Hello, I'm a language model,"`."""
    install_stages(session, "stage05_gpt")
    session.run("python", "-m", "numpygpt.sample", *session.posargs)


@nox.session
def finetune(session: nox.Session) -> None:
    """Fine-tune OpenAI's GPT-2 (124 M) on tiny Shakespeare in GPT-2's tokens, sized for a CPU, then sample.

    The preset finetune_shakespeare (numpygpt/configs.py); override after `--`, e.g.
    `nox -s finetune -- --max_iters 50` or `-- --init_from path/to/a/gpt2/folder`.
    """
    install_stages(session, "stage05_gpt", "matplotlib>=3.7")
    session.run(
        "python", "-m", "numpygpt.train", "--config", "finetune_shakespeare", *session.posargs, env=corpus_env()
    )


@nox.session
def export(session: nox.Session) -> None:
    """Write a checkpoint in Hugging Face's layout: `nox -s export -- out/shakespeare_gpt2 hf/shakespeare_gpt2`."""
    install_stages(session, "stage05_gpt")
    session.run("python", "-m", "numpygpt.export", *session.posargs)


@nox.session
def diagnostics(session: nox.Session) -> None:
    """A run's training diagnostics: the latest values per block, and diagnostics.png redrawn.

    `nox -s diagnostics -- out/shakespeare_char` (the default run's folder when none is given).
    """
    install_stages(session, "stage05_gpt", "matplotlib>=3.7")
    session.run("python", "-m", "numpygpt.diagnostics", *(session.posargs or ["out/shakespeare_char"]))


@nox.session
def inspect(session: nox.Session) -> None:
    """Attention maps, next-token probabilities and embedding neighbours of a trained GPT on a prompt.

    `nox -s inspect -- out/shakespeare_char/best.npz --prompt "ROMEO:"` (that checkpoint by default).
    """
    install_stages(session, "stage05_gpt", "matplotlib>=3.7")
    session.run("python", "-m", "numpygpt.inspect", *session.posargs)


@nox.session
def reference_curve(session: nox.Session) -> None:
    """Train the default config over several seeds and record its reference curve (about 5 minutes per seed).

    Writes stage05_gpt/src/numpygpt/reference_shakespeare_char.json, the band a default run's
    val loss is checked against; `-- --seeds 1337 1 2` chooses the seeds.
    """
    install_stages(session, "stage05_gpt")
    session.run(
        "python", str(ROOT / "stage05_gpt" / "scripts" / "reference_curve.py"), *session.posargs, env=corpus_env()
    )


@nox.session
def experiment(session: nox.Session) -> None:
    """Train variants of the GPT alike and compare them: out/experiment/experiment.csv and .png.

    `nox -s experiment -- --variants baseline,rope --max_iters 500` (default: baseline, rmsnorm, rope,
    swiglu, gqa, llama, 2000 iterations each); run it again to resume; `-- --help` lists every option.
    """
    install_stages(session, "stage05_gpt", "matplotlib>=3.7")
    session.run("python", "-m", "numpygpt.experiment", *session.posargs, env=corpus_env())


@nox.session
def prepare(session: nox.Session) -> None:
    """Download (or copy), verify and encode the corpus into data/: `nox -s prepare -- --tokenizer bpe`."""
    install_stages(session, "stage04_data")
    session.run("python", "-m", "numpygpt.utils.data.prepare", "shakespeare", *session.posargs, env=corpus_env())


@nox.session(venv_backend="virtualenv")
def fixtures(session: nox.Session) -> None:
    """Regenerate the PyTorch and Hugging Face parity fixtures that the stage tests compare against.

    Uses pip, not uv: the CPU build of torch is pinned and pip finds it as a local wheel on
    this project's machines (uv does not look there); never the multi-gigabyte CUDA build.
    """
    install_stages(session, existing_stages()[-1], TORCH_CPU, *HF_REFERENCE)
    for script in sorted(ROOT.glob("stage0*/scripts/make_fixtures.py")):
        session.run("python", str(script), env=corpus_env())


@nox.session(venv_backend="virtualenv")
def bench(session: nox.Session) -> None:
    """numpygpt's training step against PyTorch eager on this CPU: parity check, then timing.

    `nox -s bench -- --profile` breaks numpygpt's step down per Function; `-- --sweep` also
    times a sweep of model sizes and writes bench/results/sweep.{csv,png}; `-- --gpt2` the GPT-2
    124M-sized benchmark (generation against transformers, a fine-tuning step against PyTorch). pip, not uv, for
    the local CPU wheel of torch (see `fixtures`).
    """
    install_stages(session, "stage05_gpt", TORCH_CPU, "matplotlib>=3.7", *HF_REFERENCE)
    session.run("python", str(ROOT / "bench" / "bench.py"), *session.posargs)


@nox.session
def bench_diagnostics(session: nox.Session) -> None:
    """What training diagnostics cost: ms/iter of the default config's training loop with them on and off.

    Alternating runs of `numpygpt.train.train` (bench/diagnostics_overhead.py); `-- --blocks 8 --iters 300`
    for more of them. Diagnostics are on by default while the overhead is at most 3%.
    """
    install_stages(session, "stage05_gpt")
    session.run("python", str(ROOT / "bench" / "diagnostics_overhead.py"), *session.posargs, env=corpus_env())


@nox.session
def bench_ops(session: nox.Session) -> None:
    """Forward + backward time of each fused layer op next to its composed version."""
    install_stages(session, "stage02_layers")
    session.run("python", str(ROOT / "stage02_layers" / "scripts" / "bench_ops.py"), *session.posargs)


@nox.session(venv_backend="none")
def workspace(session: nox.Session) -> None:
    """Create a learner workspace: `nox -s workspace -- stage02` (`--force` overwrites; `--list` shows
    each exercise's place in your workspace and whether it is written).

    Copies the stage to workspaces/<stage folder>/ with every exercise's body replaced by a
    NotImplementedError naming it; then `nox -s stage02 -- --workspace` tests it.
    """
    session.run(sys.executable, str(ROOT / "tools" / "workspace.py"), *session.posargs, external=True)


@nox.session
def mutants(session: nox.Session) -> None:
    """Apply each classic mistake of tools/mutant_catalogue.py to a scratch copy and check that a test
    names it: a mistake inside an exercise under that exercise's marker.

    `-- NAME ...` runs only those mutants; `-- --list` lists them. Exits non-zero if a mutant
    survives, is caught by a message that does not name it ("weak"), or its snippet is no longer
    in the reference.
    """
    session.install(*tool_deps())
    session.run("python", str(ROOT / "tools" / "mutants.py"), *session.posargs)


@nox.session
def exercises(session: nox.Session) -> None:
    """Check every exercise of every stage (tools/check_workspaces.py; `-- stage02` for one stage).

    Per exercise: the tests its stub fails are exactly those its marker selects, it can be written
    in order, and its mutants are caught under its marker; untouched, a workspace fails with the
    exercise messages; with the reference pasted back it passes. `-- --write-markers` rewrites each
    stage's tests/exercises.txt from what the stubs fail.
    """
    session.install(*tool_deps())
    session.run("python", str(ROOT / "tools" / "check_workspaces.py"), *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Static checks of every stage: ruff's lint rules and formatting (ruff.toml), and mypy's
    type checks of every stage's src against NumPy's own stubs (mypy.ini).

    `nox -s lint -- --fix` applies ruff's safe fixes and formats the code, then type-checks.
    The same checks run before each commit with `pre-commit install` (.pre-commit-config.yaml).
    """
    session.install(*LINT_DEPS)
    if "--fix" in session.posargs:
        session.run("ruff", "check", "--fix", ".")
        session.run("ruff", "format", ".")
    else:
        session.run("ruff", "check", ".")
        session.run("ruff", "format", "--check", ".")
    session.run("mypy")  # the files and settings are in mypy.ini


# A bare `nox` runs the stage sessions and the mutant check (it proves the tests catch the
# classic mistakes, so it belongs to "the tests"); the main job and benchmarks are asked for
# by name.
nox.options.sessions = ["lint"] + [f[: len("stage01")] for f in existing_stages()] + ["mutants"]

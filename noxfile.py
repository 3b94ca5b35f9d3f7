"""The learner's entry point: one nox session per stage, plus the main job.

    nox                  run every stage's tests, each in a fresh environment
    nox -s stage03       a fresh environment holding stages 01-03 only; run stage03's tests
    nox -s stage03 -- -k adamw    arguments after `--` reach pytest

Each stage environment installs that stage and the stages before it from the local
folders (editable, in one install call) and nothing later, so a stage can never lean on
code it has not been taught yet. uv makes a fresh environment take seconds; without uv,
nox falls back to virtualenv + pip.
"""

from __future__ import annotations

import os
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

# uv must use the Python that runs nox, never download an interpreter of its own.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True


def existing_stages() -> list[str]:
    """The stage folders present in this checkout, in curriculum order."""
    return [s for s in STAGES if (ROOT / s / "pyproject.toml").exists()]


def install_stages(session: nox.Session, upto: str, *extra: str) -> None:
    """Install stages 01..`upto` editable from their folders, plus `extra`, in one call."""
    stages = existing_stages()
    wanted = stages[: stages.index(upto) + 1]
    args: list[str] = []
    for folder in wanted:
        args += ["-e", str(ROOT / folder)]
    session.install(*args, *extra)


def make_stage_session(folder: str) -> None:
    name = folder[: len("stage01")]

    @nox.session(name=name)
    def _stage(session: nox.Session) -> None:
        install_stages(session, folder, *TEST_DEPS)
        session.run("pytest", str(ROOT / folder / "tests"), *session.posargs)

    _stage.__doc__ = f"Run {folder}'s tests in a fresh environment holding stages up to it."


for _folder in existing_stages():
    make_stage_session(_folder)

# A bare `nox` runs the stage sessions only; the main job and benchmarks are asked for by name.
nox.options.sessions = [f[: len("stage01")] for f in existing_stages()]

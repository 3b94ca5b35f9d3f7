"""Run one stage's tests against source folders chosen by PYTHONPATH, and read the first failure.

Shared by tools/mutants.py and tools/check_workspaces.py. The environment running them holds
numpy, pytest and hypothesis but no numpygpt stage: which stage code is tested is decided
only by the `src` folders put on PYTHONPATH (numpygpt is a PEP 420 namespace, so each folder
contributes its sub-package). Stdlib only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["stage01_autograd", "stage02_layers", "stage03_optim", "stage04_data", "stage05_gpt"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis", "build", "dist")

# Lines of an assertion message that say nothing about the mistake (numpy.testing's frame).
_BOILERPLATE = re.compile(
    r"^\s*$|^(AssertionError:?\s*)$|^Not equal to tolerance|^Arrays are not|^Mismatched elements|"
    r"^Max absolute difference|^Max relative difference|^\s*[xy]: |^\(shapes|^Mismatch at ind|"
    r"^First \d+ mismatches|^\s*(ACTUAL|DESIRED):|^(x and y )?nan location mismatch|^\s+\S|^\s*\[|"
    r"^Items are not equal|^\s*item=|^\(mismatch"
)


@dataclass(frozen=True)
class Case:
    """One test of a run: its id (file::name), outcome, the exception's message (for a failure, or
    the reason of a skip), and the exercises whose markers it carries (from the plugin's property)."""

    id: str
    outcome: str  # "passed", "failed" or "skipped"
    message: str
    exercises: tuple[str, ...]


@dataclass
class Outcome:
    """What one pytest run did: passed or not, the first failing test and its message's first line,
    every failure's whole message (message and traceback), and every test's Case."""

    passed: bool
    first_failure: str
    message: str
    summary: str
    seconds: float
    messages: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    @property
    def first_exception(self) -> str:
        """The exception message of the first failing test (not its traceback): what it says."""
        return next((c.message for c in self.cases if c.outcome == "failed"), "")


def stage_of(name: str) -> str:
    """'stage02' or 'stage02_layers' -> 'stage02_layers'."""
    for folder in STAGES:
        if folder.startswith(name):
            return folder
    raise ValueError(f"unknown stage {name!r}")


def copy_stages(dest: Path, root: Path = ROOT) -> Path:
    """Copy the five stage folders (sources, tests, fixtures, pyproject) into `dest`; returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for folder in STAGES:
        shutil.copytree(root / folder, dest / folder, ignore=IGNORE, dirs_exist_ok=True)
    return dest


def src_path(*src_dirs: Path) -> str:
    """A PYTHONPATH value listing `src_dirs`."""
    return os.pathsep.join(str(d) for d in src_dirs)


def first_line(message: str) -> str:
    """The first line of a failure message that says something (not numpy's report frame)."""
    text = message.strip()
    text = re.sub(r"^AssertionError:\s*", "", text)
    for line in text.splitlines():
        if not _BOILERPLATE.search(line):
            return line.strip()
    return text.splitlines()[0].strip() if text else ""


def run_tests(
    tests_dir: Path,
    src_dirs: list[Path],
    extra: list[str],
    timeout: float = 300.0,
    env_extra: dict[str, str] | None = None,
) -> Outcome:
    """Run pytest on `tests_dir` with PYTHONPATH = src_dirs; return its Outcome.

    Run from the stage folder (tests_dir's parent), so pytest reads that stage's pyproject.toml.
    `extra` may name test files (relative to the stage folder: tests/test_x.py): then only those run.
    `env_extra` adds environment variables (e.g. one BLAS thread when runs go side by side).
    """
    stage_dir = tests_dir.parent
    junit = Path(tempfile.gettempdir()) / f"numpygpt-junit-{os.getpid()}-{time.monotonic_ns()}.xml"
    env = {**os.environ, "PYTHONPATH": src_path(*src_dirs), "PYTHONDONTWRITEBYTECODE": "1", **(env_extra or {})}
    env.pop("NUMPYGPT_DATA", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *([] if any(a.startswith("tests/") for a in extra) else [str(tests_dir)]),
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        "--tb=no",  # the report is read from the JUnit XML; printing hundreds of tracebacks takes most of the time
        "--hypothesis-profile=numpygpt-tools",  # the same examples every run: which tests reach an exercise must not vary
        *extra,
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=stage_dir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(
            False, "(timeout)", f"the tests did not finish within {timeout:.0f} s", "", time.perf_counter() - t0
        )
    seconds = time.perf_counter() - t0
    lines = proc.stdout.strip().splitlines()
    summary = lines[-1] if lines else proc.stderr.strip()[-200:]
    first, message, messages, cases = "", "", [], []
    if junit.exists():
        try:
            for case in ET.parse(junit).getroot().iter("testcase"):
                where = case.get("file") or case.get("classname", "")
                name = f"{Path(where).name}::{case.get('name')}"
                props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
                exercises = tuple(props.get("exercises", "").split())
                bad = case.find("failure")
                if bad is None:
                    bad = case.find("error")
                skipped = case.find("skipped")
                if bad is not None:
                    cases.append(Case(name, "failed", bad.get("message") or "", exercises))
                    messages.append((bad.get("message") or "") + "\n" + (bad.text or ""))
                    if not first:
                        first = name
                        message = first_line(messages[0])
                elif skipped is not None:
                    cases.append(Case(name, "skipped", skipped.get("message") or "", exercises))
                else:
                    cases.append(Case(name, "passed", "", exercises))
        finally:
            junit.unlink()
    if proc.returncode not in (0, 5) and not first:  # collection error, crash, usage error
        first = "(no test ran)"
        message = first_line(proc.stdout[-2000:] + proc.stderr[-2000:])
    return Outcome(proc.returncode in (0, 5), first, message, summary, seconds, messages, cases)

"""Check every stage as a learner's workspace, exercise by exercise (what `nox -s exercises` runs).

For each stage, in scratch copies of the repository (the real tree is never touched):

  fresh        a new workspace (every exercise stubbed) fails the stage's tests, and every failure
               names an exercise ("Exercise 2.3: ...");
  per exercise S.N:
    marker     with only S.N stubbed (the reference everywhere else), the tests that fail are
               exactly the tests its marker `-m exS_N` selects: every test that reaches S.N's code
               carries the marker (so no test under another marker fails because of something only
               S.N writes), and every test under the marker reaches it (the stub fails them all);
    in order   with the exercises before S.N written and S.N and the later ones not, `-m exS_N`
               fails, no failure names another exercise, and the tests that also need a later exercise wait
               for it (reported as skipped): exercises can be done in order;
    mutants    each classic mistake of tools/mutant_catalogue.py inside S.N is caught under
               `-m exS_N` by a message that names it (tools/mutants.py);
  pasted back  the fresh workspace with every reference body pasted back into its marked regions is
               byte-identical to the reference and passes all the stage's tests.

Lesson examples (tests/test_lesson.py) are not an exercise's tests: in a workspace they wait for
the exercises they need.

    python tools/check_workspaces.py            every stage
    python tools/check_workspaces.py stage02    one stage (several may be given)

Exits non-zero on any failed check. Stdlib only; the Python running it needs numpy, pytest and
hypothesis (nox installs them).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutant_catalogue import MUTANTS
from mutants import exercise_of, run_one, verdict
from stagetests import ROOT, STAGES, Outcome, copy_stages, run_tests, stage_of
from workspace import create, fill_text, readme_block, stage_regions, stub_text

EXERCISES_FILE = "exercises.txt"  # as numpygpt.autograd.exercises reads it
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
T = TypeVar("T")


@dataclass
class Report:
    """What one check found: lines for the report, and the failures among them."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_stage(scratch: Path, folder: str, ws: Path, extra: list[str]) -> Outcome:
    """The reference tests of `folder` against workspace `ws`, earlier stages from the reference copy."""
    earlier = [scratch / s / "src" for s in STAGES[: STAGES.index(folder)]]
    return run_tests(scratch / folder / "tests", [*earlier, ws / "src"], extra, env_extra=ONE_THREAD)


def variant(scratch: Path, folder: str, name: str, stubbed: set[str]) -> Path:
    """A workspace of `folder` with exactly the exercises in `stubbed` left to write."""
    ws = scratch / "workspaces" / f"{folder}-{name}"
    create(folder, ws, root=scratch)
    for path in (scratch / folder / "src").rglob("*.py"):
        target = ws / path.relative_to(scratch / folder)
        target.write_text(stub_text(path.read_text(encoding="utf-8"), path, folder, only=stubbed), encoding="utf-8")
    return ws


def names_exercise(message: str) -> list[str]:
    """The exercises whose stub message appears in a failure message."""
    return re.findall(r"Exercise (\d+\.\d+):", message)


def check_fresh(scratch: Path, folder: str) -> Report:
    """A new workspace fails, every failure naming an exercise; the README's table is current."""
    rep = Report()
    if readme_block(folder) not in (ROOT / folder / "README.md").read_text(encoding="utf-8"):
        rep.failures.append(
            f"{folder}/README.md does not list the current exercises: run `python tools/workspace.py {folder[:7]} --write-readme`"
        )
    ids = [r.id for r in stage_regions(folder, scratch)]
    out = run_stage(scratch, folder, variant(scratch, folder, "fresh", set(ids)), ["-q"])
    named = sorted(
        {n for msg in out.messages for n in names_exercise(msg)}, key=lambda s: tuple(map(int, s.split(".")))
    )
    rep.lines.append(f"{folder} fresh workspace: {out.summary}; failures name exercise(s) {', '.join(named) or '-'}")
    if out.passed:
        rep.failures.append(f"{folder}: the fresh workspace passes its tests")
    elif not all(names_exercise(m) for m in out.messages):
        other = next(m for m in out.messages if not names_exercise(m))
        rep.failures.append(
            f"{folder}: a fresh workspace fails with a message that is not an exercise's: {other[:300]!r}"
        )
    return rep


def reach(scratch: Path, folder: str, ex: str) -> tuple[Outcome, set[str]]:
    """Run every test of `folder` with only exercise `ex` stubbed: the run, and the tests that fail.

    Everything else is the reference, whose tests pass, so a test that fails here fails because it
    reaches the stub, even where its message does not say so (a command run in a subprocess).
    """
    out = run_stage(scratch, folder, variant(scratch, folder, ex, {ex}), ["-q"])
    return out, {c.id for c in out.cases if c.outcome == "failed"}


def write_markers(folder: str, reached: dict[str, set[str]]) -> Path:
    """Write the stage's tests/exercises.txt from the tests each exercise's stub fails."""
    tests: dict[str, list[str]] = {}
    for ex, ids in reached.items():
        for test in ids:
            tests.setdefault(test, []).append("ex" + ex.replace(".", "_"))
    path = ROOT / folder / "tests" / EXERCISES_FILE
    lines = [
        "# The exercises each test reaches: the tests that fail when only that exercise is left unwritten.",
        "# Generated by `python tools/check_workspaces.py --write-markers`; `nox -s exercises` checks it.",
        "# The pytest plugin numpygpt.autograd.exercises gives each test these markers: `-m ex1_4` selects them.",
        *(f"{' '.join(sorted(marks))} {test}" for test, marks in sorted(tests.items())),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_exercise(scratch: Path, folder: str, ex: str, ids: list[str]) -> Report:
    """The marker, in-order and mutant checks of exercise `ex` (see the module docstring)."""
    rep = Report()
    marker = "ex" + ex.replace(".", "_")

    # marker: only `ex` stubbed, every test run
    out, reached = reach(scratch, folder, ex)
    marked = {c.id for c in out.cases if ex in c.exercises}
    unmarked, idle = sorted(reached - marked), sorted(marked - reached)
    if unmarked or idle:
        rep.failures.append(
            f"{folder}/tests/{EXERCISES_FILE} is out of date for {ex} ({len(unmarked)} test(s) reach it unmarked: "
            f"{', '.join(unmarked[:4]) or '-'}; {len(idle)} marked {marker} do not reach it: {', '.join(idle[:4]) or '-'}): "
            "run `python tools/check_workspaces.py --write-markers`"
        )

    # in order: the exercises before `ex` written, `ex` and the later ones stubbed
    later = set(ids[ids.index(ex) :])
    out = run_stage(scratch, folder, variant(scratch, folder, f"{ex}-next", later), ["-q", "-m", marker])
    failed = [c for c in out.cases if c.outcome == "failed"]
    waiting = [c for c in out.cases if c.outcome == "skipped"]
    wrong = [c for c in failed if set(names_exercise(c.message)) - {ex}]  # a failure naming another exercise
    if not failed:
        rep.failures.append(f"{folder}: with {ex} next to write, `-m {marker}` does not fail ({out.summary})")
    for c in wrong[:3]:
        rep.failures.append(
            f"{folder}: with {ex} next to write, {c.id} fails with {c.message[:200]!r}, not on exercise {ex}"
        )

    # mutants inside `ex`, under its marker
    mine = [m for m in MUTANTS if m.stage == folder and exercise_of(m, scratch) == ex]
    caught = [m.name for m in mine if verdict(m, run_one(m, scratch)) == "caught"]
    for m in mine:
        if m.name not in caught:
            rep.failures.append(f"{folder}: mutant {m.name} is not caught under -m {marker} by a message that names it")
    rep.lines.append(
        f"  {ex:<4} -m {marker:<6} {len(marked):>4} tests, the stub fails {len(reached & marked):>4}; "
        f"in order: {len(failed):>4} fail on {ex}, {len(waiting):>4} wait for later exercises; "
        f"mutants caught under the marker: {len(caught)}/{len(mine)}"
    )
    return rep


def check_pasted_back(scratch: Path, folder: str) -> Report:
    """The fresh workspace with the reference bodies pasted back is the reference, and passes."""
    rep = Report()
    ws = variant(scratch, folder, "pasted", {r.id for r in stage_regions(folder, scratch)})
    for path in (scratch / folder / "src").rglob("*.py"):
        target = ws / path.relative_to(scratch / folder)
        reference = path.read_text(encoding="utf-8")
        filled = fill_text(target.read_text(encoding="utf-8"), reference, target)
        if filled != reference:
            rep.failures.append(
                f"{folder}: pasting the reference bodies back into {target.name} does not give the reference"
            )
        target.write_text(filled, encoding="utf-8")
    out = run_stage(scratch, folder, ws, ["-q"])
    rep.lines.append(f"{folder} pasted back: {out.summary}")
    if not out.passed:
        rep.failures.append(
            f"{folder}: with the reference bodies pasted back the tests fail: {out.first_failure}: {out.message}"
        )
    return rep


def run_pool(tasks: list[Callable[[Path], T]], scratches: queue.Queue[Path], jobs: int) -> list[T]:
    """Run each task with a scratch copy of its own (a mutant patches the copy it runs in)."""

    def work(task: Callable[[Path], T]) -> T:
        scratch = scratches.get()
        try:
            return task(scratch)
        finally:
            scratches.put(scratch)

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(work, tasks))


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring. Returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stages", nargs="*", help="stage01 .. stage05 (default: all)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="checks run at once (default: 2)")
    ap.add_argument("--write-markers", action="store_true", help=f"rewrite each stage's tests/{EXERCISES_FILE}")
    args = ap.parse_args(argv)
    folders = [stage_of(s) for s in args.stages] or STAGES
    t0 = time.perf_counter()
    jobs = max(1, args.jobs)
    with tempfile.TemporaryDirectory(prefix="numpygpt-workspaces-") as tmp:
        scratches: queue.Queue[Path] = queue.Queue()
        for i in range(jobs):
            scratches.put(copy_stages(Path(tmp) / f"w{i}"))
        if args.write_markers:
            pairs = [(f, r.id) for f in folders for r in stage_regions(f)]
            found = run_pool([lambda s, f=f, e=e: reach(s, f, e)[1] for f, e in pairs], scratches, jobs)
            for folder in folders:
                reached = {e: ids for (f, e), ids in zip(pairs, found, strict=True) if f == folder}
                path = write_markers(folder, reached)
                print(f"{path.relative_to(ROOT)}: {sum(map(len, reached.values()))} (test, exercise) pairs")
            return 0
        tasks: list[Callable[[Path], Report]] = []
        for folder in folders:
            ids = [r.id for r in stage_regions(folder)]
            tasks.append(lambda s, f=folder: check_fresh(s, f))
            tasks += [lambda s, f=folder, e=ex, i=ids: check_exercise(s, f, e, i) for ex in ids]
            tasks.append(lambda s, f=folder: check_pasted_back(s, f))
        reports = run_pool(tasks, scratches, jobs)
    failures = []
    for rep in reports:
        print("\n".join(rep.lines), flush=True)
        failures += rep.failures
    print()
    if failures:
        print("FAILED:")
        for f in failures:
            print(f"  {f}")
    else:
        n = sum(len(stage_regions(f)) for f in folders)
        print(
            f"all {len(folders)} stage(s), {n} exercises: each marker selects exactly the tests that reach its "
            f"exercise, each exercise can be written in order, its mutants are caught under its marker, and the "
            f"pasted-back reference passes ({time.perf_counter() - t0:.0f} s)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

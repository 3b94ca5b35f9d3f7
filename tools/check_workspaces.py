"""Check that every stage works as a learner workspace (what `nox -s exercises` runs).

For each stage, in a scratch copy of the repository (the real tree is never touched):

  1. fresh     a new workspace (every exercise stubbed) fails the stage's tests, and the
               failures name the exercises ("Exercise 2.3: ...");
  2. in order  for each exercise, a workspace with the exercises before it written and it and
               the later ones not fails the tests its marker selects (`-m ex2_3`) first on that
               exercise's message: the marker selects tests that reach it, and no exercise's
               tests need a later one (the learner can go in order);
  3. pasted back  the fresh workspace with every reference body pasted back into its marked
               regions is byte-identical to the reference and passes all the stage's tests.

    python tools/check_workspaces.py            every stage
    python tools/check_workspaces.py stage02    one stage (several may be given)

Exits non-zero on any failed check. Stdlib only; the Python running it needs numpy, pytest
and hypothesis (nox installs them).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stagetests import ROOT, STAGES, Outcome, copy_stages, run_tests, stage_of
from workspace import create, fill_text, readme_block, stage_regions, stub_text

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_stage(scratch: Path, folder: str, ws: Path, extra: list[str]) -> Outcome:
    """The reference tests of `folder` against workspace `ws`, earlier stages from the reference copy."""
    earlier = [scratch / s / "src" for s in STAGES[: STAGES.index(folder)]]
    return run_tests(scratch / folder / "tests", [*earlier, ws / "src"], extra, env_extra=ONE_THREAD)


def write_variant(scratch: Path, folder: str, ws: Path, stubbed: set[str]) -> None:
    """Make `ws` the reference stage with exactly the exercises in `stubbed` left to write."""
    for path in (scratch / folder / "src").rglob("*.py"):
        target = ws / path.relative_to(scratch / folder)
        target.write_text(stub_text(path.read_text(encoding="utf-8"), path, folder, only=stubbed), encoding="utf-8")


def check_stage(scratch: Path, folder: str) -> tuple[list[str], list[str]]:
    """Run the three checks on one stage; returns (report lines, failures)."""
    report, failures = [], []
    ids = [r.id for r in stage_regions(folder, scratch)]
    if not ids:
        return [f"{folder}: no exercises marked"], [f"{folder}: no exercises marked"]
    base = scratch / "workspaces"
    if readme_block(folder) not in (ROOT / folder / "README.md").read_text(encoding="utf-8"):
        failures.append(
            f"{folder}/README.md does not list the current exercises: run `python tools/workspace.py {folder[:7]} --write-readme`"
        )

    # 1. fresh
    ws = base / folder
    create(folder, ws, root=scratch)
    out = run_stage(scratch, folder, ws, ["-q"])
    named = sorted(
        {m for msg in out.messages for m in re.findall(r"Exercise (\d+\.\d+):", msg)},
        key=lambda s: tuple(map(int, s.split("."))),
    )
    ok = not out.passed and named and all("Exercise" in m for m in out.messages)
    report.append(
        f"{folder} fresh workspace: {out.summary}; failures name exercise(s) {', '.join(named) or '-'} ({out.seconds:.0f} s)"
    )
    if out.passed:
        failures.append(f"{folder}: the fresh workspace passes its tests")
    elif not ok:
        other = next((m for m in out.messages if "Exercise" not in m), "")
        failures.append(f"{folder}: a fresh workspace fails with a message that is not an exercise's: {other!r}")

    # 2. the learner's path: exercises before `ex` written, `ex` and the later ones not yet
    for k, ex in enumerate(ids):
        step = base / f"{folder}-{ex}"
        create(folder, step, root=scratch)
        write_variant(scratch, folder, step, set(ids[k:]))
        marker = "ex" + ex.replace(".", "_")
        out = run_stage(scratch, folder, step, ["-x", "-q", "-m", marker])
        good = not out.passed and out.message.startswith("NotImplementedError") and f"Exercise {ex}:" in out.message
        report.append(
            f"  exercise {ex} next, -m {marker}: {'ok' if good else 'FAILED'}: {out.first_failure or out.summary}"
        )
        if not good:
            failures.append(
                f"{folder}: with the exercises before {ex} written, `-m {marker}` should fail first on exercise {ex}, "
                f"but gave {out.summary!r}: {out.first_failure}: {out.message!r}"
            )

    # 3. reference bodies pasted back into the fresh workspace
    for path in (scratch / folder / "src").rglob("*.py"):
        target = ws / path.relative_to(scratch / folder)
        reference = path.read_text(encoding="utf-8")
        filled = fill_text(target.read_text(encoding="utf-8"), reference, target)
        if filled != reference:
            failures.append(
                f"{folder}: pasting the reference bodies back into {target.name} does not give the reference"
            )
        target.write_text(filled, encoding="utf-8")
    out = run_stage(scratch, folder, ws, ["-q"])
    report.append(f"{folder} pasted back: {out.summary} ({out.seconds:.0f} s)")
    if not out.passed:
        failures.append(
            f"{folder}: with the reference bodies pasted back the tests fail: {out.first_failure}: {out.message}"
        )
    return report, failures


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring. Returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stages", nargs="*", help="stage01 .. stage05 (default: all)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="stages checked at once (default: 2)")
    args = ap.parse_args(argv)
    folders = [stage_of(s) for s in args.stages] or STAGES
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="numpygpt-workspaces-") as tmp:
        scratch = copy_stages(Path(tmp))
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(lambda f: check_stage(scratch, f), folders))
    failures = []
    for report, fails in results:
        print("\n".join(report))
        failures += fails
    print()
    if failures:
        print("FAILED:")
        for f in failures:
            print(f"  {f}")
    else:
        print(
            f"all {len(folders)} stage(s): fresh workspaces fail with exercise messages, each exercise's "
            f"marker reaches it, and the pasted-back reference passes ({time.perf_counter() - t0:.0f} s)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

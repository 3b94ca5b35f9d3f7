"""Classic mistakes, each a small exact-text patch to the reference, and proof that a test names it.

    python tools/mutants.py              every mutant of tools/mutant_catalogue.py (what `nox -s mutants` runs)
    python tools/mutants.py NAME ...     only these
    python tools/mutants.py --list       the catalogue: each mutant's exercise and hint

For each mutant: copy the five stages to a scratch folder (the real tree is never touched),
apply the patch there and run the owning stage's tests with `-x -q` and PYTHONPATH on the
scratch copy's src folders:

- a mutant inside an exercise's marked region belongs to that exercise (found from the markers,
  not declared) and runs under that exercise's marker only (`-m ex2_3`): what a learner runs
  while writing it. The tests under the marker must catch it;
- any other mutant runs the tests its `select` names (a file, a marker), or the whole stage.

The verdict is the first failing test's message, which is what a learner reads first:

    caught    it matches the mutant's `expect`: the message names this mistake
    weak      a test fails, but its message does not name the mistake (a bare assert, an array
              diff, a crash, or a hint meant for another mistake)
    SURVIVED  no test failed: a hole in the tests

The run exits non-zero if any mutant is weak or survives, or if a mutant's `old` snippet is no
longer in the reference exactly once (the catalogue must not rot silently when the code changes).

Stdlib only; the Python running it needs numpy, pytest and hypothesis (nox installs them).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutant_catalogue import MUTANTS, Mutant
from stagetests import ROOT, STAGES, Outcome, copy_stages, first_line, run_tests
from workspace import parse_regions

# Two test runs side by side on two cores: one BLAS thread each, or they fight over the cores.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def exercise_of(m: Mutant, root: Path = ROOT) -> str | None:
    """The exercise whose marked region holds the mutant's snippet, or None; ValueError if the
    snippet straddles a region's edge (half inside, half outside)."""
    path = root / m.file
    text = path.read_text(encoding="utf-8")
    start = text.index(m.old)
    first = text.count("\n", 0, start)
    last = first + m.old.rstrip("\n").count("\n")
    for r in parse_regions(text, path):
        if r.begin < first and last < r.end:
            return r.id
        if not (last <= r.begin or first >= r.end):
            raise ValueError(f"{m.name}: its snippet straddles the edge of exercise {r.id}")
    return None


def check_catalogue(mutants: list[Mutant], root: Path = ROOT) -> list[str]:
    """Every problem with the catalogue: a duplicate name, a snippet not found exactly once or
    straddling an exercise's edge, an `expect` that is not a regular expression, a `select` given to
    a mutant that belongs to an exercise (its marker decides what runs)."""
    problems = []
    names = [m.name for m in mutants]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"mutant name {n!r} is used twice")
    for m in mutants:
        path = root / m.file
        if m.stage not in STAGES:
            problems.append(f"{m.name}: {m.file} is not in a stage folder")
            continue
        if not path.is_file():
            problems.append(f"{m.name}: {m.file} does not exist")
            continue
        n = path.read_text(encoding="utf-8").count(m.old)
        if n != 1:
            problems.append(
                f"{m.name}: its snippet occurs {n} times in {m.file} (it must occur exactly once): {m.old.strip()[:70]!r}"
            )
            continue
        try:
            re.compile(m.expect)
            if exercise_of(m, root) and m.select:
                problems.append(f"{m.name}: it belongs to an exercise, whose marker selects its tests: drop `select`")
        except (ValueError, re.error) as e:
            problems.append(f"{m.name}: {e}")
    return problems


def marker_files(stage_dir: Path, marker: str) -> list[str]:
    """The test files (tests/test_x.py) holding a test with `marker`, from the stage's tests/exercises.txt:
    collecting only those makes a run under the marker several times faster than collecting them all."""
    files = set()
    path = stage_dir / "tests" / "exercises.txt"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        words = line.split(" ")
        marks = [w for w in words if re.fullmatch(r"ex\d+_\d+", w)]
        if marker in marks:
            files.add(" ".join(words[len(marks) :]).split("::")[0])
    return [f"tests/{f}" for f in sorted(files)]


def test_args(m: Mutant, root: Path = ROOT) -> list[str]:
    """The pytest arguments that run the tests meant to catch `m` (see the module docstring)."""
    ex = exercise_of(m, root)
    if ex is not None:
        marker = "ex" + ex.replace(".", "_")
        return ["-m", marker, "-x", "-q", *marker_files(root / m.stage, marker)]
    return [*m.select, "-x", "-q"]


def run_one(m: Mutant, scratch: Path) -> Outcome:
    """Apply `m` in the scratch copy, run the tests meant to catch it, put the file back."""
    path = scratch / m.file
    original = path.read_text(encoding="utf-8")
    args = test_args(m, scratch)
    path.write_text(original.replace(m.old, m.new, 1), encoding="utf-8")
    try:
        srcs = [scratch / s / "src" for s in STAGES[: STAGES.index(m.stage) + 1]]
        return run_tests(scratch / m.stage / "tests", srcs, args, env_extra=ONE_THREAD)
    finally:
        path.write_text(original, encoding="utf-8")


def verdict(m: Mutant, out: Outcome) -> str:
    """caught, weak or SURVIVED (see the module docstring)."""
    if out.passed:
        return "SURVIVED"
    return "caught" if re.search(m.expect, out.first_exception, re.IGNORECASE | re.DOTALL) else "weak"


def baseline(scratch: Path, stages: list[str]) -> list[str]:
    """The stages whose unmutated tests fail in the scratch copy (then no verdict means anything)."""
    bad = []
    for s in stages:
        srcs = [scratch / f / "src" for f in STAGES[: STAGES.index(s) + 1]]
        out = run_tests(scratch / s / "tests", srcs, ["-x", "-q"], env_extra=ONE_THREAD)
        if not out.passed:
            bad.append(f"{s}: {out.first_failure}: {out.message}")
    return bad


def table(rows: list[tuple[str, ...]]) -> str:
    """A plain-text table: every column padded but the last."""
    header = ("mutant", "exercise", "verdict", "caught by", "message")
    n = len(header) - 1
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(n)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header[:n], widths, strict=True)) + " | " + header[n]]
    lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 40)
    for r in rows:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(r[:n], widths, strict=True)) + " | " + r[n])
    return "\n".join(lines)


def run_mutants(chosen: list[Mutant], jobs: int, check_baseline: bool = True) -> list[Outcome] | None:
    """Run `chosen` in `jobs` scratch copies side by side, printing a line per mutant as it ends;
    None (after saying why) if the unmutated tests already fail."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="numpygpt-mutants-") as tmp:
        scratches: queue.Queue[Path] = queue.Queue()
        for i in range(jobs):
            scratches.put(copy_stages(Path(tmp) / f"w{i}"))
        if check_baseline:
            stages = sorted({m.stage for m in chosen}, key=STAGES.index)
            groups = [(Path(tmp) / f"w{i}", stages[i::jobs]) for i in range(jobs)]  # one scratch copy each
            with ThreadPoolExecutor(jobs) as pool:
                bad = sum(pool.map(lambda g: baseline(*g), groups), [])
            if bad:
                print("mutants: the unmutated reference fails its tests, so no verdict would mean anything:")
                for b in bad:
                    print(f"  {b}")
                return None
            print(f"baseline: the unmutated tests of {len(stages)} stage(s) pass ({time.perf_counter() - t0:.0f} s)")

        def work(m: Mutant) -> Outcome:
            """Run one mutant in whichever scratch copy is free, and say how it went."""
            scratch = scratches.get()
            try:
                out = run_one(m, scratch)
            finally:
                scratches.put(scratch)
            print(f"  {m.name}: {verdict(m, out)} in {out.seconds:.1f} s", flush=True)
            return out

        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(work, chosen))


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring. Returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="run only these mutants (default: all)")
    ap.add_argument("--list", action="store_true", help="list the catalogue and exit")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="mutants run at once (default: 2)")
    ap.add_argument("--no-baseline", action="store_true", help="skip checking that the unmutated tests pass first")
    args = ap.parse_args(argv)

    problems = check_catalogue(MUTANTS)
    if problems:
        print("mutants: the catalogue does not fit the reference any more:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:<44} {exercise_of(m) or m.stage[:7]:<8} {m.hint}")
        return 0
    unknown = [n for n in args.names if n not in {m.name for m in MUTANTS}]
    if unknown:
        print(f"mutants: unknown mutant(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]

    t0 = time.perf_counter()
    outcomes = run_mutants(chosen, max(1, args.jobs), not args.no_baseline)
    if outcomes is None:
        return 2
    rows, verdicts = [], []
    for m, out in zip(chosen, outcomes, strict=True):
        v = verdict(m, out)
        verdicts.append(v)
        where = exercise_of(m) or "-"
        if v == "SURVIVED":
            rows.append((m.name, where, v, "-", f"no test failed ({out.summary}); hint: {m.hint}"))
        else:
            said = first_line(out.first_exception) or out.message
            rows.append(
                (m.name, where, v, out.first_failure, said if v == "caught" else f"{said}  [expected: {m.expect}]")
            )
    print()
    print(table(rows))
    survived = [m.name for m, v in zip(chosen, verdicts, strict=True) if v == "SURVIVED"]
    weak = [m.name for m, v in zip(chosen, verdicts, strict=True) if v == "weak"]
    in_exercises = sum(exercise_of(m) is not None for m in chosen)
    print()
    print(
        f"{len(chosen) - len(survived)}/{len(chosen)} mutants caught ({in_exercises} inside an exercise, each under "
        f"its own marker); {len(weak)} weak (the first failure does not name the mistake); "
        f"{time.perf_counter() - t0:.0f} s"
    )
    if survived:
        print(f"SURVIVED (holes in the tests): {', '.join(survived)}")
    if weak:
        print(f"weak (a test fails, but its message does not name the mistake): {', '.join(weak)}")
    return 1 if survived or weak else 0


if __name__ == "__main__":
    sys.exit(main())

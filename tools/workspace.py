"""Learner workspaces: a copy of one stage in which every marked exercise is left to write.

The reference source marks each exercise with a comment pair around the code to write:

    def backward(self, gy):
        # exercise 1.2: backward of a * b, each gradient summed back to its input's shape
        a, b = self.inputs
        ...
        # end exercise 1.2

`python tools/workspace.py stage02` copies stage02_layers/ to workspaces/stage02_layers/ with
the code between each pair replaced by

        raise NotImplementedError("Exercise 2.3: ... — see stage02_layers/README.md#exercises")

at the marker's indentation, so every file still imports. The markers stay, so a learner
finds each exercise by searching for "exercise". Files that already exist in the workspace
are kept (a learner's work is never lost) unless --force is given.

    python tools/workspace.py stage02            create (or complete) workspaces/stage02_layers
    python tools/workspace.py stage02 --force    overwrite it with fresh stubs
    python tools/workspace.py --list             every exercise of every stage: where it is in your
                                                 workspace, and whether it is written yet
    python tools/workspace.py --write-readme     regenerate each stage README's exercise table

Stdlib only: nox runs it without installing anything.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["stage01_autograd", "stage02_layers", "stage03_optim", "stage04_data", "stage05_gpt"]
WORKSPACES = ROOT / "workspaces"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# exercise (?P<id>\d+\.\d+): (?P<statement>.+?)\s*$")
END = re.compile(r"^[ \t]*# end exercise (?P<id>\d+\.\d+)\s*$")
# Copied into a workspace: everything but build and cache debris.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".hypothesis", "build", "dist")


class MarkerError(ValueError):
    """Exercise markers that do not pair up, or an id used twice."""


@dataclass(frozen=True)
class Region:
    """One exercise: lines begin+1 .. end-1 of `path` (0-based, the markers excluded)."""

    id: str
    statement: str
    path: Path
    begin: int
    end: int
    indent: str

    @property
    def marker(self) -> str:
        """The pytest marker that selects this exercise's tests: 2.3 -> ex2_3."""
        return "ex" + self.id.replace(".", "_")


def resolve_stage(name: str) -> str:
    """'stage02', '02', '2' or 'stage02_layers' -> 'stage02_layers'."""
    digits = re.sub(r"^stage", "", name).split("_")[0]
    if digits.isdigit():
        for folder in STAGES:
            if int(folder[5:7]) == int(digits):
                return folder
    raise SystemExit(f"workspace: unknown stage {name!r}; choose one of {', '.join(s[:7] for s in STAGES)}")


def parse_regions(text: str, path: Path) -> list[Region]:
    """The exercise regions of one file's text, in order; MarkerError if the markers do not pair up."""
    regions: list[Region] = []
    open_: tuple[int, re.Match[str]] | None = None
    for i, line in enumerate(text.splitlines()):
        b, e = BEGIN.match(line), END.match(line)
        if b:
            if open_ is not None:
                raise MarkerError(f"{path}:{i + 1}: exercise {b['id']} starts inside exercise {open_[1]['id']}")
            open_ = (i, b)
        elif e:
            if open_ is None or open_[1]["id"] != e["id"]:
                raise MarkerError(f"{path}:{i + 1}: 'end exercise {e['id']}' without its 'exercise {e['id']}: ...'")
            start, m = open_
            if i == start + 1:
                raise MarkerError(f"{path}:{start + 1}: exercise {m['id']} marks no code")
            regions.append(Region(m["id"], m["statement"], path, start, i, m["indent"]))
            open_ = None
    if open_ is not None:
        raise MarkerError(f"{path}:{open_[0] + 1}: exercise {open_[1]['id']} has no 'end exercise {open_[1]['id']}'")
    return regions


def stage_regions(folder: str, root: Path = ROOT) -> list[Region]:
    """Every exercise of a stage's src/, sorted by id; MarkerError on a duplicate id."""
    regions: list[Region] = []
    for path in sorted((root / folder / "src").rglob("*.py")):
        regions += parse_regions(path.read_text(encoding="utf-8"), path)
    seen: dict[str, Region] = {}
    for r in regions:
        if r.id in seen:
            raise MarkerError(
                f"exercise {r.id} is marked twice: {seen[r.id].path}:{seen[r.id].begin + 1} and {r.path}:{r.begin + 1}"
            )
        if not r.id.startswith(f"{int(folder[5:7])}."):
            raise MarkerError(
                f"{r.path}:{r.begin + 1}: exercise {r.id} belongs to stage {r.id.split('.')[0]}, not {folder}"
            )
        seen[r.id] = r
    return sorted(regions, key=lambda r: tuple(int(n) for n in r.id.split(".")))


def stub_message(region: Region, folder: str) -> str:
    """The NotImplementedError message a learner sees for an unwritten exercise."""
    return f"Exercise {region.id}: {region.statement} — see 'Exercise {region.id}' in {folder}/README.md"


def stub_text(text: str, path: Path, folder: str, only: set[str] | None = None) -> str:
    """`text` with the body of every exercise region (or of those in `only`) replaced by a raise
    of NotImplementedError."""
    lines = text.splitlines(keepends=True)
    for r in reversed(parse_regions(text, path)):
        if only is not None and r.id not in only:
            continue
        msg = json.dumps(stub_message(r, folder), ensure_ascii=False)  # a valid Python string literal
        lines[r.begin + 1 : r.end] = [f"{r.indent}raise NotImplementedError({msg})\n"]
    return "".join(lines)


def fill_text(text: str, reference: str, path: Path) -> str:
    """`text` (a workspace file) with each exercise body pasted back from `reference` (same ids)."""
    ref = {r.id: r for r in parse_regions(reference, path)}
    ref_lines = reference.splitlines(keepends=True)
    lines = text.splitlines(keepends=True)
    for r in reversed(parse_regions(text, path)):
        if r.id not in ref:
            raise MarkerError(f"{path}: exercise {r.id} is not in the reference")
        src = ref[r.id]
        lines[r.begin + 1 : r.end] = ref_lines[src.begin + 1 : src.end]
    return "".join(lines)


def create(folder: str, dest: Path, force: bool = False, root: Path = ROOT) -> tuple[int, int]:
    """Copy stage `folder` to `dest` with exercise bodies stubbed; returns (files written, files kept).

    A file that already exists in `dest` is kept as it is unless `force`.
    """
    src_root = root / folder
    stage_regions(folder, root)  # fail on broken markers before writing anything
    written = kept = 0
    for path in sorted(src_root.rglob("*")):
        rel = path.relative_to(src_root)
        if path.is_dir() or any(IGNORE(str(path.parent), [part]) for part in rel.parts):
            continue
        target = dest / rel
        if target.exists() and not force:
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py" and rel.parts[0] == "src":
            target.write_text(stub_text(path.read_text(encoding="utf-8"), path, folder), encoding="utf-8")
        else:
            shutil.copy2(path, target)
        written += 1
    return written, kept


def enclosing(region: Region) -> str:
    """The qualified name of the function the region sits in, e.g. 'LayerNorm.backward'."""
    tree = ast.parse(region.path.read_text(encoding="utf-8"))
    line = region.begin + 1  # 1-based line of the opening marker
    names: list[str] = []
    body: list[ast.stmt] = tree.body
    while True:
        inner = next(
            (
                n
                for n in body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.lineno <= line <= (n.end_lineno or n.lineno)
            ),
            None,
        )
        if inner is None:
            return ".".join(names)
        names.append(inner.name)
        # Breadth-first, so the outermost definition inside `inner` that holds the line comes first.
        body = [
            s
            for s in ast.walk(inner)
            if s is not inner and isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        ]


def exercises_markdown(folder: str) -> str:
    """The 'workspace' part of a stage README's Exercises section, generated from the markers."""
    short = folder[:7]
    n = int(short[5:])
    rows = []
    for r in stage_regions(folder):
        where = r.path.relative_to(ROOT / folder)
        rows.append(
            f"| {r.id} | [`{where.relative_to('src/numpygpt')}`]({where}) `{enclosing(r)}` | {r.statement} | `-m {r.marker}` |"
        )
    return "\n".join(
        [
            "### In your own workspace",
            "",
            f"Each exercise below is a marked region of the reference code (`# exercise {n}.1: ...` to "
            f"`# end exercise {n}.1`). Make a workspace in which they are left for you to write, then test it:",
            "",
            "```bash",
            f"nox -s workspace -- {short}                # workspaces/{folder}/: this stage with its exercises stubbed",
            f"nox -s {short} -- --workspace              # all of {short}'s tests against your workspace",
            f"nox -s {short} -- --workspace -m ex{n}_1       # only the tests of exercise {n}.1",
            f"nox -s {short} -- --collect-only -q -m ex{n}_1  # the list of every test of exercise {n}.1",
            "```",
            "",
            f"An exercise you have not written yet fails with `NotImplementedError: Exercise {n}.1: ...`. "
            "The stages before this one come from the reference, so only your own code is on trial. "
            f"`-m ex{n}_1` selects every test that runs exercise {n}.1's code (measured, and listed in "
            "`tests/exercises.txt`), the ones written to name its mistakes first; a test that also needs a later "
            "exercise is skipped until you have written that one. "
            "Running `nox -s workspace` again adds missing files and never overwrites yours (`-- --force` does). "
            "Do them in order: later exercises call the earlier ones. Each exercise's section below says "
            "everything its tests check.",
            "",
            "| exercise | where | what to write | its tests |",
            "|---|---|---|---|",
            *rows,
        ]
    )


README_BEGIN = "<!-- exercises: generated from the markers by `python tools/workspace.py STAGE --write-readme` -->"
README_END = "<!-- end of the generated exercises -->"


def readme_block(folder: str) -> str:
    """The generated block of a stage README, between its two marker comments."""
    return f"{README_BEGIN}\n{exercises_markdown(folder)}\n{README_END}"


def write_readme(folder: str) -> bool:
    """Put the generated block into the stage README (replacing the old one, or right under
    '## Exercises'); True if the file changed."""
    path = ROOT / folder / "README.md"
    text = path.read_text(encoding="utf-8")
    block = readme_block(folder)
    if README_BEGIN in text:
        start = text.index(README_BEGIN)
        end = text.index(README_END, start) + len(README_END)
        new = text[:start] + block + text[end:]
    else:
        head = "## Exercises\n\n"
        if head not in text:
            raise MarkerError(f"{path} has no '## Exercises' section to put the exercises in")
        new = text.replace(head, head + block + "\n\n", 1)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def workspace_status(region: Region, folder: str, workspaces: Path = WORKSPACES) -> tuple[Path, int, str]:
    """Where exercise `region` is in the learner's workspace: (file, 1-based line, status), the status
    being "to write" (still the stub), "written" or "no workspace" (then the file and line are the
    reference's)."""
    target = workspaces / folder / region.path.relative_to(ROOT / folder)
    if not target.is_file():
        return region.path, region.begin + 1, "no workspace"
    mine = {r.id: r for r in parse_regions(target.read_text(encoding="utf-8"), target)}
    if region.id not in mine:
        return target, 1, "markers missing"
    r = mine[region.id]
    body = target.read_text(encoding="utf-8").splitlines()[r.begin + 1 : r.end]
    stub = len(body) == 1 and body[0].strip().startswith("raise NotImplementedError(")
    return target, r.begin + 1, "to write" if stub else "written"


def list_exercises(folders: list[str]) -> None:
    """Print each stage's exercises: id, marker, status, where it is in the workspace, and statement."""
    for folder in folders:
        print(f"{folder}:")
        for r in stage_regions(folder):
            path, line, status = workspace_status(r, folder)
            print(f"  {r.id:<5} -m {r.marker:<6} {status:<12} {path.relative_to(ROOT)}:{line}  {r.statement}")


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", nargs="?", help="stage01 .. stage05 (or the folder name)")
    ap.add_argument("--force", action="store_true", help="overwrite existing workspace files with fresh stubs")
    ap.add_argument("--dest", type=Path, help="where to create it (default: workspaces/<stage folder>)")
    ap.add_argument("--list", action="store_true", help="list the exercises (of one stage, or of all)")
    ap.add_argument("--markdown", action="store_true", help="print the README table of a stage's exercises")
    ap.add_argument("--write-readme", action="store_true", help="update the generated exercise table in the README(s)")
    args = ap.parse_args(argv)
    if args.markdown:
        print(exercises_markdown(resolve_stage(args.stage or "")))
        return 0
    if args.write_readme:
        for folder in [resolve_stage(args.stage)] if args.stage else STAGES:
            print(f"{folder}/README.md: {'updated' if write_readme(folder) else 'up to date'}")
        return 0
    if args.list:
        list_exercises([resolve_stage(args.stage)] if args.stage else STAGES)
        return 0
    if not args.stage:
        ap.error("name a stage, e.g. `nox -s workspace -- stage02`")
    folder = resolve_stage(args.stage)
    dest = args.dest or WORKSPACES / folder
    try:
        written, kept = create(folder, dest, args.force)
    except MarkerError as e:
        print(f"workspace: {e}", file=sys.stderr)
        return 1
    n = len(stage_regions(folder))
    print(f"workspace: {dest} ({written} files written, {n} exercises to write)")
    if kept:
        print(f"workspace: kept {kept} existing files untouched (use --force to overwrite them with fresh stubs)")
    short = folder[:7]
    print(f"next: write the exercises (grep -rn 'exercise {int(short[5:])}\\.' {dest}/src), then")
    print(f"      nox -s {short} -- --workspace            all of {short}'s tests against your code")
    print(
        f"      nox -s {short} -- --workspace -m ex{int(short[5:])}_1    the tests of exercise {int(short[5:])}.1 only"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

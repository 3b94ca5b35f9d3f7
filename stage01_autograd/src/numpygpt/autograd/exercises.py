"""Test helpers shared by every stage: run a lesson's examples, and a pytest plugin for exercises.

Every stage's pyproject.toml loads this module as a pytest plugin (`-p numpygpt.autograd.exercises`),
and every stage's `tests/test_lesson.py` calls `run_lesson` on its README. It lives in stage 01
because every stage's environment holds stage 01. It needs pytest (the `test` extra); nothing else
in numpygpt imports it.

**Lessons that run.** `run_lesson(readme)` runs every `>>>` example of a lesson as a doctest: the
fenced code blocks holding `>>>` lines, in order, in one namespace (a later block may use what an
earlier one made), in a scratch working directory. A block right after the comment
`<!-- lesson: needs the corpus -->` runs only where tiny Shakespeare is at hand (it sees it as
`data/tinyshakespeare.txt`) and is reported as not run elsewhere: mark so every block that reads
the corpus or uses a name such a block made.

**Exercises.** Each exercise S.N of a stage is a marked region of the reference code, and every test
that reaches that code carries the pytest marker `exS_N`. Which tests reach which exercise is
measured, not guessed: `python tools/check_workspaces.py --write-markers` leaves one exercise
unwritten at a time, runs every test, and writes the tests that fail to the stage's
`tests/exercises.txt` (one line per test: its markers, then its id); `nox -s exercises` checks that
the file is still true. In a learner's workspace an unwritten exercise raises
`NotImplementedError("Exercise S.N: ...")`. The plugin

- gives each test listed in `tests/exercises.txt` its markers, so `-m ex1_4` selects them;
- runs first, under `-m exS_N`, the tests written for exercise S.N (decorated `@pytest.mark.exS_N`
  in their source: they name the mistake), then the others, those that reach fewest exercises first;
- reports as skipped, under `-m exS_N`, a test that fails only because a *later* exercise is not
  written yet ("needs exercise 1.5, which comes after 1.4"), so exercises can be done in order;
- reports as skipped a lesson example that needs an exercise not written yet;
- records each test's exercise markers in the JUnit XML report (the property "exercises"), for the
  tools that check the markers.
"""

from __future__ import annotations

import doctest
import os
import re
import tempfile
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXERCISE_MARK = re.compile(r"^ex(\d+)_(\d+)$")
STUB = re.compile(r"Exercise (\d+)\.(\d+):")
NEEDS_CORPUS = "<!-- lesson: needs the corpus -->"
CORPUS_NAME = "tinyshakespeare.txt"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>.*)$")


# ----- lessons ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LessonBlock:
    """One fenced code block of a lesson that holds `>>>` examples."""

    text: str  # the block's body, dedented to its fence
    line: int  # 1-based line of the block's first body line in the README
    needs_corpus: bool


@dataclass
class LessonRun:
    """What `run_lesson` did: examples run, blocks left out (no corpus), and each failure's report."""

    examples: int = 0
    blocks: int = 0
    not_run: list[int] = field(default_factory=list)  # README lines of blocks left out
    failures: list[str] = field(default_factory=list)


def lesson_blocks(text: str) -> list[LessonBlock]:
    """The fenced blocks of a Markdown text that hold `>>>` examples, in order.

    Raises ValueError for a `>>>` line outside any fenced block (it would never run).
    """
    blocks: list[LessonBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            if lines[i].lstrip().startswith(">>>"):
                raise ValueError(f"line {i + 1}: a >>> example outside a fenced code block never runs: {lines[i]!r}")
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(fence[0] * len(fence)):
            j += 1
        body = [line[len(indent) :] if line.startswith(indent) else line for line in lines[start:j]]
        if any(line.lstrip().startswith(">>>") for line in body):
            before = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            blocks.append(LessonBlock("\n".join(body) + "\n", start + 1, before == NEEDS_CORPUS))
        i = j + 1
    return blocks


class _Runner(doctest.DocTestRunner):
    """A DocTestRunner that remembers the exceptions examples raised unexpectedly."""

    def __init__(self) -> None:
        super().__init__(verbose=False, optionflags=doctest.ELLIPSIS)
        self.unexpected: list[BaseException] = []

    def report_unexpected_exception(self, out: Any, test: Any, example: Any, exc_info: Any) -> None:
        self.unexpected.append(exc_info[1])
        super().report_unexpected_exception(out, test, example, exc_info)


def run_lesson(readme: Path, corpus: Path | None = None) -> LessonRun:
    """Run every `>>>` example of `readme` as a doctest; see the module docstring.

    An example that hits an unwritten exercise re-raises its NotImplementedError, so that the
    plugin can report the lesson as waiting for that exercise.
    """
    result = LessonRun()
    readme = readme.resolve()  # the examples run in a scratch directory
    parser = doctest.DocTestParser()
    globs: dict[str, Any] = {"__name__": "lesson"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="numpygpt-lesson-") as tmp:
        if corpus is not None:
            (Path(tmp) / "data").mkdir()
            (Path(tmp) / "data" / CORPUS_NAME).symlink_to(corpus.resolve())
        os.chdir(tmp)
        try:
            for block in lesson_blocks(readme.read_text(encoding="utf-8")):
                if block.needs_corpus and corpus is None:
                    result.not_run.append(block.line)
                    continue
                name = f"{readme.parent.name}/{readme.name}:{block.line}"
                test = parser.get_doctest(block.text, globs, name, str(readme), block.line - 1)
                runner = _Runner()
                report: list[str] = []
                runner.run(test, out=report.append, clear_globs=False)
                globs = test.globs  # a DocTest works on a copy: the next block starts from this one's
                for e in runner.unexpected:
                    if isinstance(e, NotImplementedError) and STUB.search(str(e)):
                        raise e
                stub = re.search(r"NotImplementedError: (Exercise \d+\.\d+: .*)", "".join(report))
                if stub:  # raised where the example expected another exception
                    raise NotImplementedError(stub[1])
                result.blocks += 1
                result.examples += len(test.examples)
                if runner.failures:
                    result.failures.append("".join(report))
        finally:
            os.chdir(cwd)
    return result


def find_corpus(stage_dir: Path) -> Path | None:
    """Tiny Shakespeare for the lesson examples that read it, if it is at hand, else None.

    NUMPYGPT_DATA if set, else the repository's data/ folder (where `nox -s prepare` puts it), else
    a copy in shared/data beside the repository (as the project's offline build machines keep it).
    """
    root = stage_dir.resolve().parent
    env = os.environ.get("NUMPYGPT_DATA")
    candidates = [Path(env)] if env else []
    candidates += [root / "data" / CORPUS_NAME, root.parent / "shared" / "data" / CORPUS_NAME]
    return next((c for c in candidates if c.is_file()), None)


# ----- failures that name the mistake ----------------------------------------------------------


def _is_stub(e: BaseException) -> bool:
    """An unwritten exercise's NotImplementedError: it must reach pytest as it is."""
    return isinstance(e, NotImplementedError) and STUB.search(str(e)) is not None


def check_value(
    got: Any,
    expected: Any,
    what: str,
    mistakes: Mapping[str, Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> None:
    """Pass if `got` is close to `expected`; else fail naming the likely mistake.

    `mistakes` maps a description of a classic mistake (in the learner's words) to the value that
    mistake gives for the same input; the failure names the first one `got` matches, so a hint is
    given only for the mistake it describes. `what` says what is compared ("the gradient of x").
    """
    got_a, want = np.asarray(got), np.asarray(expected)
    if got_a.shape == want.shape and np.allclose(got_a, want, rtol=rtol, atol=atol):
        return
    for mistake, value in (mistakes or {}).items():
        v = np.asarray(value)
        if v.shape == got_a.shape and np.allclose(got_a, v, rtol=rtol, atol=atol):
            raise AssertionError(f"{what} is wrong: {mistake}")
    if got_a.shape != want.shape:
        raise AssertionError(f"{what} has shape {got_a.shape}, expected {want.shape}")
    with np.errstate(invalid="ignore"):
        off = ~np.isclose(got_a, want, rtol=rtol, atol=atol)
    k = np.unravel_index(int(np.argmax(off)), want.shape) if want.ndim else ()
    raise AssertionError(
        f"{what} is wrong ({int(off.sum())} of {want.size} elements differ; at index {tuple(int(i) for i in k)}: "
        f"got {got_a[k]!r}, expected {want[k]!r})"
    )


@contextmanager
def raises(exc_type: type[BaseException], match: str, hint: str) -> Iterator[None]:
    """Like pytest.raises(exc_type, match=match), but a failure says `hint` (what the code must do).

    An unwritten exercise's NotImplementedError passes through untouched.
    """
    try:
        yield
    except BaseException as e:
        if _is_stub(e):
            raise
        if isinstance(e, exc_type) and re.search(match, str(e)):
            return
        raise AssertionError(
            f"{hint}\n(raised {type(e).__name__}: {e}; expected {exc_type.__name__} matching {match!r})"
        ) from e
    raise AssertionError(f"{hint}\n(nothing was raised; expected {exc_type.__name__} matching {match!r})")


# ----- the pytest plugin -----------------------------------------------------------------------


def _register_hypothesis_profiles() -> None:
    """Hypothesis profiles (registered on import, before hypothesis's own plugin reads its option):

    numpygpt        one failure per hypothesis test, its first, so a failure names one mistake
    numpygpt-tools  the same, and the same examples every run (derandomized, no example database):
                    tools/ pass it with --hypothesis-profile, as which tests reach an exercise must
                    not depend on the examples drawn or replayed
    """
    try:
        from hypothesis import settings
    except ImportError:  # pragma: no cover - hypothesis is a test dependency of every stage
        return
    settings.register_profile("numpygpt", report_multiple_bugs=False)
    settings.register_profile("numpygpt-tools", report_multiple_bugs=False, derandomize=True, database=None)


_register_hypothesis_profiles()


def pytest_configure(config: pytest.Config) -> None:
    """Load the profile numpygpt unless a --hypothesis-profile was asked for."""
    if config.getoption("hypothesis_profile", None) is None:
        from hypothesis import settings

        settings.load_profile("numpygpt")


def exercise_ids(item: pytest.Item) -> list[tuple[int, int]]:
    """The exercises whose markers `item` carries: ex1_4 -> (1, 4), sorted."""
    return sorted({(int(m[1]), int(m[2])) for mark in item.iter_markers() if (m := EXERCISE_MARK.match(mark.name))})


def selected_exercises(config: pytest.Config) -> list[tuple[int, int]]:
    """The exercises named in the -m expression (`-m ex2_3` -> [(2, 3)])."""
    expr = config.getoption("markexpr", "") or ""
    return sorted({(int(a), int(b)) for a, b in re.findall(r"\bex(\d+)_(\d+)\b", expr)})


EXERCISES_FILE = "exercises.txt"


def read_exercise_markers(path: Path) -> dict[str, list[str]]:
    """The map of a stage's tests/exercises.txt: test id (file::name) -> its exercise markers."""
    markers: dict[str, list[str]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                marks = []
                while EXERCISE_MARK.match(first := line.split(" ", 1)[0]):
                    marks.append(first)
                    line = line.split(" ", 1)[1]
                markers[line] = marks
    return markers


def test_id(item: pytest.Item) -> str:
    """A test's id in tests/exercises.txt: its file's name and its name, `test_ops.py::test_gradcheck[add]`."""
    return f"{item.path.name}::{item.nodeid.split('::', 1)[-1]}"


@pytest.hookimpl(tryfirst=True)  # before `-m` selects: the markers must be there by then
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of each exercise; record them; under -m exS_N run that exercise's own tests first."""
    maps: dict[Path, dict[str, list[str]]] = {}
    written_for: dict[str, list[tuple[int, int]]] = {}  # the exercises a test is decorated with in its source
    for item in items:
        written_for[item.nodeid] = exercise_ids(item)
        folder = item.path.parent
        if folder not in maps:
            maps[folder] = read_exercise_markers(folder / EXERCISES_FILE)
        for mark in maps[folder].get(test_id(item), []):
            item.add_marker(mark)
        item.user_properties.append(("exercises", " ".join(f"{a}.{b}" for a, b in exercise_ids(item))))
    chosen = selected_exercises(config)
    if chosen:
        # First the tests written for the exercise (decorated with its marker: they name the mistake),
        # then those that reach fewer other exercises; file order otherwise (the sort is stable).
        items.sort(key=lambda it: (not set(written_for[it.nodeid]) & set(chosen), len(exercise_ids(it))))


def _wait_reason(item: pytest.Item, stub: tuple[int, int]) -> str | None:
    """Why a test that hit exercise `stub`'s NotImplementedError is waiting, not failing (or None)."""
    name = f"{stub[0]}.{stub[1]}"
    if item.get_closest_marker("lesson") is not None:
        return f"this lesson example needs exercise {name}, not written yet"
    chosen = selected_exercises(item.config)
    if chosen and stub > max(chosen):
        last = ", ".join(f"{a}.{b}" for a, b in chosen)
        return f"needs exercise {name}, which comes after {last}: it runs once {name} is written"
    return None


def _stubs(e: BaseException) -> list[tuple[int, int]]:
    """The exercises whose unwritten stub raised `e`, or inside it (hypothesis may group failures)."""
    group = getattr(e, "exceptions", None)  # an ExceptionGroup (Python 3.11+, or the backport on 3.10)
    if isinstance(group, (list, tuple)):
        return [s for sub in group for s in _stubs(sub)]
    m = STUB.search(str(e)) if isinstance(e, NotImplementedError) else None
    return [(int(m[1]), int(m[2]))] if m else []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Report a test that only waits for an unwritten exercise as skipped (see `_wait_reason`)."""
    report = yield
    exc = call.excinfo
    stubs = _stubs(exc.value) if report.failed and exc is not None else []
    if stubs:
        # Waiting only if every stub it hit is one it may wait for: the earliest names the reason.
        reasons = [_wait_reason(item, s) for s in sorted(set(stubs))]
        if all(reasons):
            report.outcome = "skipped"
            report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"Skipped: {reasons[0]}")
    return report


def check_lesson(stage_dir: Path) -> LessonRun:
    """The test every stage runs on its lesson: fail listing each example that does not give what
    README.md shows; skip (after checking the rest) when some examples need the corpus, not at hand."""
    run = run_lesson(stage_dir / "README.md", find_corpus(stage_dir))
    if run.failures:
        raise AssertionError(
            f"{len(run.failures)} block(s) of {stage_dir.name}/README.md no longer give what the lesson shows "
            "(fix the code or the lesson):\n\n" + "\n".join(run.failures)
        )
    if run.examples == 0:
        raise AssertionError(f"{stage_dir.name}/README.md has no >>> example to run")
    if run.not_run:
        pytest.skip(
            f"{run.examples} examples ran and gave what the lesson shows; the blocks at README.md lines "
            f"{', '.join(map(str, run.not_run))} need tiny Shakespeare ({CORPUS_NAME}), not on this machine"
        )
    return run

"""The lesson runs: every `>>>` example of this stage's README.md, as a doctest, gives what it shows.

The runner (numpygpt.autograd.exercises.run_lesson) is shared by every stage; its own behaviour is
checked here on small lessons written for the purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numpygpt.autograd.exercises import NEEDS_CORPUS, check_lesson, lesson_blocks, run_lesson


@pytest.mark.lesson
def test_lesson_examples() -> None:
    check_lesson(Path(__file__).resolve().parent.parent)


def lesson(tmp_path: Path, text: str) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    return readme


def test_an_example_that_gives_another_result_fails(tmp_path: Path) -> None:
    run = run_lesson(lesson(tmp_path, "Two:\n\n```python\n>>> 1 + 1\n3\n```\n"))
    assert run.examples == 1 and len(run.failures) == 1
    assert "Expected:\n    3\nGot:\n    2" in run.failures[0], run.failures[0]


def test_blocks_run_in_order_in_one_namespace(tmp_path: Path) -> None:
    text = "```python\n>>> x = 20\n```\n\nthen\n\n```python\n>>> x + 1\n21\n```\n"
    run = run_lesson(lesson(tmp_path, text))
    assert (run.blocks, run.examples, run.failures) == (2, 2, [])


def test_a_prompt_outside_a_fenced_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 2: a >>> example outside a fenced code block never runs"):
        lesson_blocks("text\n>>> 1 + 1\n2\n")


def test_blocks_that_need_the_corpus_run_only_with_it(tmp_path: Path) -> None:
    text = f"{NEEDS_CORPUS}\n```python\n>>> open('data/tinyshakespeare.txt').read()\n'to be'\n```\n"
    readme = lesson(tmp_path, text)
    without = run_lesson(readme)
    assert (without.examples, without.not_run) == (0, [3])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be", encoding="utf-8")
    with_it = run_lesson(readme, corpus)
    assert (with_it.examples, with_it.failures) == (1, [])

"""The lesson runs: every `>>>` example of this stage's README.md, as a doctest, gives what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from numpygpt.autograd.exercises import check_lesson


@pytest.mark.lesson
def test_lesson_examples() -> None:
    check_lesson(Path(__file__).resolve().parent.parent)

"""The lesson runs: every `>>>` example of README.md gives what it shows, and the outputs it shows
for small examples still come out of the code, exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from numpygpt.autograd.exercises import check_lesson
from numpygpt.tokenizer import BPETokenizer, CharTokenizer
from numpygpt.utils.data import TokenDataset, get_batch

pytestmark = pytest.mark.lesson


def test_lesson_examples() -> None:
    check_lesson(Path(__file__).resolve().parent.parent)


SENTENCE = "the cat sat on the mat, and the rat sat on the hat"


def test_lesson_char_example() -> None:
    tok = CharTokenizer.from_text(SENTENCE)
    assert "".join(tok.chars) == " ,acdehmnorst"
    assert tok.encode("the cat") == [12, 6, 5, 0, 3, 2, 12]


def test_lesson_bpe_merges_on_a_sentence(capsys) -> None:
    tok = BPETokenizer.train(SENTENCE, 256 + 8, verbose=True)
    assert capsys.readouterr().out.splitlines() == [
        "merge   1: b'a' + b't' -> 256 b'at' (count 6)",
        "merge   2: b'h' + b'e' -> 257 b'he' (count 4)",
        "merge   3: b't' + b'he' -> 258 b'the' (count 4)",
        "merge   4: b' ' + b'the' -> 259 b' the' (count 3)",
        "merge   5: b' ' + b'o' -> 260 b' o' (count 2)",
        "merge   6: b' ' + b's' -> 261 b' s' (count 2)",
        "merge   7: b' o' + b'n' -> 262 b' on' (count 2)",
        "merge   8: b' s' + b'at' -> 263 b' sat' (count 2)",
    ]
    ids = tok.encode(SENTENCE)
    assert len(SENTENCE.encode("utf-8")) == 50 and len(ids) == 25
    assert [tok.vocab[i].decode() for i in ids] == [
        "the",
        " ",
        "c",
        "at",
        " sat",
        " on",
        " the",
        " ",
        "m",
        "at",
        ",",
        " ",
        "a",
        "n",
        "d",
        " the",
        " ",
        "r",
        "at",
        " sat",
        " on",
        " the",
        " ",
        "h",
        "at",
    ]


def test_lesson_windows() -> None:
    ids = np.array([46, 43, 1, 41, 39, 58])  # any six token ids
    x, y = TokenDataset(ids, block_size=4)[1]
    assert x.tolist() == [43, 1, 41, 39] and y.tolist() == [1, 41, 39, 58]
    x, y = get_batch(np.arange(100, 110), batch_size=2, block_size=4, rng=np.random.default_rng(0))
    assert x.tolist() == [[105, 106, 107, 108], [103, 104, 105, 106]]  # starts 5 and 3
    assert y.tolist() == [[106, 107, 108, 109], [104, 105, 106, 107]]

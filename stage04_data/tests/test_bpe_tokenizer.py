"""BPETokenizer: hand-checked merges, the incremental trainer against the naive one, round trips."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.tokenizer import GPT2_SPLIT_PATTERN, BPETokenizer, Tokenizer, load_tokenizer
from numpygpt.tokenizer.bpe import best_pair, merge, split_chunks, train_merges, train_merges_naive

pytestmark = pytest.mark.bpe

ENGLISH = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n"
)


@functools.cache
def english() -> BPETokenizer:
    """A tokenizer trained on ENGLISH with 60 merges, built on first use (not at import: a
    learner's unfinished merge must fail the tests that use it, not the collection of the file)."""
    return BPETokenizer.train(ENGLISH, 256 + 60)


def replay_merges(tok: BPETokenizer, text: str) -> list[int]:
    """Reference encoder: apply every merge, in training order, to every chunk."""
    ids: list[int] = []
    for chunk in re.findall(tok.pattern, text):
        chunk_ids = list(chunk.encode("utf-8"))
        for pair, new_id in tok.merges.items():
            chunk_ids = merge(chunk_ids, pair, new_id)
        ids += chunk_ids
    return ids


@pytest.mark.ex4_2
def test_merge_by_hand() -> None:
    cases = [
        (
            [97, 97, 97, 98],
            (97, 97),
            [256, 97, 98],
            "after replacing a pair, skip both of its tokens: occurrences "
            "must not overlap (aaa holds one aa, then an a)",
        ),
        (
            [1, 2, 3, 2, 3],
            (2, 3),
            [1, 9, 9],
            "the pair at the very end was not replaced: look at every position "
            "with a token after it, the last pair included",
        ),
        ([2, 3, 2, 3], (2, 3), [9, 9], "the pair at the start was not replaced"),
        ([1, 2, 3], (2, 1), [1, 2, 3], "a pair occurs only in its own order: (2, 1) is not (1, 2)"),
        ([], (1, 2), [], "an empty list stays empty"),
    ]
    for ids, pair, want, why in cases:
        new_id = 256 if pair == (97, 97) else 9
        got = merge(list(ids), pair, new_id)
        assert got == want, f"merge({ids}, {pair}, {new_id}) gave {got}, expected {want}: {why}"


@pytest.mark.ex4_3
def test_train_merges_naive_by_hand() -> None:
    # (x, y) occurs 4 times in 2 distinct chunks, (a, b) 3 times in 3 distinct chunks
    got = train_merges_naive(split_chunks("xy xy xy xy ab cab dab"), 1)
    assert got != [(ord("a"), ord("b"))], (
        f"the first merge was {got}: (x, y) occurs 4 times, (a, b) 3 times, though (a, b) is in more distinct chunks: "
        "count each chunk's pairs times its frequency"
    )
    assert got == [(ord("x"), ord("y"))], f"the first merge was {got}, expected (x, y), the most frequent pair"
    chunks = split_chunks("to to to be be")  # {b"to": 1, b" to": 2, b" be": 2}
    three = train_merges_naive(chunks, 3)
    assert len(set(three)) == len(three), (
        f"train_merges_naive learned {three}: a pair learned twice, so the merge was not applied to the chunks "
        "before counting again"
    )
    assert three == [(116, 111), (32, 98), (32, 256)], (
        f"train_merges_naive learned {three}, expected (t, o) -> 256, then ( , b) and ( , 256), which tie at 2 "
        "(the smaller ids first): merge k creates token 256 + k, and the next count sees it"
    )
    assert train_merges_naive(split_chunks("ab"), 5) == [(97, 98)], "training stops when no pair is left"


def test_encode_merges_the_earliest_learned_pair_first() -> None:
    # (b, c) was learned before (a, b). In "abc" the pair (a, b) comes first, but (b, c) must be merged.
    tok = BPETokenizer([(98, 99), (97, 98)])  # 256 = bc, 257 = ab
    got = tok.encode("abc")
    assert got == [97, 256], (
        f"encode('abc') gave {got}: in each chunk, merge the pair that was learned earliest (the lowest rank) "
        "wherever it stands, not the leftmost pair that can merge; expected [a, bc] = [97, 256]"
    )
    assert tok.encode("abcab") == [97, 256, 257], "earliest learned first, then the next, in every place it occurs"


def test_merge_scans_left_to_right() -> None:
    overlap = "after replacing a pair, skip both of its tokens (i += 2): occurrences must not overlap"
    assert merge([97, 97, 97, 98], (97, 97), 256) == [256, 97, 98], overlap
    assert merge([97, 97, 97, 97], (97, 97), 256) == [256, 256], overlap
    assert merge([1, 2, 3], (2, 1), 9) == [1, 2, 3]


def test_classic_aaabdaaabac_example() -> None:
    # Wikipedia's worked example: aa -> Z, then ab -> Y (tied with Za at 2: the smaller ids win),
    # then ZY -> X, leaving "XdXac".
    tok = BPETokenizer.train("aaabdaaabac", 259)
    assert list(tok.merges) == [(97, 97), (97, 98), (256, 257)]
    assert tok.vocab[258] == b"aaab"
    assert tok.encode("aaabdaaabac") == [258, ord("d"), 258, ord("a"), ord("c")]
    assert tok.decode([258, 100]) == "aaabd"


def test_ties_break_towards_the_smallest_pair() -> None:
    assert best_pair({(5, 1): 3, (2, 9): 3, (2, 4): 3, (0, 0): 2}) == (2, 4)
    assert best_pair({(0, 0): 2, (9, 9): 7}) == (9, 9)


def test_merges_never_cross_chunk_boundaries() -> None:
    # " a" + " a" ... : the only pairs live inside the chunks " a" and "b".
    tok = BPETokenizer.train("b a a a a", 300)
    assert [tok.vocab[i] for i in tok.merges.values()] == [b" a"]
    assert tok.vocab_size == 257  # stopped early: nothing left to merge


def test_counts_are_weighted_by_chunk_frequency() -> None:
    chunks = split_chunks("to to to be be")
    assert chunks == {b"to": 1, b" to": 2, b" be": 2}
    # (" ", "t") and ("t", "o") occur 2 and 3 times: ("t", "o") is merged first.
    assert train_merges(chunks, 1) == [(ord("t"), ord("o"))]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n.'", min_size=1, max_size=80), st.integers(0, 40))
def test_incremental_training_matches_the_naive_reference(text: str, n_merges: int) -> None:
    chunks = split_chunks(text)
    assert train_merges(chunks, n_merges) == train_merges_naive(chunks, n_merges)


@settings(deadline=None)
@given(st.text())
def test_split_pattern_covers_every_character(text: str) -> None:
    assert "".join(re.findall(GPT2_SPLIT_PATTERN, text)) == text


def test_split_pattern_approximates_gpt2() -> None:
    assert english().split("Hello world's  123 foo_bar!!\n\n") == [
        "Hello",
        " world",
        "'s",
        " ",
        " 123",
        " foo",
        "_",
        "bar",
        "!!",
        "\n\n",
    ]


@settings(deadline=None)
@given(st.text())
def test_round_trip_arbitrary_unicode(text: str) -> None:
    ids = english().encode(text)
    assert all(0 <= i < english().vocab_size for i in ids)
    assert english().decode(ids) == text
    assert english().decode(np.array(ids)) == text


@settings(deadline=None)
@given(st.text(alphabet=sorted(set(ENGLISH)), max_size=200))
def test_encode_matches_replaying_the_merges(text: str) -> None:
    assert english().encode(text) == replay_merges(english(), text)


def test_training_text_compresses_and_round_trips() -> None:
    ids = english().encode(ENGLISH)
    assert english().vocab_size == 316
    assert len(ids) < len(ENGLISH.encode("utf-8")) * 0.7  # 60 merges must buy real compression
    assert english().decode(ids) == ENGLISH
    assert english().encode_array(ENGLISH, dtype=np.uint16).tolist() == ids
    assert isinstance(english(), Tokenizer)


def test_a_bare_byte_tokenizer() -> None:
    tok = BPETokenizer()
    assert tok.vocab_size == 256
    assert tok.encode("é") == [0xC3, 0xA9]
    assert tok.decode([0xC3]) == "\ufffd"  # half a character decodes as the replacement character


def test_save_load_round_trip(tmp_path) -> None:
    path = tmp_path / "bpe.json"
    english().save(path)
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["type"] == "bpe" and d["pattern"] == GPT2_SPLIT_PATTERN and len(d["merges"]) == 60
    loaded = BPETokenizer.load(path)
    assert loaded == english() and loaded.vocab == english().vocab
    assert loaded.encode(ENGLISH) == english().encode(ENGLISH)
    generic = load_tokenizer(path)
    assert isinstance(generic, BPETokenizer) and generic == english()


@pytest.mark.errors
def test_train_errors() -> None:
    with pytest.raises(
        ValueError, match=r"BPETokenizer\.train: vocab_size must be at least 256 \(the byte tokens\), got 100"
    ):
        BPETokenizer.train("abc", 100)
    with pytest.raises(ValueError, match=r"BPETokenizer\.train: the text is empty"):
        BPETokenizer.train("", 300)
    with pytest.raises(TypeError, match=r"BPETokenizer\.train: vocab_size must be an int, got 300\.0"):
        BPETokenizer.train("abc", 300.0)  # type: ignore[arg-type]


@pytest.mark.errors
def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(
        ValueError,
        match=r"BPETokenizer\.decode: token id 316 at position 1 is outside the vocabulary \(valid ids are 0\.\.315\)",
    ):
        english().decode([65, 316])


@pytest.mark.errors
def test_bad_merges_are_refused() -> None:
    with pytest.raises(ValueError, match=r"merge 0 \(97, 256\) uses an id that does not exist yet"):
        BPETokenizer([(97, 256)])
    with pytest.raises(ValueError, match=r"merge 1 \(97, 97\) is a duplicate"):
        BPETokenizer([(97, 97), (97, 97)])

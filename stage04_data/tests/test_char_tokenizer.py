"""CharTokenizer: vocabulary, round trips, unknown characters, decoding errors, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.autograd.exercises import raises
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, Tokenizer, load_tokenizer, tokenizer_from_dict

pytestmark = pytest.mark.char

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
TOK = CharTokenizer.from_text(TEXT)


@pytest.mark.ex4_1
def test_encode_by_hand() -> None:
    tok = CharTokenizer.from_text("hello")  # e h l o -> 0 1 2 3
    assert tok.encode("hole") == [1, 3, 2, 0], (
        f"encode('hole') gave {tok.encode('hole')}: one id per character, stoi[c]"
    )
    assert tok.encode("") == [], "the empty string encodes to []"
    with raises(
        ValueError,
        r"CharTokenizer\.encode: unknown character 'x' at position 2 \(not in the 4-character vocabulary; pass "
        r"unk=\.\.\. to replace it\)",
        "a character outside the vocabulary must stop encode with a ValueError naming the character, its position and "
        "the vocabulary's size (see the lesson's exercise 4.1): never a silent wrong id",
    ):
        tok.encode("hex")
    with_unk = CharTokenizer.from_text("abc", unk="?")  # ? a b c -> 0 1 2 3
    try:
        got = with_unk.encode("axb")
    except ValueError as e:
        raise AssertionError(
            f"encode('axb') with unk='?' raised {e}: with unk set, an unknown character becomes unk's id"
        ) from e
    assert got == [1, 0, 2], (
        f"encode('axb') with unk='?' gave {got}: with unk set, an unknown character becomes unk's id"
    )


def test_vocabulary_is_sorted_distinct_characters() -> None:
    assert TOK.chars == sorted(set(TEXT)), (
        "the vocabulary must be the distinct characters sorted by code point: a set has no stable order, "
        "so unsorted ids would change from run to run"
    )
    assert TOK.vocab_size == len(set(TEXT))
    assert TOK.chars[0] == "\n" and TOK.chars[1] == " "  # code-point order, as in nanoGPT
    assert [TOK.stoi[c] for c in TOK.chars] == list(range(TOK.vocab_size))
    assert isinstance(TOK, Tokenizer)


def test_encode_known_ids() -> None:
    tok = CharTokenizer.from_text("hello")
    assert tok.chars == ["e", "h", "l", "o"]
    assert tok.encode("hole") == [1, 3, 2, 0]
    assert tok.decode([1, 3, 2, 0]) == "hole"
    assert tok.encode("") == [] and tok.decode([]) == ""


@settings(deadline=None)
@given(st.text(alphabet=TOK.chars))
def test_round_trip_over_the_vocabulary(s: str) -> None:
    ids = TOK.encode(s)
    assert len(ids) == len(s)
    assert TOK.decode(ids) == s
    assert TOK.decode(np.array(ids, dtype=np.uint16)) == s


@settings(deadline=None)
@given(st.text(min_size=1))
def test_encode_array_agrees_with_encode_on_any_vocabulary(s: str) -> None:
    tok = CharTokenizer.from_text(s)
    arr = tok.encode_array(s)
    assert arr.dtype == np.int64 and arr.shape == (len(s),)
    assert arr.tolist() == tok.encode(s)
    assert tok.encode_array(s, dtype=np.uint16).dtype == np.uint16
    assert tok.decode(arr) == s


@pytest.mark.errors
@pytest.mark.parametrize("method", ["encode", "encode_array"])
def test_unknown_character_names_it_and_its_position(method: str) -> None:
    with pytest.raises(ValueError, match=rf"CharTokenizer\.{method}: unknown character 'Q' at position 5"):
        getattr(TOK, method)("hear Q")


def test_unk_replaces_unknown_characters_when_asked() -> None:
    tok = CharTokenizer.from_text("abc", unk="?")
    assert tok.chars == ["?", "a", "b", "c"]
    assert tok.encode("axbé") == [1, 0, 2, 0]
    assert tok.encode_array("axbé").tolist() == [1, 0, 2, 0]
    assert tok.decode(tok.encode("axb")) == "a?b"
    assert CharTokenizer.from_text("a?b", unk="?").vocab_size == 3  # already in the vocabulary


@pytest.mark.errors
def test_construction_errors() -> None:
    with pytest.raises(ValueError, match=r"CharTokenizer\.from_text: the text is empty"):
        CharTokenizer.from_text("")
    with pytest.raises(TypeError, match=r"unk must be a single character or None, got 'ab'"):
        CharTokenizer.from_text("abc", unk="ab")
    with pytest.raises(TypeError, match=r"vocabulary entries must be single characters, got 'ab'"):
        CharTokenizer(["ab", "c"])
    with pytest.raises(TypeError, match=r"CharTokenizer\.encode: expected a str, got bytes"):
        TOK.encode(b"abc")  # type: ignore[arg-type]


@pytest.mark.errors
@pytest.mark.parametrize("bad", [-1, 1000])
def test_decode_rejects_ids_outside_the_vocabulary(bad: int) -> None:
    with pytest.raises(
        ValueError, match=rf"CharTokenizer\.decode: token id {bad} at position 2 is outside the vocabulary"
    ):
        TOK.decode([0, 1, bad, 2])


@pytest.mark.errors
def test_decode_rejects_non_integer_ids() -> None:
    with pytest.raises(TypeError, match=r"CharTokenizer\.decode: token ids must be integers, got dtype float64"):
        TOK.decode(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"expected a 1-D sequence of token ids, got shape \(1, 2\)"):
        TOK.decode([[1, 2]])


def test_save_load_round_trip(tmp_path) -> None:
    tok = CharTokenizer.from_text(TEXT + "é日", unk="~")
    path = tmp_path / "tok.json"
    tok.save(path)
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["type"] == "char" and d["chars"] == tok.chars and d["unk"] == "~"
    loaded = CharTokenizer.load(path)
    assert loaded == tok
    assert loaded.encode("hear é日?") == tok.encode("hear é日?")
    generic = load_tokenizer(path)
    assert isinstance(generic, CharTokenizer) and generic == tok


def test_tokenizer_from_dict_survives_json() -> None:
    # A checkpoint stores to_dict() inside its own JSON; both classes must come back equal.
    for tok in (CharTokenizer.from_text(TEXT, unk="~"), BPETokenizer.train(TEXT, 270)):
        back = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(back) is type(tok) and back == tok
        assert back.encode(TEXT) == tok.encode(TEXT)


@pytest.mark.errors
def test_load_checks_the_type_field(tmp_path) -> None:
    path = tmp_path / "bpe.json"
    BPETokenizer().save(path)
    with pytest.raises(ValueError, match=r"CharTokenizer\.from_dict: expected type 'char', got 'bpe'"):
        CharTokenizer.load(path)
    path.write_text('{"type": "word"}')
    message = r"load_tokenizer: .*bpe\.json: tokenizer_from_dict: unknown tokenizer type 'word', expected one of \['bpe', 'char', 'gpt2'\]"
    with pytest.raises(ValueError, match=message):
        load_tokenizer(path)

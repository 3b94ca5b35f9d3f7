"""GPT2Tokenizer: Hugging Face's ids on committed fixtures, the byte table, the pattern, special tokens, files."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numpygpt.tokenizer import GPT2_PATTERN, BPETokenizer, GPT2Tokenizer, Tokenizer, load_tokenizer, tokenizer_from_dict
from numpygpt.tokenizer.byte_level import bytes_to_unicode, string_to_token, token_to_string
from numpygpt.utils.data import load_split, prepare

regex = pytest.importorskip("regex", reason="GPT2Tokenizer needs the regex package (the stage's [gpt2] extra)")

pytestmark = pytest.mark.gpt2

FIXTURES = Path(__file__).parent / "fixtures" / "gpt2_tokenizer"
PARITY = json.loads((FIXTURES / "parity.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tok() -> GPT2Tokenizer:
    return GPT2Tokenizer.from_pretrained(FIXTURES)


# ----- the byte table and the pattern --------------------------------------------------------------


def test_byte_table_is_printable_one_to_one_and_keeps_printable_bytes() -> None:
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert table[ord("A")] == "A" and table[ord("~")] == "~" and table[0xE9] == "é"  # printable: themselves
    # the 68 others move to chr(256 + n) in byte order: 0 first, then the space is the 33rd (Ġ), newline Ċ
    assert table[0] == "Ā" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[0xAD] == "Ń"
    assert token_to_string(b" the") == "Ġthe" and string_to_token("Ġthe") == b" the"
    assert string_to_token("<|endoftext|>") == b"<|endoftext|>"
    assert string_to_token("Ġ→") is None  # '→' is not a table character


def test_pattern_splits_as_gpt2() -> None:
    split = regex.findall(GPT2_PATTERN, "I'm sure they'll say: Hello  world123 ²½ 東京!!\n\n x")
    assert split == [
        "I",
        "'m",
        " sure",
        " they",
        "'ll",
        " say",
        ":",
        " Hello",
        " ",
        " world",
        "123",
        " ²½",
        " 東京",
        "!!",
        "\n\n",
        " x",
    ]


def test_bpe_split_pattern_differs_from_gpt2_only_on_non_decimal_numbers() -> None:
    # numpygpt's stdlib approximation (BPETokenizer) classes '²' as a letter, GPT-2 as a number.
    bpe = BPETokenizer()
    assert bpe.split("ab12 ²½ x") == ["ab", "12", " ²½", " x"]
    assert regex.findall(GPT2_PATTERN, "a²") == ["a", "²"]
    assert bpe.split("a²") == ["a²"]


# ----- parity with Hugging Face ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["unicode", "shakespeare"])
def test_ids_equal_hugging_faces(tok: GPT2Tokenizer, name: str) -> None:
    text, expected = PARITY["texts"][name], PARITY["ids"][name]
    assert tok.encode(text, allowed_special="all") == expected, f"ids differ from Hugging Face's on the {name} text"
    assert tok.decode(expected) == text


def test_openai_file_names_read_the_same(tok: GPT2Tokenizer, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "vocab.json", tmp_path / "encoder.json")
    shutil.copy(FIXTURES / "merges.txt", tmp_path / "vocab.bpe")
    assert GPT2Tokenizer.from_pretrained(tmp_path) == tok


def test_merges_go_by_rank_not_by_id(tok: GPT2Tokenizer) -> None:
    # The same vocabulary with its ids shuffled: the same tokens come out, under their new ids.
    strings = list(tok.token_strings)
    shuffled = strings[:]
    random.Random(0).shuffle(shuffled)
    other = GPT2Tokenizer(dict(zip(shuffled, range(len(shuffled)), strict=True)), tok._merge_strings())
    text = PARITY["texts"]["shakespeare"]
    names = {i: s for s, i in tok.token_strings.items()}
    other_names = {i: s for s, i in other.token_strings.items()}
    assert [other_names[i] for i in other.encode(text)] == [names[i] for i in tok.encode(text)]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_decode_inverts_encode(tok: GPT2Tokenizer, text: str) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates (see the next test)
    assert tok.decode(tok.encode(text, disallowed_special=())) == text


def test_lone_surrogates_become_the_replacement_character(tok: GPT2Tokenizer) -> None:
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb")


# ----- special tokens, as tiktoken ------------------------------------------------------------------


def test_special_token_text_is_an_error_unless_allowed_or_not_disallowed(tok: GPT2Tokenizer) -> None:
    text = "to be<|endoftext|>or not"
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>' at position 5; pass allowed_special="):
        tok.encode(text)
    eot = tok.eot_token
    assert eot == 0
    as_token = tok.encode(text, allowed_special={"<|endoftext|>"})
    assert as_token == tok.encode("to be") + [eot] + tok.encode("or not")
    assert tok.encode(text, allowed_special="all") == as_token
    as_text = tok.encode(text, disallowed_special=())
    assert eot not in as_text and tok.decode(as_text) == text
    assert tok.decode(as_token) == text


def test_special_token_arguments_are_checked(tok: GPT2Tokenizer) -> None:
    with pytest.raises(ValueError, match=r"allowed_special names \['<\|im_start\|>'\], which are not special tokens"):
        tok.encode("x", allowed_special={"<|im_start|>"})
    with pytest.raises(TypeError, match="disallowed_special must be 'all' or a collection of special tokens"):
        tok.encode("x", disallowed_special="<|endoftext|>")
    with pytest.raises(TypeError, match="GPT2Tokenizer.encode: expected a str, got bytes"):
        tok.encode(b"x")  # type: ignore[arg-type]


# ----- files and round trips --------------------------------------------------------------------------


def test_save_pretrained_then_from_pretrained_is_the_same_tokenizer(tok: GPT2Tokenizer, tmp_path: Path) -> None:
    tok.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merges.txt", "tokenizer_config.json", "vocab.json"]
    assert GPT2Tokenizer.from_pretrained(tmp_path) == tok
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "GPT2Tokenizer" and config["eos_token"] == "<|endoftext|>"


def test_bpe_tokenizer_saves_files_hugging_face_reads_with_the_same_ids(tmp_path: Path) -> None:
    # The fixture script loaded these files in transformers and recorded its ids.
    text, export = PARITY["texts"]["shakespeare"], PARITY["bpe_export"]
    bpe = BPETokenizer.train(text, 256 + export["merges"])
    bpe.save_pretrained(tmp_path)
    assert bpe.encode(text) == export["ids"]
    assert GPT2Tokenizer.from_pretrained(tmp_path).encode(text) == export["ids"]
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["eos_token"] is None  # no special token: transformers must not add one


def test_to_dict_round_trips_through_a_checkpoint_and_a_file(tok: GPT2Tokenizer, tmp_path: Path) -> None:
    assert isinstance(tok, Tokenizer)
    assert tokenizer_from_dict(json.loads(json.dumps(tok.to_dict()))) == tok
    tok.save(tmp_path / "tokenizer.json")
    assert load_tokenizer(tmp_path / "tokenizer.json") == tok
    text = PARITY["texts"]["shakespeare"]
    assert tok.encode_array(text).tolist() == tok.encode(text)


# ----- mistakes ------------------------------------------------------------------------------------------


def write(folder: Path, vocab: object, merges: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text(merges, encoding="utf-8")
    return folder


def byte_vocab() -> dict[str, int]:
    return {c: i for i, c in enumerate(bytes_to_unicode().values())}


def test_file_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds neither vocab.json \\+ merges.txt .* nor encoder.json"):
        GPT2Tokenizer.from_pretrained(tmp_path)
    bad = write(tmp_path / "a", byte_vocab(), "#version: 0.2\nĠ t h\n")
    with pytest.raises(ValueError, match="merges.txt line 2 should be two tokens separated by a space"):
        GPT2Tokenizer.from_pretrained(bad)
    bad = write(tmp_path / "b", byte_vocab(), "Ġ t\n")
    with pytest.raises(ValueError, match="merge 0 \\('Ġ', 't'\\) needs 'Ġt', which is not in vocab"):
        GPT2Tokenizer.from_pretrained(bad)
    bad = write(tmp_path / "c", {"a": 0, "b": 2}, "")
    with pytest.raises(ValueError, match="ids must be 0..1, each once"):
        GPT2Tokenizer.from_pretrained(bad)
    bad = write(tmp_path / "d", {"a": 0}, "")
    with pytest.raises(ValueError, match="the vocabulary lacks the byte tokens"):
        GPT2Tokenizer.from_pretrained(bad)
    bad = write(tmp_path / "e", ["a"], "")
    with pytest.raises(ValueError, match="vocab.json must map token strings to integer ids"):
        GPT2Tokenizer.from_pretrained(bad)
    bad = write(tmp_path / "f", {**byte_vocab(), "Ġt": 256}, "Ġ t\nĠ t\n")
    with pytest.raises(ValueError, match="merge 1 \\('Ġ', 't'\\) is a duplicate"):
        GPT2Tokenizer.from_pretrained(bad)


def test_without_the_regex_package_the_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "regex", None)
    with pytest.raises(ImportError, match=r"pip install 'numpygpt-stage04-data\[gpt2\]'"):
        GPT2Tokenizer.from_pretrained(FIXTURES)


def test_prepare_encodes_the_corpus_with_gpt2s_tokenizer(tok: GPT2Tokenizer, tmp_path: Path) -> None:
    text = PARITY["texts"]["shakespeare"]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    out = prepare(
        "shakespeare", tmp_path / "data", corpus, tokenizer="gpt2", tokenizer_dir=FIXTURES, sha256=sha, verbose=False
    )
    assert out.name == "shakespeare_gpt2"
    ids = np.concatenate([load_split(out, "train"), load_split(out, "val")])
    assert ids.tolist() == PARITY["ids"]["shakespeare"], "the encoded corpus is not Hugging Face's ids"
    assert load_tokenizer(out / "tokenizer.json") == tok
    with pytest.raises(ValueError, match="tokenizer_dir is for tokenizer='gpt2', which needs it"):
        prepare("shakespeare", tmp_path / "data", corpus, tokenizer="gpt2", sha256=sha, verbose=False)

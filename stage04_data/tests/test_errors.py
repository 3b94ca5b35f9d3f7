"""Every message a learner can meet when a tokenizer, a dataset or the data step is misused.

Each names the function, the argument and the value, and says what is allowed; an error about a
file names its path. The issue that asked for these: `encode_array(text, dtype=np.uint8)` with
more than 256 symbols wrapped the ids silently; a corpus that is not UTF-8 gave an error without
the file's name; text with a lone surrogate raised UnicodeEncodeError from inside. Also here:
what odd text does (lone surrogates refused with their position; NUL and every Unicode plane
encoded losslessly by both tokenizers) and the checks that PyTorch's DataLoader makes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from numpygpt.tokenizer import BPETokenizer, CharTokenizer, bpe, byte_level, gpt2, load_tokenizer, tokenizer_from_dict
from numpygpt.utils.data import (
    DataLoader,
    TensorDataset,
    TokenDataset,
    corpus,
    default_collate,
    fetch_corpus,
    get_batch,
    load_meta,
    load_split,
    prepare,
)

pytestmark = pytest.mark.errors
PREPARE = importlib.import_module("numpygpt.utils.data.prepare")  # the package's `prepare` is the function
BIG = CharTokenizer([chr(c) for c in range(300)])  # 300 symbols: more than uint8 holds
ZEROS = "0" * 64
GPT2_FIXTURES = Path(__file__).parent / "fixtures" / "gpt2_tokenizer"
SURROGATE = (
    r"the text holds a lone surrogate '\\ud800' at position 2: half of a UTF-16 pair, not a character, with no "
    r"UTF-8 bytes \(decode the bytes it came from as UTF-8, or replace it: text\.encode\('utf-8', 'replace'\)\.decode\(\)\)$"
)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def gpt2_files(folder: Path, vocab: bytes, merges: bytes) -> Path:
    """A folder holding a vocab.json and a merges.txt of these bytes."""
    write(folder / "vocab.json", vocab)
    write(folder / "merges.txt", merges)
    return folder


def with_subfolder(folder: Path, name: str) -> Path:
    (folder / name).mkdir()
    return folder


ERRORS: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    # ----- ids that do not fit their dtype -----------------------------------------------------------
    ("uint8 for 300 symbols", lambda t: BIG.encode_array("ab", dtype=np.uint8), ValueError, r"^CharTokenizer\.encode_array: dtype uint8 holds ids up to 255, but the vocabulary has 300 tokens \(ids up to 299\): its ids would wrap; use np\.uint16 \(up to 65536 tokens\) or np\.int64$"),
    ("int8 for BPE", lambda t: BPETokenizer().encode_array("ab", dtype=np.int8), ValueError, r"^BPETokenizer\.encode_array: dtype int8 holds ids up to 127, but the vocabulary has 256 tokens"),
    ("uint16 for a million", lambda t: CharTokenizer([chr(0x10000 + c) for c in range(70000)]).encode_array("a", np.uint16), ValueError, r"but the vocabulary has 70000 tokens \(ids up to 69999\): its ids would wrap; use np\.int32 or np\.int64$"),
    ("float ids", lambda t: BIG.encode_array("ab", dtype=np.float32), TypeError, r"^CharTokenizer\.encode_array: dtype must be an integer dtype such as np\.uint16 or np\.int64, got float32$"),
    ("no dtype", lambda t: BIG.encode_array("ab", dtype="foo"), TypeError, r"^CharTokenizer\.encode_array: dtype must be an integer dtype such as np\.uint16 or np\.int64, got 'foo'$"),
    # ----- odd text -------------------------------------------------------------------------------
    ("surrogate in encode", lambda t: BIG.encode("ab\ud800c"), ValueError, r"^CharTokenizer\.encode: " + SURROGATE),
    ("surrogate in encode_array", lambda t: BIG.encode_array("ab\ud800c"), ValueError, r"^CharTokenizer\.encode_array: " + SURROGATE),
    ("surrogate in from_text", lambda t: CharTokenizer.from_text("ab\ud800c"), ValueError, r"^CharTokenizer\.from_text: " + SURROGATE),
    ("surrogate in chars", lambda t: CharTokenizer(["a", "b", "\ud800"]), ValueError, r"^CharTokenizer: chars: " + SURROGATE),
    ("surrogate in unk", lambda t: CharTokenizer("ab", unk="\udfff"), ValueError, r"^CharTokenizer: unk: the text holds a lone surrogate '\\udfff' at position 0"),
    ("surrogate in BPE encode", lambda t: BPETokenizer().encode("ab\ud800c"), ValueError, r"^BPETokenizer\.encode: " + SURROGATE),
    ("surrogate in BPE train", lambda t: BPETokenizer.train("ab\ud800c", 300), ValueError, r"^BPETokenizer\.train: " + SURROGATE),
    ("surrogate in split_chunks", lambda t: bpe.split_chunks("ab\ud800c"), ValueError, r"^split_chunks: " + SURROGATE),
    ("a pattern that skips", lambda t: BPETokenizer(pattern="[a-z]+").encode("ab cd"), ValueError, r"^BPETokenizer\.encode: pattern '\[a-z\]\+' leaves out the character ' ' at position 2: the chunks must add up to the whole text \(end the pattern with an alternative that matches anything\)$"),
    ("a pattern that skips in train", lambda t: BPETokenizer.train("ab cd", 260, pattern="[a-z]+"), ValueError, r"^BPETokenizer\.train: pattern '\[a-z\]\+' leaves out the character ' ' at position 2"),
    ("not a regex", lambda t: BPETokenizer(pattern="("), ValueError, r"^BPETokenizer: pattern '\(' is not a regular expression: missing \), unterminated subpattern at position 0$"),
    ("pattern not a str", lambda t: bpe.split_chunks("ab", 3), TypeError, r"^split_chunks: pattern must be a regular expression \(a str\), got 3$"),
    # ----- tokenizers' other arguments ------------------------------------------------------------
    ("chars not iterable", lambda t: CharTokenizer(3), TypeError, r"^CharTokenizer: chars must be an iterable of characters, got 3$"),
    ("ragged ids", lambda t: BIG.decode([1, [2, 3]]), TypeError, r"^CharTokenizer\.decode: expected a 1-D sequence of token ids, got \[1, \[2, 3\]\]$"),
    ("uint64 id", lambda t: BIG.decode(np.array([2**64 - 1], np.uint64)), ValueError, r"^CharTokenizer\.decode: token id 18446744073709551615 at position 0 is outside the vocabulary$"),
    ("from_dict of a list", lambda t: CharTokenizer.from_dict([1]), TypeError, r"^CharTokenizer\.from_dict: d must be a dict as to_dict\(\) returns, got \[1\]$"),
    ("from_dict without chars", lambda t: CharTokenizer.from_dict({"type": "char"}), ValueError, r"^CharTokenizer\.from_dict: d has no 'chars': it is not a whole to_dict\(\) output$"),
    ("from_dict without pattern", lambda t: BPETokenizer.from_dict({"type": "bpe", "merges": []}), ValueError, r"^BPETokenizer\.from_dict: d has no 'pattern'"),
    ("tokenizer_from_dict of a list", lambda t: tokenizer_from_dict([1]), TypeError, r"^tokenizer_from_dict: d must be a dict as a tokenizer's to_dict\(\) returns, got \[1\]$"),
    ("tokenizer type a list", lambda t: tokenizer_from_dict({"type": ["x"]}), ValueError, r"^tokenizer_from_dict: unknown tokenizer type \['x'\], expected one of \['bpe', 'char', 'gpt2'\]$"),
    ("merges not a list", lambda t: BPETokenizer(3), TypeError, r"^BPETokenizer: merges must be a list of pairs of token ids, got 3$"),
    ("a float id in a merge", lambda t: BPETokenizer([(97.0, 98)]), TypeError, r"^BPETokenizer: merge 0 must be a pair of integer ids, got \(97\.0, 98\)$"),
    ("a triple", lambda t: BPETokenizer([(97, 98, 99)]), ValueError, r"^BPETokenizer: merge 0 must be a pair of ids, got \(97, 98, 99\)$"),
    ("train verbose", lambda t: BPETokenizer.train("ab cd", 260, verbose=1), TypeError, r"^BPETokenizer\.train: verbose must be a bool \(True or False\), got 1$"),
    ("encode_chunk of a str", lambda t: BPETokenizer().encode_chunk("ab"), TypeError, r"^BPETokenizer\.encode_chunk: chunk must be bytes \(a chunk's UTF-8\), got 'ab'$"),
    ("split of an int", lambda t: BPETokenizer().split(3), TypeError, r"^BPETokenizer\.split: expected a str, got int$"),
    ("merge of a str", lambda t: bpe.merge("abc", (1, 2), 3), TypeError, r"^merge: ids must be a sequence of token ids \(a list\), got 'abc'$"),
    ("merge pair", lambda t: bpe.merge([1, 2], (1,), 3), TypeError, r"^merge: pair must be a pair of token ids \(a, b\), got \(1,\)$"),
    ("merge new_id", lambda t: bpe.merge([1, 2], (1, 2), -3), ValueError, r"^merge: new_id must be an int >= 0, got -3$"),
    ("apply_merges ids", lambda t: bpe.apply_merges([1, [2]], {(1, 2): 0}, {}), TypeError, r"^apply_merges: ids must be a list of token ids \(ints\), got \[1, \[2\]\]$"),
    ("apply_merges pairs", lambda t: bpe.apply_merges([1, 2], {(1, 2): 0}, {}), ValueError, r"^apply_merges: ranks has the pair \(1, 2\), which merges lacks: they must hold the same pairs$"),
    ("apply_merges types", lambda t: bpe.apply_merges((1, 2), {}, {}), TypeError, r"^apply_merges: ids must be a list and ranks and merges dicts, got \(1, 2\), a dict, a dict$"),
    ("best_pair of nothing", lambda t: bpe.best_pair({}), ValueError, r"^best_pair: stats must be a non-empty dict of pair -> count, got a dict$"),
    ("chunks of str", lambda t: bpe.train_merges({"ab": 1}, 2), ValueError, r"^train_merges: chunks must map bytes to counts >= 1, got 'ab': 1$"),
    ("chunks a list", lambda t: bpe.train_merges([b"ab"], 2), TypeError, r"^train_merges: chunks must be a dict of chunk \(bytes\) -> count, as split_chunks returns, got \[b'ab'\]$"),
    ("n_merges", lambda t: bpe.train_merges_naive({b"ab": 1}, -1), ValueError, r"^train_merges_naive: n_merges must be an int >= 0, got -1$"),
    ("GPT-2 vocab", lambda t: gpt2.GPT2Tokenizer([1], []), TypeError, r"^GPT2Tokenizer: vocab must be a dict of token string -> integer id, got \[1\]$"),
    ("GPT-2 merges", lambda t: gpt2.GPT2Tokenizer({"a": 0}, 3), TypeError, r"^GPT2Tokenizer: merges must be a list of pairs of token strings, got 3$"),
    ("GPT-2 merge", lambda t: gpt2.GPT2Tokenizer({"a": 0}, [("a",)]), TypeError, r"^GPT2Tokenizer: merge 0 must be a pair of token strings, got \('a',\)$"),
    ("GPT-2 pattern", lambda t: gpt2.compile_pattern(3), TypeError, r"^GPT2Tokenizer: pattern must be a regular expression \(a str\), got 3$"),
    ("GPT-2 bad pattern", lambda t: gpt2.compile_pattern("("), ValueError, r"^GPT2Tokenizer: pattern '\(' is not a regular expression: missing \) at position 1$"),
    ("allowed_special", lambda t: gpt2.GPT2Tokenizer.from_pretrained(GPT2_FIXTURES).encode("x", allowed_special=[1]), TypeError, r"^GPT2Tokenizer\.encode: allowed_special must be 'all' or a collection of special tokens \(their text\), got \[1\]$"),
    ("GPT-2 from_dict merges", lambda t: gpt2.GPT2Tokenizer.from_dict({"type": "gpt2", "vocab": {}, "merges": ["a"], "pattern": "x"}), ValueError, r"^GPT2Tokenizer\.from_dict: d\['merges'\] must be a list of 'a b' strings, got \['a'\]$"),
    ("GPT-2 files from elsewhere", lambda t: gpt2.GPT2Tokenizer.from_pretrained(gpt2_files(t / "g", b'{"a": 0}', b"")), ValueError, r"^GPT2Tokenizer\.from_pretrained: folder .*g: GPT2Tokenizer: the vocabulary lacks the byte tokens"),
    ("token_to_string", lambda t: byte_level.token_to_string("ab"), TypeError, r"^token_to_string: token must be bytes, got 'ab'$"),
    ("string_to_token", lambda t: byte_level.string_to_token(3), TypeError, r"^string_to_token: s must be a str \(a token as the files write it\), got 3$"),
    # ----- files: every error names the argument and the path -------------------------------------
    ("not UTF-8", lambda t: load_tokenizer(write(t / "bad.json", b"\xff\xfe{}")), ValueError, r"^load_tokenizer: path .*bad\.json is not UTF-8 text: byte 0xff at offset 0 \(invalid start byte\)$"),
    ("not JSON", lambda t: CharTokenizer.load(write(t / "x.json", b"{oops")), ValueError, r"^CharTokenizer\.load: path .*x\.json is not JSON: Expecting property name enclosed in double quotes at line 1, column 2$"),
    ("JSON of a list", lambda t: BPETokenizer.load(write(t / "l.json", b"[1]")), TypeError, r"^BPETokenizer\.load: path .*l\.json: BPETokenizer\.from_dict: d must be a dict as to_dict\(\) returns, got \[1\]$"),
    ("a folder", lambda t: load_tokenizer(t), IsADirectoryError, r"^\[Errno 21\] load_tokenizer: path: Is a directory: '.*'$"),
    ("missing", lambda t: load_tokenizer(t / "missing.json"), FileNotFoundError, r"^\[Errno 2\] load_tokenizer: path: No such file or directory: '.*missing\.json'$"),
    ("not a path", lambda t: load_tokenizer(3), TypeError, r"^load_tokenizer: path must be a path \(a str or a pathlib\.Path\), got 3$"),
    ("empty path", lambda t: load_tokenizer(""), ValueError, r"^load_tokenizer: path is empty: it must name a file$"),
    ("NUL in a path", lambda t: load_tokenizer("a\x00b"), ValueError, r"^load_tokenizer: path 'a\\x00b' holds a NUL character, which no file name can$"),
    ("surrogate in a path", lambda t: load_tokenizer("a\ud800b"), ValueError, r"^load_tokenizer: path 'a\\ud800b' holds '\\ud800' at position 1, which no file name can$"),
    ("save to a folder", lambda t: BIG.save(t), IsADirectoryError, r"^\[Errno 21\] CharTokenizer\.save: path: Is a directory: '.*'$"),
    ("save_pretrained to a file", lambda t: BPETokenizer().save_pretrained(write(t / "f", b"x")), FileExistsError, r"^\[Errno 17\] BPETokenizer\.save_pretrained: folder: File exists: '.*f'$"),
    ("no GPT-2 files", lambda t: gpt2.GPT2Tokenizer.from_pretrained(t), FileNotFoundError, r"^GPT2Tokenizer\.from_pretrained: folder .* holds neither vocab\.json \+ merges\.txt \(Hugging Face\) nor encoder\.json \+ vocab\.bpe \(OpenAI\)$"),
    ("merges.txt not UTF-8", lambda t: gpt2.GPT2Tokenizer.from_pretrained(gpt2_files(t, b"{}", b"\xff")), ValueError, r"^GPT2Tokenizer\.from_pretrained: folder's .*merges\.txt is not UTF-8 text: byte 0xff at offset 0"),
    ("write_vocab_and_merges", lambda t: byte_level.write_vocab_and_merges(3, {}, []), TypeError, r"^write_vocab_and_merges: folder must be a path \(a str or a pathlib\.Path\), got 3$"),
    ("sha256 of a folder", lambda t: corpus.sha256_file(t), IsADirectoryError, r"^\[Errno 21\] sha256_file: path: Is a directory: '.*'$"),
    ("expected", lambda t: corpus.verify_sha256(write(t / "a", b"x"), "abc"), ValueError, r"^verify_sha256: expected must be a SHA-256 in hex \(64 characters 0-9a-f\), got 'abc'$"),
    ("expected an int", lambda t: corpus.verify_sha256(write(t / "a", b"x"), 3), TypeError, r"^verify_sha256: expected must be a SHA-256 in hex \(a str of 64 characters 0-9a-f\), got 3$"),
    ("hint", lambda t: corpus.verify_sha256(write(t / "a", b"x"), ZEROS, hint=3), TypeError, r"^verify_sha256: hint must be a str, got 3$"),
    ("write over a folder", lambda t: corpus.atomic_write_bytes(t, b"x"), IsADirectoryError, r"^\[Errno 21\] atomic_writer: path: a folder, not a file: '.*'$"),
    ("write a str", lambda t: corpus.atomic_write_bytes(t / "w", "x"), TypeError, r"^atomic_write_bytes: data must be bytes, got 'x'$"),
    ("write under a file", lambda t: corpus.atomic_write_bytes(write(t / "f", b"x") / "x", b"x"), FileExistsError, r"^\[Errno 17\] atomic_writer: path: File exists: '.*f/x'$"),
    ("copy a missing file", lambda t: corpus.copy_verified(t / "missing", t / "o", ZEROS), FileNotFoundError, r"^\[Errno 2\] copy_verified: source: No such file or directory: '.*missing'$"),
    ("ftp", lambda t: corpus.download("ftp://x", t / "o", ZEROS), ValueError, r"^download: url must be an http://, https:// or file:// address, got 'ftp://x'$"),
    ("timeout", lambda t: corpus.download("http://127.0.0.1:9/x", t / "o", ZEROS, timeout=0), ValueError, r"^download: timeout must be a number of seconds > 0, got 0$"),
    ("timeout a str", lambda t: corpus.download("http://127.0.0.1:9/x", t / "o", ZEROS, timeout="1"), TypeError, r"^download: timeout must be a number of seconds > 0, got '1'$"),
    ("filename", lambda t: fetch_corpus(t, filename="a/b"), ValueError, r"^fetch_corpus: filename must be a file name without a folder, such as 'input\.txt', got 'a/b'$"),
    ("filename an int", lambda t: fetch_corpus(t, filename=3), TypeError, r"^fetch_corpus: filename must be a file name \(a str\) such as 'input\.txt', got 3$"),
    ("data_dir a file", lambda t: fetch_corpus(write(t / "f", b"x")), NotADirectoryError, r"^\[Errno 20\] fetch_corpus: data_dir: a file, not a folder: '.*f'$"),
    ("env_var", lambda t: fetch_corpus(t, env_var=""), ValueError, r"^fetch_corpus: env_var must be the name of an environment variable \(a str\), got ''$"),
    ("verbose", lambda t: fetch_corpus(t, verbose="no"), TypeError, r"^fetch_corpus: verbose must be a bool \(True or False\), got 'no'$"),
    # ----- datasets, the loader, batches ----------------------------------------------------------
    ("ragged array", lambda t: TensorDataset([1, [2, 3]]), ValueError, r"^TensorDataset: array 0 must be an array \(rows of one shape\), got \[1, \[2, 3\]\]$"),
    ("objects", lambda t: TensorDataset(np.array([1, None], object)), TypeError, r"^TensorDataset: array 0 must hold numbers, got an? ndarray of shape \(2,\) \(dtype object\)$"),
    ("ragged ids", lambda t: TokenDataset([1, [2]], 1), ValueError, r"^TokenDataset: ids must be an array \(rows of one shape\), got \[1, \[2\]\]$"),
    ("window index", lambda t: TokenDataset(np.arange(10), 3)[1.5], TypeError, r"^TokenDataset: index must be an int \(use __getitems__ for several\), got 1\.5$"),
    ("window indices", lambda t: TokenDataset(np.arange(10), 3).__getitems__(np.array([[1, 2]])), ValueError, r"^TokenDataset: indices must be a 1-D array of window indices, got shape \(1, 2\)$"),
    ("ragged indices", lambda t: TensorDataset(np.arange(3))[[1, [2]]], TypeError, r"^TensorDataset: indices must be integers, got \[1, \[2\]\]$"),
    ("batch_size 0", lambda t: DataLoader(TensorDataset(np.arange(3)), 0), ValueError, r"^DataLoader: batch_size should be a positive integer value, but got batch_size=0$"),
    ("shuffle", lambda t: DataLoader(TensorDataset(np.arange(3)), 2, shuffle="yes"), TypeError, r"^DataLoader: shuffle should be a boolean value, but got shuffle='yes'$"),
    ("drop_last", lambda t: DataLoader(TensorDataset(np.arange(3)), 2, drop_last=1), TypeError, r"^DataLoader: drop_last should be a boolean value, but got drop_last=1$"),
    ("seed", lambda t: DataLoader(TensorDataset(np.arange(3)), 2, seed=-1), ValueError, r"^DataLoader: seed must be an int >= 0 \(or None for an unseeded generator\), got -1$"),
    ("seed a float", lambda t: DataLoader(TensorDataset(np.arange(3)), 2, seed=1.5), TypeError, r"^DataLoader: seed must be an int >= 0 \(or None for an unseeded generator\), got 1\.5$"),
    ("collate_fn", lambda t: DataLoader(TensorDataset(np.arange(3)), 2, collate_fn=3), TypeError, r"^DataLoader: collate_fn must be callable, got 3$"),
    ("a dataset without length", lambda t: DataLoader(np.array(1.5), 2), TypeError, r"^DataLoader: dataset must have a length \(len\(dataset\)\), got an? ndarray of shape \(\)$"),
    ("no samples", lambda t: default_collate([]), ValueError, r"^default_collate: samples must be a non-empty list of samples, got \[\]$"),
    ("tuples", lambda t: default_collate([(1, 2), (1,)]), ValueError, r"^default_collate: samples must all be tuples of 2 fields, as the first one is$"),
    ("dicts", lambda t: default_collate([{"a": 1}, {"b": 2}]), ValueError, r"^default_collate: samples must all be dicts with the keys \['a'\], as the first one$"),
    ("shapes", lambda t: default_collate([np.ones(2), np.ones(3)]), ValueError, r"^default_collate: samples must all have one shape to be stacked, got shapes \[\(2,\), \(3,\)\]$"),
    ("None samples", lambda t: default_collate([None, None]), TypeError, r"^default_collate: samples must be arrays, numbers, tuples or dicts of them, got None$"),
    ("a batch no array holds", lambda t: get_batch(np.arange(10), 2**62, 3, np.random.default_rng()), ValueError, r"^get_batch: batch_size=4611686018427387904 windows of block_size \+ 1 = 4 tokens are more ids than an array can hold$"),
    ("split a list", lambda t: load_split(t, ["train"]), ValueError, r"^load_split: split must be one of \('train', 'val'\), got \['train'\]$"),
    ("split a folder", lambda t: load_split(with_subfolder(t, "train.bin"), "train"), IsADirectoryError, r"^\[Errno 21\] load_split: split: the split's file is a folder \(in dataset_dir\): '.*train\.bin'$"),
    ("dataset_dir None", lambda t: load_split(None, "val"), TypeError, r"^load_split: dataset_dir must be a path \(a str or a pathlib\.Path\), got None$"),
    ("meta a list", lambda t: load_meta(write(t / "meta.json", b"[1]").parent), ValueError, r"^load_meta: .*meta\.json \(in dataset_dir\) must hold a JSON object, got \[1\]$"),
    ("meta not UTF-8", lambda t: load_meta(write(t / "meta.json", b"\xff").parent), ValueError, r"^load_meta: dataset_dir's .*meta\.json is not UTF-8 text: byte 0xff at offset 0"),
    ("meta missing", lambda t: load_meta(t), FileNotFoundError, r"^load_meta: .*meta\.json \(in dataset_dir\) does not exist; run `python -m numpygpt\.utils\.data\.prepare shakespeare` first$"),
    # ----- the data step --------------------------------------------------------------------------
    ("name a list", lambda t: prepare(["x"]), ValueError, r"^prepare: unknown dataset \['x'\], expected one of \['shakespeare'\] \(name\)$"),
    ("tokenizer an int", lambda t: prepare(tokenizer=3), ValueError, r"^prepare: tokenizer must be one of \('char', 'bpe', 'gpt2'\), got 3$"),
    ("vocab_size a str", lambda t: prepare(tokenizer="bpe", vocab_size="512"), TypeError, r"^prepare: vocab_size must be an int, got '512'$"),
    ("sha256", lambda t: prepare(data_dir=t, sha256="xyz"), ValueError, r"^prepare: sha256 must be a SHA-256 in hex \(64 characters 0-9a-f\), got 'xyz'$"),
    ("url", lambda t: prepare(data_dir=t, url="ftp://x"), ValueError, r"^prepare: url must be an http://, https:// or file:// address, got 'ftp://x'$"),
    ("prepare verbose", lambda t: prepare(data_dir=t, verbose=None), TypeError, r"^prepare: verbose must be a bool \(True or False\), got None$"),
    ("prepare data_dir a file", lambda t: prepare(data_dir=write(t / "f", b"x")), NotADirectoryError, r"^\[Errno 20\] prepare: data_dir: a file, not a folder: '.*f'$"),
    ("folder name tokenizer", lambda t: PREPARE.dataset_dir_name("s", "word", 1), ValueError, r"^dataset_dir_name: tokenizer must be one of \('char', 'bpe', 'gpt2'\), got 'word'$"),
    ("folder name vocab_size", lambda t: PREPARE.dataset_dir_name("s", "bpe", 10), ValueError, r"^dataset_dir_name: vocab_size must be an int >= 256, got 10$"),
    ("folder name", lambda t: PREPARE.dataset_dir_name("", "bpe", 300), ValueError, r"^dataset_dir_name: name must be a dataset's name such as 'shakespeare', got ''$"),
    ("CorpusSpec filename", lambda t: PREPARE.CorpusSpec("a/b", "https://x", ZEROS, 1), ValueError, r"^CorpusSpec: filename must be a file name without a folder, such as 'input\.txt', got 'a/b'$"),
    ("CorpusSpec size", lambda t: PREPARE.CorpusSpec("a", "https://x", ZEROS, -1), ValueError, r"^CorpusSpec: size must be an int >= 0, got -1$"),
    ("argv a str", lambda t: PREPARE.main("shakespeare"), TypeError, r"^prepare\.main: argv must be a list of str \(the command line's words\) or None, got 'shakespeare'$"),
]  # fmt: skip


# These build a GPT2Tokenizer, whose pattern needs the `regex` package (the stage's [gpt2] extra).
NEEDS_REGEX = {"GPT-2 bad pattern", "allowed_special", "GPT-2 files from elsewhere"}
WITHOUT_REGEX = pytest.mark.skipif(importlib.util.find_spec("regex") is None, reason="needs the regex package")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [pytest.param(*e[1:], id=e[0], marks=[WITHOUT_REGEX] if e[0] in NEEDS_REGEX else []) for e in ERRORS],
)
def test_the_message_names_the_argument_the_value_and_what_is_allowed(
    make: Callable[[Path], Any], error: type[Exception], message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message):
        make(tmp_path)


def test_a_corpus_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    source = write(tmp_path / "corpus.txt", b"to be\xff or not" * 10)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    message = (
        r"^prepare: corpus .*tinyshakespeare\.txt is not UTF-8 text: byte 0xff at offset 5 \(invalid start byte\)$"
    )
    with pytest.raises(ValueError, match=message):
        prepare(data_dir=tmp_path / "data", source=source, sha256=sha, verbose=False)
    assert not (tmp_path / "data" / "shakespeare_char").exists(), "nothing prepared from a text that is not text"


@pytest.mark.parametrize(
    "make", [lambda: CharTokenizer.from_text(TEXT), lambda: BPETokenizer.train(TEXT, 300)], ids=["char", "bpe"]
)
def test_nul_controls_and_every_plane_come_back_whole(make: Callable[[], Any], tmp_path: Path) -> None:
    """Any str of Unicode characters is encoded losslessly, saved and loaded again."""
    tok = make()
    ids = tok.encode_array(TEXT, dtype=np.int32)
    assert tok.decode(ids) == TEXT and tok.decode(tok.encode(TEXT)) == TEXT, "decode(encode(s)) must give s back"
    tok.save(tmp_path / "tok.json")
    assert load_tokenizer(tmp_path / "tok.json").decode(ids) == TEXT, "the saved tokenizer must decode as the original"


TEXT = "NUL\x00 ESC\x1b DEL\x7f NEL\x85 LS\u2028 BOM\ufeff \ufffe \uffff é中 \U0001f600 \U000e0001 \U0010ffff\r\n" * 4


def test_every_plane_round_trips_through_both_tokenizers() -> None:
    """All of plane 0 but the surrogates, and every 97th code point of planes 1 to 16 (all of
    them pass too, in about ten times the time)."""
    codes = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 97)]
    every = "".join(map(chr, codes))
    tok = BPETokenizer()
    assert tok.decode(tok.encode(every)) == every, "every code point must survive the byte tokens"
    char = CharTokenizer.from_text(every)
    same = char.decode(char.encode_array(every, dtype=np.int32)) == every
    assert char.vocab_size == len(codes) and same, "one token per code point, each given back"


@WITHOUT_REGEX
def test_gpt2_tokenizer_replaces_a_lone_surrogate_as_tiktoken_does() -> None:
    tok = gpt2.GPT2Tokenizer.from_pretrained(GPT2_FIXTURES)
    assert tok.decode(tok.encode("a\ud800b")) == "a\ufffdb", "GPT-2's tokenizer replaces a lone surrogate by U+FFFD"


def test_a_dtype_that_fits_is_used() -> None:
    ids = CharTokenizer.from_text("abc").encode_array("cab", dtype=np.int8)
    assert ids.tolist() == [2, 0, 1], "3 symbols fit int8: their ids in code-point order"
    assert BPETokenizer().encode_array("ab", dtype=np.uint8).dtype == np.uint8, "256 byte tokens fit uint8"
    assert BIG.encode_array(BIG.chars[299], dtype=np.uint16).tolist() == [299], "id 299 as uint16"


def test_numpy_scalars_are_numbers_in_the_data_pipeline() -> None:
    data = np.arange(50, dtype=np.uint16)
    x, y = get_batch(data, np.int64(3), np.int32(4), np.random.default_rng(0))
    assert x.shape == (3, 4), "batch_size=np.int64(3), block_size=np.int32(4)"
    loader = DataLoader(TokenDataset(data, np.int8(5)), np.int64(8), shuffle=np.True_, seed=np.uint8(1))
    assert len(loader) == 6 and sum(len(b[0]) for b in loader) == 45, "45 windows in batches of 8: 6 batches"
    assert BPETokenizer.train("to be or not to be", np.int64(260)).vocab_size == 260, "vocab_size=np.int64(260)"

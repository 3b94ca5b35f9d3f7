"""The misuse hunt: odd values thrown at every public callable of numpygpt.tokenizer and numpygpt.utils.data.

CASES holds, for each public function, class and method of the two packages and their public
modules (`public_names` lists them, so a new one cannot be forgotten), how to call it with valid
arguments. Each test replaces one argument at a time by an odd value: the fixed list and the
generated values of numpygpt.autograd.testing (NaN, ±inf, negative, zero, huge, wrong types and
dtypes, empty arrays, NumPy scalars, foreign objects), and this stage's own (texts with a lone
surrogate, NUL or every Unicode plane; paths to a folder, a missing file, a file that is not
UTF-8 or not JSON; dtypes too small for the vocabulary). Accepted outcomes: success (where a Case
gives an argument's domain, every value inside it must work and every value outside it must be
refused), or a TypeError/ValueError (an OSError for a path, an IndexError for an index out of
range, as in PyTorch and Python) whose message names the callable and the argument. Successful
calls check what they return: tokenizers give the text back, batches have their shapes.

No network: the stage's conftest refuses any connection beyond 127.0.0.1, and the hunt never
downloads (its URLs are local and the files it asks for are already there).
Select with `nox -s stage04 -- -m misuse`.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib
import importlib.util
import os
import pkgutil
import shutil
import tempfile
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import numpygpt.tokenizer as tokenizer_pkg
import numpygpt.utils.data as data_pkg
from numpygpt.autograd import testing
from numpygpt.autograd.checks import MAX_ELEMENTS, is_bool, is_int
from numpygpt.autograd.testing import Case
from numpygpt.tokenizer import BPETokenizer, CharTokenizer, bpe, byte_level, gpt2, load_tokenizer, tokenizer_from_dict
from numpygpt.utils.data import ChecksumError, DataLoader, TensorDataset, TokenDataset
from numpygpt.utils.data import corpus as corpus_mod

# NumPy 2 warns about the dtype alias "a" (an odd value here) before the check refuses it.
pytestmark = [pytest.mark.misuse, pytest.mark.filterwarnings("ignore:Data type alias 'a':DeprecationWarning")]


@pytest.fixture(autouse=True, scope="module")
def in_a_folder_of_its_own() -> Any:
    """Odd values include relative paths ('a', 'foo'): they land in a scratch folder, not in the checkout."""
    cwd = os.getcwd()
    os.chdir(tempfile.mkdtemp(dir=TMP))
    yield
    os.chdir(cwd)


prepare_module = importlib.import_module("numpygpt.utils.data.prepare")  # its name in the package is the function
# GPT2Tokenizer needs the `regex` package (the stage's [gpt2] extra): without it, its cases are skipped.
HAS_REGEX = importlib.util.find_spec("regex") is not None

# ----- files the hunt reads and writes, in a folder of its own ---------------------------------
TMP = Path(tempfile.mkdtemp(prefix="numpygpt-misuse-"))
atexit.register(shutil.rmtree, TMP, True)
TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer\n" * 3
SHA = hashlib.sha256(TEXT.encode()).hexdigest()


def folder() -> Path:
    return Path(tempfile.mkdtemp(dir=TMP))


def made(name: str, write: Callable[[Path], Any]) -> Callable[[], Path]:
    """A factory of fresh files `name`, each in a folder of its own, written by `write(path)`."""

    def make() -> Path:
        path = folder() / name
        write(path)
        return path

    return make


def file_of(data: bytes, name: str = "f.txt") -> Callable[[], Path]:
    return made(name, lambda path: path.write_bytes(data))


def const(v: Any) -> Callable[[], Any]:
    return lambda: v


CHAR = CharTokenizer.from_text(TEXT, unk="?")
# Built from its merges, not trained: importing this module must not run a learner's exercise code.
BPE = BPETokenizer(
    [(116, 104), (256, 101), (32, 257), (116, 111), (32, 259), (98, 101), (32, 261)]
)  # th, the, " the", ...
GPT2_FIXTURES = Path(__file__).parent / "fixtures" / "gpt2_tokenizer"


@functools.cache
def gpt2_tok() -> gpt2.GPT2Tokenizer:
    """GPT-2's tokenizer from the test fixtures, made once, when a case first needs it."""
    return gpt2.GPT2Tokenizer.from_pretrained(GPT2_FIXTURES)


def saved(tok: Callable[[], Any]) -> Callable[[], Path]:
    """A factory of files where the tokenizer `tok()` is saved."""
    return made("tok.json", lambda path: tok().save(path))


def corpus_file() -> Path:
    return file_of(TEXT.encode(), "tinyshakespeare.txt")()


@functools.cache
def prepared() -> Path:
    """A data folder prepared from TEXT (char tokens), made once, when a case first needs it."""
    data_dir = folder()
    return data_pkg.prepare(data_dir=data_dir, source=corpus_file(), sha256=SHA, verbose=False)


# ----- this stage's own odd values ------------------------------------------------------------
ODD_TEXTS = [
    ("a lone surrogate", const("ab\ud800c")),
    ("a low surrogate first", const("\udc80x")),
    ("NUL and controls", const("a\x00b\x1b\x7f")),
    ("every plane", const("\x00é中\U0001f600\U000e0001\U0010ffff\ufffe")),
    ("line separators", const("a\u2028b\x85c\r\n")),
    ("the empty str", const("")),
]
ODD_PATHS = [
    ("a folder", folder),
    ("a missing file", lambda: folder() / "nowhere" / "x.json"),
    ("a file that is not UTF-8", file_of(b"\xff\xfe\x00abc")),
    ("an empty file", file_of(b"")),
    ("a JSON list", file_of(b"[1, 2]")),
    ("a JSON object of nothing", file_of(b'{"type": "char"}')),
    ("a NUL in the path", const("a\x00b")),
]
ODD_DTYPES = [
    ("np.uint8", const(np.uint8)),
    ("np.int8", const(np.int8)),
    ("np.float32", const(np.float32)),
    ("bool", const(bool)),
    ("'foo'", const("foo")),
    ("np.dtype('i4,i4')", const(np.dtype("i4,i4"))),
    ("np.uint16", const(np.uint16)),
]
STAGE_ODD = [*ODD_TEXTS, *ODD_PATHS, *ODD_DTYPES]


# ----- domains: the values an argument must accept (and every other value it must refuse) ------
def a_text(v: Any) -> bool:
    """A str of Unicode characters (no lone surrogate)."""
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def a_bool(v: Any) -> bool:
    return is_bool(v)


def int_at_least(lo: int) -> Callable[[Any], bool]:
    return lambda v: is_int(v) and v >= lo


def id_dtype_for(vocab_size: int) -> Callable[[Any], bool]:
    def ok(v: Any) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # np.dtype("a"): NumPy 2 warns, then refuses it
                dt = np.dtype(v)
        except (TypeError, ValueError):
            return False
        return dt.kind in "iu" and np.iinfo(dt).max >= vocab_size - 1

    return ok


# ----- what a successful call must give --------------------------------------------------------
def char_round_trip(tok: CharTokenizer, s: str, ids: Any) -> None:
    """decode(encode(s)) is s with unknown characters as unk."""
    expected = "".join(c if c in tok.stoi else tok.unk or "" for c in s)
    assert tok.decode(ids) == expected, f"{s!r} came back as {tok.decode(ids)!r}"


def byte_round_trip(tok: Any, s: str, ids: Any) -> None:
    assert tok.decode(ids) == s, f"{s!r} came back as {tok.decode(ids)!r}"


def char_encode(s: Any) -> None:
    char_round_trip(CHAR, s, CHAR.encode(s))


def char_encode_array(s: Any, dtype: Any) -> None:
    ids = CHAR.encode_array(s, dtype)
    assert ids.dtype.kind in "iu" and ids.shape == (len(s),)
    char_round_trip(CHAR, s, ids)


def bpe_encode(text: Any) -> None:
    byte_round_trip(BPE, text, BPE.encode(text))


def batch_of(data: Any, batch_size: Any, block_size: Any, rng: Any) -> None:
    if is_int(batch_size) and 10**6 < batch_size <= MAX_ELEMENTS // 6:
        return  # a batch that would fill the memory (numpy: MemoryError) is not tried
    x, y = data_pkg.get_batch(data, batch_size, block_size, rng)
    assert x.shape == y.shape == (int(batch_size), int(block_size)) and x.dtype == np.int64
    assert np.array_equal(x[:, 1:], y[:, :-1])


def loader_batches(dataset: Any, batch_size: Any, shuffle: Any, drop_last: Any, seed: Any) -> None:
    loader = DataLoader(dataset, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    n = len(dataset) - (len(dataset) % int(batch_size) if drop_last else 0)
    batches = list(loader)
    assert sum(len(b[0]) if isinstance(b, tuple) else len(b) for b in batches) == n, "n samples per epoch"
    if isinstance(dataset, TensorDataset):  # its samples are 0..6: each once, in the order drawn
        seen = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0)
        assert len(set(seen.tolist())) == len(seen) == n, (
            "every sample once per epoch (the tail dropped with drop_last)"
        )


def write_atomically(path: Any) -> None:
    with corpus_mod.atomic_writer(path) as f:
        f.write(b"x")


def run_main(argv: Any) -> int:
    """prepare's command line, run in a folder of its own with $NUMPYGPT_DATA set to a corpus of the
    wrong checksum, so that a command line without --source never downloads (it fails, with status 1)."""
    cwd, env = os.getcwd(), os.environ.get("NUMPYGPT_DATA")
    os.chdir(folder())
    os.environ["NUMPYGPT_DATA"] = str(corpus_file())
    try:
        return prepare_module.main(argv)
    except SystemExit as e:  # argparse's answer to a bad command line: a usage line and exit status 2
        assert e.code == 2, f"exit status {e.code}"
        return 2
    finally:
        os.chdir(cwd)
        os.environ.pop("NUMPYGPT_DATA") if env is None else os.environ.__setitem__("NUMPYGPT_DATA", env)


def saving(label: str, save: Callable[[Any], Any], name: str = "path") -> Case:
    """A tokenizer's save (path) or save_pretrained (folder): a fresh place in a folder of its own."""
    return Case(
        lambda **kw: save(kw[name]),
        {name: lambda: folder() / "t.json"},
        label,
        names={name: (name,)},
        raises=FILE_ERRORS,
    )


def loading(label: str, load: Callable[[Any], Any], tok: Callable[[], Any]) -> Case:
    return Case(lambda path: load(path), {"path": saved(tok)}, label, raises=FILE_ERRORS)


def rebuilt(cls: Any, tok: Callable[[], Any]) -> dict[str, Case]:
    """to_dict, from_dict and __eq__ of a tokenizer class (`tok()` makes one)."""
    label = cls.__name__
    return {
        f"{label}.to_dict": Case(lambda: cls.from_dict(tok().to_dict()) == tok(), {}, label),
        f"{label}.from_dict": Case(
            lambda d: cls.from_dict(d), {"d": lambda: tok().to_dict()}, label, names={"d": ("d", "type")}
        ),
        f"{label}.__eq__": Case(lambda other: tok() == other, {"other": tok}, label),
    }


TEXT_NAMES = ("str", "text")
FILE_ERRORS = (OSError,)  # FileNotFoundError, IsADirectoryError...: their message names the argument and the path

CASES: dict[str, Case] = {
    # ----- numpygpt.tokenizer -------------------------------------------------------------------
    "CharTokenizer": Case(
        lambda chars, unk: CharTokenizer(chars, unk=unk),
        {"chars": const("abc"), "unk": const(None)},
        "CharTokenizer",
        names={"chars": ("chars", "vocabulary", "text"), "unk": ("unk",)},
        domain={"unk": lambda v: v is None or (isinstance(v, str) and len(v) == 1 and a_text(v))},
        odd={"chars": ODD_TEXTS},
    ),
    "CharTokenizer.from_text": Case(
        lambda text, unk: CharTokenizer.from_text(text, unk=unk),
        {"text": const(TEXT), "unk": const("?")},
        "CharTokenizer",
        names={"text": ("text", "str"), "unk": ("unk",)},
        domain={"text": lambda v: a_text(v) and v != ""},
        odd={"text": ODD_TEXTS},
    ),
    "CharTokenizer.encode": Case(
        char_encode, {"s": const("to be")}, "CharTokenizer.encode", names={"s": TEXT_NAMES}, domain={"s": a_text}
    ),
    "CharTokenizer.encode_array": Case(
        char_encode_array,
        {"s": const("to be"), "dtype": const(np.int64)},
        "CharTokenizer.encode_array",
        names={"s": TEXT_NAMES, "dtype": ("dtype",)},
        domain={"s": a_text, "dtype": id_dtype_for(CHAR.vocab_size)},
    ),
    "CharTokenizer.decode": Case(
        lambda ids: CHAR.decode(ids), {"ids": const([1, 2, 3])}, "CharTokenizer.decode", names={"ids": ("id",)}
    ),
    **rebuilt(CharTokenizer, lambda: CHAR),
    "CharTokenizer.save": saving("CharTokenizer.save", CHAR.save),
    "CharTokenizer.load": loading("CharTokenizer", CharTokenizer.load, lambda: CHAR),
    "ByteLevelBPE.split": Case(
        lambda text: "".join(BPE.split(text)) == text, {"text": const(TEXT)}, "BPETokenizer.split", names={"text": TEXT_NAMES}
    ),
    "ByteLevelBPE.encode_chunk": Case(
        lambda chunk: BPE.encode_chunk(chunk), {"chunk": const(b" the")}, "BPETokenizer.encode_chunk"
    ),
    "ByteLevelBPE.encode_ordinary": Case(
        lambda text: byte_round_trip(BPE, text, BPE.encode_ordinary(text)),
        {"text": const(TEXT)},
        "BPETokenizer.encode",
        names={"text": TEXT_NAMES},
        domain={"text": a_text},
        odd={"text": ODD_TEXTS},
    ),
    "ByteLevelBPE.decode": Case(
        lambda ids: BPE.decode(ids), {"ids": const([256, 97])}, "BPETokenizer.decode", names={"ids": ("id",)}
    ),
    "ByteLevelBPE.encode_array": Case(
        lambda text, dtype: byte_round_trip(BPE, text, BPE.encode_array(text, dtype)),
        {"text": const(TEXT), "dtype": const(np.int64)},
        "BPETokenizer",
        names={"text": TEXT_NAMES, "dtype": ("dtype",)},
        domain={"text": a_text, "dtype": id_dtype_for(BPE.vocab_size)},
    ),
    "BPETokenizer": Case(
        lambda merges, pattern: BPETokenizer(merges, pattern),
        {"merges": const([(97, 98)]), "pattern": const(bpe.GPT2_SPLIT_PATTERN)},
        "BPETokenizer",
        names={"merges": ("merge",), "pattern": ("pattern",)},
    ),
    "BPETokenizer.train": Case(
        lambda text, vocab_size, pattern, verbose: BPETokenizer.train(text, vocab_size, pattern, verbose),
        {"text": const(TEXT), "vocab_size": const(260), "pattern": const(bpe.GPT2_SPLIT_PATTERN), "verbose": const(False)},
        "BPETokenizer.train",
        names={"text": TEXT_NAMES, "vocab_size": ("vocab_size",), "pattern": ("pattern",), "verbose": ("verbose",)},
        domain={"text": lambda v: a_text(v) and v != "", "vocab_size": int_at_least(256), "verbose": a_bool},
        odd={"text": ODD_TEXTS, "pattern": [("a pattern that skips", const("a")), ("not a regex", const("("))]},
    ),
    "BPETokenizer.encode": Case(
        bpe_encode, {"text": const(TEXT)}, "BPETokenizer.encode", names={"text": TEXT_NAMES}, domain={"text": a_text}
    ),
    **rebuilt(BPETokenizer, lambda: BPE),
    "BPETokenizer.save": saving("BPETokenizer.save", BPE.save),
    "BPETokenizer.load": loading("BPETokenizer", BPETokenizer.load, lambda: BPE),
    "BPETokenizer.save_pretrained": saving("BPETokenizer.save_pretrained", BPE.save_pretrained, "folder"),
    "GPT2Tokenizer": Case(
        lambda vocab, merges: gpt2.GPT2Tokenizer(vocab, merges),
        {"vocab": lambda: dict(gpt2_tok().token_strings), "merges": lambda: gpt2_tok()._merge_strings()},
        "GPT2Tokenizer",
        names={"vocab": ("vocab",), "merges": ("merge",)},
    ),
    "GPT2Tokenizer.encode": Case(
        lambda text, allowed_special: gpt2_tok().encode(text, allowed_special=allowed_special),
        {"text": const("Hello, world"), "allowed_special": const(frozenset())},
        "GPT2Tokenizer.encode",
        names={"text": TEXT_NAMES, "allowed_special": ("allowed_special",)},
        domain={"text": lambda v: isinstance(v, str)},
    ),
    "GPT2Tokenizer.from_pretrained": Case(
        lambda folder: gpt2.GPT2Tokenizer.from_pretrained(folder),
        {"folder": const(GPT2_FIXTURES)},
        "GPT2Tokenizer.from_pretrained",
        names={"folder": ("folder",)},
        raises=FILE_ERRORS,
    ),
    **rebuilt(gpt2.GPT2Tokenizer, gpt2_tok),
    "GPT2Tokenizer.save": saving("GPT2Tokenizer.save", lambda path: gpt2_tok().save(path)),
    "GPT2Tokenizer.load": loading("GPT2Tokenizer", gpt2.GPT2Tokenizer.load, gpt2_tok),
    "GPT2Tokenizer.save_pretrained": saving("GPT2Tokenizer.save_pretrained", lambda f: gpt2_tok().save_pretrained(f), "folder"),
    "compile_pattern": Case(
        gpt2.compile_pattern, {"pattern": const(gpt2.GPT2_PATTERN)}, "GPT2Tokenizer", names={"pattern": ("pattern",)}
    ),
    "tokenizer_from_dict": Case(
        tokenizer_from_dict, {"d": lambda: BPE.to_dict()}, ("tokenizer_from_dict", "from_dict"), names={"d": ("d", "type")}
    ),
    "load_tokenizer": Case(load_tokenizer, {"path": saved(lambda: CHAR)}, "load_tokenizer", raises=FILE_ERRORS),
    "merge": Case(
        lambda ids, pair, new_id: bpe.merge(ids, pair, new_id),
        {"ids": const([97, 97, 98]), "pair": const((97, 97)), "new_id": const(256)},
        "merge",
        domain={"new_id": int_at_least(0)},
    ),
    "apply_merges": Case(
        lambda ids, ranks, merges: bpe.apply_merges(ids, ranks, merges),
        {"ids": const([97, 98]), "ranks": const({(97, 98): 0}), "merges": const({(97, 98): 256})},
        "apply_merges",
        names={"ids": ("ids",), "ranks": ("ranks",), "merges": ("merges",)},
    ),
    "best_pair": Case(bpe.best_pair, {"stats": const({(1, 2): 3})}, "best_pair"),
    "split_chunks": Case(
        lambda text, pattern: bpe.split_chunks(text, pattern),
        {"text": const(TEXT), "pattern": const(bpe.GPT2_SPLIT_PATTERN)},
        "split_chunks",
        names={"text": TEXT_NAMES, "pattern": ("pattern",)},
        domain={"text": a_text},
        odd={"text": ODD_TEXTS, "pattern": [("a pattern that skips", const("a"))]},
    ),
    "train_merges_naive": Case(
        lambda chunks, n_merges: bpe.train_merges_naive(chunks, n_merges),
        {"chunks": const({b"aab": 2}), "n_merges": const(2)},
        "train_merges_naive",
        domain={"n_merges": int_at_least(0)},
    ),
    "train_merges": Case(
        lambda chunks, n_merges, verbose: bpe.train_merges(chunks, n_merges, verbose),
        {"chunks": const({b"aab": 2}), "n_merges": const(2), "verbose": const(False)},
        "train_merges",
        domain={"n_merges": int_at_least(0), "verbose": a_bool},
    ),
    "bytes_to_unicode": Case(lambda: len(byte_level.bytes_to_unicode()) == 256, {}, "bytes_to_unicode"),
    "unicode_to_bytes": Case(lambda: len(byte_level.unicode_to_bytes()) == 256, {}, "unicode_to_bytes"),
    "token_to_string": Case(byte_level.token_to_string, {"token": const(b" the")}, "token_to_string"),
    "string_to_token": Case(byte_level.string_to_token, {"s": const("Ġthe")}, "string_to_token"),
    "find_files": Case(
        lambda folder: byte_level.find_files(folder, "find_files"),
        {"folder": const(GPT2_FIXTURES)},
        "find_files",
        raises=FILE_ERRORS,
    ),
    "read_vocab_and_merges": Case(
        lambda folder: byte_level.read_vocab_and_merges(folder, "read_vocab_and_merges"),
        {"folder": const(GPT2_FIXTURES)},
        "read_vocab_and_merges",
        raises=FILE_ERRORS,
    ),
    "write_vocab_and_merges": Case(
        lambda folder: byte_level.write_vocab_and_merges(folder, {"a": 0}, []),
        {"folder": folder},
        "write_vocab_and_merges",
        raises=FILE_ERRORS,
    ),
    # ----- numpygpt.utils.data ------------------------------------------------------------------
    "TensorDataset": Case(
        lambda a, b: TensorDataset(a, b),
        {"a": lambda: np.arange(4), "b": lambda: np.ones((4, 2))},
        "TensorDataset",
        names={"a": ("array",), "b": ("array",)},
    ),
    "TensorDataset.__getitem__": Case(
        lambda index: TensorDataset(np.arange(4))[index], {"index": const(1)}, "TensorDataset", names={"index": ("index", "indices")}, raises=(IndexError,)
    ),
    "TensorDataset.__getitems__": Case(
        lambda indices: TensorDataset(np.arange(4)).__getitems__(indices),
        {"indices": lambda: np.array([0, 3])},
        "TensorDataset",
        names={"indices": ("index", "indices")},
        raises=(IndexError,),
    ),
    "TensorDataset.__len__": Case(lambda: len(TensorDataset(np.arange(4))) == 4, {}, "TensorDataset"),
    "TokenDataset": Case(
        lambda ids, block_size: TokenDataset(ids, block_size),
        {"ids": lambda: np.arange(10), "block_size": const(3)},
        "TokenDataset",
        names={"ids": ("ids", "tokens")},
        domain={"block_size": lambda v: is_int(v) and 1 <= v < 10},
    ),
    "TokenDataset.__getitem__": Case(
        lambda index: TokenDataset(np.arange(10), 3)[index], {"index": const(2)}, "TokenDataset", names={"index": ("index", "indices")}, raises=(IndexError,)
    ),
    "TokenDataset.__getitems__": Case(
        lambda indices: TokenDataset(np.arange(10), 3).__getitems__(indices),
        {"indices": lambda: np.array([0, 6])},
        "TokenDataset",
        names={"indices": ("index", "indices")},
        raises=(IndexError,),
    ),
    "TokenDataset.__len__": Case(lambda: len(TokenDataset(np.arange(10), 3)) == 7, {}, "TokenDataset"),
    "DataLoader": Case(
        loader_batches,
        {"dataset": lambda: TensorDataset(np.arange(7)), "batch_size": const(3), "shuffle": const(True), "drop_last": const(False), "seed": const(0)},
        ("DataLoader", "default_collate"),
        names={"dataset": ("dataset", "sample")},
        domain={"batch_size": int_at_least(1), "shuffle": a_bool, "drop_last": a_bool, "seed": lambda v: v is None or int_at_least(0)(v)},
    ),
    "DataLoader.__iter__": Case(lambda: [len(b[0]) for b in DataLoader(TensorDataset(np.arange(5)), 2)] == [2, 2, 1], {}, "DataLoader"),
    "DataLoader.__len__": Case(lambda: len(DataLoader(TensorDataset(np.arange(5)), 2, drop_last=True)) == 2, {}, "DataLoader"),
    "default_collate": Case(
        data_pkg.default_collate, {"samples": lambda: [np.ones(2), np.zeros(2)]}, "default_collate", names={"samples": ("sample",)}
    ),
    "get_batch": Case(
        batch_of,
        {"data": lambda: np.arange(20, dtype=np.uint16), "batch_size": const(4), "block_size": const(5), "rng": lambda: np.random.default_rng(0)},
        "get_batch",
        domain={"batch_size": lambda v: is_int(v) and 1 <= v <= MAX_ELEMENTS // 6, "block_size": lambda v: is_int(v) and 1 <= v < 20},
    ),
    "load_split": Case(
        lambda dataset_dir, split: data_pkg.load_split(dataset_dir, split),
        {"dataset_dir": prepared, "split": const("train")},
        "load_split",
        domain={"split": lambda v: isinstance(v, str) and v in ("train", "val")},
        raises=FILE_ERRORS,
    ),
    "load_meta": Case(data_pkg.load_meta, {"dataset_dir": prepared}, "load_meta", raises=FILE_ERRORS),
    "ChecksumError": Case(lambda message: isinstance(ChecksumError(message), ValueError), {"message": const("x")}, "ChecksumError"),
    "sha256_file": Case(
        lambda path: corpus_mod.sha256_file(path) == SHA, {"path": corpus_file}, "sha256_file", raises=FILE_ERRORS
    ),
    "verify_sha256": Case(
        lambda path, expected, hint: corpus_mod.verify_sha256(path, expected, hint),
        {"path": corpus_file, "expected": const(SHA), "hint": const("")},
        ("verify_sha256", "checksum mismatch"),
        names={"expected": ("expected", "checksum"), "path": ("path", "checksum mismatch for")},
        raises=FILE_ERRORS,
    ),
    "atomic_writer": Case(write_atomically, {"path": lambda: folder() / "w.bin"}, "atomic_writer", raises=FILE_ERRORS),
    "atomic_write_bytes": Case(
        lambda path, data: corpus_mod.atomic_write_bytes(path, data),
        {"path": lambda: folder() / "w.bin", "data": const(b"abc")},
        ("atomic_write_bytes", "atomic_writer"),
        raises=FILE_ERRORS,
    ),
    "copy_verified": Case(
        lambda source, dest, sha256: corpus_mod.copy_verified(source, dest, sha256),
        {"source": corpus_file, "dest": lambda: folder() / "copy.txt", "sha256": const(SHA)},
        ("copy_verified", "atomic_writer", "checksum mismatch"),
        names={"sha256": ("sha256", "checksum"), "dest": ("dest", "path"), "source": ("source", "checksum mismatch for")},
        raises=FILE_ERRORS,
    ),
    "download": Case(
        lambda url, dest, sha256, timeout: corpus_mod.download(url, dest, sha256, timeout),
        {"url": lambda: corpus_file().as_uri(), "dest": lambda: folder() / "d.txt", "sha256": const(SHA), "timeout": const(1.0)},
        ("download", "atomic_writer"),
        names={"dest": ("dest", "path"), "sha256": ("sha256", "checksum")},
        domain={"timeout": lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not is_bool(v) and np.isfinite(float(v)) and v > 0},
        raises=FILE_ERRORS,
    ),
    "fetch_corpus": Case(
        lambda data_dir, source, filename, sha256, verbose: data_pkg.fetch_corpus(
            data_dir, source, filename=filename, url="http://127.0.0.1:9/none", sha256=sha256, verbose=verbose
        ),
        {"data_dir": folder, "source": corpus_file, "filename": const("c.txt"), "sha256": const(SHA), "verbose": const(False)},
        ("fetch_corpus", "download", "checksum mismatch"),
        names={"sha256": ("sha256", "checksum"), "source": ("source",)},
        domain={"verbose": a_bool},
        raises=(*FILE_ERRORS, ChecksumError),
    ),
    "CorpusSpec": Case(
        lambda filename, url, sha256, size: prepare_module.CorpusSpec(filename, url, sha256, size),
        {"filename": const("c.txt"), "url": const("https://x/c.txt"), "sha256": const(SHA), "size": const(3)},
        "CorpusSpec",
        domain={"size": int_at_least(0)},
    ),
    "CorpusSpec.__eq__": Case(lambda other: prepare_module.DATASETS["shakespeare"] == other, {"other": const(None)}, "CorpusSpec"),
    "dataset_dir_name": Case(
        prepare_module.dataset_dir_name,
        {"name": const("shakespeare"), "tokenizer": const("bpe"), "vocab_size": const(512)},
        "dataset_dir_name",
        domain={"vocab_size": int_at_least(256)},
    ),
    "prepare": Case(
        lambda data_dir, tokenizer, vocab_size, sha256, verbose: data_pkg.prepare(
            "shakespeare", data_dir, corpus_file(), tokenizer, vocab_size, sha256=sha256, verbose=verbose
        ),
        {"data_dir": folder, "tokenizer": const("char"), "vocab_size": const(300), "sha256": const(SHA), "verbose": const(False)},
        ("prepare", "checksum mismatch"),
        names={"sha256": ("sha256", "checksum")},
        domain={"verbose": a_bool},
        raises=(*FILE_ERRORS, ChecksumError),
    ),
    "main": Case(
        lambda argv: run_main(argv) in (0, 1, 2),
        {"argv": lambda: ["shakespeare", "--data-dir", str(folder()), "--source", str(corpus_file()), "--sha256", SHA, "--quiet"]},
        "prepare.main",
    ),
}  # fmt: skip

# Public callables the hunt does not call, and why.
NOT_HUNTED = {
    "Tokenizer": "a Protocol: isinstance(obj, Tokenizer) is what it is for; it cannot be called",
    **{f"Tokenizer.{m}": "a Protocol's declaration; each tokenizer's own method is hunted" for m in ("decode", "encode", "encode_array", "save", "to_dict")},
    "Dataset": "a Protocol: isinstance(obj, Dataset) is what it is for; it cannot be called",
    **{f"Dataset.{m}": "a Protocol's declaration; each dataset's own method is hunted" for m in ("__getitem__", "__len__")},
    "ByteLevelBPE": "an abstract base without __init__; BPETokenizer and GPT2Tokenizer are hunted, and its methods on them",
    "ByteLevelBPE.encode": "abstract (NotImplementedError); BPETokenizer.encode and GPT2Tokenizer.encode are hunted",
    **{f"CorpusSpec.{m}": "a frozen dataclass's: it raises FrozenInstanceError, as every one does" for m in ("__setattr__", "__delattr__")},
}  # fmt: skip


def public_names() -> list[str]:
    """Every public callable of the two packages and of their public modules (and `__getitems__`,
    the batch-fetching hook a dataset may define), without repeats."""
    names: set[str] = set()
    for package in (tokenizer_pkg, data_pkg):
        modules: list[types.ModuleType] = [package]
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):  # not _files, not __main__
                modules.append(importlib.import_module(info.name))
        for module in modules:
            names.update(testing.public_callables(module))
            names.update(
                f"{n}.__getitems__"
                for n, obj in vars(module).items()
                if isinstance(obj, type) and "__getitems__" in vars(obj)
            )
    return sorted(names)


def skip_without_regex(key: str) -> None:
    if key.startswith(("GPT2Tokenizer", "compile_pattern")) and not HAS_REGEX:
        pytest.skip("GPT2Tokenizer needs the regex package (the stage's [gpt2] extra)")


def test_every_public_callable_is_hunted() -> None:
    problems = testing.table_problems(
        "numpygpt.tokenizer / numpygpt.utils.data", public_names(), CASES, NOT_HUNTED, __file__
    )
    assert not problems, "\n".join(problems) + " (paths: raises=FILE_ERRORS; not to be called: a reason in NOT_HUNTED)"


@pytest.mark.parametrize("key", sorted(CASES))
def test_every_odd_value(key: str) -> None:
    """The valid call works; then each argument gets each odd value of the fixed lists."""
    skip_without_regex(key)
    message = testing.hunt_message(key, CASES[key], STAGE_ODD)
    assert message is None, message


# The stage01 hunt's generated values, and any text hypothesis can make, lone surrogates included.
ODD_OR_TEXT = st.one_of(testing.odd_value_strategy(), st.text(st.characters(exclude_categories=()), max_size=8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(k for k, c in CASES.items() if c.hunted_args())), data=st.data())
def test_generated_odd_values(key: str, data: st.DataObject) -> None:
    """A generated odd value (see ODD_OR_TEXT) in a random argument of a random callable."""
    skip_without_regex(key)
    problem = testing.attempt_drawn(CASES[key], data, ODD_OR_TEXT)
    assert problem is None, f"{key}: {problem}"

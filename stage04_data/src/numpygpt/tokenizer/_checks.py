"""Argument checks shared by the tokenizers and the data pipeline: lists, paths, files.

Reading and writing the stage's text files, with errors that name the argument and the path.

Python's own errors leave out what a learner needs: `UnicodeDecodeError: 'utf-8' codec can't
decode byte 0xff in position 7` does not say which file, and `IsADirectoryError: [Errno 21]`
does not say which argument. Here every error says both:

    load_tokenizer: path data/tok.json is not UTF-8 text: byte 0xff at offset 7 (invalid start byte)
    [Errno 2] load_tokenizer: path: No such file or directory: 'data/tok.json'

An OSError stays an OSError of the same kind (FileNotFoundError, IsADirectoryError,
PermissionError) with its errno, its reason (strerror, after the function and the argument) and
its path (filename), so code that catches one or reads them still works; a file that is there but
not text (or not JSON) is a ValueError.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from numpygpt.autograd.checks import show

T = TypeVar("T")


def check_path(path: Any, name: str, where: str) -> Path:
    """`path` (a str or an os.PathLike such as pathlib.Path) as a Path; an empty str is refused."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: {name} must be a path (a str or a pathlib.Path), got {show(path)}")
    if path == "":
        raise ValueError(f"{where}: {name} is empty: it must name a file")
    if "\x00" in str(path):
        raise ValueError(f"{where}: {name} {str(path)!r} holds a NUL character, which no file name can")
    try:
        os.fsencode(path)
    except UnicodeEncodeError as e:
        raise ValueError(
            f"{where}: {name} {str(path)!r} holds {e.object[e.start]!r} at position {e.start}, which no file name can"
        ) from None
    return Path(path)


def as_list(value: Any, name: str, allowed: str, where: str) -> list[Any]:
    """`value`'s items as a list if it is an iterable other than a str, bytes or dict; else a TypeError."""
    if not isinstance(value, (str, bytes, dict)):
        try:
            return list(value)
        except TypeError:  # not iterable: None, a number, a 0-d array
            pass
    raise TypeError(f"{where}: {name} must be {allowed}, got {show(value)}")


def from_json_file(path: Any, build: Callable[[Any], T], where: str) -> T:
    """`build(content)` of the JSON file `path`; its errors name the file (a tokenizer's `load`)."""
    d = read_json(path, "path", where)
    try:
        return build(d)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: path {path}: {e}") from e


def os_error(errno: int | None, reason: str, path: Path, name: str, where: str) -> OSError:
    """An OSError of the kind `errno` says (FileNotFoundError for ENOENT, ...) naming the function,
    the argument and the path: "[Errno 2] load_tokenizer: path: No such file or directory: 'x'"."""
    if errno is None:
        return OSError(f"{where}: {name} {path}: {reason}")
    return OSError(errno, f"{where}: {name}: {reason}", str(path))


def reraise_os_error(e: OSError, path: Path, name: str, where: str) -> NoReturn:
    """Raise `e` again, of the same kind, with a message naming the function, the argument and the path."""
    raise os_error(e.errno, e.strerror or str(e), path, name, where) from e


def read_text(path: Any, name: str, where: str) -> str:
    """A UTF-8 text file's content, read as bytes (so "\\r\\n" stays as it is on disk)."""
    p = check_path(path, name, where)
    try:
        data = p.read_bytes()
    except OSError as e:
        reraise_os_error(e, p, name, where)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{where}: {name} {p} is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start} ({e.reason})"
        ) from None


def read_json(path: Any, name: str, where: str) -> Any:
    """A JSON file's content."""
    text = read_text(path, name, where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: {name} {path} is not JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None


def write_text(path: Any, text: str, name: str, where: str) -> None:
    """Write `text` to the file `path` as UTF-8."""
    p = check_path(path, name, where)
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as e:
        reraise_os_error(e, p, name, where)

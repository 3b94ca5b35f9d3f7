"""Getting a corpus onto disk safely: checksums, atomic writes, a local copy or a download.

Two rules keep the data folder trustworthy:
  * a file is verified against a known SHA-256 before it is used, so a different or damaged text
    is an error, never a silent change of the training data;
  * every file is written atomically: bytes go to a temporary file in the same folder, which is
    flushed, fsynced and then renamed over the target with `os.replace`. A rename within one file
    system is atomic, so a reader (or a crash, or Ctrl-C) sees either the old file or the complete
    new one, never a truncated corpus.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from numpygpt.autograd.checks import check_bool, is_real, show
from numpygpt.tokenizer._checks import check_path, os_error, reraise_os_error

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_BYTES = 1_115_394
ENV_VAR = "NUMPYGPT_DATA"  # path to a local copy of the corpus, for machines without internet

_CHUNK = 1 << 16  # bytes read or written at a time


class ChecksumError(ValueError):
    """A file's SHA-256 is not the expected one."""


def _check_sha256(value: Any, name: str, where: str) -> str:
    """`value` in lower case if it is a SHA-256 written in hex (64 characters 0-9, a-f)."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be a SHA-256 in hex (a str of 64 characters 0-9a-f), got {show(value)}")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
        raise ValueError(f"{where}: {name} must be a SHA-256 in hex (64 characters 0-9a-f), got {show(value)}")
    return value.lower()


def _check_url(url: Any, where: str) -> str:
    """`url` if it is an http://, https:// or file:// address (urllib's own errors name neither the argument nor the fix)."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "file://")):
        raise ValueError(f"{where}: url must be an http://, https:// or file:// address, got {show(url)}")
    return url


def _check_file_name(name: Any, argument: str, where: str) -> str:
    """`name` if it is the name of a file inside a folder: a non-empty str without a folder in it."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: {argument} must be a file name (a str) such as 'input.txt', got {show(name)}")
    check_path(name, argument, where)  # not empty, no NUL, a name the file system can hold
    if name in (".", "..") or "/" in name or os.sep in name:
        raise ValueError(
            f"{where}: {argument} must be a file name without a folder, such as 'input.txt', got {show(name)}"
        )
    return name


def _check_folder(path: Any, name: str, where: str) -> Path:
    """`path` as a Path to a folder, there or to be made: not a file."""
    p = check_path(path, name, where)
    if p.exists() and not p.is_dir():
        raise os_error(errno.ENOTDIR, "a file, not a folder", p, name, where)
    return p


def sha256_file(path: str | Path, name: str = "path", where: str = "sha256_file") -> str:
    """Hex SHA-256 of a file, read in chunks so a large file never has to fit in memory."""
    p = check_path(path, name, where)
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
    except OSError as e:
        reraise_os_error(e, p, name, where)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str, hint: str = "") -> str:
    """Return the file's SHA-256 if it equals `expected`; otherwise raise ChecksumError naming both."""
    expected = _check_sha256(expected, "expected", "verify_sha256")
    if not isinstance(hint, str):
        raise TypeError(f"verify_sha256: hint must be a str, got {show(hint)}")
    actual = sha256_file(path, "path", "verify_sha256")
    if actual != expected.lower():
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected.lower()}, got {actual}"
            f" ({Path(path).stat().st_size} bytes){hint}"
        )
    return actual


def _fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX only; Windows cannot open a folder)."""
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside `path` for writing bytes; on success it replaces `path`.

    If the body raises (any exception, KeyboardInterrupt included), the temporary file is deleted
    and `path` is left exactly as it was, absent or holding its previous content::

        with atomic_writer("data/train.bin") as f:
            f.write(ids.tobytes())
    """
    path = check_path(path, "path", "atomic_writer")
    if path.is_dir():
        raise os_error(errno.EISDIR, "a folder, not a file", path, "path", "atomic_writer")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # NOTE: the temporary file must live in the target's folder: os.replace is only atomic
        # within one file system, and /tmp often is another one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        reraise_os_error(e, path, "path", "atomic_writer")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o644)  # mkstemp makes 0600 files; data files are meant to be shared
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        try:
            os.replace(tmp, path)
        except OSError as e:
            reraise_os_error(e, path, "path", "atomic_writer")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_writer`)."""
    check_path(path, "path", "atomic_write_bytes")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write_bytes: data must be bytes, got {show(data)}")
    with atomic_writer(path) as f:
        f.write(data)


def copy_verified(source: str | Path, dest: str | Path, sha256: str) -> Path:
    """Copy `source` to `dest` atomically, hashing while copying; raise ChecksumError on a mismatch.

    The hash is checked before the rename, so a wrong file never appears at `dest`.
    """
    sha256 = _check_sha256(sha256, "sha256", "copy_verified")
    src_path = check_path(source, "source", "copy_verified")
    try:
        src = open(src_path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as e:
        reraise_os_error(e, src_path, "source", "copy_verified")
    h = hashlib.sha256()
    with src, atomic_writer(dest) as out:
        for block in iter(lambda: src.read(_CHUNK), b""):
            h.update(block)
            out.write(block)
        if h.hexdigest() != sha256.lower():
            raise ChecksumError(
                f"checksum mismatch for {source}: expected sha256 {sha256.lower()}, got {h.hexdigest()}"
            )
    return Path(dest)


def download(url: str, dest: str | Path, sha256: str, timeout: float = 60.0) -> Path:
    """Stream `url` into `dest` atomically and verify its SHA-256 before the file appears.

    Raises:
        ConnectionError: the server could not be reached, answered with an error status, or
            closed the connection before sending the Content-Length it announced.
        ChecksumError: the bytes received are not the expected file.
    """
    where = "download"
    _check_url(url, where)
    sha256 = _check_sha256(sha256, "sha256", where)
    check_path(dest, "dest", where)
    if not is_real(timeout) or not 0 < timeout < math.inf:
        raise (ValueError if is_real(timeout) else TypeError)(
            f"{where}: timeout must be a number of seconds > 0, got {show(timeout)}"
        )
    h = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_writer(dest) as out:
            announced = response.headers.get("Content-Length")
            for block in iter(lambda: response.read(_CHUNK), b""):
                h.update(block)
                out.write(block)
                received += len(block)
            # NOTE: http.client returns a short body without complaint when the connection drops,
            # so a truncated download is caught here (and by the checksum below).
            if announced is not None and received != int(announced):
                raise ConnectionError(f"download: {url} ended after {received} of {announced} bytes")
            if h.hexdigest() != sha256.lower():
                raise ChecksumError(
                    f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {h.hexdigest()} "
                    f"({received} bytes); nothing was written to {dest}"
                )
    except urllib.error.URLError as e:  # HTTPError included
        raise ConnectionError(
            f"download: could not fetch {url}: {e}. Without internet, pass --source PATH "
            f"(or set {ENV_VAR}) to a local copy"
        ) from e
    return Path(dest)


def fetch_corpus(
    data_dir: str | Path = "data",
    source: str | Path | None = None,
    *,
    filename: str = "tinyshakespeare.txt",
    url: str = TINY_SHAKESPEARE_URL,
    sha256: str = TINY_SHAKESPEARE_SHA256,
    env_var: str = ENV_VAR,
    verbose: bool = True,
) -> Path:
    """Make sure a verified copy of the corpus is at ``data_dir/filename`` and return its path.

    Where the text comes from, first match wins:
      1. `source`, a local file;
      2. the environment variable `env_var` (NUMPYGPT_DATA), a path to a local file;
      3. ``data_dir/filename`` itself, if it is already there;
      4. a download from `url`.
    Whatever the origin, its SHA-256 must equal `sha256` (ChecksumError otherwise, naming the file
    and both hashes), and nothing unverified is ever written to ``data_dir/filename``.
    """
    where = "fetch_corpus"
    data_dir = _check_folder(data_dir, "data_dir", where)
    if source is not None:
        check_path(source, "source", where)
    _check_file_name(filename, "filename", where)
    _check_url(url, where)
    sha256 = _check_sha256(sha256, "sha256", where)
    if not isinstance(env_var, str) or not env_var:
        raise (ValueError if env_var == "" else TypeError)(
            f"{where}: env_var must be the name of an environment variable (a str), got {show(env_var)}"
        )
    say = print if check_bool(where, "verbose", verbose) else (lambda *_: None)
    dest = data_dir / filename
    origin = "source"
    if source is None and os.environ.get(env_var):
        source, origin = os.environ[env_var], f"${env_var}"
    if source is not None:
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"fetch_corpus: {origin} {source} is not a file")
        verify_sha256(source, sha256, hint=f"; is {origin} {source} the right file?")
        if dest.is_file() and (os.path.samefile(source, dest) or sha256_file(dest) == sha256.lower()):
            say(f"corpus: {dest} is already there and verified")
            return dest
        say(f"corpus: copying {source} -> {dest}")
        return copy_verified(source, dest, sha256)
    if dest.is_file():
        verify_sha256(dest, sha256, hint=f"; delete {dest} to download it again, or pass --source PATH")
        say(f"corpus: {dest} is already there and verified")
        return dest
    say(f"corpus: downloading {url} -> {dest}")
    return download(url, dest, sha256)

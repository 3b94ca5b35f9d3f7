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
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_BYTES = 1_115_394
ENV_VAR = "NUMPYGPT_DATA"  # path to a local copy of the corpus, for machines without internet

_CHUNK = 1 << 16  # bytes read or written at a time


class ChecksumError(ValueError):
    """A file's SHA-256 is not the expected one."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks so a large file never has to fit in memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | Path, expected: str, hint: str = "") -> str:
    """Return the file's SHA-256 if it equals `expected`; otherwise raise ChecksumError naming both."""
    actual = sha256_file(path)
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: the temporary file must live in the target's folder: os.replace is only atomic within
    # one file system, and /tmp often is another one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o644)  # mkstemp makes 0600 files; data files are meant to be shared
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)


def copy_verified(source: str | Path, dest: str | Path, sha256: str) -> Path:
    """Copy `source` to `dest` atomically, hashing while copying; raise ChecksumError on a mismatch.

    The hash is checked before the rename, so a wrong file never appears at `dest`.
    """
    h = hashlib.sha256()
    with open(source, "rb") as src, atomic_writer(dest) as out:
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
    say = print if verbose else (lambda *_: None)
    dest = Path(data_dir) / filename
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

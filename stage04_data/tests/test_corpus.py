"""Checksums, atomic writes that survive interruption, downloads from a loopback server, sources."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from pathlib import Path

import pytest

from numpygpt.utils.data import corpus
from numpygpt.utils.data.corpus import (
    TINY_SHAKESPEARE_SHA256,
    ChecksumError,
    atomic_write_bytes,
    atomic_writer,
    copy_verified,
    download,
    fetch_corpus,
    sha256_file,
    verify_sha256,
)

pytestmark = pytest.mark.corpus

TEXT = b"To be, or not to be, that is the question.\n" * 50
SHA = hashlib.sha256(TEXT).hexdigest()
WRONG = b"To be, or not to be, that is the question!\n" * 50


def leftovers(folder: Path) -> list[str]:
    """Temporary files the atomic writer may have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_sha256_file(tmp_path) -> None:
    (tmp_path / "a").write_bytes(TEXT)
    assert sha256_file(tmp_path / "a") == SHA
    assert verify_sha256(tmp_path / "a", SHA.upper()) == SHA


@pytest.mark.errors
def test_verify_names_the_file_and_both_hashes(tmp_path) -> None:
    (tmp_path / "a").write_bytes(WRONG)
    actual = hashlib.sha256(WRONG).hexdigest()
    with pytest.raises(ChecksumError, match=rf"checksum mismatch for .*a: expected sha256 {SHA}, got {actual}"):
        verify_sha256(tmp_path / "a", SHA)


def test_atomic_write_creates_and_replaces(tmp_path) -> None:
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [None, b"the old complete file"])
def test_interrupted_write_leaves_no_partial_file(tmp_path, error: BaseException, existing: bytes | None) -> None:
    target = tmp_path / "corpus.txt"
    if existing is not None:
        target.write_bytes(existing)
    with pytest.raises(type(error)), atomic_writer(target) as f:
        f.write(TEXT[:100])  # half the file is written ...
        raise error  # ... when the process is interrupted
    assert (target.read_bytes() if target.exists() else None) == existing
    assert leftovers(tmp_path) == []


def test_interrupted_fsync_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(corpus.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        copy_verified(_write(tmp_path / "src.txt", TEXT), tmp_path / "out" / "corpus.txt", SHA)
    assert not (tmp_path / "out" / "corpus.txt").exists()
    assert leftovers(tmp_path / "out") == []


def test_download_from_a_loopback_server(tmp_path, http_server) -> None:
    http_server.routes["/input.txt"] = TEXT
    dest = download(http_server.url("/input.txt"), tmp_path / "corpus.txt", SHA)
    assert dest.read_bytes() == TEXT
    assert http_server.requests == ["/input.txt"]
    assert leftovers(tmp_path) == []


@pytest.mark.errors
def test_download_with_the_wrong_checksum_writes_nothing(tmp_path, http_server) -> None:
    http_server.routes["/input.txt"] = WRONG
    with pytest.raises(
        ChecksumError, match=rf"checksum mismatch for http://127\.0\.0\.1:\d+/input\.txt: expected sha256 {SHA}"
    ):
        download(http_server.url("/input.txt"), tmp_path / "corpus.txt", SHA)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.errors
def test_dropped_download_writes_nothing(tmp_path, http_server) -> None:
    http_server.routes["/input.txt"] = TEXT[:500]
    http_server.lie_about_length["/input.txt"] = len(TEXT) - 500  # announce the whole file, send a part
    with pytest.raises(ConnectionError, match=rf"download: .*/input\.txt ended after 500 of {len(TEXT)} bytes"):
        download(http_server.url("/input.txt"), tmp_path / "corpus.txt", SHA)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.errors
def test_unreachable_server_suggests_a_local_copy(tmp_path, http_server) -> None:
    with pytest.raises(
        ConnectionError,
        match=r"could not fetch .*/missing\.txt: HTTP Error 404.*pass --source PATH \(or set NUMPYGPT_DATA\)",
    ):
        download(http_server.url("/missing.txt"), tmp_path / "corpus.txt", SHA)
    assert list(tmp_path.iterdir()) == []


def test_the_network_guard_is_active() -> None:
    # Every test runs under conftest's guard: a connection beyond loopback fails before leaving the machine.
    with pytest.raises(RuntimeError, match="must not touch the network"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with pytest.raises(Exception, match="must not touch the network"):
        urllib.request.urlopen("http://192.0.2.1/", timeout=0.1)


def test_fetch_prefers_source_then_env_then_existing_then_download(tmp_path, http_server, monkeypatch, capsys) -> None:
    http_server.routes["/input.txt"] = TEXT
    url = http_server.url("/input.txt")
    src = _write(tmp_path / "copy.txt", TEXT)
    data = tmp_path / "data"
    kw = dict(filename="c.txt", url=url, sha256=SHA)

    assert fetch_corpus(data, src, **kw).read_bytes() == TEXT  # 1. an explicit source is copied
    assert "copying" in capsys.readouterr().out
    (data / "c.txt").unlink()
    monkeypatch.setenv("NUMPYGPT_DATA", str(src))
    assert fetch_corpus(data, **kw).read_bytes() == TEXT  # 2. the environment variable
    assert "copying" in capsys.readouterr().out
    monkeypatch.delenv("NUMPYGPT_DATA")
    assert fetch_corpus(data, **kw).read_bytes() == TEXT  # 3. the verified file already there
    assert "already there and verified" in capsys.readouterr().out
    assert http_server.requests == []
    (data / "c.txt").unlink()
    assert fetch_corpus(data, **kw).read_bytes() == TEXT  # 4. the download
    assert http_server.requests == ["/input.txt"]


@pytest.mark.errors
def test_fetch_refuses_wrong_files(tmp_path, monkeypatch) -> None:
    data = tmp_path / "data"
    bad = _write(tmp_path / "bad.txt", WRONG)
    kw = dict(filename="c.txt", url="http://127.0.0.1:9/never", sha256=SHA)
    with pytest.raises(
        ChecksumError,
        match=rf"checksum mismatch for .*bad\.txt: expected sha256 {SHA}.*is source .*bad\.txt the right file",
    ):
        fetch_corpus(data, bad, **kw)
    monkeypatch.setenv("NUMPYGPT_DATA", str(bad))
    with pytest.raises(ChecksumError, match=r"is \$NUMPYGPT_DATA .*bad\.txt the right file"):
        fetch_corpus(data, **kw)
    monkeypatch.setenv("NUMPYGPT_DATA", str(tmp_path / "nowhere.txt"))
    with pytest.raises(FileNotFoundError, match=r"fetch_corpus: \$NUMPYGPT_DATA .*nowhere\.txt is not a file"):
        fetch_corpus(data, **kw)
    monkeypatch.delenv("NUMPYGPT_DATA")
    assert not (data / "c.txt").exists()
    data.mkdir()
    _write(data / "c.txt", WRONG)  # a damaged file already in the data folder is not used either
    with pytest.raises(ChecksumError, match=r"checksum mismatch for .*c\.txt.*delete .*c\.txt to download it again"):
        fetch_corpus(data, **kw)


def test_a_good_source_replaces_a_damaged_copy(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "c.txt", WRONG)
    fetch_corpus(data, _write(tmp_path / "good.txt", TEXT), filename="c.txt", sha256=SHA, verbose=False)
    assert (data / "c.txt").read_bytes() == TEXT


def test_the_known_checksum_is_tiny_shakespeares() -> None:
    # Typos in the constant would make every real run fail; it must match the value.
    assert TINY_SHAKESPEARE_SHA256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

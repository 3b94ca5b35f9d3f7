"""Shared fixtures for stage04 tests: no real network, no data path from the environment, a fake server."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to this machine: tests use a fake server on 127.0.0.1."""
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOOPBACK:
            raise RuntimeError(f"stage04 tests must not touch the network (tried to connect to {address!r})")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's NUMPYGPT_DATA must not change which file a test reads."""
    monkeypatch.delenv("NUMPYGPT_DATA", raising=False)


class FakeServer:
    """A loopback HTTP server: `routes[path] = body` serves bytes; `lie_about_length` adds bytes to the
    announced Content-Length, so the connection closes early, like a dropped download."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.lie_about_length: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + server.lie_about_length.get(self.path, 0)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:  # keep pytest's output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def http_server() -> Iterator[FakeServer]:
    """A fake download server on 127.0.0.1 for the duration of one test."""
    server = FakeServer()
    yield server
    server.close()

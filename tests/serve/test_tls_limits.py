"""The connection limits hold before and during a TLS handshake (hp-serve starts TLS itself, after
counting the TCP connection): silent connections are capped per address and closed after the
idle timeout, and a good client is served meanwhile; a request that comes with the handshake's
last message is served."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import ssl
import time
import urllib.parse

import pytest

from tests.conftest import EXAMPLES
from tests.processes import stopped
from tests.serve.test_server import serving
from tests.serve.test_tls import _pair

pytestmark = pytest.mark.slow
SILENT = 300
IDLE = 5.0  # ServeConfig.keep_alive: a connection that sends nothing is closed after it


@pytest.fixture(scope="module")
def tls_server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls-limits")
    cert, key = _pair(folder, "server")
    with serving(
        exported.onnx, "--workers", "1", "--tls-cert", str(cert), "--tls-key", str(key)
    ) as s:
        s.port, s.cert = urllib.parse.urlsplit(s.url).port, cert
        _wait_for_tls(s)
        yield s


def _tls_healthz(server, source: str = "127.0.0.2") -> bytes:
    context = ssl.create_default_context(cafile=str(server.cert))
    raw = socket.create_connection(("127.0.0.1", server.port), 5, (source, 0))
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(100)


def _wait_for_tls(server) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            _tls_healthz(server, "127.0.0.1")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Crowd:
    """Silent connections to a port, watched for the server closing them."""

    def __init__(self, port: int, count: int, source: str = "127.0.0.1"):
        self.selector, self.open = selectors.DefaultSelector(), set()
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), 5, (source, 0))
            s.setblocking(False)
            self.selector.register(s, selectors.EVENT_READ)
            self.open.add(s)

    def forget_closed(self, wait: float = 0.5) -> None:
        """Drop the connections the server closed within ``wait`` seconds (reading what it sent)."""
        for key, _ in self.selector.select(wait):
            with contextlib.suppress(BlockingIOError):
                with contextlib.suppress(OSError):
                    if key.fileobj.recv(4096):
                        continue
                self.selector.unregister(key.fileobj)
                self.open.discard(key.fileobj)
                key.fileobj.close()

    def close(self) -> None:
        for s in self.open:
            s.close()
        self.selector.close()


def test_silent_connections_are_capped_and_closed_before_any_handshake(tls_server):
    before = _open_fds(tls_server.process.pid)
    crowd = Crowd(tls_server.port, SILENT)
    try:
        started = time.monotonic()
        assert _tls_healthz(tls_server).startswith(b"HTTP/1.1 200")  # served meanwhile
        assert time.monotonic() - started < 2
        capped = False
        while crowd.open and time.monotonic() < started + IDLE + 5:
            if not capped and time.monotonic() > started + 1:
                # beyond the per-client cap of 100: closed at once, handshake or not
                assert len(crowd.open) <= 100, f"{len(crowd.open)} open after a second"
                capped = True
            crowd.forget_closed()
        assert not crowd.open, f"{len(crowd.open)} of {SILENT} silent connections still open"
    finally:
        crowd.close()
    time.sleep(0.5)
    assert _open_fds(tls_server.process.pid) <= before + 2  # nothing leaked
    assert _tls_healthz(tls_server, "127.0.0.1").startswith(b"HTTP/1.1 200")


def test_a_handshake_that_stalls_halfway_is_closed_after_the_idle_timeout(tls_server):
    """A ClientHello's first bytes, then nothing: closed within the idle timeout and a bit."""
    with socket.create_connection(("127.0.0.1", tls_server.port), IDLE + 5) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            assert s.recv(100) == b""
        assert time.monotonic() - started < IDLE + 3


def _closed(server, reason: str) -> float:
    context = ssl.create_default_context(cafile=str(server.cert))
    raw = socket.create_connection(("127.0.0.1", server.port), 5)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        text = b"".join(iter(lambda: s.recv(65536), b"")).decode()
    return float(re.search(rf'closed_total\{{reason="{reason}"\}} (\S+)', text)[1])


def test_plain_http_on_the_tls_port_is_closed_at_once_and_counted(tls_server):
    before = _closed(tls_server, "handshake")
    fds = _open_fds(tls_server.process.pid)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", tls_server.port), 5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            with contextlib.suppress(OSError):
                assert s.recv(100) == b""  # no TLS alert parsing here: closed is what counts
            assert time.monotonic() - started < 2  # not left to the idle timeout
    time.sleep(0.3)
    assert _closed(tls_server, "handshake") == before + 3
    assert _open_fds(tls_server.process.pid) <= fds + 1


def _early(server, request: bytes) -> bytes:
    """``request`` sent with the client's Finished, so that both arrive in one read (sent while
    the server is stopped): what the server answers, b"" if it closes without a word."""
    context = ssl.create_default_context(cafile=str(server.cert))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), 10) as s:
        while True:
            try:
                client.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(outgoing.read())
                incoming.write(s.recv(65536))
        client.write(request)
        with stopped(server.process.pid):
            s.sendall(outgoing.read())  # the Finished that the client holds, then the request
            time.sleep(0.2)
        with contextlib.suppress(OSError):  # ssl.SSLError too
            while not answer.startswith(b"HTTP/1.1 ") and (part := s.recv(65536)):
                incoming.write(part)
                with contextlib.suppress(ssl.SSLWantReadError):
                    answer += client.read(65536)
    return answer


def _predict(size: int) -> bytes:
    """A POST of examples/house.json, padded with spaces to ``size`` bytes in all."""
    house = (EXAMPLES / "house.json").read_bytes()
    head = (
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %06d\r\n\r\n"
    )
    length = size - len(head % 0)
    return head % length + house + b" " * (length - len(house))


def test_a_request_in_the_same_read_as_the_handshake_end_is_served(tls_server):
    """The TLS layer hands such a request over before the handshake's task resumes: it is held
    until then, not lost."""
    answer = _early(tls_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer


def test_what_is_held_during_the_handshake_is_bounded_at_80_kb(tls_server):
    """16 KB of head and 64 KB more: at the bound, served; beyond it, closed and counted. Each
    request comes whole in the read that ends the handshake: on this machine that read took up
    to 114,688 bytes (measured), the receive window of a new loopback connection."""
    assert len(_predict(80 * 1024)) == 80 * 1024
    assert _early(tls_server, _predict(80 * 1024)).startswith(b"HTTP/1.1 200")
    before = _closed(tls_server, "head")
    assert _early(tls_server, _predict(90_000)) == b""
    assert _closed(tls_server, "head") == before + 1

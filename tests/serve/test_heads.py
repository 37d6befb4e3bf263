"""Request heads are limited (16 KB, 100 fields) under httptools, the parser hp-serve runs: a
larger head is answered 431 and closed, read no further than the limit, however it arrives."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
import urllib.parse

import pytest

from tests.conftest import EXAMPLES
from tests.serve.test_server import serving

HOUSE = (EXAMPLES / "house.json").read_bytes()
# The documented limits (docs/hp-serve.md), not the code's constants: a test reading those would
# follow them wherever they moved.
HEAD_BYTES = 16 * 1024  # the request target and every field, each as "name: value" and CRLF
HEAD_FIELDS = 100


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    model = tmp_path_factory.mktemp("heads") / "model.onnx"
    shutil.copy(exported.onnx, model)
    with serving(model, "--workers", "1") as s:
        s.port = urllib.parse.urlsplit(s.url).port
        yield s


def _status(port: int, head: bytes, *, chunk: int = 1 << 16, seconds: float = 20) -> int:
    """The status of ``head`` sent in chunks (0: closed without one)."""
    with socket.create_connection(("127.0.0.1", port), seconds) as s:
        with contextlib.suppress(OSError):  # the server may close while we still send
            for start in range(0, len(head), chunk):
                s.sendall(head[start : start + chunk])
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer and (part := s.recv(4096)):
                answer += part
    return int(answer.split()[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _get(headers: bytes) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"


def test_a_head_within_the_limits_is_served(server):
    fields = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 80) for i in range(HEAD_FIELDS - 1))  # + Host
    assert len(fields) < HEAD_BYTES - 200
    assert _status(server.port, _get(fields)) == 200


def _big(parsed: int) -> bytes:
    """A head whose target and fields (as the limit counts them) come to ``parsed`` bytes."""
    counted = len(b"/healthz") + len(b"Hostx") + 4 + len(b"X-Big") + 4
    return _get(b"X-Big: " + b"v" * (parsed - counted) + b"\r\n")


def test_a_head_of_exactly_16_kb_is_served_and_a_few_bytes_more_is_431(server):
    """Sent in one write, the head arrives in one read and is measured as parsed."""
    assert _status(server.port, _big(HEAD_BYTES)) == 200
    assert _status(server.port, _big(HEAD_BYTES + 6)) == 431


def test_a_head_whose_bytes_before_its_end_come_to_16_kb_is_served_and_one_more_is_431(server):
    """Sent in two writes, the head is first measured raw, as it arrives: all of it but the
    final CRLF is up to 16 KB, here exactly."""

    def status(raw: int) -> int:
        head = _get(b"X-Big: " + b"v" * (raw - len(_get(b"X-Big: \r\n")) + 2) + b"\r\n")
        assert len(head) - 2 == raw
        with socket.create_connection(("127.0.0.1", server.port), 10) as s:
            with contextlib.suppress(OSError):
                s.sendall(head[:-2])
                time.sleep(0.3)  # read before the head's end comes
                s.sendall(head[-2:])
            answer = s.recv(12)
        return int(answer.split()[1])

    assert status(HEAD_BYTES) == 200
    assert status(HEAD_BYTES + 1) == 431


@pytest.mark.parametrize(
    "fields",
    [
        b"X-Big: " + b"v" * 20_000 + b"\r\n",  # one field of 20 KB, in one read
        b"".join(b"X-%d: v\r\n" % i for i in range(20_000)),  # 20,000 fields
        b"".join(b"X-%d: v\r\n" % i for i in range(HEAD_FIELDS)),  # with Host, one too many
    ],
    ids=["20 KB field", "20,000 fields", "101 fields"],
)
def test_a_head_beyond_the_limits_is_431(server, fields):
    assert _status(server.port, _get(fields)) == 431


def test_a_50_mb_head_is_cut_at_the_limit_without_delaying_anyone(server):
    """The head is refused once 16 KB have come without its end; a good request on another
    connection meanwhile is answered promptly, and the server's memory stays put."""
    head = b"GET /healthz HTTP/1.1\r\nX-Big: " + b"v" * (50 << 20)
    rss = _rss(server.process.pid)
    statuses: list[int] = []
    sender = threading.Thread(target=lambda: statuses.append(_status(server.port, head)))
    sender.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert _status(server.port, _get(b"")) == 200
    assert time.monotonic() - started < 1.0
    sender.join(30)
    assert statuses == [431]
    assert _rss(server.process.pid) - rss < 20 << 20  # not 50 MB (bytes of RSS)


def test_the_limit_holds_for_a_head_sent_a_kilobyte_at_a_time(server):
    head = _get(b"X-Big: " + b"v" * 20_000 + b"\r\n")
    assert _status(server.port, head, chunk=1024) == 431


def test_refusals_are_counted(server):
    def closed_for_heads() -> float:
        text = server.call("GET", "/metrics")[2].decode()
        line = next(x for x in text.splitlines() if 'reason="head"' in x and x[0] != "#")
        return float(line.rsplit(" ", 1)[1])

    before = closed_for_heads()  # whatever this file's other tests sent, if they ran here first
    assert _status(server.port, _get(b"X-Big: " + b"v" * 20_000 + b"\r\n")) == 431
    assert closed_for_heads() == before + 1


def _rss(pid: int) -> int:
    """Resident bytes of the server's worker (its only child with --workers 1: itself)."""
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024

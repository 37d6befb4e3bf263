"""serve/connections' bookkeeping, one small limit at a time on a server with a budget of 4
connections and a cap of 3 per address: a connection counts until it closes and not after,
keep-alive requests are each measured alone, a full worker evicts the oldest waiting connection
(one each, however many arrive together; idle after a response counts as waiting) and refuses a
new one when none waits, and only a connection left idle is counted idle."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import struct
import time
import urllib.parse

import pytest

from tests.processes import stopped
from tests.serve.test_server import serving
from tests.serve.test_tls import _pair

pytestmark = pytest.mark.slow
BUDGET, CAP = 4, 3
SOURCES = [f"127.0.0.{i}" for i in range(2, 2 + BUDGET)]  # fill the budget, one per address
HALF_A_BODY = (
    b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 400\r\n\r\n{"CRIM": 1'
)


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    model = tmp_path_factory.mktemp("bookkeeping") / "model.onnx"
    shutil.copy(exported.onnx, model)
    args = ["--workers", "1", "--max-connections", str(BUDGET)]
    args += ["--max-connections-per-client", str(CAP), "--request-timeout", "20"]
    with serving(model, *args) as s:
        s.port = urllib.parse.urlsplit(s.url).port
        yield s


def metric(server, name: str) -> float:
    text = server.call("GET", "/metrics")[2].decode()
    return float(re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)[1])


def closed(server, reason: str) -> float:
    return metric(server, f'houseprice_connections_closed_total{{reason="{reason}"}}')


def connect(server, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), 5, (source, 0))


def get(s: socket.socket, extra: bytes = b"") -> int:
    """A GET /healthz on ``s`` (kept alive): its status, 0 if the server closed instead."""
    answer = b""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        while b"\r\n\r\n" not in answer:
            part = s.recv(4096)
            if not part:
                return 0
            answer += part
    except ConnectionResetError:  # refused at once: aborted
        return 0
    head, _, rest = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])
    while len(rest) < length:
        rest += s.recv(4096)
    return int(head.split()[1])


def closed_by_server(s: socket.socket, seconds: float = 3.0) -> bool:
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@contextlib.contextmanager
def held(sockets: list[socket.socket]):
    try:
        yield sockets
    finally:
        for s in sockets:
            s.close()
        time.sleep(0.3)  # the server sees them go


def settle(server, open_at_rest: float = 1.0) -> None:
    """Until the server counts only the connection asking (each closed one counted out)."""
    deadline = time.monotonic() + 5
    while metric(server, "houseprice_connections_open") != open_at_rest:
        assert time.monotonic() < deadline, "connections still counted after closing"
        time.sleep(0.1)


def test_each_keep_alive_request_has_its_own_head_limit(server):
    """Five heads of 6 KB on one connection, 30 KB in all: each is within 16 KB."""
    field = b"X-Pad: " + b"v" * 6000 + b"\r\n"
    with held([connect(server)]) as (s,):
        assert [get(s, field) for _ in range(5)] == [200] * 5
    settle(server)


def test_a_closed_connection_no_longer_counts_against_its_address(server):
    with held([connect(server) for _ in range(CAP)]) as first:
        assert all(get(s) == 200 for s in first)
        first[0].close()
        time.sleep(0.3)
        with held([connect(server) for _ in range(2)]) as more:
            assert [get(s) for s in more] == [200, 0]  # 3 open again, then the cap
    settle(server)
    assert "Traceback" not in server.output() and "Exception" not in server.output()


def test_a_full_worker_evicts_the_connections_waiting_longest(server):
    before = closed(server, "evicted")
    with held([connect(server, source) for source in SOURCES]) as idle:
        time.sleep(0.2)
        with held([connect(server, "127.0.0.9"), connect(server, "127.0.0.10")]) as newest:
            assert [get(s) for s in newest] == [200, 200]  # both kept open: each evicted one
            assert closed_by_server(idle[0]) and closed_by_server(idle[1])  # the oldest waiting
            assert not closed_by_server(idle[2], 0.5)
    assert closed(server, "evicted") >= before + 2
    settle(server)


def test_a_worker_full_of_requests_in_progress_refuses_a_new_connection(server):
    with held([connect(server, source) for source in SOURCES]) as busy:
        for s in busy:
            s.sendall(HALF_A_BODY)  # a request under way: never evicted
        time.sleep(0.3)
        with held([connect(server, "127.0.0.9")]) as (late,):
            assert closed_by_server(late, 2.0)
        assert not any(closed_by_server(s, 0.2) for s in busy)
    settle(server)
    assert closed(server, "full") >= 1
    assert "Traceback" not in server.output() and "Exception" not in server.output()


def test_a_head_sent_slowly_within_the_deadline_is_served(server):
    """The idle timer stops at a request's first byte: only the deadline (20 s here) bounds it."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with held([connect(server)]) as (s,):
        for i in range(0, len(head), 6):
            s.sendall(head[i : i + 6])
            time.sleep(1.0)  # past the 5 s keep-alive timeout in all
        s.settimeout(5)
        assert s.recv(12) == b"HTTP/1.1 200"
    settle(server)


def test_a_request_that_is_not_http_is_400(server):
    with held([connect(server)]) as (s,):
        s.sendall(b"HELLO THERE\r\n\r\n")
        s.settimeout(5)
        assert s.recv(12) == b"HTTP/1.1 400"
    settle(server)


def test_a_connection_idle_after_its_response_can_be_evicted_again(server):
    """A request's head takes its connection out of the eviction queue; the response puts it
    back, newest last."""
    with held([connect(server, source) for source in SOURCES]) as idle:
        assert [get(s) for s in (*idle[1:], idle[0])] == [200] * BUDGET
        with held([connect(server, "127.0.0.9")]) as (late,):
            assert get(late) == 200  # not refused: a connection idle since its response made room
            assert closed_by_server(idle[1])  # the one idle longest
            assert not closed_by_server(idle[0], 0.5)  # its response came last
    settle(server)


@pytest.fixture(scope="module")
def tls_server(exported, tmp_path_factory):
    """With TLS, hp-serve runs on asyncio's own loop, which accepts every queued connection in one
    batch and makes each before any of them runs (uvloop, used without TLS, does not)."""
    folder = tmp_path_factory.mktemp("bookkeeping-tls")
    cert, key = _pair(folder, "server")
    args = ["--workers", "1", "--max-connections", str(BUDGET), "--tls-cert", str(cert)]
    with serving(exported.onnx, *args, "--tls-key", str(key)) as s:
        s.port = urllib.parse.urlsplit(s.url).port
        yield s


def test_connections_accepted_together_each_evict_another(tls_server):
    """Two connections queued while the worker is stopped are accepted in one batch: the first
    one's victim stops counting at once (not a loop turn later, when its connection_lost comes),
    so the second evicts the next one instead of the same one again."""
    with held([connect(tls_server, source) for source in SOURCES]) as silent:
        time.sleep(0.3)
        with stopped(tls_server.process.pid):
            burst = [connect(tls_server, "127.0.0.9"), connect(tls_server, "127.0.0.10")]
        with held(burst):
            assert closed_by_server(silent[0]) and closed_by_server(silent[1])
            assert not closed_by_server(silent[2], 0.5)
            assert not any(closed_by_server(s, 0.2) for s in burst)


def test_only_a_connection_left_idle_is_counted_idle(server):
    """A connection left idle after a response is closed after the keep-alive timeout (5 s) and
    counted. One its client reset is not counted when its keep-alive timer fires: uvicorn leaves
    that timer running after a reset, and it then finds the transport closing."""
    before = closed(server, "idle")
    reset = connect(server)
    assert get(reset) == 200
    reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()  # an RST, not a FIN
    time.sleep(3.0)
    with held([connect(server)]) as (kept,):
        assert get(kept) == 200
        time.sleep(3.5)  # the reset one's timer has fired, the kept one's not yet
        assert closed(server, "idle") == before
        assert closed_by_server(kept, 8.0)
    assert closed(server, "idle") == before + 1
    settle(server)

"""gRPC against hostile and secure clients: garbage bytes, a half-sent HTTP/2 preface and 1,000
idle connections from one address each leave a legitimate call answered and are closed by the
server (the last first by the per-client cap); no descriptor or much memory is left behind; TLS
serves a client that trusts the certificate."""

from __future__ import annotations

import os
import shutil
import socket
import time

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from tritonclient.utils import InferenceServerException

from tests.serve.test_connection_bookkeeping import closed
from tests.serve.test_grpc import features, grpc_port, houses
from tests.serve.test_server import serving
from tests.serve.test_tls import _pair
from tests.serve.test_tls_limits import Crowd

pytestmark = pytest.mark.slow
DEADLINE = 2.0  # --request-timeout: the gRPC handshake deadline too


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    model = tmp_path_factory.mktemp("grpc-hostile") / "model.onnx"
    shutil.copy(exported.onnx, model)
    flags = ["--grpc-port", "0", "--workers", "1", "--request-timeout", str(DEADLINE)]
    with serving(model, *flags) as s:
        s.port = grpc_port(s)
        s.client = tgrpc.InferenceServerClient(f"127.0.0.1:{s.port}")
        s.client.infer("houseprice", [features(houses(1))])  # warm
        yield s


def _serves(server) -> bool:
    started = time.monotonic()
    prices = server.client.infer("houseprice", [features(houses(1))]).as_numpy("price")
    return prices.shape == (1,) and time.monotonic() - started < 2


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def _worker(server) -> int:
    """The one worker's pid (--workers 1: the server process itself)."""
    return server.process.pid


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) / 1024


@pytest.mark.parametrize(
    "opening",
    [b"\x16\x03\x01garbage that is no HTTP/2" * 4, b"PRI * HTTP/2.0\r\n"],
    ids=["garbage", "half a preface"],
)
def test_a_bad_opening_is_closed_and_others_are_served(server, opening):
    with socket.create_connection(("127.0.0.1", server.port), 5) as bad:
        bad.sendall(opening)
        assert _serves(server)
        assert _closed_within(bad, DEADLINE + 5)


def test_a_thousand_idle_connections_starve_no_one_and_leak_nothing(server):
    """From one address (not the legitimate client's): the per-client cap (100) closes 900
    within a second or so, the handshake deadline the rest."""
    pid = _worker(server)
    fds, rss = _fds(pid), _rss_mb(pid)
    capped_before = closed(server, "cap")
    crowd = Crowd(server.port, 1000, source="127.0.0.2")
    try:
        started = time.monotonic()
        assert _serves(server)
        while len(crowd.open) > 100 and time.monotonic() < started + DEADLINE - 0.5:
            crowd.forget_closed()
        assert len(crowd.open) <= 100, f"{len(crowd.open)} open beyond the per-client cap"
        # the worker's 1,000 connections include the legitimate client's: one more is gRPC
        # core's to refuse (--max-connections), and the cap closes the others beyond 100
        assert closed(server, "cap") - capped_before >= 1000 - 100 - 1
        deadline = time.monotonic() + DEADLINE + 10
        while crowd.open and time.monotonic() < deadline:
            crowd.forget_closed()
        assert len(crowd.open) <= 10, f"{len(crowd.open)} idle connections still open"
    finally:
        crowd.close()
    time.sleep(1)
    assert _serves(server)
    assert _fds(pid) <= fds + 10 and _rss_mb(pid) - rss < 50, (_fds(pid), fds, _rss_mb(pid), rss)


def test_grpc_over_tls(exported, tmp_path):
    cert, key = _pair(tmp_path, "server")
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    flags = ["--grpc-port", "0", "--workers", "1", "--tls-cert", str(cert), "--tls-key", str(key)]
    with serving(model, *flags) as server:
        where = f"127.0.0.1:{grpc_port(server)}"
        secure = tgrpc.InferenceServerClient(where, ssl=True, root_certificates=str(cert))
        deadline = time.monotonic() + 20
        while True:  # the start line comes before the worker's gRPC server is up
            try:
                prices = secure.infer("houseprice", [features(houses(2))]).as_numpy("price")
                break
            except InferenceServerException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert prices.shape == (2,) and np.isfinite(prices).all()
        plain = tgrpc.InferenceServerClient(where)
        with pytest.raises(InferenceServerException) as caught:
            plain.infer("houseprice", [features(houses(1))], client_timeout=5)
        assert caught.value.status() in ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED")

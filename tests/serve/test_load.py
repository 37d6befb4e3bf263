"""hp-serve under bounded load, and faults during it: reloads of a bad and a good model, a
SIGTERM, a slowloris client, an oversized body. Every run stops by itself."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
from urllib.parse import urlsplit

import pytest

from tests.conftest import EXAMPLES
from tests.runtime.model_files import info, sum_model
from tests.serve.load import run_load
from tests.serve.test_server import TOKEN, serving

HOUSE = (EXAMPLES / "house.json").read_bytes()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _address(server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def _price_is(*allowed: float):
    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:100]!r}"
        price = json.loads(body)["price"]
        return None if any(abs(price - a) <= 1e-6 * abs(a) for a in allowed) else f"price {price}"

    return check


@pytest.mark.slow
def test_load_with_reloads_of_a_bad_then_a_good_model(model, tmp_path):
    with serving(model, "--token-file", str(tmp_path / "token"), "--workers", "2") as server:
        host, port = _address(server)
        old = server.price(HOUSE)
        new = float(sum(json.loads(HOUSE).values()))

        warm = run_load(
            host, port, HOUSE, _price_is(old), requests=20_000, connections=32, headers=AUTH
        )
        assert warm.sent == 20_000 and warm.statuses == {200: 20_000}, warm
        assert warm.wrong == [] and warm.errors == []

        def garbage_then_reload() -> None:
            model.write_bytes(b"\x08truncated")
            assert server.call("POST", "/v1/admin/reload")[0] == 409

        bad = run_load(
            host,
            port,
            HOUSE,
            _price_is(old),
            requests=4_000,
            connections=32,
            headers=AUTH,
            during=garbage_then_reload,
        )
        assert bad.statuses == {200: 4_000} and bad.wrong == [] and bad.errors == []

        def new_model() -> None:
            sum_model(model, 13, info().to_metadata())
            server.process.send_signal(signal.SIGHUP)

        swap = run_load(
            host,
            port,
            HOUSE,
            _price_is(old, new),
            requests=4_000,
            connections=32,
            headers=AUTH,
            during=new_model,
        )
        assert swap.statuses == {200: 4_000} and swap.wrong == [] and swap.errors == []
        assert server.price(HOUSE) == pytest.approx(new, rel=1e-6)


def _v2_price_is(price: float):
    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {body[:100]!r}"
        (got,) = json.loads(body)["outputs"][0]["data"]
        return None if abs(got - price) <= 1e-5 * abs(price) else f"price {got}"

    return check


V2_INFER = "/v2/models/houseprice/infer"
V2_HOUSE = json.dumps(
    {
        "inputs": [
            {
                "name": "features",
                "datatype": "FP32",
                "shape": [1, 13],
                "data": list(json.loads(HOUSE).values()),
            }
        ]
    }
).encode()


@pytest.mark.slow
@pytest.mark.parametrize("route", ["/v1/predict", V2_INFER])
def test_sigterm_under_load_finishes_requests_in_flight(model, tmp_path, route):
    with serving(model, "--workers", "2") as server:
        host, port = _address(server)
        price = server.price(HOUSE)
        body, check = (
            (HOUSE, _price_is(price)) if route != V2_INFER else (V2_HOUSE, _v2_price_is(price))
        )
        stopped = run_load(
            host,
            port,
            body,
            check,
            requests=6_000,
            connections=16,
            deadline_s=30,
            during=lambda: server.process.send_signal(signal.SIGTERM),
            path=route,
        )
        server.process.wait(timeout=40)
    # Every answer that came was whole and right; after the stop, connections are refused or
    # closed (errors), never answered wrongly or with a 5xx.
    assert stopped.wrong == [] and set(stopped.statuses) <= {200}, stopped
    assert stopped.statuses[200] >= 1_000
    assert server.process.returncode == -signal.SIGTERM


@pytest.mark.slow
def test_slow_clients_and_big_bodies_do_not_stop_others(model, tmp_path):
    with serving(model, "--max-body", "1MB") as server:
        host, port = _address(server)
        price = server.price(HOUSE)
        slow = []
        for _ in range(50):  # slowloris: half a request head each, never finished
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n")
            slow.append(sock)
        try:
            served = run_load(host, port, HOUSE, _price_is(price), requests=2_000, connections=8)
            assert served.statuses == {200: 2_000} and served.wrong == [] and served.errors == []
            big = b"[" + b",".join([HOUSE] * 20_000) + b"]"  # ~4 MB
            status, body = _post_oversized(host, port, big)
            assert status == 413 and "larger than" in json.loads(body)["error"]
            assert server.call("GET", "/healthz", token=None)[0] == 200
        finally:
            for sock in slow:
                sock.close()


def _post_oversized(host: str, port: int, body: bytes) -> tuple[int, bytes]:
    """POST a body the server refuses unread. The server answers 413 and closes while the body is
    still arriving, so the client's send may fail (broken pipe, reset): a raw socket keeps going
    and reads the answer, which an HTTP library that sends first and reads later cannot."""
    head = (
        f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            sock.sendall(body)  # refused mid-body: the answer is already on its way
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # a reset after the answer ends it too
            while chunk := sock.recv(65536):
                answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

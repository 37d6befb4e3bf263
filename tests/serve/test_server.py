"""hp-serve as a client sees it: the real server in a subprocess on an ephemeral loopback port,
a real HTTP client (the standard library's), bounded waits everywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli, script
from tests.runtime.model_files import info, sum_model

TOKEN = "s3cret-token-for-tests"


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process, self.url, self.log = process, url, log

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        kind: str | None = None,
        token: str | None = TOKEN,
        headers: dict | None = None,
    ) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if kind:
            request.add_header("Content-Type", kind)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def price(self, house: bytes) -> float:
        """The price of one house as a JSON object (the token sent, needed or not)."""
        status, _, body = self.call("POST", "/v1/predict", house, kind="application/json")
        assert status == 200, body
        return json.loads(body)["price"]

    def output(self) -> str:
        """Everything the server wrote (its log)."""
        return self.log.read_text(errors="replace")


@contextmanager
def serving(
    model: Path,
    *args: str,
    env: dict | None = None,
    program: str | None = None,
    on_start_line: Callable[[subprocess.Popen], None] = lambda process: None,
) -> Iterator[Server]:
    """hp-serve (or ``program``, another environment's) on an ephemeral loopback port;
    ``on_start_line`` runs as soon as its start line is out, before it is ready."""
    # The server's output goes to a file: a pipe nobody reads fills up (64 KB, ~1,000 access-log
    # lines) and then blocks the server on its next log line.
    log = model.parent / f"hp-serve-{time.monotonic_ns()}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [program or script("hp-serve"), "--model", str(model), "--port", "0", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        url, deadline = None, time.monotonic() + 30
        while url is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"serving .* on (https?://127\.0\.0\.1:\d+)", log.read_text())
            url = match[1] if match else time.sleep(0.02)
        assert url, log.read_text()
        on_start_line(process)
        server = Server(process, url, log)
        while url.startswith("http:") and time.monotonic() < deadline:  # (HTTPS: the caller's)
            try:
                if server.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    (folder / "token").write_text(TOKEN + "\n")
    with serving(
        exported.onnx, "--token-file", str(folder / "token"), "--max-body", "64KB", "--workers", "2"
    ) as s:
        yield s


def _infer(exported, path: Path) -> bytes:
    result = run_cli("hp-infer", str(path), "--model", str(exported.onnx))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("house.json", "application/json"),
        ("houses.jsonl", "application/x-ndjson"),
        ("houses.json", "application/json"),
        ("houses.csv", "text/csv"),
    ],
)
def test_every_input_shape_answers_as_hp_infer_does(server, exported, tmp_path, name, kind):
    lines = (EXAMPLES / "houses.jsonl").read_text().splitlines()
    houses = [json.loads(line) for line in lines]
    path = tmp_path / name
    if name == "houses.json":
        path.write_text(json.dumps(houses))
    elif name == "houses.csv":
        path.write_text(
            ",".join(houses[0])
            + "\n"
            + "".join(",".join(map(str, h.values())) + "\n" for h in houses)
        )
    else:
        shutil.copy(EXAMPLES / name, path)
    status, headers, body = server.call("POST", "/v1/predict", path.read_bytes(), kind=kind)
    assert status == 200 and headers["content-type"].startswith(kind)
    assert body == _infer(exported, path)  # bit for bit the same prices and shape


@pytest.mark.parametrize(
    ("body", "kind", "status", "record", "field"),
    [
        (b'{"CRIM": 1,', "application/json", 400, "line 1", None),
        (b"", "application/json", 400, None, None),
        (b"\xff\xfe", "text/csv", 400, "line 1", None),
        (b'{"CRIM": "x"}', "application/json", 422, None, "CRIM"),
        (b'{"CRIM": "malformed JSON"}', "application/json", 422, None, "CRIM"),  # the text lies
        (b'{"CRIM": "empty input"}\n', "application/x-ndjson", 422, "line 1", "CRIM"),
        (b'[{"CRIM": 1}]', "application/json", 422, "$[0]", None),
        (b"CRIM\n1\n", "text/csv", 422, "line 1", None),
        (
            json.dumps({**json.loads((EXAMPLES / "house.json").read_text()), "RM": None}).encode()
            + b"\n" * 2
            + b'{"RM": 1}\n',
            "application/x-ndjson",
            422,
            "line 1",
            "RM",
        ),
    ],
)
def test_client_mistakes_are_4xx_with_one_json_error(server, body, kind, status, record, field):
    got, _, answer = server.call("POST", "/v1/predict", body, kind=kind)
    error = json.loads(answer)
    assert got == status and error["record"] == record and error["field"] == field, error
    assert "Traceback" not in error["error"] and "/" not in error["error"].split(":")[0]
    assert server.call("GET", "/healthz")[0] == 200


def test_protocol_errors(server):
    house = (EXAMPLES / "house.json").read_bytes()
    assert server.call("POST", "/v1/predict", house, kind="text/plain")[0] == 415
    assert server.call("POST", "/v1/predict", house)[0] == 415  # no Content-Type
    assert server.call("POST", "/v1/predict", b"x" * (64 * 1024 + 1), kind="text/csv")[0] == 413
    assert server.call("GET", "/v1/predict")[0] == 405
    status, _, body = server.call("GET", "/nowhere")
    assert status == 404 and json.loads(body) == {"error": "no such route"}
    assert server.call("GET", "/healthz")[0] == 200


def test_the_token_guards_every_route_but_health(server):
    house = (EXAMPLES / "house.json").read_bytes()
    for token in (None, "wrong", TOKEN + "x"):
        for method, path in [
            ("POST", "/v1/predict"),
            ("GET", "/v1/model"),
            ("GET", "/metrics"),
            ("POST", "/v1/admin/reload"),
        ]:
            status, headers, _ = server.call(
                method, path, house, kind="application/json", token=token
            )
            assert status == 401 and headers.get("www-authenticate") == "Bearer", (token, path)
    assert server.call("GET", "/healthz", token=None)[0] == 200
    assert server.call("GET", "/readyz", token=None)[0] == 200


def test_model_description_and_metrics(server, exported):
    status, _, body = server.call("GET", "/v1/model")
    described = json.loads(body)
    assert status == 200 and [f["name"] for f in described["features"]][:2] == ["CRIM", "ZN"]
    assert described["target"] == {"name": "MEDV", "unit": "$1000s"}
    assert str(exported.folder) not in body.decode()  # the name only, no server paths
    server.call(
        "POST", "/v1/predict", (EXAMPLES / "houses.jsonl").read_bytes(), kind="application/x-ndjson"
    )
    text = server.call("GET", "/metrics")[2].decode()
    assert re.search(r'houseprice_requests_total\{route="/v1/predict",status="200"\} [1-9]', text)
    assert f'houseprice_model_info{{sha256="{described["sha256"]}"}} 1.0' in text
    assert re.search(r"houseprice_houses_priced_total [1-9]", text)
    assert "houseprice_request_seconds_bucket" in text


def test_extrapolation_warnings_come_in_a_header(server):
    far = {**json.loads((EXAMPLES / "house.json").read_text()), "LSTAT": 900.0}
    status, headers, body = server.call(
        "POST", "/v1/predict", json.dumps(far).encode(), kind="application/json"
    )
    warnings = json.loads(headers["x-houseprice-warnings"])
    assert status == 200 and "price" in json.loads(body) and "LSTAT" in warnings[0]


def test_reload_swaps_a_good_model_and_keeps_serving_through_a_bad_one(exported, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    (tmp_path / "token").write_text(TOKEN)
    house = (EXAMPLES / "house.json").read_bytes()
    with serving(model, "--token-file", str(tmp_path / "token"), "--workers", "2") as server:
        before = server.call("POST", "/v1/predict", house, kind="application/json")[2]
        model.write_bytes(b"\x08garbage")  # a truncated or foreign file
        status, _, body = server.call("POST", "/v1/admin/reload")
        assert status == 409 and json.loads(body)["reloaded"] is False
        assert server.call("POST", "/v1/predict", house, kind="application/json")[2] == before
        assert (
            'houseprice_model_reloads_total{result="failure"} 1.0'
            in server.call("GET", "/metrics")[2].decode()
        )
        sum_model(model, 13, info().to_metadata())  # a valid model with other prices
        server.process.send_signal(signal.SIGHUP)
        deadline, after = time.monotonic() + 10, before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.05)
            after = server.call("POST", "/v1/predict", house, kind="application/json")[2]
        expected = sum(json.loads(house).values())
        assert json.loads(after)["price"] == pytest.approx(expected, rel=1e-6)
    err = server.output()
    assert TOKEN not in err and "Traceback" not in err
    # SIGTERM: uvicorn finishes the requests in flight, shuts down, then re-raises the signal.
    assert server.process.returncode == -signal.SIGTERM and "Finished server process" in err


def test_admin_reload_does_not_exist_without_a_token(exported):
    with serving(exported.onnx) as server:
        assert server.call("POST", "/v1/admin/reload", token=None)[0] == 404
        assert server.call("GET", "/metrics", token=None)[0] == 200  # no token: nothing guarded


def test_startup_fails_fast_with_one_line(exported, tmp_path):
    missing = run_cli("hp-serve", "--model", str(tmp_path / "none.onnx"), "--port", "0", timeout=60)
    assert missing.returncode == 3 and missing.stderr.count(b"\n") == 1, missing.stderr
    with serving(exported.onnx) as server:
        port = server.url.rsplit(":", 1)[1]
        taken = run_cli("hp-serve", "--model", str(exported.onnx), "--port", port, timeout=60)
    assert taken.returncode == 5 and b"cannot listen on 127.0.0.1" in taken.stderr, taken.stderr
    assert taken.stderr.count(b"\n") == 1
    bad = run_cli("hp-serve", "--max-body", "lots", timeout=60)
    assert bad.returncode == 2 and b"not a size" in bad.stderr


def test_the_listening_socket_says_it_is_tcp():
    """asyncio turns Nagle off (TCP_NODELAY) only for sockets of protocol IPPROTO_TCP; a socket of
    protocol 0 made every answer wait ~40 ms for a delayed ACK (measured with wrk)."""
    import socket

    from houseprice.serve.cli import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()

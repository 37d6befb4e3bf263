"""Shared by the serve tests: a copy of the session's model that a test may replace with a token
file beside it, and the Open Inference Protocol tests' server, client and helpers."""

from __future__ import annotations

import asyncio
import json
import shutil

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import EXAMPLES, run_cli
from tests.serve.test_server import TOKEN, serving


@pytest.fixture
def model(exported, tmp_path):
    path = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, path)
    (tmp_path / "token").write_text(TOKEN)
    return path


def auth() -> dict[str, str]:
    """The token header, a new dict each call: tritonclient adds its own headers to the dict it
    is given (Inference-Header-Content-Length), which a shared one would carry to later calls."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def oip_server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oip")
    (folder / "token").write_text(TOKEN)
    shutil.copy(exported.onnx, folder / "model.onnx")
    with serving(
        folder / "model.onnx", "--token-file", str(folder / "token"), "--max-body", "64KB"
    ) as s:
        yield s


@pytest.fixture(scope="module")
def oip_client(oip_server):
    return triton.InferenceServerClient(oip_server.url.removeprefix("http://"), network_timeout=30)


@pytest.fixture(scope="module")
def houses():
    lines = (EXAMPLES / "houses.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def expected(exported, houses):
    """hp-infer's prices of the example houses (rounded to 5 decimals, as it prints them)."""
    result = run_cli("hp-infer", str(EXAMPLES / "houses.jsonl"), "--model", str(exported.onnx))
    assert result.returncode == 0, result.stderr
    return np.array([json.loads(line)["price"] for line in result.stdout.splitlines()])


def tensor(houses, binary: bool, datatype: str = "FP32"):
    """The houses (dicts in the model's order) as tritonclient's features input."""
    x = np.array(
        [list(h.values()) for h in houses], dtype=np.float32 if datatype == "FP32" else np.float64
    )
    given = triton.InferInput("features", list(x.shape), datatype)
    given.set_data_from_numpy(x, binary_data=binary)
    return given


def refusal(client, tensors, **kwargs) -> tuple[str, str]:
    """(status, message) of an infer request the server refuses."""
    with pytest.raises(InferenceServerException) as caught:
        client.infer("houseprice", tensors, headers=auth(), **kwargs)
    return caught.value.status(), caught.value.message()


def asgi(app, method: str, path: str, body: bytes = b"", headers=None, *, disconnect=False):
    """One request through an ASGI app in process: (status, headers, body). ``disconnect``: the
    client goes before its body arrives (as when the request deadline closes the connection)."""
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode()}
    scope |= {"headers": raw, "query_string": b"", "http_version": "1.1", "scheme": "http"}
    scope |= {"server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    sent: list[dict] = []

    async def receive() -> dict:
        if disconnect:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], dict(sent[0]["headers"]), answer

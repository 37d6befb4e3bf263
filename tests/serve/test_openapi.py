"""The OpenAPI document at /openapi.json says what the server does: it lists every route the app
has, and schemathesis, fuzzing the real server from the document alone, finds no 5xx, no status,
content type or body the document does not promise."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from starlette.routing import Route

from houseprice.serve.app import create_app
from houseprice.serve.config import ServeConfig
from houseprice.serve.model import ModelHolder, load_model
from tests.conftest import REPO, script
from tests.serve.test_server import TOKEN, serving

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _document(server) -> dict:
    status, headers, body = server.call("GET", "/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    return json.loads(body)


@pytest.mark.parametrize("token", [True, False], ids=["with-token", "without"])
def test_the_document_lists_exactly_the_apps_routes(exported, token, tmp_path):
    config = ServeConfig(model=exported.onnx, token=TOKEN if token else None)
    app = create_app(ModelHolder(load_model(exported.onnx)), config, multiprocess=False)
    routes = {
        (route.path, method.lower())
        for route in app.app.routes
        if isinstance(route, Route)
        for method in route.methods - {"HEAD"}
    }
    with serving(
        exported.onnx, *(["--token-file", str(_token_file(tmp_path))] if token else [])
    ) as s:
        doc = _document(s)
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == routes
    assert (
        doc["openapi"] == "3.1.0" and "CRIM" in doc["components"]["schemas"]["House"]["properties"]
    )
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "200" in codes, (path, method)
            assert ("401" in codes) == (token and path not in OPEN), (path, method)


OPEN = {"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"}


def _token_file(folder):
    path = folder / "openapi-token"
    path.write_text(TOKEN)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("token", [True, False], ids=["with-token", "without"])
def test_schemathesis_finds_nothing_the_document_does_not_promise(exported, tmp_path, token):
    model = tmp_path / "model.onnx"
    model.write_bytes(exported.onnx.read_bytes())
    args = ["--token-file", str(_token_file(tmp_path))] if token else []
    with serving(model, *args, "--max-body", "256KB") as server:
        command = [
            script("st"),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--no-color",
        ]
        if token:  # the guard is per request: sequences of calls (stateful) once, without it
            command += ["--header", f"Authorization: Bearer {TOKEN}"]
            command += ["--phases", "examples,coverage,fuzzing"]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.serve.schemathesis_hooks"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
        )
        log = server.output()
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    tested = [line for line in done.stdout.splitlines() if "generated" in line and "passed" in line]
    assert tested and "failed" not in tested[0], report
    assert "Traceback" not in log, log[-3000:]

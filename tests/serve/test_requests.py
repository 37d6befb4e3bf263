"""hp-serve's request handling pinned exactly: Content-Type and its parameters, ``?coerce=``,
the body limit at its boundary, answer types, counted metrics, reload results and CORS. One
server process (one worker, no token), so every counter is this module's own."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import urllib.parse

import pytest

from tests.conftest import EXAMPLES
from tests.runtime.model_files import info, sum_model
from tests.serve.test_server import serving

LIMIT = 100 * 1024  # --max-body: above the size priced inline, so both paths are reachable
HOUSE = json.loads((EXAMPLES / "house.json").read_text())
JSON_TYPES = "application/json, application/x-ndjson, application/jsonl, text/csv"


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("requests")
    model = folder / "model.onnx"
    shutil.copy(exported.onnx, model)
    with serving(
        model, "--max-body", f"{LIMIT}B", "--cors-origin", "https://shop.example", "--workers", "1"
    ) as s:
        s.model = model
        yield s


def _post(server, body: bytes, kind: str | None, query: str = ""):
    return server.call("POST", "/v1/predict" + query, body, kind=kind, token=None)


def _metric(server, name: str, token: str | None = None) -> float:
    """The value of one sample line of /metrics (0 when absent)."""
    text = server.call("GET", "/metrics", token=token)[2].decode()
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match[1]) if match else 0.0


def _error(answer: bytes) -> str:
    return json.loads(answer)["error"]


@pytest.mark.parametrize(
    ("kind", "answer_kind"),
    [
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("Application/JSON ; charset=UTF-8", "application/json"),
        ("application/x-ndjson", "application/x-ndjson"),
        ("application/jsonl", "application/x-ndjson"),
    ],
)
def test_content_types_are_matched_without_case_or_parameters(server, kind, answer_kind):
    status, headers, body = _post(server, json.dumps(HOUSE).encode(), kind)
    assert status == 200 and headers["content-type"] == answer_kind, (status, body)
    assert json.loads(body)["price"] > 0


@pytest.mark.parametrize(
    ("kind", "named"), [("text/plain", "'text/plain'"), (None, "'(none)'"), ("", "'(none)'")]
)
def test_an_unsupported_content_type_is_415_naming_it_and_the_choices(server, kind, named):
    # http.client, not urllib: urllib gives a POST without a Content-Type a form-data one.
    address = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        headers = {} if kind is None else {"Content-Type": kind}
        connection.request("POST", "/v1/predict", json.dumps(HOUSE).encode(), headers)
        answer = connection.getresponse()
        status, answer_kind, body = answer.status, answer.getheader("content-type"), answer.read()
    finally:
        connection.close()
    assert status == 415 and answer_kind == "application/json"
    assert _error(body) == f"unsupported Content-Type {named}; send one of {JSON_TYPES}"


def test_csv_answers_as_csv(server):
    header, row = ",".join(HOUSE), ",".join(map(str, HOUSE.values()))
    status, headers, body = _post(server, f"{header}\n{row}\n".encode(), "text/csv")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert body.decode().splitlines()[0] == header + ",price"


@pytest.mark.parametrize("flag", ["1", "true", "TRUE", "yes", "Yes"])
def test_coerce_takes_numbers_written_as_strings(server, flag):
    as_text = json.dumps({k: str(v) for k, v in HOUSE.items()}).encode()
    plain = json.loads(_post(server, json.dumps(HOUSE).encode(), "application/json")[2])
    status, _, body = _post(server, as_text, "application/json", f"?coerce={flag}")
    assert status == 200 and json.loads(body) == plain


@pytest.mark.parametrize("query", ["", "?coerce=0", "?coerce=no", "?coerce=", "?coerce=truth"])
def test_without_coerce_a_number_as_a_string_is_422(server, query):
    as_text = json.dumps({k: str(v) for k, v in HOUSE.items()}).encode()
    status, _, body = _post(server, as_text, "application/json", query)
    assert status == 422 and json.loads(body)["field"] == next(iter(HOUSE)), body


def _array_of_size(size: int) -> bytes:
    """A JSON array of houses padded with spaces to exactly ``size`` bytes."""
    body = json.dumps([HOUSE] * (size // (len(json.dumps(HOUSE)) + 2) - 1)).encode()
    return body[:-1] + b" " * (size - len(body)) + b"]"


def test_the_body_limit_is_inclusive_and_priced_past_the_inline_size(server):
    status, _, body = _post(server, _array_of_size(LIMIT), "application/json")
    assert status == 200 and len(json.loads(body)) > 500  # priced off the event loop
    status, _, body = _post(server, _array_of_size(LIMIT + 1), "application/json")
    assert status == 413 and _error(body) == f"body larger than {LIMIT:,} bytes"


def test_a_chunked_body_over_the_limit_is_413(server):
    chunks = iter([_array_of_size(LIMIT)[:-1], b" ]"])  # no Content-Length: sent chunked
    status, _, body = _post(server, chunks, "application/json")
    assert status == 413 and _error(body) == f"body larger than {LIMIT:,} bytes"


def test_route_errors_are_one_json_line(server):
    status, _, body = server.call("GET", "/v1/predict", token=None)
    assert status == 405 and json.loads(body) == {"error": "method not allowed for this route"}
    status, _, body = server.call("POST", "/v1/admin/reload", token=None)
    assert status == 404 and json.loads(body) == {"error": "no such route"}  # no token: no admin


def test_health_and_readiness_answers(server):
    assert json.loads(server.call("GET", "/healthz", token=None)[2]) == {"status": "ok"}
    ready = json.loads(server.call("GET", "/readyz", token=None)[2])
    described = json.loads(server.call("GET", "/v1/model", token=None)[2])
    assert ready == {"status": "ready", "sha256": described["sha256"]}


def test_every_request_and_house_is_counted(server):
    count = 'houseprice_requests_total{route="%s",status="%s"}'
    before = {
        "houses": _metric(server, "houseprice_houses_priced_total"),
        "ok": _metric(server, count % ("/v1/predict", "200")),
        "bad": _metric(server, count % ("/v1/predict", "422")),
        "other": _metric(server, count % ("other", "404")),
        "seen": _metric(server, 'houseprice_request_seconds_count{route="/v1/predict"}'),
    }
    lines = (EXAMPLES / "houses.jsonl").read_bytes()
    assert _post(server, lines, "application/x-ndjson")[0] == 200
    assert _post(server, json.dumps(HOUSE).encode(), "application/json")[0] == 200  # fast path
    assert _post(server, b'{"CRIM": "x"}', "application/json")[0] == 422
    assert server.call("GET", "/nowhere", token=None)[0] == 404
    houses = len(lines.splitlines())
    assert _metric(server, "houseprice_houses_priced_total") == before["houses"] + houses + 1
    assert _metric(server, count % ("/v1/predict", "200")) == before["ok"] + 2
    assert _metric(server, count % ("/v1/predict", "422")) == before["bad"] + 1
    assert _metric(server, count % ("other", "404")) == before["other"] + 1
    seen = _metric(server, 'houseprice_request_seconds_count{route="/v1/predict"}')
    assert seen == before["seen"] + 3
    # Seconds each request took, summed: a handful of local requests, well under a minute.
    assert 0 < _metric(server, 'houseprice_request_seconds_sum{route="/v1/predict"}') < 60


def test_only_the_json_content_type_takes_the_one_house_path(server):
    """A JSON house sent as CSV is read as CSV (a header of unknown columns), not priced."""
    status, _, answer = _post(server, json.dumps(HOUSE).encode(), "text/csv")
    assert status == 422 and "CRIM" in _error(answer)


def test_warnings_are_named_per_feature_in_the_header_and_counted(server):
    far = [{**HOUSE, "LSTAT": 900.0}, {**HOUSE, "LSTAT": 800.0, "CRIM": -500.0}]
    metric = 'houseprice_extrapolation_warnings_total{feature="%s"}'
    lstat, crim = _metric(server, metric % "LSTAT"), _metric(server, metric % "CRIM")
    status, headers, body = _post(server, json.dumps(far).encode(), "application/json")
    warnings = json.loads(headers["x-houseprice-warnings"])
    assert status == 200 and len(json.loads(body)) == 2 and len(warnings) == 2
    pattern = (
        r"^(\d) house\(s\) have (\w+) outside the training range \[.+\] by more than the margin"
    )
    seen = {m[2]: int(m[1]) for m in (re.match(pattern, w) for w in warnings)}
    assert seen == {"LSTAT": 2, "CRIM": 1}  # below the range too
    assert _metric(server, metric % "LSTAT") == lstat + 2
    assert _metric(server, metric % "CRIM") == crim + 1
    plain = _post(server, json.dumps(HOUSE).encode(), "application/json")[1]
    assert "x-houseprice-warnings" not in {k.lower() for k in plain}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_cors_answers_only_the_configured_origin(server, method):
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": method}
    status, answer, _ = server.call("OPTIONS", "/v1/predict", token=None, headers=headers)
    assert status == 200 and answer["access-control-allow-origin"] == "https://shop.example"
    assert method in answer["access-control-allow-methods"]
    assert "content-type" in answer["access-control-allow-headers"].lower()
    other = {**headers, "Origin": "https://elsewhere.example"}
    status, answer, _ = server.call("OPTIONS", "/v1/predict", token=None, headers=other)
    assert status == 400 and "access-control-allow-origin" not in answer


def test_reload_reports_unchanged_then_changed(exported, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    (tmp_path / "token").write_text("t0ken")
    with serving(model, "--token-file", str(tmp_path / "token"), "--workers", "1") as server:
        first = json.loads(server.call("GET", "/readyz", token=None)[2])["sha256"]
        status, _, body = server.call("POST", "/v1/admin/reload", token="t0ken")
        assert status == 200 and json.loads(body) == {
            "reloaded": True,
            "changed": False,
            "sha256": first,
        }
        sum_model(model, 13, info().to_metadata())
        status, _, body = server.call("POST", "/v1/admin/reload", token="t0ken")
        answer = json.loads(body)
        assert status == 200 and answer == {**answer, "reloaded": True, "changed": True}
        assert answer["sha256"] != first
        assert json.loads(server.call("GET", "/readyz")[2])["sha256"] == answer["sha256"]
        get = lambda name: _metric(server, name, token="t0ken")  # noqa: E731
        assert get('houseprice_model_reloads_total{result="unchanged"}') == 1.0
        assert get('houseprice_model_reloads_total{result="success"}') == 1.0
        assert get(f'houseprice_model_info{{sha256="{first}"}}') == 0.0
        assert get(f'houseprice_model_info{{sha256="{answer["sha256"]}"}}') == 1.0

"""serve/app.py in process, for what no client can provoke on purpose: a fault of ours answered
500 with an id that finds the traceback in the log, a request that fails before answering still
counted (as 500), and what an admin reload logs and tells the other workers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil

import pytest

from houseprice.serve.app import _server_error, create_app
from houseprice.serve.config import ServeConfig
from houseprice.serve.guard import Guard
from houseprice.serve.metrics import Metrics
from houseprice.serve.model import ModelHolder, load_model
from houseprice.serve.routes import Endpoint, RouteLabels
from tests.runtime.model_files import info, sum_model
from tests.serve.conftest import asgi


def _call(app, method: str, path: str, headers: dict[str, str] | None = None):
    """One request through the app in process: (status, parsed JSON body)."""
    status, _, body = asgi(app, method, path, headers=headers)
    return status, json.loads(body)


def test_a_fault_of_ours_is_a_500_with_an_id_found_in_the_log(caplog):
    fault = RuntimeError("a bug")
    with caplog.at_level(logging.ERROR, logger="houseprice.serve"):
        response = asyncio.run(_server_error(None, fault))
    answer = json.loads(response.body)
    assert response.status_code == 500 and answer["error"] == "internal server error"
    assert re.fullmatch(r"[0-9a-f]{16}", answer["request_id"])
    (record,) = caplog.records
    assert record.getMessage() == f"request {answer['request_id']} failed"
    assert record.exc_info[1] is fault  # the traceback goes to the log, not to the client


def test_a_request_that_fails_before_answering_is_counted_as_500():
    class Broken:  # an ASGI app that raises before sending anything
        state = None

        async def __call__(self, scope, receive, send):
            raise RuntimeError("before any answer")

    metrics = Metrics(multiprocess=False)
    with pytest.raises(RuntimeError):
        asyncio.run(
            Guard(
                Broken(),
                None,
                metrics,
                RouteLabels([Endpoint("/v1/predict", "POST", None, "", {})]),
            )({"type": "http", "path": "/v1/predict"}, 0, 0)
        )
    count = metrics.requests.labels(route="/v1/predict", status="500")
    assert count._value.get() == 1


def test_a_request_is_counted_before_its_last_bytes_are_sent_and_only_once():
    """A client that reads /metrics the moment its answer arrives (perhaps from another
    worker) finds the request counted."""
    metrics = Metrics(multiprocess=False)
    count = metrics.requests.labels(route="/v1/predict", status="404")
    seen: list[tuple[str, float]] = []

    class Answers:
        state = None

        async def __call__(self, scope, receive, send):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            await send({"type": "http.response.body", "body": b"}"})

    async def sent(message):
        seen.append((message["type"], count._value.get()))

    labels = RouteLabels([Endpoint("/v1/predict", "POST", None, "", {})])
    guard = Guard(Answers(), None, metrics, labels)
    asyncio.run(guard({"type": "http", "path": "/v1/predict"}, 0, sent))
    assert [n for _, n in seen] == [0, 0, 1] and count._value.get() == 1


@pytest.fixture
def reloading(exported, tmp_path):
    """An app with a token over a copy of the model, and a log of the other-workers callback."""
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    holder = ModelHolder(load_model(model))
    told: list[str] = []
    config = ServeConfig(model=model, token="t0ken")
    app = create_app(holder, config, multiprocess=False, reloaded=lambda: told.append("reloaded"))
    return app, model, holder, told


def _reload(app):
    return _call(app, "POST", "/v1/admin/reload", {"Authorization": "Bearer t0ken"})


def test_a_changed_model_is_logged_and_told_to_the_other_workers(reloading, caplog):
    app, model, _, told = reloading
    assert _reload(app)[0] == 200 and told == []  # unchanged: nothing to tell
    sum_model(model, 13, info().to_metadata())
    with caplog.at_level(logging.INFO, logger="houseprice.serve"):
        status, answer = _reload(app)
    assert status == 200 and told == ["reloaded"]
    assert [r.getMessage() for r in caplog.records] == [f"reloaded model {answer['sha256'][:12]}"]


def test_a_failed_reload_is_logged_naming_the_model_still_serving(reloading, caplog):
    app, model, holder, told = reloading
    serving = holder.current.sha256
    model.write_bytes(b"not a model")
    with caplog.at_level(logging.ERROR, logger="houseprice.serve"):
        status, answer = _reload(app)
    assert status == 409 and answer["reloaded"] is False and told == []
    (record,) = caplog.records
    assert record.getMessage().startswith(f"reload failed, still serving {serving[:12]}: ")

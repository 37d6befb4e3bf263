"""The hp-serve ASGI app: Starlette routes over one `ModelHolder`.

Every house goes through the runtime's own readers, validation and writers (`infer_stream`), so a
house gets the same price and the same error message here as from `hp-infer`.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from houseprice.core.errors import InputError, ModelError
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.readers import Format, wrap_text
from houseprice.serve.config import ServeConfig
from houseprice.serve.errors import BODY, input_error_body
from houseprice.serve.metrics import Metrics
from houseprice.serve.model import MARGIN, ModelHolder

log = logging.getLogger("houseprice.serve")

# Content-Type -> input format; the answer comes back in the same type, as hp-infer mirrors it.
FORMATS = {
    "application/json": Format.json,
    "application/x-ndjson": Format.jsonl,
    "application/jsonl": Format.jsonl,
    "text/csv": Format.csv,
}
MEDIA = {
    Format.json: "application/json",
    Format.jsonl: "application/x-ndjson",
    Format.csv: "text/csv",
}
WARNINGS_HEADER = "x-houseprice-warnings"  # JSON list of extrapolation warnings, if any
OPEN_ROUTES = frozenset({"/healthz", "/readyz"})
ROUTES = ("/v1/predict", "/v1/model", "/v1/admin/reload", "/healthz", "/readyz", "/metrics")


def create_app(
    holder: ModelHolder,
    config: ServeConfig,
    *,
    multiprocess: bool,
    reloaded: Callable[[], None] = lambda: None,
) -> Starlette:
    """``reloaded`` runs after an admin-route reload swapped in a new model, to tell the other
    worker processes (each holds its own model)."""
    metrics = Metrics(multiprocess)
    metrics.show_model(holder.current.sha256)

    async def predict(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = FORMATS.get(kind)
        if fmt is None:
            return _error(
                415,
                f"unsupported Content-Type {kind or '(none)'!r}; send one of {', '.join(FORMATS)}",
            )
        try:
            body = await _read_body(request, config.max_body)
        except ClientDisconnect:  # gone, or closed by the request deadline: no one to answer
            return _error(408, "the request did not arrive whole")
        if body is None:
            return _error(413, f"body larger than {config.max_body:,} bytes")
        model = holder.current  # this request's model, whatever reloads happen meanwhile
        if fmt is Format.json:
            answer = model.one_house.answer(body)
            if answer is not None:  # one plain house, in range: no warnings, no general path
                metrics.houses.inc()
                return Response(answer, media_type=MEDIA[fmt])
        coerce = request.query_params.get("coerce", "").lower() in ("1", "true", "yes")
        price = lambda: _price(model.predictor, body, fmt, coerce)  # noqa: E731
        try:
            out, summary = (
                price() if len(body) <= config.inline_bytes else await run_in_threadpool(price)
            )
        except InputError as exc:
            status, content = input_error_body(exc, model.predictor.feature_names)
            return JSONResponse(content, status_code=status)
        metrics.houses.inc(summary.houses)
        headers = {}
        if summary.out_of_range:
            for report in summary.out_of_range:
                metrics.warnings.labels(feature=report.feature).inc(report.count)
            headers[WARNINGS_HEADER] = json.dumps([r.message() for r in summary.out_of_range])
        return Response(out, media_type=MEDIA[summary.format], headers=headers)

    async def describe(request: Request) -> Response:
        return JSONResponse(holder.current.describe())

    async def reload(request: Request) -> Response:
        if config.token is None:
            raise HTTPException(404)
        content, status = await run_in_threadpool(_reload, holder, metrics)
        if content.get("changed"):
            reloaded()
        return JSONResponse(content, status_code=status)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        return JSONResponse({"status": "ready", "sha256": holder.current.sha256})

    async def prometheus(request: Request) -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    middleware = []
    if config.cors_origin:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=[config.cors_origin],
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
            )
        )
    app = Starlette(
        routes=[
            Route("/v1/predict", predict, methods=["POST"]),
            Route("/v1/model", describe, methods=["GET"]),
            Route("/v1/admin/reload", reload, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.reload = lambda: _reload(holder, metrics)
    return _Guard(app, config.token, metrics)


def _price(predictor: Any, body: bytes, fmt: Format, coerce: bool) -> tuple[bytes, Any]:
    sink = io.BytesIO()
    summary = infer_stream(
        predictor, wrap_text(body), BODY, sink, fmt=fmt, coerce=coerce, margin=MARGIN
    )
    return sink.getvalue(), summary


def _reload(holder: ModelHolder, metrics: Metrics) -> tuple[dict[str, Any], int]:
    """Swap in the model file as it is now; a bad file leaves the old model serving."""
    try:
        model, changed = holder.reload()
    except ModelError as exc:
        metrics.reloads.labels(result="failure").inc()
        log.error("reload failed, still serving %s: %s", holder.current.sha256[:12], exc)
        return {
            "reloaded": False,
            "error": "the model file could not be loaded; the previous model is still serving",
            "sha256": holder.current.sha256,
        }, 409
    if not changed:
        metrics.reloads.labels(result="unchanged").inc()
        return {"reloaded": True, "changed": False, "sha256": model.sha256}, 200
    metrics.reloads.labels(result="success").inc()
    metrics.show_model(model.sha256)
    log.info("reloaded model %s", model.sha256[:12])
    return {"reloaded": True, "changed": True, "sha256": model.sha256}, 200


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` (never buffered whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    names = {404: "no such route", 405: "method not allowed for this route"}
    return JSONResponse(
        {"error": names.get(exc.status_code, str(exc.detail))},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    """A fault of ours: a generic answer with an id to find the traceback in the server log."""
    request_id = uuid.uuid4().hex[:16]
    log.error("request %s failed", request_id, exc_info=exc)
    return JSONResponse(
        {"error": "internal server error", "request_id": request_id}, status_code=500
    )


class _Guard:
    """ASGI wrapper: bearer-token check (constant-time) and per-request metrics."""

    def __init__(self, app: Starlette, token: str | None, metrics: Metrics):
        self.app, self.metrics = app, metrics
        self.state = app.state
        self._token = f"Bearer {token}".encode() if token else None
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        start, status = time.perf_counter(), [500]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self._token and path not in OPEN_ROUTES and not self._authorized(scope):
                await _send_json(
                    sending,
                    401,
                    {"error": "missing or wrong bearer token"},
                    [(b"www-authenticate", b"Bearer")],
                )
            else:
                await self.app(scope, receive, sending)
        finally:
            self._count(route, status[0], time.perf_counter() - start)

    def _count(self, route: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once each: ``labels()`` costs more than ``inc()``.
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            metrics = self.metrics
            children = (
                metrics.requests.labels(route=route, status=str(status)),
                metrics.latency.labels(route=route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _authorized(self, scope: dict) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        return hmac.compare_digest(given, self._token or b"")


async def _send_json(send: Any, status: int, content: dict, headers: list) -> None:
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""The hp-serve ASGI app: Starlette routes over one `ModelHolder`.

Every house goes through the runtime's own readers, validation and writers (`infer_stream`), so a
house gets the same price and the same error message here as from `hp-infer`.
"""

from __future__ import annotations

import io
import json
import logging
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

from houseprice.core.errors import InputError, ModelError
from houseprice.runtime.infer import infer_stream
from houseprice.runtime.readers import Format, wrap_text
from houseprice.serve.bodies import cut_short, json_error, read_body, too_large
from houseprice.serve.config import ServeConfig
from houseprice.serve.endpoints import page_endpoints, v1_endpoints, v2_endpoints
from houseprice.serve.errors import BODY, input_error_body
from houseprice.serve.guard import Guard
from houseprice.serve.metrics import Metrics
from houseprice.serve.model import MARGIN, ModelHolder
from houseprice.serve.oip import OpenInference, version_of
from houseprice.serve.openapi import document
from houseprice.serve.page import page
from houseprice.serve.routes import RouteLabels, starlette_routes

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


def create_app(
    holder: ModelHolder,
    config: ServeConfig,
    *,
    multiprocess: bool,
    reloaded: Callable[[], None] = lambda: None,
) -> Guard:
    """``reloaded`` runs after an admin-route reload swapped in a new model, to tell the other
    worker processes (each holds its own model)."""
    metrics = Metrics(multiprocess)
    metrics.show_model(holder.current.sha256)

    async def predict(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = FORMATS.get(kind)
        if fmt is None:
            return json_error(
                415,
                f"unsupported Content-Type {kind or '(none)'!r}; send one of {', '.join(FORMATS)}",
            )
        try:
            body = await read_body(request, config.max_body)
        except ClientDisconnect:  # gone, or closed by the request deadline: no one to answer
            return cut_short()
        if body is None:
            return too_large(config.max_body)
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

    documents: dict[str, dict] = {}  # sha256 -> the OpenAPI document of that model

    async def openapi(request: Request) -> Response:
        model = holder.current
        if model.sha256 not in documents:
            documents.clear()
            documents[model.sha256] = document(
                table,
                model.predictor.info,
                token=config.token is not None,
                path_values={"name": [config.model_name], "version": [version_of(model)]},
            )
        return JSONResponse(documents[model.sha256])

    v1 = {"predict": predict, "describe": describe, "reload": reload, "healthz": healthz}
    v1 |= {"readyz": readyz, "metrics": prometheus}
    oip = OpenInference(holder, config, metrics)
    table = [*v1_endpoints(v1), *v2_endpoints(oip), *page_endpoints(page, openapi)]
    app = Starlette(
        routes=starlette_routes(table),
        middleware=_cors(config),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=_grpc_lifespan(holder, config, metrics, oip),
    )
    app.state.reload = lambda: _reload(holder, metrics)
    return Guard(app, config.token, metrics, RouteLabels(table))


def _grpc_lifespan(
    holder: ModelHolder, config: ServeConfig, metrics: Metrics, oip: OpenInference
) -> Any:
    """With --grpc-port, the gRPC server's start and stop beside the app's (grpc imported only
    then: the `grpc` extra)."""
    if config.grpc_port is None:
        return None
    from houseprice.serve.grpc_server import lifespan
    from houseprice.serve.grpc_service import GrpcInference

    return lifespan(config, lambda: GrpcInference(holder, oip, metrics))


def _cors(config: ServeConfig) -> list[Middleware]:
    if not config.cors_origin:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=[config.cors_origin],
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "inference-header-content-length"],
        )
    ]


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

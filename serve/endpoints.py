"""Every route hp-serve answers, with what it takes and every status it gives: the one table the
app, the OpenAPI document, the metrics' labels and the token check are built from."""

from __future__ import annotations

from typing import Any

from houseprice.serve.oip import BINARY, OpenInference
from houseprice.serve.routes import JSON, Answer, Endpoint, Handler, Param, error

NDJSON, JSONL, CSV = "application/x-ndjson", "application/jsonl", "text/csv"
HOUSES = {JSON: "Houses", NDJSON: "Text", JSONL: "Text", CSV: "Text"}
PRICES = {JSON: "Prices", NDJSON: "Text", CSV: "Text"}
NO_MODEL = error("no model of that name, or no such version")
V2 = "/v2/models/{name}"
VERSIONED = "/v2/models/{name}/versions/{version}"


def _get(path: str, handler: Handler, summary: str, media: str, schema: str, **kw: Any) -> Endpoint:
    """A GET route that always answers 200 with one body."""
    return Endpoint(path, "GET", handler, summary, {200: Answer(summary, {media: schema})}, **kw)


def v1_endpoints(handlers: dict[str, Handler]) -> list[Endpoint]:
    coerce = Param("coerce", "query", "true: accept numbers written as strings (hp-infer --coerce)")
    predict = {
        200: Answer("one price per house, in the request's format", PRICES),
        400: Answer("a body from which no house can be read", {JSON: "InputError"}),
        415: error("a Content-Type other than JSON, JSON Lines or CSV"),
        422: Answer("houses that fail validation, record and field named", {JSON: "InputError"}),
    }
    reload = {
        200: Answer("reloaded, or unchanged", {JSON: "Reloaded"}),
        404: error("the server has no token, so no admin route"),
        409: Answer("the file could not be loaded; the old model serves", {JSON: "ReloadFailed"}),
    }
    return [
        Endpoint(
            "/v1/predict",
            "POST",
            handlers["predict"],
            "Price houses: a JSON object or array, JSON Lines or CSV, answered in the same shape",
            predict,
            body=HOUSES,
            params=(coerce,),
            hot=True,
        ),
        _get("/v1/model", handlers["describe"], "What hp-infer --describe shows", JSON, "Model"),
        Endpoint(
            "/v1/admin/reload", "POST", handlers["reload"], "Load the model file again", reload
        ),
        _get("/healthz", handlers["healthz"], "The process is alive", JSON, "Health", open=True),
        _get("/readyz", handlers["readyz"], "A model is proven", JSON, "Ready", open=True),
        _get("/metrics", handlers["metrics"], "Prometheus metrics", "text/plain", "Text"),
    ]


def v2_endpoints(oip: OpenInference) -> list[Endpoint]:
    found = lambda schema: {200: Answer("found", {JSON: schema}), 404: NO_MODEL}  # noqa: E731
    header = Param(
        "Inference-Header-Content-Length",
        "header",
        "binary tensor extension: the length of the JSON header; the raw tensors follow it",
        {"type": "string", "pattern": "^[0-9]+$"},
    )
    infer = {
        200: Answer(
            "the prices, as JSON or (when asked) a binary tensor after the JSON header",
            {JSON: "InferResponse", BINARY: "Binary"},
        ),
        400: error("a request that does not follow the protocol or fit the model"),
        404: NO_MODEL,
        415: error("a compressed body (Content-Encoding)"),
        422: error("a house the model gives no finite price"),
    }
    endpoints = [
        _get("/v2", oip.server_metadata, "Server metadata", JSON, "ServerMetadata", tag="v2"),
        _get("/v2/health/live", oip.live, "Live", JSON, "Live", open=True, tag="v2"),
        _get("/v2/health/ready", oip.ready, "Ready", JSON, "ServerReady", open=True, tag="v2"),
    ]
    for base in (V2, VERSIONED):
        endpoints += [
            Endpoint(
                base, "GET", oip.model_metadata, "Model metadata", found("ModelMetadata"), tag="v2"
            ),
            Endpoint(
                f"{base}/ready",
                "GET",
                oip.model_ready,
                "Model ready",
                found("ModelReady"),
                tag="v2",
            ),
            Endpoint(
                f"{base}/infer",
                "POST",
                oip.infer,
                "Price houses: the input features, FP32 or FP64, shape [n, n_features]",
                infer,
                body={JSON: "InferRequest", BINARY: "Binary"},
                params=(header,),
                tag="v2",
                hot=base == V2,
            ),
        ]
    return endpoints


def page_endpoints(page: Handler, openapi: Handler) -> list[Endpoint]:
    return [
        _get("/", page, "The pricing page", "text/html", "Text", tag="page"),
        _get("/openapi.json", openapi, "This document", JSON, "Document", tag="page"),
    ]

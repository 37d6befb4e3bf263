"""The OpenAPI 3.1 document of every route, generated from the route table and the model being
served, so it says what the code answers (a test runs schemathesis against it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from houseprice.core.version import __version__
from houseprice.runtime.contract import ModelInfo
from houseprice.serve.routes import Answer, Endpoint, error, path_parameters
from houseprice.serve.schemas import components

UNAUTHORIZED = error("missing or wrong bearer token (`Authorization: Bearer TOKEN`)")
TOO_LARGE = error("the body is larger than --max-body")
CUT_SHORT = error("the request did not arrive whole")


def document(
    endpoints: Sequence[Endpoint],
    info: ModelInfo,
    *,
    token: bool,
    path_values: dict[str, list[str]],
) -> dict[str, Any]:
    """``path_values``: the values each path parameter can take ({"name": ["houseprice"]})."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation = _operation(endpoint, token, path_values)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "hp-serve",
            "version": __version__,
            "description": (
                f"House prices ({info.target_name}, {info.target_unit}) from "
                f"{info.n_features} features: {', '.join(info.feature_names)}."
            ),
        },
        "paths": paths,
        "components": {"schemas": components(info)},
    }
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc


def _operation(
    endpoint: Endpoint, token: bool, path_values: dict[str, list[str]]
) -> dict[str, Any]:
    answers = dict(endpoint.answers)
    if endpoint.body:
        answers |= {408: CUT_SHORT, 413: TOO_LARGE}
    if token and not endpoint.open:
        answers[401] = UNAUTHORIZED
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": _operation_id(endpoint),
        "tags": [endpoint.tag],
        "responses": {str(s): _response(a) for s, a in sorted(answers.items())},
    }
    parameters = [
        {"name": n, "in": "path", "required": True, "schema": {"enum": path_values[n]}}
        for n in path_parameters(endpoint.path)
    ]
    parameters += [
        {"name": p.name, "in": p.where, "description": p.description, "schema": p.schema}
        for p in endpoint.params
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body:
        operation["requestBody"] = {"required": True, "content": _content(endpoint.body)}
    if token and not endpoint.open:
        operation["security"] = [{"bearer": []}]
    return operation


def _response(answer: Answer) -> dict[str, Any]:
    response: dict[str, Any] = {"description": answer.description}
    if answer.media:
        response["content"] = _content(answer.media)
    return response


def _content(media: dict[str, str | None]) -> dict[str, Any]:
    return {
        kind: {"schema": {"$ref": f"#/components/schemas/{name}"}} if name else {}
        for kind, name in media.items()
    }


def _operation_id(endpoint: Endpoint) -> str:
    words = endpoint.path.replace("{", "").replace("}", "").strip("/").replace("/", "_")
    return f"{endpoint.method.lower()}_{words or 'page'}".replace(".", "_")

"""The Open Inference Protocol (KServe v2 REST, as Triton, KServe, MLServer and OpenVINO Model
Server speak it) over the served model: server and model metadata, health and readiness, and
infer with JSON or Triton's binary tensors.

The model has one version at a time, named by the first 12 hex digits of its file's SHA-256: a
client pinned to a version gets 404 after a reload to another file, not another model's prices.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from houseprice.core.errors import InputError
from houseprice.core.version import __version__
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME
from houseprice.runtime.validate import show
from houseprice.serve.bodies import cut_short, json_error, read_body, too_large
from houseprice.serve.config import ServeConfig
from houseprice.serve.metrics import Metrics
from houseprice.serve.model import LoadedModel, ModelHolder
from houseprice.serve.oip_tensors import (
    HEADER_LENGTH,
    OUTPUT_DATATYPE,
    InferRequest,
    ProtocolError,
    answer_head,
    answer_head_id,
    decode_request,
    encode_answer,
    float32_rows,
)

SERVER_NAME = "hp-serve"
EXTENSIONS = ("binary_tensor_data",)
BINARY = "application/octet-stream"
_HEADER_LENGTH = HEADER_LENGTH.encode()


def version_of(model: LoadedModel) -> str:
    return model.sha256[:12]


def _locate(i: int) -> str:
    return f"input {INPUT_NAME}: house {i}"


def _infer_headers(raw: list[tuple[bytes, bytes]]) -> tuple[str, str | None]:
    """Content-Encoding ("identity" when absent) and the binary extension's header length, in
    one pass over the raw headers (Starlette's lookup raises and catches for an absent one)."""
    encoding, length = "identity", None
    for key, value in raw:
        if key == b"content-encoding":
            encoding = value.decode("latin-1").strip().lower()
        elif key == _HEADER_LENGTH:
            length = value.decode("latin-1")
    return encoding, length


class ModelNotFound(Exception):
    """A model name or version this server does not have (404 over HTTP, NOT_FOUND over gRPC)."""


class OpenInference:
    """The /v2 handlers over one `ModelHolder`; each request takes the model serving at its
    start, as /v1 does."""

    def __init__(self, holder: ModelHolder, config: ServeConfig, metrics: Metrics):
        self.holder, self.config, self.metrics = holder, config, metrics
        self.name = config.model_name
        self._heads: dict[str, str] = {}

    async def server_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {"name": SERVER_NAME, "version": __version__, "extensions": list(EXTENSIONS)}
        )

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        return JSONResponse({"ready": True})  # the server serves only once a model is proven

    async def model_metadata(self, request: Request) -> Response:
        model = self._model(request)
        if isinstance(model, Response):
            return model
        return JSONResponse(self.metadata(model))

    async def model_ready(self, request: Request) -> Response:
        model = self._model(request)
        if isinstance(model, Response):
            return model
        return JSONResponse({"name": self.name, "ready": True})

    async def infer(self, request: Request) -> Response:
        model = self._model(request)
        if isinstance(model, Response):
            return model
        encoding, header_length = _infer_headers(request.scope["headers"])
        if encoding != "identity":
            return json_error(
                415, f"Content-Encoding {show(encoding)} is not supported; send the body as it is"
            )
        try:
            body = await read_body(request, self.config.max_body)
        except ClientDisconnect:
            return cut_short()
        if body is None:
            return too_large(self.config.max_body)
        answer = lambda: self._answer(model, body, header_length)  # noqa: E731
        try:
            content, extra = (
                answer()
                if len(body) <= self.config.inline_bytes
                else await run_in_threadpool(answer)
            )
        except ProtocolError as exc:
            return json_error(400, str(exc))
        except InputError as exc:  # valid houses the model gives no finite price: as on /v1
            return json_error(422, str(exc))
        media = BINARY if extra else "application/json"
        return Response(content, media_type=media, headers=extra)

    def _answer(
        self, model: LoadedModel, body: bytes, header_length: str | None
    ) -> tuple[bytes, dict[str, str]]:
        request = decode_request(body, header_length, model.predictor.schema)
        prices, warnings = self.price(model, request)
        head = self._head(model, request.id)
        parameters = {"warnings": json.dumps(warnings)} if warnings else None
        return encode_answer(head, parameters, prices, request.binary_output)

    def price(self, model: LoadedModel, request: InferRequest) -> tuple[np.ndarray, list[str]]:
        """A decoded request's prices and range warnings, counted in the metrics, for either
        transport. ProtocolError for a value that is not a float32 number; InputError for
        houses the model gives no finite price."""
        predictor = model.predictor
        try:
            x = float32_rows(request, predictor.schema, _locate)
        except InputError as exc:
            raise ProtocolError(str(exc)) from None
        prices = predictor.price_rows(x, _locate)
        self.metrics.houses.inc(len(x))
        return prices, self._warnings(model, x)

    def _head(self, model: LoadedModel, request_id: str | None) -> str:
        """The answer's first members; the name and version part made once per model."""
        head = self._heads.get(model.sha256)
        if head is None:
            self._heads = {model.sha256: answer_head(self.name, version_of(model), None)}
            head = self._heads[model.sha256]
        return head if request_id is None else f"{head},{answer_head_id(request_id)}"

    def _warnings(self, model: LoadedModel, x: np.ndarray) -> list[str]:
        ranges = model.ranges
        if len(x) == 1:  # one house: Python's comparisons beat numpy's calls
            for value, (low, high) in zip(x[0].tolist(), model.one_house.bounds, strict=True):
                if not low <= value <= high:
                    break
            else:
                return []
        elif not (np.any(x < ranges.lower) or np.any(x > ranges.upper)):
            return []
        check = ranges.fresh()
        check.update(x, _locate)
        reports = check.reports()
        for report in reports:
            self.metrics.warnings.labels(feature=report.feature).inc(report.count)
        return [r.message() for r in reports]

    def _model(self, request: Request) -> LoadedModel | Response:
        """The model serving now, or the 404 for a name or version this server does not have."""
        try:
            return self.find_model(request.path_params["name"], request.path_params.get("version"))
        except ModelNotFound as exc:
            return json_error(404, str(exc))

    def find_model(self, name: str, version: str | None) -> LoadedModel:
        """The model serving now, if ``name`` and ``version`` (None: any) are its own; else
        ModelNotFound saying what this server serves."""
        model = self.holder.current
        if name != self.name:
            raise ModelNotFound(f"unknown model {show(name)}; this server serves {self.name}")
        if version is not None and version != version_of(model):
            raise ModelNotFound(
                f"model {self.name} has no version {show(version)}; it serves version "
                f"{version_of(model)}"
            )
        return model

    def metadata(self, model: LoadedModel) -> dict[str, Any]:
        info = model.predictor.info
        width = info.n_features
        facts = {
            "feature_names": list(info.feature_names),
            "feature_min": list(info.feature_min),
            "feature_max": list(info.feature_max),
        }
        return {
            "name": self.name,
            "versions": [version_of(model)],
            "platform": model.predictor.engine,
            "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, width]}],
            "outputs": [{"name": OUTPUT_NAME, "datatype": OUTPUT_DATATYPE, "shape": [-1]}],
            # The protocol's parameters are strings, numbers or booleans: lists go as JSON text,
            # as they do in the ONNX file's metadata.
            "parameters": {
                **{key: json.dumps(value) for key, value in facts.items()},
                "target_name": info.target_name,
                "target_unit": info.target_unit,
                "sha256": model.sha256,
            },
        }

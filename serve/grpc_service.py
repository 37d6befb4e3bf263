"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, KServe's
grpc_predict_v2 and Triton's, whose messages tritonclient ships): the same model, validation,
errors and answers as the HTTP `/v2` routes (serve/oip.py), as gRPC messages and status codes.

A request becomes the protocol's JSON form and goes through the same decoder
(`oip_tensors.decode_features`), so a bad request gets the same words whichever transport. Input
comes typed (`contents.fp32_contents` / `fp64_contents`) or raw (`raw_input_contents`); prices go
out raw (tritonclient's default) or typed when the `price` output asks `binary_data: false`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from houseprice.core.errors import InputError
from houseprice.core.version import __version__
from houseprice.runtime.contract import INPUT_NAME, OUTPUT_NAME
from houseprice.serve.metrics import Metrics
from houseprice.serve.model import LoadedModel, ModelHolder
from houseprice.serve.oip import ModelNotFound, OpenInference, version_of
from houseprice.serve.oip_tensors import (
    DATATYPES,
    OUTPUT_DATATYPE,
    InferRequest,
    ProtocolError,
    decode_features,
)

log = logging.getLogger("houseprice.serve")
OPEN = frozenset({"ServerLive", "ServerReady"})  # health: no token, as /v2/health on HTTP


class GrpcInference(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, holder: ModelHolder, oip: OpenInference, metrics: Metrics):
        self.holder, self.oip, self.metrics = holder, oip, metrics
        self._children: dict[tuple[str, Any], tuple[Any, Any]] = {}

    def ServerLive(self, request: Any, context: Any) -> Any:
        return self._answer("ServerLive", context, lambda: pb.ServerLiveResponse(live=True))

    def ServerReady(self, request: Any, context: Any) -> Any:
        return self._answer("ServerReady", context, lambda: pb.ServerReadyResponse(ready=True))

    def ServerMetadata(self, request: Any, context: Any) -> Any:
        def answer() -> Any:
            return pb.ServerMetadataResponse(name="houseprice", version=__version__)

        return self._answer("ServerMetadata", context, answer)

    def ModelReady(self, request: Any, context: Any) -> Any:
        def answer() -> Any:
            self._model(request.name, request.version)
            return pb.ModelReadyResponse(ready=True)

        return self._answer("ModelReady", context, answer)

    def ModelMetadata(self, request: Any, context: Any) -> Any:
        def answer() -> Any:
            facts = self.oip.metadata(self._model(request.name, request.version))
            tensors = lambda items: [pb.ModelMetadataResponse.TensorMetadata(**t) for t in items]  # noqa: E731
            return pb.ModelMetadataResponse(
                name=facts["name"],
                versions=facts["versions"],
                platform=facts["platform"],
                inputs=tensors(facts["inputs"]),
                outputs=tensors(facts["outputs"]),
            )

        return self._answer("ModelMetadata", context, answer)

    def ModelInfer(self, request: Any, context: Any) -> Any:
        return self._answer("ModelInfer", context, lambda: self._infer(request))

    def _infer(self, request: Any) -> Any:
        model = self._model(request.model_name, request.model_version)
        schema = model.predictor.schema
        rows = _raw_fp32_rows(request, schema.width)
        if rows is None:  # any other form, or a mistake: the decoder HTTP's requests go through
            inputs, binary = _as_json_inputs(request)
            shape, rows = decode_features(inputs, binary, schema)
        else:
            shape = rows.shape
        decoded = InferRequest(request.id or None, rows, shape, binary_output=True)
        try:
            prices, warnings = self.oip.price(model, decoded)
        except InputError as exc:  # houses the model gives no finite price: the request's fault
            raise ProtocolError(str(exc)) from None
        return _answer_of(request, model, self.oip.name, prices, warnings)

    def _model(self, name: str, version: str) -> LoadedModel:
        return self.oip.find_model(name, version or None)  # gRPC's "" is "any version"

    def _answer(self, method: str, context: Any, answer: Any) -> Any:
        """``answer()``'s message, or the status code a client's mistake earns (``abort``
        raises it to grpcio); counted."""
        start, code = time.perf_counter(), grpc.StatusCode.OK
        try:
            return answer()
        except ProtocolError as exc:
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        except ModelNotFound as exc:
            code, message = grpc.StatusCode.NOT_FOUND, str(exc)
        except Exception as exc:  # a fault of ours: the traceback in the log, an id to find it
            request_id = uuid.uuid4().hex[:16]
            log.error("gRPC %s %s failed", method, request_id, exc_info=exc)
            code, message = grpc.StatusCode.INTERNAL, f"internal server error {request_id}"
        finally:
            self.count(method, code, time.perf_counter() - start)
        context.abort(code, message)

    def count(self, method: str, code: Any, seconds: float) -> None:
        """One call in the metrics, as HTTP's: route ``grpc METHOD``, status the code's name."""
        children = self._children.get((method, code))
        if children is None:  # ``labels()`` costs more than ``inc()``: looked up once each
            route = f"grpc {method}"
            children = (
                self.metrics.requests.labels(route=route, status=code.name),
                self.metrics.latency.labels(route=route),
            )
            self._children[method, code] = children
        children[0].inc()
        children[1].observe(seconds)


def _raw_fp32_rows(request: Any, width: int) -> np.ndarray | None:
    """The rows of the common request, one raw FP32 ``features`` tensor of shape [n, width]
    whose bytes fit it, as decode_features would give them; None for anything else."""
    if len(request.inputs) != 1 or len(request.raw_input_contents) != 1:
        return None
    tensor, raw = request.inputs[0], request.raw_input_contents[0]
    shape, dtype = tensor.shape, DATATYPES["FP32"]
    if (
        tensor.name != INPUT_NAME
        or tensor.datatype != "FP32"
        or len(shape) != 2
        or shape[1] != width
        or shape[0] < 1
        or len(raw) != shape[0] * width * dtype.itemsize
    ):
        return None
    return np.frombuffer(raw, dtype).reshape(shape[0], width)


def _as_json_inputs(request: Any) -> tuple[list[dict[str, Any]], bytes]:
    """The request's inputs in the protocol's JSON form, and the raw tensor of the one input
    given raw (decode_features then checks there is exactly one input, named features)."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise ProtocolError(
            f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs: give each input "
            "its raw contents, or none"
        )
    inputs, binary = [], b""
    for i, tensor in enumerate(request.inputs):
        item: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if raw:
            item["parameters"] = {"binary_data_size": len(raw[i])}
            binary = raw[i]
        else:
            contents = tensor.contents
            values = contents.fp64_contents if tensor.datatype == "FP64" else contents.fp32_contents
            item["data"] = list(values)
        inputs.append(item)
    return inputs, binary


def _answer_of(
    request: Any, model: LoadedModel, name: str, prices: np.ndarray, warnings: list[str]
) -> Any:
    output = pb.ModelInferResponse.InferOutputTensor(
        name=OUTPUT_NAME, datatype=OUTPUT_DATATYPE, shape=[len(prices)]
    )
    answer = pb.ModelInferResponse(
        model_name=name, model_version=version_of(model), id=request.id, outputs=[output]
    )
    if warnings:
        answer.parameters["warnings"].string_param = json.dumps(warnings)
    if _typed(request):
        answer.outputs[0].contents.fp32_contents.extend(prices.tolist())
    else:
        answer.raw_output_contents.append(np.ascontiguousarray(prices, "<f4").tobytes())
    return answer


def _typed(request: Any) -> bool:
    """Typed contents when the price output asks binary_data false; raw otherwise."""
    for output in request.outputs:
        if output.name == OUTPUT_NAME and "binary_data" in output.parameters:
            return not output.parameters["binary_data"].bool_param
    return False

"""serve/grpc_service.py in-process: the common request's short path gives the rows the general
decoder gives, and leaves everything else to it."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import service_pb2 as pb

from houseprice.serve.grpc_service import _as_json_inputs, _raw_fp32_rows
from houseprice.serve.oip_tensors import ProtocolError, decode_features
from tests.serve.test_oip_tensors import SCHEMA

ROWS = np.arange(6, dtype="<f4").reshape(2, 3)


def _request(*tensors: tuple[str, str, list[int], bytes | None]) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="houseprice")
    for name, datatype, shape, raw in tensors:
        request.inputs.add(name=name, datatype=datatype, shape=shape)
        if raw is not None:
            request.raw_input_contents.append(raw)
    return request


RAW = ROWS.tobytes()
REQUESTS = {
    "two houses": _request(("features", "FP32", [2, 3], RAW)),
    "one house": _request(("features", "FP32", [1, 3], RAW[:12])),
    "no house": _request(("features", "FP32", [0, 3], b"")),
    "FP64": _request(("features", "FP64", [2, 3], ROWS.astype("<f8").tobytes())),
    "another name": _request(("rooms", "FP32", [2, 3], RAW)),
    "a feature short": _request(("features", "FP32", [3, 2], RAW)),
    "three dimensions": _request(("features", "FP32", [1, 2, 3], RAW)),
    "one dimension": _request(("features", "FP32", [6], RAW)),
    "bytes short": _request(("features", "FP32", [2, 3], RAW[:-4])),
    "bytes over": _request(("features", "FP32", [2, 3], RAW + RAW[:4])),
    "two inputs": _request(("features", "FP32", [2, 3], RAW), ("features", "FP32", [2, 3], RAW)),
    "typed": _request(("features", "FP32", [2, 3], None)),
}


@pytest.mark.parametrize("name", REQUESTS)
def test_the_short_path_gives_what_the_decoder_gives_or_leaves_it_to_it(name):
    request = REQUESTS[name]
    short = _raw_fp32_rows(request, SCHEMA.width)
    try:
        _, decoded = decode_features(*_as_json_inputs(request), SCHEMA)
    except ProtocolError:
        decoded = None
    if short is not None:
        assert decoded is not None and short.dtype == decoded.dtype
        assert short.shape == decoded.shape and np.array_equal(short, decoded)
    # the raw FP32 rows every client sends by default take it
    assert (short is not None) == (name in ("two houses", "one house")), name

"""The Open Inference Protocol's refusals as `tritonclient` and a plain HTTP client meet them:
every bad request one 4xx with one JSON error naming what is wrong, never a 500."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.serve.conftest import auth, refusal, tensor


def test_wrong_shape_and_datatype_are_400_named(oip_client, houses):
    x = np.ones((2, 12), dtype=np.float32)
    narrow = triton.InferInput("features", [2, 12], "FP32")
    narrow.set_data_from_numpy(x)
    status, message = refusal(oip_client, [narrow])
    assert (
        status == "400" and "shape [2, 12] does not fit the model, which takes [n, 13]" in message
    )
    ints = triton.InferInput("features", [1, 13], "INT32")
    ints.set_data_from_numpy(np.ones((1, 13), dtype=np.int32))
    assert refusal(oip_client, [ints]) == (
        "400",
        "input features: datatype 'INT32' is not supported; send FP32 or FP64",
    )
    other = triton.InferInput("rooms", [1, 13], "FP32")
    other.set_data_from_numpy(np.ones((1, 13), dtype=np.float32))
    status, message = refusal(oip_client, [other])
    assert status == "400" and message.startswith(
        "unknown input 'rooms'; the model takes one input, features"
    )


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_400_naming_house_and_feature(oip_client, houses, value):
    x = np.array([list(h.values()) for h in houses[:2]], dtype=np.float32)
    x[1, 5] = value
    for binary in (True, False):
        tensor = triton.InferInput("features", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        status, message = refusal(oip_client, [tensor])
        assert status == "400" and message.startswith("input features: house 1: RM: "), message
        assert "is not a finite float32 number" in message


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "the request is not valid JSON"),
        (
            b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 13], "data": ["1"]}]}',
            400,
            "1 values do not match shape [1, 13]",
        ),
        (
            json.dumps(
                {
                    "inputs": [
                        {
                            "name": "features",
                            "datatype": "FP32",
                            "shape": [1, 13],
                            "data": ["x"] + [1] * 12,
                        }
                    ]
                }
            ).encode(),
            400,
            "input features: house 0: CRIM: expected a number, got a string",
        ),
        (
            json.dumps(
                {
                    "inputs": [
                        {
                            "name": "features",
                            "datatype": "FP32",
                            "shape": [1, 13],
                            "data": [None] * 13,
                        }
                    ]
                }
            ).encode(),
            400,
            "input features: house 0: CRIM: expected a number, got null",
        ),
        (
            b'{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 13], "data": [NaN, 1,1,1,1,1,1,1,1,1,1,1,1]}]}',
            400,
            "house 0: CRIM: nan is not a finite float32 number",
        ),
        (b'{"outputs": []}', 400, "no inputs list"),
    ],
)
def test_bad_bodies_are_400_with_one_json_error(oip_server, body, status, message):
    got, headers, answer = oip_server.call("POST", "/v2/models/houseprice/infer", body)
    error = json.loads(answer)
    assert got == status and headers["content-type"] == "application/json"
    assert list(error) == ["error"] and message in error["error"], error


def test_unknown_models_and_versions_are_404(oip_client, oip_server):
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/houseprice/versions/1"):
        status, _, body = oip_server.call("GET", path)
        assert status == 404 and "error" in json.loads(body), path
    with pytest.raises(InferenceServerException) as caught:
        oip_client.infer("other", [tensor([{"x": 1.0}], False)], headers=auth())
    assert caught.value.status() == "404"
    assert caught.value.message() == "unknown model 'other'; this server serves houseprice"


def test_the_token_guards_v2_but_its_health(oip_server):
    body = b"{}"
    for method, path in [
        ("GET", "/v2"),
        ("GET", "/v2/models/houseprice"),
        ("GET", "/v2/models/houseprice/ready"),
        ("POST", "/v2/models/houseprice/infer"),
        ("GET", "/openapi.json"),
        ("GET", "/"),
    ]:
        assert (
            oip_server.call(method, path, body if method == "POST" else None, token=None)[0] == 401
        ), path
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert oip_server.call("GET", path, token=None)[0] == 200


def test_the_body_limit_and_encodings(oip_server):
    huge = b'{"inputs": [' + b" " * (64 * 1024) + b"]}"
    status, _, body = oip_server.call("POST", "/v2/models/houseprice/infer", huge)
    assert status == 413 and json.loads(body) == {"error": "body larger than 65,536 bytes"}
    status, _, body = oip_server.call(
        "POST", "/v2/models/houseprice/infer", b"\x1f\x8b", headers={"Content-Encoding": "gzip"}
    )
    assert status == 415 and "Content-Encoding 'gzip' is not supported" in json.loads(body)["error"]


BIG = "9" * 5000  # beyond Python's 4,300-digit limit on int(str)


@pytest.mark.parametrize("where", ["data", "id", "shape"])
def test_an_integer_of_5000_digits_is_400_not_500(oip_server, where):
    request = {"name": "features", "datatype": "FP32", "shape": [1, 13], "data": [1] * 13}
    body = json.dumps({"id": "x", "inputs": [request]})
    body = {
        "data": body.replace('"data": [1', f'"data": [{BIG}'),
        "id": body.replace('"x"', BIG),
        "shape": body.replace("[1, 13]", f"[{BIG}, 13]"),
    }[where]
    status, _, answer = oip_server.call("POST", "/v2/models/houseprice/infer", body.encode())
    assert status == 400, answer
    assert "an integer of more than 4,300 digits" in json.loads(answer)["error"]


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000, "-1", "0x10"])
def test_a_bad_header_length_is_400_not_500(oip_server, length):
    body = b'{"inputs": []}'
    status, _, answer = oip_server.call(
        "POST",
        "/v2/models/houseprice/infer",
        body,
        headers={"Inference-Header-Content-Length": length},
    )
    assert status == 400, answer
    assert "must be a whole number from 1 to the body's length" in json.loads(answer)["error"]

"""The Open Inference Protocol (/v2) as its own clients speak it: the real `tritonclient` against
the real server in a subprocess, in JSON and with binary tensors, and every bad case."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from houseprice.core.version import __version__
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli
from tests.runtime.model_files import info, sum_model
from tests.serve.test_server import TOKEN, serving


def auth() -> dict[str, str]:
    """The token header, a new dict each call: tritonclient adds its own headers to the dict it
    is given (Inference-Header-Content-Length), which a shared one would carry to later calls."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oip")
    (folder / "token").write_text(TOKEN)
    shutil.copy(exported.onnx, folder / "model.onnx")
    with serving(
        folder / "model.onnx", "--token-file", str(folder / "token"), "--max-body", "64KB"
    ) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    return triton.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=30)


@pytest.fixture(scope="module")
def houses():
    lines = (EXAMPLES / "houses.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def expected(exported, houses):
    """hp-infer's prices of the example houses (rounded to 5 decimals, as it prints them)."""
    result = run_cli("hp-infer", str(EXAMPLES / "houses.jsonl"), "--model", str(exported.onnx))
    assert result.returncode == 0, result.stderr
    return np.array([json.loads(line)["price"] for line in result.stdout.splitlines()])


def _tensor(houses, binary: bool, datatype: str = "FP32"):
    x = np.array(
        [list(h.values()) for h in houses], dtype=np.float32 if datatype == "FP32" else np.float64
    )
    tensor = triton.InferInput("features", list(x.shape), datatype)
    tensor.set_data_from_numpy(x, binary_data=binary)
    return tensor


def test_health_and_metadata(client, server):
    assert client.is_server_live(headers=auth()) and client.is_server_ready(headers=auth())
    assert client.is_model_ready("houseprice", headers=auth())
    assert client.get_server_metadata(headers=auth()) == {
        "name": "hp-serve",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }
    meta = client.get_model_metadata("houseprice", headers=auth())
    sha256 = json.loads(server.call("GET", "/readyz")[2])["sha256"]
    assert meta["name"] == "houseprice" and meta["versions"] == [sha256[:12]]
    assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 13]}]
    assert meta["outputs"] == [{"name": "price", "datatype": "FP32", "shape": [-1]}]
    facts = meta["parameters"]
    assert json.loads(facts["feature_names"])[:3] == ["CRIM", "ZN", "INDUS"]
    assert len(json.loads(facts["feature_min"])) == len(json.loads(facts["feature_max"])) == 13
    assert (facts["target_name"], facts["target_unit"], facts["sha256"]) == (
        "MEDV",
        "$1000s",
        sha256,
    )
    version = meta["versions"][0]
    assert client.get_model_metadata("houseprice", version, headers=auth()) == meta
    assert client.is_model_ready("houseprice", version, headers=auth())


@pytest.mark.parametrize(
    ("binary_in", "binary_out"), [(False, False), (True, True), (True, False), (False, True)]
)
@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_infer_gives_hp_infers_prices(client, houses, expected, binary_in, binary_out, datatype):
    outputs = [triton.InferRequestedOutput("price", binary_data=binary_out)]
    result = client.infer(
        "houseprice",
        [_tensor(houses, binary_in, datatype)],
        outputs=outputs,
        request_id="q-1",
        headers=auth(),
    )
    prices = result.as_numpy("price")
    assert prices.dtype == np.float32 and prices.shape == (len(houses),)
    assert np.abs(prices - expected).max() <= 5e-6 + 1e-6 * np.abs(expected).max()
    response = result.get_response()
    assert response["id"] == "q-1" and response["model_name"] == "houseprice"
    assert ("data" in response["outputs"][0]) is not binary_out


def test_tritonclients_defaults_binary_in_and_out(client, houses, expected):
    result = client.infer("houseprice", [_tensor(houses[:1], True)], headers=auth())
    assert abs(result.as_numpy("price")[0] - expected[0]) <= 1e-5
    assert "parameters" not in result.get_response()  # in range: no warnings


def test_range_warnings_come_in_the_parameters(client, houses):
    far = [{**houses[0], "LSTAT": 900.0}, houses[1]]
    result = client.infer("houseprice", [_tensor(far, False)], headers=auth())
    (warning,) = json.loads(result.get_response()["parameters"]["warnings"])
    assert warning.startswith("1 house(s) have LSTAT outside the training range")
    assert "(first: input features: house 0)" in warning


def _refusal(client, tensors, **kwargs) -> tuple[str, str]:
    with pytest.raises(InferenceServerException) as caught:
        client.infer("houseprice", tensors, headers=auth(), **kwargs)
    return caught.value.status(), caught.value.message()


def test_wrong_shape_and_datatype_are_400_named(client, houses):
    x = np.ones((2, 12), dtype=np.float32)
    narrow = triton.InferInput("features", [2, 12], "FP32")
    narrow.set_data_from_numpy(x)
    status, message = _refusal(client, [narrow])
    assert (
        status == "400" and "shape [2, 12] does not fit the model, which takes [n, 13]" in message
    )
    ints = triton.InferInput("features", [1, 13], "INT32")
    ints.set_data_from_numpy(np.ones((1, 13), dtype=np.int32))
    assert _refusal(client, [ints]) == (
        "400",
        "input features: datatype 'INT32' is not supported; send FP32 or FP64",
    )
    other = triton.InferInput("rooms", [1, 13], "FP32")
    other.set_data_from_numpy(np.ones((1, 13), dtype=np.float32))
    status, message = _refusal(client, [other])
    assert status == "400" and message.startswith(
        "unknown input 'rooms'; the model takes one input, features"
    )


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_400_naming_house_and_feature(client, houses, value):
    x = np.array([list(h.values()) for h in houses[:2]], dtype=np.float32)
    x[1, 5] = value
    for binary in (True, False):
        tensor = triton.InferInput("features", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        status, message = _refusal(client, [tensor])
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
def test_bad_bodies_are_400_with_one_json_error(server, body, status, message):
    got, headers, answer = server.call("POST", "/v2/models/houseprice/infer", body)
    error = json.loads(answer)
    assert got == status and headers["content-type"] == "application/json"
    assert list(error) == ["error"] and message in error["error"], error


def test_unknown_models_and_versions_are_404(client, server):
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/houseprice/versions/1"):
        status, _, body = server.call("GET", path)
        assert status == 404 and "error" in json.loads(body), path
    with pytest.raises(InferenceServerException) as caught:
        client.infer("other", [_tensor([{"x": 1.0}], False)], headers=auth())
    assert caught.value.status() == "404"
    assert caught.value.message() == "unknown model 'other'; this server serves houseprice"


def test_the_token_guards_v2_but_its_health(server):
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
            server.call(method, path, body if method == "POST" else None, token=None)[0] == 401
        ), path
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert server.call("GET", path, token=None)[0] == 200


def test_the_body_limit_and_encodings(server):
    huge = b'{"inputs": [' + b" " * (64 * 1024) + b"]}"
    status, _, body = server.call("POST", "/v2/models/houseprice/infer", huge)
    assert status == 413 and json.loads(body) == {"error": "body larger than 65,536 bytes"}
    status, _, body = server.call(
        "POST", "/v2/models/houseprice/infer", b"\x1f\x8b", headers={"Content-Encoding": "gzip"}
    )
    assert status == 415 and "Content-Encoding 'gzip' is not supported" in json.loads(body)["error"]


def test_metrics_count_v2_per_route(server, client, houses):
    client.infer("houseprice", [_tensor(houses[:3], True)], headers=auth())
    server.call("GET", "/v2/models/nobody")
    text = server.call("GET", "/metrics")[2].decode()
    assert re.search(
        r'houseprice_requests_total\{route="/v2/models/\{name\}/infer",status="200"\} [1-9]', text
    )
    assert re.search(
        r'houseprice_requests_total\{route="/v2/models/\{name\}",status="404"\} [1-9]', text
    )
    assert "nobody" not in text  # a route label, never the path a client invented


def test_the_name_flag_and_a_reload_move_the_version(exported, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    (tmp_path / "token").write_text(TOKEN)
    with serving(
        model, "--name", "boston", "--token-file", str(tmp_path / "token"), "--workers", "1"
    ) as server:
        client = triton.InferenceServerClient(server.url.removeprefix("http://"))
        old = client.get_model_metadata("boston", headers=auth())["versions"][0]
        assert not _ready(client, "houseprice")
        sum_model(model, 13, info().to_metadata())  # a model pricing each house at its row sum
        assert server.call("POST", "/v1/admin/reload")[0] == 200
        new = client.get_model_metadata("boston", headers=auth())["versions"][0]
        assert new != old and not _ready(client, "boston", old) and _ready(client, "boston", new)
        tensor = triton.InferInput("features", [1, 13], "FP32")
        tensor.set_data_from_numpy(np.full((1, 13), 0.5, dtype=np.float32))
        answer = client.infer("boston", [tensor], headers=auth(), model_version=new)
        assert (
            answer.as_numpy("price").tolist() == [6.5]
            and answer.get_response()["model_version"] == new
        )
        far = np.full((2, 13), 0.5, dtype=np.float32)
        far[1, [2, 5]] = 3e38  # in float32's range, but their sum is not: no finite price
        tensor = triton.InferInput("features", [2, 13], "FP32")
        tensor.set_data_from_numpy(far)
        with pytest.raises(InferenceServerException) as caught:
            client.infer("boston", [tensor], headers=auth())
        assert caught.value.status() == "422"  # valid houses the model cannot price: as on /v1
        assert caught.value.message().startswith(
            "input features: house 1: the model gives no finite price (inf) for this house"
        )


def _ready(client, name: str, version: str = "") -> bool:
    try:
        return client.is_model_ready(name, version, headers=auth())
    except InferenceServerException:
        return False


def test_a_bad_name_flag_is_a_usage_error():
    result = run_cli("hp-serve", "--name", "a/b", timeout=60)
    assert_one_line_error(result, 2, "'a/b' is not a model name", "hp-serve")

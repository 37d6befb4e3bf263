"""The Open Inference Protocol (/v2) as its own clients speak it: the real `tritonclient` against
the real server in a subprocess: health, metadata, infer in JSON and with binary tensors, warnings,
metrics, --name and a reload. Refusals: test_oip_refusals.py."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from houseprice.core.version import __version__
from tests.conftest import assert_one_line_error, run_cli
from tests.runtime.model_files import info, sum_model
from tests.serve.conftest import auth, tensor
from tests.serve.test_server import TOKEN, serving


def test_health_and_metadata(oip_client, oip_server):
    assert oip_client.is_server_live(headers=auth()) and oip_client.is_server_ready(headers=auth())
    assert oip_client.is_model_ready("houseprice", headers=auth())
    assert oip_client.get_server_metadata(headers=auth()) == {
        "name": "hp-serve",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }
    meta = oip_client.get_model_metadata("houseprice", headers=auth())
    sha256 = json.loads(oip_server.call("GET", "/readyz")[2])["sha256"]
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
    assert oip_client.get_model_metadata("houseprice", version, headers=auth()) == meta
    assert oip_client.is_model_ready("houseprice", version, headers=auth())


@pytest.mark.parametrize(
    ("binary_in", "binary_out"), [(False, False), (True, True), (True, False), (False, True)]
)
@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_infer_gives_hp_infers_prices(
    oip_client, houses, expected, binary_in, binary_out, datatype
):
    outputs = [triton.InferRequestedOutput("price", binary_data=binary_out)]
    result = oip_client.infer(
        "houseprice",
        [tensor(houses, binary_in, datatype)],
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


def test_tritonclients_defaults_binary_in_and_out(oip_client, houses, expected):
    result = oip_client.infer("houseprice", [tensor(houses[:1], True)], headers=auth())
    assert abs(result.as_numpy("price")[0] - expected[0]) <= 1e-5
    assert "parameters" not in result.get_response()  # in range: no warnings


def test_range_warnings_come_in_the_parameters(oip_client, houses):
    far = [{**houses[0], "LSTAT": 900.0}, houses[1]]
    result = oip_client.infer("houseprice", [tensor(far, False)], headers=auth())
    (warning,) = json.loads(result.get_response()["parameters"]["warnings"])
    assert warning.startswith("1 house(s) have LSTAT outside the training range")
    assert "(first: input features: house 0)" in warning


def test_metrics_count_v2_per_route(oip_server, oip_client, houses):
    oip_client.infer("houseprice", [tensor(houses[:3], True)], headers=auth())
    oip_server.call("GET", "/v2/models/nobody")
    text = oip_server.call("GET", "/metrics")[2].decode()
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

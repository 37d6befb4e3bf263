"""The /v2 handlers in process, for what a client can see but the protocol tests do not pin:
the health bodies, a client gone before its body (408), the range warnings at the exact bounds
of the margin, one house and many, and what the metrics count."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from houseprice.runtime.contract import ModelInfo
from houseprice.serve.app import create_app
from houseprice.serve.config import ServeConfig
from houseprice.serve.model import ModelHolder, load_model
from tests.runtime.model_files import NAMES, sum_model
from tests.serve.conftest import asgi

INFER = "/v2/models/houseprice/infer"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A row-sum model trained on 0..10 in every feature: with the 10% margin the warnings start
    below -1 and above 11, bounds float32 holds exactly."""
    info = ModelInfo(NAMES[:3], (0.0,) * 3, (10.0,) * 3, "MEDV", "$1000s", "0" * 64, "test")
    path = sum_model(tmp_path_factory.mktemp("oip") / "m.onnx", 3, info.to_metadata())
    return create_app(ModelHolder(load_model(path)), ServeConfig(model=path), multiprocess=False)


def _infer(app, rows) -> dict:
    body = {
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [len(rows), 3], "data": rows}]
    }
    status, headers, answer = asgi(app, "POST", INFER, json.dumps(body).encode())
    assert status == 200 and headers[b"content-type"] == b"application/json", answer
    return json.loads(answer)


def _warnings(answer: dict) -> list[str]:
    return json.loads(answer.get("parameters", {}).get("warnings", "[]"))


@pytest.mark.parametrize("rows", [1, 2], ids=["one house", "two houses"])
@pytest.mark.parametrize(
    ("value", "warned"),
    [(-1.0, False), (11.0, False), (np.nextafter(np.float32(-1), -2), True), (np.nextafter(np.float32(11), 12), True), (5.0, False)],
)  # fmt: skip
def test_warnings_start_just_beyond_the_margin(app, rows, value, warned):
    answer = _infer(app, [[float(value), 5.0, 5.0]] * rows)
    warnings = _warnings(answer)
    assert bool(warnings) is warned, warnings
    if warned:
        assert warnings == [
            f"{rows} house(s) have CRIM outside the training range [0, 10] by more than the margin "
            "(first: input features: house 0); their predictions are extrapolations"
        ]


def test_a_house_with_every_feature_out_of_range_gets_every_warning(app):
    warnings = _warnings(_infer(app, [[-5.0, 50.0, 99.0]]))
    assert [w.split(" outside")[0] for w in warnings] == [
        "1 house(s) have CRIM",
        "1 house(s) have ZN",
        "1 house(s) have INDUS",
    ]


def test_only_the_second_house_out_of_range_is_named(app):
    (warning,) = _warnings(_infer(app, [[5.0, 5.0, 5.0], [5.0, 50.0, 5.0]]))
    assert (
        warning.startswith("1 house(s) have ZN outside")
        and "(first: input features: house 1)" in warning
    )


def test_the_metrics_count_houses_and_warnings(app):
    def counted() -> tuple[float, float]:
        text = asgi(app, "GET", "/metrics")[2].decode()
        houses = re.search(r"^houseprice_houses_priced_total (\S+)$", text, re.M)
        warned = re.search(
            r'^houseprice_extrapolation_warnings_total\{feature="INDUS"\} (\S+)$', text, re.M
        )
        return float(houses[1]), float(warned[1]) if warned else 0.0

    houses, warned = counted()
    _infer(app, [[5.0, 5.0, 5.0], [5.0, 5.0, 99.0], [5.0, 5.0, 99.0]])
    assert counted() == (houses + 3, warned + 2)


def test_health_bodies(app):
    assert asgi(app, "GET", "/v2/health/live")[2] == b'{"live":true}'
    assert asgi(app, "GET", "/v2/health/ready")[2] == b'{"ready":true}'
    assert (
        asgi(app, "GET", "/v2/models/houseprice/ready")[2] == b'{"name":"houseprice","ready":true}'
    )


@pytest.mark.parametrize("path", [INFER, "/v1/predict"])
def test_a_client_gone_before_its_body_is_408(app, path):
    headers = {"Content-Type": "application/json"}
    status, _, answer = asgi(app, "POST", path, headers=headers, disconnect=True)
    assert (status, json.loads(answer)) == (408, {"error": "the request did not arrive whole"})


def test_the_document_follows_a_reload(tmp_path):
    path = sum_model(tmp_path / "m.onnx", 13, _info(13).to_metadata())
    holder = ModelHolder(load_model(path))
    app = create_app(holder, ServeConfig(model=path, token="t"), multiprocess=False)
    auth = {"Authorization": "Bearer t"}
    before = json.loads(asgi(app, "GET", "/openapi.json", headers=auth)[2])
    sum_model(path, 2, _info(2).to_metadata())
    assert asgi(app, "POST", "/v1/admin/reload", headers=auth)[0] == 200
    after = json.loads(asgi(app, "GET", "/openapi.json", headers=auth)[2])
    assert len(before["components"]["schemas"]["House"]["properties"]) == 13
    assert list(after["components"]["schemas"]["House"]["properties"]) == ["CRIM", "ZN"]
    assert after["paths"]["/v1/predict"]["post"]["responses"]["401"]  # a token: 401 documented


def _info(n: int) -> ModelInfo:
    return ModelInfo(NAMES[:n], (0.0,) * n, (1.0,) * n, "MEDV", "$1000s", "0" * 64, "test")

"""Where onnxruntime has no wheel: numpy and the project installed with --no-deps. model.npz
runs in hp-infer, the Predictor and hp-serve; an ONNX file is refused in one line, exit 6."""

from __future__ import annotations

import json

import pytest

from tests.conftest import (
    EXAMPLES,
    assert_one_line_error,
    make_venv,
    priced_there_as_here,
    run_quietly,
    script,
)
from tests.serve.test_server import serving


@pytest.fixture(scope="module")
def bin_(project_wheel, tmp_path_factory):
    folder = tmp_path_factory.mktemp("no-ort") / "venv"
    # serve's own dependencies, as a user would add them; httptools and uvloop are optional.
    return make_venv(
        folder,
        "numpy",
        "starlette",
        "uvicorn",
        "httptools",
        "prometheus_client",
        f"--no-deps {project_wheel}",
    )


@pytest.mark.slow
def test_the_runtime_imports_and_hp_infer_runs_npz(bin_, exported):
    assert run_quietly(bin_ / "python", "-c", "import onnxruntime").returncode != 0
    priced_there_as_here(bin_, exported.npz, exported.onnx, rtol=2e-6)
    api = run_quietly(
        bin_ / "python",
        "-c",
        "import json, sys; from houseprice.runtime import Predictor; "
        "p = Predictor.load(sys.argv[1]); print(float(p.predict(json.load(open(sys.argv[2])))[0]))",
        exported.npz,
        EXAMPLES / "house.json",
    )
    assert api.returncode == 0, api.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["hp-infer", "hp-serve"])
def test_an_onnx_file_says_what_to_install_or_export(bin_, exported, command):
    args = [EXAMPLES / "house.json"] if command == "hp-infer" else ["--port", "0"]
    result = run_quietly(bin_ / command, *args, "--model", exported.onnx)
    line = assert_one_line_error(result, 6, "onnxruntime is not installed", command)
    assert "pip install onnxruntime" in line and "hp-export --format npz" in line


@pytest.mark.slow
def test_hp_serve_prices_with_npz(bin_, exported):
    house = (EXAMPLES / "house.json").read_bytes()
    with serving(exported.npz, program=str(bin_ / "hp-serve")) as server:
        status, _, body = server.call("POST", "/v1/predict", house, kind="application/json")
    assert status == 200, body
    expected = run_quietly(script("hp-infer"), EXAMPLES / "house.json", "--model", exported.onnx)
    assert json.loads(body)["price"] == pytest.approx(
        json.loads(expected.stdout)["price"], rel=2e-6
    )


@pytest.mark.slow
def test_a_tflite_without_ai_edge_litert_names_the_extra(bin_, edge_exports):
    result = run_quietly(
        bin_ / "hp-infer", EXAMPLES / "house.json", "--model", edge_exports / "model.tflite"
    )
    assert_one_line_error(
        result, 6, "ai-edge-litert is not installed, and a TFLite file needs it", "hp-infer"
    )
    assert "pip install '.[litert-runtime]'" in result.stderr


@pytest.mark.slow
def test_grpc_without_its_extra_names_it(bin_, exported):
    result = run_quietly(bin_ / "hp-serve", "--model", exported.npz, "--grpc-port", "0")
    assert_one_line_error(result, 6, "install it with `pip install '.[grpc]'`", "hp-serve")

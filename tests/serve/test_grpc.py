"""The Open Inference Protocol over gRPC, as `tritonclient.grpc` and the raw stub meet it: a real
hp-serve subprocess (2 workers, a token) on ephemeral loopback ports; every call, raw and typed
tensors both ways, prices equal to HTTP's, errors as status codes naming the problem, reloads,
metrics."""

from __future__ import annotations

import errno
import json
import re
import shutil
import signal
import socket
import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

from houseprice.serve import cli as serve_cli
from tests.conftest import EXAMPLES, assert_one_line_error, run_cli
from tests.runtime.model_files import info, sum_model
from tests.serve.test_server import TOKEN, serving

pytestmark = pytest.mark.slow
AUTH = {"authorization": f"Bearer {TOKEN}"}
HOUSE = json.loads((EXAMPLES / "house.json").read_text())
LONG_CALL_HOUSES = 2_000_000  # ~1 s to price: SIGTERM comes while the worker is at it


def grpc_port(server) -> int:
    return int(re.search(r"gRPC on 127\.0\.0\.1:(\d+)", server.log.read_text())[1])


@pytest.fixture(scope="module")
def grpc_server(exported, tmp_path_factory):
    folder = tmp_path_factory.mktemp("grpc")
    (folder / "token").write_text(TOKEN)
    shutil.copy(exported.onnx, folder / "model.onnx")
    flags = ["--grpc-port", "0", "--workers", "2", "--token-file", str(folder / "token")]
    with serving(folder / "model.onnx", *flags, "--max-body", "64KB") as server:
        server.grpc = f"127.0.0.1:{grpc_port(server)}"
        yield server


@pytest.fixture(scope="module")
def client(grpc_server):
    return tgrpc.InferenceServerClient(grpc_server.grpc)


@pytest.fixture(scope="module")
def stub(grpc_server):
    return pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(grpc_server.grpc))


def features(rows: np.ndarray, datatype: str = "FP32", name: str = "features"):
    given = tgrpc.InferInput(name, list(rows.shape), datatype)
    given.set_data_from_numpy(rows.astype(np.float32 if datatype == "FP32" else np.float64))
    return given


def houses(n: int) -> np.ndarray:
    rows = [list(json.loads(line).values()) for line in (EXAMPLES / "houses.jsonl").open()]
    return np.array((rows * (n // len(rows) + 1))[:n], np.float64)


def http_prices(server, x: np.ndarray) -> np.ndarray:
    body = {"inputs": [{"name": "features", "datatype": "FP64", "shape": list(x.shape)}]}
    body["inputs"][0]["data"] = x.ravel().tolist()
    status, _, answer = server.call(
        "POST", "/v2/models/houseprice/infer", json.dumps(body).encode(), kind="application/json"
    )
    assert status == 200, answer
    return np.array(json.loads(answer)["outputs"][0]["data"], np.float32)


def test_health_metadata_and_readiness(client):
    assert client.is_server_live() and client.is_server_ready()  # no token needed: health
    assert client.is_model_ready("houseprice", headers=AUTH)
    meta = client.get_model_metadata("houseprice", headers=AUTH, as_json=True)
    assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": ["-1", "13"]}]
    assert meta["platform"] == "onnxruntime"
    server = client.get_server_metadata(headers=AUTH, as_json=True)
    assert server["name"] == "houseprice" and server["version"]


@pytest.mark.parametrize("rows", [1, 7, 256])
def test_prices_equal_https(client, grpc_server, rows):
    x = houses(rows)
    for datatype in ("FP32", "FP64"):
        answer = client.infer("houseprice", [features(x, datatype)], headers=AUTH)
        got = answer.as_numpy("price")
        assert got.dtype == np.float32 and got.shape == (rows,)
        np.testing.assert_allclose(got, http_prices(grpc_server, x), rtol=1e-6)


def test_typed_input_and_typed_output(stub, client):
    x = houses(3).astype(np.float32)
    request = pb.ModelInferRequest(model_name="houseprice", id="r1")
    tensor = request.inputs.add(name="features", datatype="FP32", shape=[3, 13])
    tensor.contents.fp32_contents.extend(x.ravel().tolist())
    answer = stub.ModelInfer(request, metadata=tuple(AUTH.items()))
    raw = np.frombuffer(answer.raw_output_contents[0], "<f4")  # raw by default
    assert answer.id == "r1" and answer.outputs[0].shape == [3]
    wanted = client.infer("houseprice", [features(x)], headers=AUTH).as_numpy("price")
    assert np.array_equal(raw, wanted)
    output = request.outputs.add(name="price")
    output.parameters["binary_data"].bool_param = False
    typed = stub.ModelInfer(request, metadata=tuple(AUTH.items()))
    assert not typed.raw_output_contents
    assert np.array_equal(np.array(typed.outputs[0].contents.fp32_contents, np.float32), wanted)


def _refusal(call) -> tuple[str, str]:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value.status(), caught.value.message()


def test_errors_are_status_codes_naming_the_problem(client):
    x = houses(2)
    infer = lambda given, **kw: lambda: client.infer("houseprice", given, headers=AUTH, **kw)  # noqa: E731
    status, message = _refusal(infer([features(x[:, :12])]))
    assert status == "StatusCode.INVALID_ARGUMENT" and "shape [2, 12] does not fit" in message
    ints = tgrpc.InferInput("features", [2, 13], "INT32")
    ints.set_data_from_numpy(x.astype(np.int32))
    status, message = _refusal(infer([ints]))
    assert (
        status == "StatusCode.INVALID_ARGUMENT" and "datatype 'INT32' is not supported" in message
    )
    status, message = _refusal(infer([features(x, name="rooms")]))
    assert status == "StatusCode.INVALID_ARGUMENT" and "unknown input 'rooms'" in message
    nan = x.copy()
    nan[1, 5] = np.nan
    status, message = _refusal(infer([features(nan)]))
    assert status == "StatusCode.INVALID_ARGUMENT" and message.startswith(
        "input features: house 1: RM:"
    )
    status, message = _refusal(lambda: client.infer("other", [features(x)], headers=AUTH))
    assert status == "StatusCode.NOT_FOUND" and "unknown model 'other'" in message
    status, message = _refusal(
        lambda: client.infer("houseprice", [features(x)], model_version="1", headers=AUTH)
    )
    assert status == "StatusCode.NOT_FOUND" and "has no version '1'" in message
    status, message = _refusal(infer([features(houses(2000))]))  # 208 KB, beyond 64KB
    assert status == "StatusCode.RESOURCE_EXHAUSTED", (status, message)


def test_the_token_is_required_but_for_health(client):
    x = houses(1)
    for headers in (None, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        status, message = _refusal(
            lambda h=headers: client.infer("houseprice", [features(x)], headers=h)
        )
        assert status == "StatusCode.UNAUTHENTICATED" and message == "missing or wrong bearer token"
        status, _ = _refusal(lambda h=headers: client.get_model_metadata("houseprice", headers=h))
        assert status == "StatusCode.UNAUTHENTICATED"
    assert client.is_server_live()


def test_calls_are_counted_in_the_metrics(client, grpc_server):
    client.infer("houseprice", [features(houses(1))], headers=AUTH)
    assert _counted(grpc_server, "OK")
    _refusal(lambda: client.infer("houseprice", [features(houses(1))]))  # no token
    assert _counted(grpc_server, "UNAUTHENTICATED")  # as HTTP counts its 401s


def _counted(server, status: str) -> bool:
    """Whether /metrics shows a ModelInfer call with ``status`` within 10 s (any worker's)."""
    line = f'houseprice_requests_total{{route="grpc ModelInfer",status="{status}"}}'
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if line in server.call("GET", "/metrics")[2].decode():
            return True
        time.sleep(0.1)
    return False


def test_a_reload_reaches_grpc_and_sigterm_stops_it(exported, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    with serving(model, "--grpc-port", "0", "--workers", "1") as server:
        client = tgrpc.InferenceServerClient(f"127.0.0.1:{grpc_port(server)}")
        x = houses(1)
        before = client.infer("houseprice", [features(x)]).as_numpy("price")[0]
        sum_model(model, 13, info().to_metadata())  # prices are the feature sums now
        server.process.send_signal(signal.SIGHUP)
        deadline, after = time.monotonic() + 10, before
        while after == before and time.monotonic() < deadline:
            time.sleep(0.05)
            after = client.infer("houseprice", [features(x)]).as_numpy("price")[0]
        assert after == pytest.approx(float(x.astype(np.float32).sum()), rel=1e-6)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == -signal.SIGTERM
    assert "Traceback" not in server.output()


def test_a_grpc_port_in_use_is_one_line_and_exit_5(exported):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run_cli("hp-serve", "--model", str(exported.onnx), "--grpc-port", port, timeout=60)
    assert_one_line_error(done, 5, f"cannot listen on 127.0.0.1:{port} for gRPC", "hp-serve")


def test_the_chosen_grpc_port_stays_ours_until_the_workers_bind_it():
    """Between the supervisor's choice of a free port and its workers' binds, another program
    cannot take it: the probe stays bound (SO_REUSEPORT, never listening), so only a socket of
    ours that also says SO_REUSEPORT, as grpcio's do, shares the port."""
    port = serve_cli._free_grpc_port("127.0.0.1", 0)
    try:
        with socket.socket() as other, pytest.raises(OSError) as refused:
            other.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
        with socket.socket() as worker:
            worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            worker.bind(("127.0.0.1", port))
            worker.listen()
    finally:
        while serve_cli._RESERVED:
            serve_cli._RESERVED.pop().close()


def test_a_call_under_way_at_sigterm_is_answered_whole(exported, tmp_path):
    """The graceful stop waits for gRPC calls in flight: a long one, sent just before SIGTERM,
    gets every price; then the server exits."""
    model = tmp_path / "model.onnx"
    shutil.copy(exported.onnx, model)
    x = houses(LONG_CALL_HOUSES).astype(np.float32)
    request = pb.ModelInferRequest(model_name="houseprice")
    request.inputs.add(name="features", datatype="FP32", shape=list(x.shape))
    request.raw_input_contents.append(x.tobytes())
    with serving(model, "--grpc-port", "0", "--workers", "1", "--max-body", "128MB") as server:
        channel = grpc.insecure_channel(
            f"127.0.0.1:{grpc_port(server)}",
            options=[("grpc.max_receive_message_length", 16 << 20)],  # 8 MB of prices
        )
        call = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer.future(request, timeout=60)
        time.sleep(0.2)  # sent and being priced
        assert not call.done(), "the call ended before the signal: give it more houses"
        server.process.send_signal(signal.SIGTERM)
        prices = np.frombuffer(call.result().raw_output_contents[0], "<f4")
        assert server.process.wait(30) == -signal.SIGTERM
    assert len(prices) == len(x) and np.isfinite(prices).all()
    assert "Traceback" not in server.output()

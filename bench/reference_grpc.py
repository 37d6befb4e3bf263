"""The gRPC reference for `hp-bench --serve`: grpcio's threaded server, as hp-serve runs it, with
one method, ModelInfer, that runs the session on the raw input tensor with no validation, no
metrics, no token. What hp-serve's gRPC adds over this is what the benchmark measures, and this
is the ceiling grpcio's Python server sets.

Run as: python -m houseprice.bench.reference_grpc MODEL PORT [WORKERS]
(several workers: one process each on the port, with SO_REUSEPORT as hp-serve's.)
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from houseprice.serve.grpc_setup import before_grpc_import

before_grpc_import()  # grpcio's settings as hp-serve's: read when grpc is first imported

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from tritonclient.grpc import service_pb2 as pb  # noqa: E402
from tritonclient.grpc import service_pb2_grpc as pb_grpc  # noqa: E402


class Reference(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, model: str):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def ModelInfer(self, request, context):
        shape = tuple(request.inputs[0].shape)
        x = np.frombuffer(request.raw_input_contents[0], "<f4").reshape(shape)
        price = self.session.run(["price"], {"features": x})[0]
        answer = pb.ModelInferResponse(model_name=request.model_name)
        answer.outputs.add(name="price", datatype="FP32", shape=[len(price)])
        answer.raw_output_contents.append(price.astype("<f4").tobytes())
        return answer


def serve_here(model: str, port: int) -> None:
    from houseprice.serve.grpc_server import THREADS

    server = grpc.server(ThreadPoolExecutor(THREADS), options=[("grpc.so_reuseport", 1)])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(Reference(model), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def serve(model: str, port: int, workers: int) -> None:
    from houseprice.serve.workers import Supervisor

    def run() -> None:  # grpc core must start after the fork, in the process that serves
        serve_here(model, port)

    if workers == 1:
        run()
    else:
        Supervisor(workers, run).run()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)

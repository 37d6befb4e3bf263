"""The reference for hp-serve's benchmark: the same framework and server, one endpoint that calls
`session.run` on the posted house with no validation, no metrics, no token. What hp-serve adds
over this is what the benchmark measures.

Run as: python -m houseprice.bench.reference_app MODEL PORT [WORKERS]
(several workers: forked by hp-serve's supervisor, on hp-serve's kind of listening socket.)
"""

from __future__ import annotations

import json
import sys

import numpy as np
import onnxruntime as ort
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(model: str) -> Starlette:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    async def predict(request: Request) -> Response:
        house = json.loads(await request.body())
        x = np.array([list(house.values())], dtype=np.float32)
        price = float(session.run(["price"], {"features": x})[0][0])
        return Response(f'{{"price": {price!r}}}\n', media_type="application/json")

    return Starlette(routes=[Route("/v1/predict", predict, methods=["POST"])])


def serve(model: str, port: int, workers: int) -> None:
    """On loopback, with hp-serve's listening socket and worker supervisor (uvicorn's own
    socket lacks TCP_NODELAY, which alone costs ~40 ms an answer), so that what differs is
    the app."""
    from houseprice.serve.cli import _bind
    from houseprice.serve.workers import Supervisor

    sock = _bind("127.0.0.1", port)

    def serve_here() -> None:  # the session is created in the process that uses it
        config = uvicorn.Config(
            create_app(model), log_level="warning", server_header=False, date_header=False
        )
        uvicorn.Server(config).run(sockets=[sock])

    if workers == 1:
        serve_here()
    else:
        Supervisor(workers, serve_here).run()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)

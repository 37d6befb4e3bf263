"""The reference for hp-serve's benchmark: the same framework and server, one endpoint that calls
`session.run` on the posted house with no validation, no metrics, no token. What hp-serve adds
over this is what the benchmark measures.

Run as: python -m houseprice.bench.reference_app MODEL PORT
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


if __name__ == "__main__":
    uvicorn.run(create_app(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning", server_header=False, date_header=False)  # fmt: skip

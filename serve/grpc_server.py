"""hp-serve's gRPC server (`--grpc-port`): grpcio's server in each worker process, started and
stopped with the HTTP app (Starlette's lifespan), so it shares the worker's model (and its
reloads), metrics and graceful stop. Every worker binds the port with SO_REUSEPORT; the kernel
spreads connections among them, as it does the HTTP socket's.

It is grpcio's threaded server, not grpc.aio: with one house a call, the threaded one answered
1.3-1.6x as many calls a second under the same load (docs/performance.md), grpc.aio's hand-over
from gRPC core to the event loop costing more than the handler. The calls run in ``THREADS``
threads beside the worker's event loop; the model, the metrics and the reloads are safe to
share across them (a reload swaps one reference; prometheus_client locks its values).

The limits gRPC core offers are set from the HTTP ones: a handshake deadline (the request
timeout), idle connections closed (the keep-alive timeout), a maximum connection age, a cap on a
worker's connections, and the message size cap (the body cap: RESOURCE_EXHAUSTED beyond it).
gRPC core has no per-address hook reachable from Python, so the per-client cap is enforced
beside it, from the worker's own descriptors (`serve/grpc_connections.py`)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import grpc
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from houseprice.serve.config import ServeConfig
from houseprice.serve.grpc_connections import ClientCap
from houseprice.serve.grpc_service import OPEN, GrpcInference

MAX_AGE_S = 600  # a connection is closed after ten minutes, its calls finishing first
AGE_GRACE_S = 30
STOP_GRACE_S = 30
# Calls a worker runs at once; more wait in gRPC core. Two answered the most one-house calls
# a second (measured 1, 2, 4, 8 and 16: more threads only contend for the GIL).
THREADS = 2


class TokenCheck(grpc.ServerInterceptor):
    """``authorization: Bearer TOKEN`` metadata on every call but the health checks, compared
    in constant time; UNAUTHENTICATED otherwise, counted in the metrics as HTTP's 401."""

    def __init__(self, token: str, service: GrpcInference):
        self._token = f"Bearer {token}".encode()
        self._service = service

    def intercept_service(self, continuation: Callable, details: Any) -> Any:
        method = details.method.rsplit("/", 1)[-1]
        given = dict(details.invocation_metadata or ()).get("authorization", "")
        given = given.encode() if isinstance(given, str) else given
        if method in OPEN or hmac.compare_digest(given, self._token):
            return continuation(details)
        return self._refusal(method)

    def _refusal(self, method: str) -> Any:
        code = grpc.StatusCode.UNAUTHENTICATED

        def refuse(request: Any, context: Any) -> None:
            self._service.count(method, code, 0.0)
            context.abort(code, "missing or wrong bearer token")

        return grpc.unary_unary_rpc_method_handler(refuse)


def options(config: ServeConfig) -> list[tuple[str, int]]:
    return [
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", config.max_body),
        ("grpc.server_handshake_timeout_ms", int(config.request_timeout * 1000)),
        ("grpc.max_connection_idle_ms", int(config.keep_alive * 1000)),
        ("grpc.max_connection_age_ms", MAX_AGE_S * 1000),
        ("grpc.max_connection_age_grace_ms", AGE_GRACE_S * 1000),
        ("grpc.max_allowed_incoming_connections", config.max_connections),
    ]


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def start(config: ServeConfig, service: GrpcInference) -> tuple[grpc.Server, int]:
    """The server started, and the port it bound (``--grpc-port 0`` picks one)."""
    interceptors = [TokenCheck(config.token, service)] if config.token else []
    calls = ThreadPoolExecutor(THREADS, thread_name_prefix="grpc")
    server = grpc.server(calls, options=options(config), interceptors=interceptors)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(service, server)
    where = address(config.host, config.grpc_port)
    if config.tls_cert:
        pair = [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())]
        bound = server.add_secure_port(where, grpc.ssl_server_credentials(pair))
    else:
        bound = server.add_insecure_port(where)
    if bound == 0:
        raise OSError(f"cannot listen on {where} for gRPC")
    server.start()
    return server, bound


def lifespan(config: ServeConfig, service: Callable[[], GrpcInference]) -> Callable:
    """Starlette's lifespan: the gRPC server up with the app, stopped after it (calls under way
    finish within the grace)."""

    @asynccontextmanager
    async def span(app: Any) -> AsyncIterator[None]:
        inference = service()
        server, port = start(config, inference)
        cap = _client_cap(config, port, inference)
        try:
            yield
        finally:
            if cap is not None:
                await cap.stop()
            # calls under way finish in grpcio's threads; the loop serves HTTP meanwhile
            await asyncio.to_thread(server.stop(STOP_GRACE_S).wait)

    return span


def _client_cap(config: ServeConfig, port: int, service: GrpcInference) -> ClientCap | None:
    if not config.max_connections_per_client:  # 0: no cap, behind a proxy
        return None
    closed = service.metrics.connections_closed.labels(reason="cap")
    cap = ClientCap(port, config.max_connections_per_client, closed.inc)
    cap.start()
    return cap

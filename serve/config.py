"""Every hp-serve setting in one typed object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from houseprice.core import defaults


@dataclass(frozen=True)
class ServeConfig:
    model: Path = defaults.MODEL
    host: str = "127.0.0.1"  # loopback unless told otherwise
    port: int = 8000
    model_name: str = "houseprice"  # the model's name in the Open Inference Protocol's /v2 routes
    token: str | None = None  # bearer token for every route but /healthz and /readyz
    max_body: int = 16 * 1024 * 1024  # bytes; larger bodies get 413 unread
    cors_origin: str | None = None  # no CORS headers at all unless given
    threads: int = 1  # onnxruntime intra-op threads of each worker's session
    workers: int = 1  # server processes sharing the listening socket
    access_log: bool = False  # one log line per request: off, it costs throughput
    # Bodies above this are priced in a worker thread, so one large request does not hold the
    # event loop (and every other client) for its whole parse.
    inline_bytes: int = 64 * 1024
    # Connection limits (serve/connections.py): a request's head and body must arrive within
    # request_timeout seconds of its first byte; a connection with no request in progress is
    # closed after keep_alive seconds; each worker keeps at most this many open connections per
    # client address, on HTTP and gRPC each (serve/grpc_connections.py); 0: no cap, for use
    # behind a reverse proxy.
    request_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections_per_client: int = 100
    # Open connections per worker; when all are taken, a new one evicts the connection that has
    # waited longest without a request head (serve/connections.py).
    max_connections: int = 1000
    # Proxy headers (X-Forwarded-For, -Proto) are believed only from these addresses (uvicorn's
    # forwarded_allow_ips): none by default, so no client can put another address in the log.
    forwarded_allow_ips: str | None = None
    grpc_port: int | None = None  # also the Open Inference Protocol over gRPC on this port
    tls_cert: Path | None = None  # PEM files: HTTPS (and gRPC over TLS) when given
    tls_key: Path | None = None

"""`hp-serve`: parse flags, load and prove the model, bind, serve. Needs the `serve` extra."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from houseprice.core import defaults
from houseprice.core.cli import (
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_SERVER,
    EXIT_USAGE,
    OneLineParser,
    cpu_count,
    fail,
    fail_with,
    require_extra,
    usage_fail,
    warn,
    worker_count,
)
from houseprice.serve import flags
from houseprice.serve.config import ServeConfig
from houseprice.serve.metrics_folder import new_metrics_folder

PROG = "hp-serve"
DESCRIPTION = "Serve house prices over HTTP from an exported model."
EPILOG = (
    "SIGHUP reloads the model; SIGINT/SIGTERM finish the requests in flight, then end "
    "the server by that signal (status 130/143). exit codes: 2 bad usage, "
    "3 model missing or not a houseprice export, 5 address cannot be bound, "
    "7 worker processes kept dying right after starting"
)


MAX_TOKEN_BYTES = 4096

# Every flag, with its argparse options; the defaults are ServeConfig's own.
FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--model", {"type": Path, "default": defaults.MODEL, "help": "exported model: .onnx, .ort, .npz or .tflite [%(default)s]"}),
    ("--name", {"type": flags.model_name, "default": ServeConfig.model_name, "help": "the model's name in the /v2 (Open Inference Protocol) routes [%(default)s]"}),
    ("--host", {"type": flags.host, "default": ServeConfig.host, "help": "address to bind [%(default)s: this machine only]"}),
    ("--port", {"type": flags.port, "default": ServeConfig.port, "help": "port; 0 picks a free one [%(default)s]"}),
    ("--grpc-port", {"type": flags.port, "help": "also serve the Open Inference Protocol over gRPC on this port; 0 picks a free one (the grpc extra) [off]"}),
    ("--workers", {"type": worker_count, "default": cpu_count(), "help": "server processes; each prices on one core [%(default)s: one per CPU]"}),
    ("--token-file", {"type": Path, "help": "file holding a bearer token required on every route but the health checks"}),
    ("--max-body", {"type": flags.size, "default": ServeConfig.max_body, "help": "largest request body, e.g. 16MB [16MB]"}),
    ("--access-log", {"action": "store_true", "help": "log one line per request (off by default: it costs throughput; /metrics counts requests)"}),
    ("--cors-origin", {"help": "allow this browser origin (no CORS headers without it)"}),
    ("--request-timeout", {"type": flags.seconds, "default": ServeConfig.request_timeout, "help": "seconds for a request's head and body to arrive, from its first byte [%(default)s]"}),
    ("--max-connections", {"type": flags.count, "default": ServeConfig.max_connections, "help": "open connections per worker; when full, a new one closes the one waiting longest without a request [%(default)s]"}),
    ("--forwarded-allow-ips", {"type": flags.addresses, "help": "believe X-Forwarded-For/-Proto from these proxy addresses (comma-separated, or *) [none]"}),
    ("--max-connections-per-client", {"type": flags.count, "default": ServeConfig.max_connections_per_client, "help": "open connections per client address and worker; 0: no cap, behind a proxy [%(default)s]"}),
    ("--tls-cert", {"type": Path, "help": "PEM certificate (chain): serve HTTPS"}),
    ("--tls-key", {"type": Path, "help": "PEM private key of --tls-cert"}),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    for flag, options in FLAGS:
        parser.add_argument(flag, **options)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    # Held until a handler is in place: SIGHUP's default action would end a server still starting
    # (e.g. a deploy's reload right after systemd started it); held, it reloads once serving.
    signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGHUP,))
    args = build_parser().parse_args(argv)
    if args.workers > 1:  # before prometheus_client is imported: it reads this at import
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = new_metrics_folder()
    try:
        stopped_by = _serve(args)
    finally:
        if args.workers > 1:
            shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)
    # Exit the way one uvicorn process does: by the signal that stopped it (status 128 + n).
    signal.signal(stopped_by, signal.SIG_DFL)
    signal.raise_signal(stopped_by)


def _serve(args: argparse.Namespace) -> int:
    """Serve until a stop signal, and return it. (One uvicorn process re-raises it itself.)"""
    require_extra(PROG, "serve", "starlette", "uvicorn", "httptools")
    from houseprice.core.errors import ModelError
    from houseprice.serve.connections import raise_open_files_limit
    from houseprice.serve.model import ModelHolder, load_model
    from houseprice.serve.tls import TlsError, check_pair, clear_text_warning, open_to_all_warning

    if (args.tls_cert is None) != (args.tls_key is None):
        usage_fail(PROG, "--tls-cert and --tls-key go together")
    if args.grpc_port is not None:
        from houseprice.serve.grpc_setup import before_grpc_import

        before_grpc_import()
        require_extra(PROG, "grpc", "grpc", "tritonclient.grpc")

    config = ServeConfig(
        model=args.model,
        model_name=args.name,
        host=args.host,
        port=args.port,
        token=_token(args.token_file),
        max_body=args.max_body,
        cors_origin=args.cors_origin,
        workers=args.workers,
        access_log=args.access_log,
        request_timeout=args.request_timeout,
        max_connections_per_client=args.max_connections_per_client,
        max_connections=args.max_connections,
        forwarded_allow_ips=args.forwarded_allow_ips,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        grpc_port=args.grpc_port,
    )
    try:
        notes = check_pair(config.tls_cert, config.tls_key) if config.tls_cert else []
    except TlsError as exc:
        fail(PROG, str(exc), EXIT_MODEL)
    notes.append(clear_text_warning(config.host, config.token, config.tls_cert is not None))
    notes.append(open_to_all_warning(config.host, config.token))
    for note in filter(None, notes):
        warn(PROG, note)
    try:
        holder = ModelHolder(load_model(config.model, config.threads), config.threads)
    except ModelError as exc:
        fail_with(PROG, exc)
    open_files = raise_open_files_limit()
    sock = _bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    grpc_line = ""
    if config.grpc_port is not None:
        config = replace(config, grpc_port=_free_grpc_port(config.host, config.grpc_port))
        grpc_line = f" and gRPC on {host}:{config.grpc_port}"
    sys.stderr.write(
        f"{PROG}: serving {config.model} on {'https' if config.tls_cert else 'http'}://{host}:{port}"
        f"{grpc_line} with {config.workers} worker process(es), open files limit {open_files}\n"
    )
    sys.stderr.flush()
    if config.workers == 1:
        _serve_here(holder, config, sock)
        return signal.SIGTERM  # uvicorn re-raised the signal that stopped it; not reached
    return _supervise(holder, config, sock)


def _serve_here(holder: Any, config: Any, sock: socket.socket, *, worker: bool = False) -> None:
    """Serve in this process until SIGINT/SIGTERM (uvicorn's graceful stop, then it re-raises)."""
    from houseprice.serve.app import create_app
    from houseprice.serve.workers import accept_reloads

    logging.basicConfig(format="%(levelname)s:     %(message)s", level=logging.INFO)
    # A worker's admin reload tells the supervisor, which passes SIGHUP to every worker.
    reloaded = (lambda: os.kill(os.getppid(), signal.SIGHUP)) if worker else (lambda: None)
    app = create_app(holder, config, multiprocess=worker, reloaded=reloaded)
    if not worker:
        # uvicorn re-raises the stop signal under the handler it found: the default one ends the
        # process by that signal; Python's own SIGINT handler would print a KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    # SIGHUP: reload the model file; a bad one leaves the current model serving (logged, counted).
    # In a thread: the handler interrupts the event loop (and maybe a reload in progress), and
    # must neither stall the loop for the load nor wait on a lock the interrupted code holds.
    signal.signal(
        signal.SIGHUP,
        lambda signum, frame: threading.Thread(
            target=app.state.reload, name="hp-serve-reload", daemon=True
        ).start(),
    )
    accept_reloads()
    _uvicorn(app, config).run(sockets=[sock])


def _supervise(holder: Any, config: Any, sock: socket.socket) -> int:
    from prometheus_client import multiprocess

    from houseprice.core.errors import ModelError
    from houseprice.serve.model import ModelHolder, ReloadInProgress, fresh_copy
    from houseprice.serve.workers import Supervisor, WorkersFailed

    def serve_worker() -> None:
        own = ModelHolder(fresh_copy(holder.current), config.threads)
        _serve_here(own, config, sock, worker=True)

    def reload_mine() -> None:
        # The supervisor keeps the newest good model too: a worker started later serves it.
        # (Runs in a signal handler: a SIGHUP during a reload skips it; workers read the file
        # themselves.)
        with contextlib.suppress(ModelError, ReloadInProgress):
            holder.reload(wait=False)

    supervisor = Supervisor(
        config.workers,
        serve_worker,
        on_reload=reload_mine,
        on_worker_exit=multiprocess.mark_process_dead,
    )
    try:
        return supervisor.run()
    except WorkersFailed as exc:
        fail(PROG, f"{exc}; see the log above", EXIT_SERVER)


def _uvicorn(app: Any, config: Any) -> Any:
    import uvicorn

    from houseprice.serve.connections import guarded_protocol
    from houseprice.serve.tls import server_context

    # TLS is started by the guarded protocol (uvicorn gets no ssl), so the limits hold from the
    # TCP accept on, through the handshake.
    tls = server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
    return uvicorn.Server(
        uvicorn.Config(
            app,
            http=guarded_protocol(config, app.metrics, tls),
            # uvloop delivers a connection's first bytes (the ClientHello) to the protocol even
            # when it pauses reading in connection_made, before start_tls can take them: TLS
            # runs on asyncio's own loop, which keeps a pause.
            loop="auto" if tls is None else "asyncio",
            log_level="info",
            access_log=config.access_log,
            timeout_keep_alive=config.keep_alive,
            timeout_graceful_shutdown=30,
            limit_concurrency=None,  # the guarded protocol's budget of connections rules
            proxy_headers=config.forwarded_allow_ips is not None,
            forwarded_allow_ips=config.forwarded_allow_ips or "",
            server_header=False,
            date_header=False,
        )
    )


def _token(path: Path | None) -> str | None:
    from houseprice.core.files import unreadable
    from houseprice.core.reading import read_regular

    if path is None:
        return None
    try:
        # a token is a line; /dev/zero or a FIFO would block or never end
        token = read_regular(path, MAX_TOKEN_BYTES).decode().strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = (
            unreadable(path, exc, missing="no such file", kind="a token file")
            if isinstance(exc, OSError)
            else f"{path}: not text"
        )
        fail(PROG, f"--token-file {why}", EXIT_USAGE)
    if not token or any(c.isspace() for c in token) or not token.isascii():
        fail(PROG, f"--token-file {path}: must hold one token (ASCII, no spaces)", EXIT_USAGE)
    return token


def _free_grpc_port(host: str, port: int) -> int:
    """The gRPC port, checked free (one line and exit 5 if not) and chosen here when 0, so every
    worker binds the same one (with SO_REUSEPORT, as grpcio does) and the start line can say it.
    The probe stays bound, never listening, for the server's life: between this check and the
    workers' binds no other program can take the port (only a socket of ours with SO_REUSEPORT
    can share it), and a bound socket that does not listen is handed no connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, port))
    except OSError as exc:
        probe.close()
        fail(PROG, f"cannot listen on {host}:{port} for gRPC: {exc.strerror or exc}", EXIT_OUTPUT)
    _RESERVED.append(probe)
    return probe.getsockname()[1]


_RESERVED: list[socket.socket] = []  # the gRPC port's probe, held until the process ends


def _bind(host: str, port: int) -> socket.socket:
    """Bind before serving, so an address in use is one line and exit 5, not a log record."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections of a socket that says
        # it is TCP. Without it every answer waited ~40 ms (Nagle + delayed ACK; measured).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        fail(PROG, f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_OUTPUT)
    sock.set_inheritable(True)
    return sock

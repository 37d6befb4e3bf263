"""`hp-serve`: parse flags, load and prove the model, bind, serve. Needs the `serve` extra."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from houseprice.runtime.cli_support import (
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_USAGE,
    OneLineParser,
    fail,
    missing_extra,
)

PROG = "hp-serve"
_SIZE = re.compile(r"^\s*(\d+)\s*(|B|KB|MB|GB|K|M|G)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1024,
    "M": 1024**2,
    "MB": 1024**2,
    "G": 1024**3,
    "GB": 1024**3,
}


def _size(text: str) -> int:
    match = _SIZE.match(text)
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 16MB")
    return int(match[1]) * _UNITS[match[2].upper()]


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Serve house prices over HTTP from an exported model.",
                     epilog="exit codes: 0 stopped by SIGINT/SIGTERM after finishing requests, 2 bad usage, "
                            "3 model missing or not a houseprice export, 5 address cannot be bound")  # fmt: skip
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("artifacts/model.onnx"),
        help="exported .onnx model [%(default)s]",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind [%(default)s: this machine only]"
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="port; 0 picks a free one [%(default)s]"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        help="file holding a bearer token required on every route but /healthz and /readyz",
    )
    parser.add_argument(
        "--max-body",
        type=_size,
        default=16 * 1024**2,
        help="largest request body, e.g. 16MB [16MB]",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request (off by default: it costs throughput; /metrics counts requests)",
    )
    parser.add_argument(
        "--cors-origin", help="allow this browser origin (no CORS headers without it)"
    )
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        missing_extra(PROG, exc.name or "uvicorn", "serve")
    from houseprice.runtime.errors import ModelError
    from houseprice.serve.app import create_app
    from houseprice.serve.config import ServeConfig
    from houseprice.serve.model import ModelHolder, load_model

    config = ServeConfig(model=args.model, host=args.host, port=args.port, token=_token(args.token_file),
                         max_body=args.max_body, cors_origin=args.cors_origin)  # fmt: skip
    try:
        holder = ModelHolder(load_model(config.model, config.threads), config.threads)
    except ModelError as exc:
        fail(PROG, str(exc), EXIT_MODEL)
    sock = _bind(config.host, config.port)
    app = create_app(holder, config)
    # SIGHUP: reload the model file; a bad one leaves the current model serving (logged, counted).
    signal.signal(signal.SIGHUP, lambda signum, frame: app.state.reload())
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="info",
            access_log=args.access_log,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=30,
            limit_concurrency=1000,
            h11_max_incomplete_event_size=16 * 1024,
            server_header=False,
            date_header=False,
        )
    )
    host, port = sock.getsockname()[:2]
    sys.stderr.write(f"{PROG}: serving {config.model} on http://{host}:{port}\n")
    sys.stderr.flush()
    server.run(sockets=[sock])


def _token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        fail(
            PROG,
            f"--token-file {path}: cannot read ({getattr(exc, 'strerror', None) or exc})",
            EXIT_USAGE,
        )
    if not token or any(c.isspace() for c in token) or not token.isascii():
        fail(PROG, f"--token-file {path}: must hold one token (ASCII, no spaces)", EXIT_USAGE)
    return token


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

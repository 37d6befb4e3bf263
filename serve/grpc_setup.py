"""grpcio's settings that it reads once, when grpc is first imported: `before_grpc_import` puts
them in place, so it must run before any `import grpc` of the process.

grpcio's EventEngine listener (its default) reads and writes each accepted connection in
EventEngine threads, which then wake the Python server's polling thread; with that experiment
off, gRPC core does the connection's I/O in the polling thread itself, one thread hand-over less
a call. One house a call, grpcio's own reference server answered 10-15% more calls a second so
(docs/performance.md). The name is grpcio's: a grpcio that no longer knows it logs "Unknown
experiment" when it starts, which tests/serve/test_grpc_setup.py looks for.
"""

from __future__ import annotations

import os
import sys

EXPERIMENTS = "-event_engine_listener"


def before_grpc_import() -> None:
    """Our experiments, unless the environment names its own (an operator's choice wins)."""
    if "grpc" in sys.modules:  # a fault of ours: the settings would silently do nothing
        raise RuntimeError("grpc was imported before its settings were in place")
    os.environ.setdefault("GRPC_EXPERIMENTS", EXPERIMENTS)

"""Connection limits uvicorn lacks, enforced where the bytes arrive (its HTTP protocol), since
ASGI middleware runs only once a request is whole:

- a request deadline: a request's head and body must arrive within ``request_timeout`` seconds
  of its first byte, however they trickle in (uvicorn's keep-alive timeout is reset by every
  byte); a slow response is not cut, since the deadline ends when the request is whole;
- idle connections: one that never sends a byte is closed after the keep-alive timeout, as uvicorn
  closes one idle between requests;
- a per-client cap: at most ``max_connections_per_client`` open connections per client address
  in this process; beyond it a new connection is closed at once, so one address cannot hold
  them all.

Each closure is counted in the server's metrics (``houseprice_connections_closed_total``)."""

from __future__ import annotations

import asyncio
import collections
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from houseprice.serve.config import ServeConfig


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one (the OS default of 1,024 would cap
    connections first): the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def guarded_protocol(config: ServeConfig, metrics: Any) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the limits above, for ``uvicorn.Config(http=...)``."""
    per_client, idle, deadline = (
        config.max_connections_per_client,
        config.keep_alive,
        config.request_timeout,
    )
    open_by_client: collections.Counter[str] = collections.Counter()
    closed = {
        reason: metrics.connections_closed.labels(reason=reason)
        for reason in ("deadline", "idle", "cap")
    }
    opened = metrics.connections_open

    class GuardedProtocol(HttpToolsProtocol):
        _host: str | None = None  # set once counted against its address
        _timer: asyncio.TimerHandle | None = None  # the idle timer, then the request deadline
        _receiving = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) else ""
            if per_client and open_by_client[host] >= per_client:
                closed["cap"].inc()
                transport.abort()  # never served: uvicorn's bookkeeping never sees it
                return
            open_by_client[host] += 1
            self._host = host
            opened.inc()
            super().connection_made(transport)
            self._timer = self.loop.call_later(idle, self._close, "idle")

        def connection_lost(self, exc: Exception | None) -> None:
            if self._host is None:
                return
            self._cancel()
            open_by_client[self._host] -= 1
            if not open_by_client[self._host]:
                del open_by_client[self._host]
            self._host = None
            opened.dec()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._receiving:  # a request's first byte: its deadline starts, once
                self._receiving = True
                self._cancel()
                self._timer = self.loop.call_later(deadline, self._close, "deadline")
            super().data_received(data)

        def on_message_complete(self) -> None:
            self._receiving = False
            self._cancel()  # the request is whole: its response takes what it takes
            super().on_message_complete()

        def timeout_keep_alive_handler(self) -> None:
            if not self.transport.is_closing():
                closed["idle"].inc()
            super().timeout_keep_alive_handler()

        def _close(self, reason: str) -> None:
            self._timer = None
            if not self.transport.is_closing():
                closed[reason].inc()
                self.transport.close()

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    return GuardedProtocol

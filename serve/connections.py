"""Connection limits uvicorn lacks, enforced where the bytes arrive (its HTTP protocol), since
ASGI middleware runs only once a request is whole. Counted from the TCP accept, so they hold
before and during a TLS handshake too (this protocol starts TLS itself, see `_handshake`):

- a request deadline: a request's head and body must arrive within ``request_timeout`` seconds
  of its first byte, however they trickle in (uvicorn's keep-alive timeout is reset by every
  byte); a slow response is not cut, since the deadline ends when the request is whole;
- idle connections: one that sends no request (not even a TLS handshake) is closed after the
  keep-alive timeout, as uvicorn closes one idle between requests;
- a per-client cap: at most ``max_connections_per_client`` open connections per client address
  in this process; beyond it a new connection is closed at once;
- a worker-wide budget of ``max_connections``: when it is full, a new connection closes the one
  that has waited longest without a complete request head (new, idle, mid-handshake or sending
  its head slowly), so connections from many addresses (127.0.0.2-12, a botnet) cannot lock
  clients out; connections with a request in progress are never evicted, and with only those
  open the new one is closed at once;
- the request head: at most ``MAX_HEAD_BYTES`` and ``MAX_HEADERS`` fields, answered 431
  otherwise (uvicorn's own 16 KB limit binds only its h11 parser, not httptools).

Each closure is counted in the server's metrics (``houseprice_connections_closed_total``)."""

from __future__ import annotations

import asyncio
import collections
import resource
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from houseprice.serve.config import ServeConfig
from houseprice.serve.one_send import OneSend

MAX_HEAD_BYTES = 16 * 1024  # uvicorn's h11 limit, nginx's large_client_header_buffers order
MAX_HEADERS = 100
REASONS = ("deadline", "idle", "cap", "evicted", "full", "head", "handshake")
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


class HeadTooLarge(Exception):
    """Raised inside httptools' callbacks to stop parsing a head beyond the limits."""


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one (the OS default of 1,024 would cap
    connections first): the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def guarded_protocol(
    config: ServeConfig, metrics: Any, tls: ssl.SSLContext | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with the limits above, for ``uvicorn.Config(http=...)``;
    with ``tls``, each connection's TLS handshake too (uvicorn is then given no ssl of its own)."""
    per_client, budget = config.max_connections_per_client, config.max_connections
    idle, deadline = config.keep_alive, config.request_timeout
    open_by_client: collections.Counter[str] = collections.Counter()
    every: set[Any] = set()
    waiting: dict[Any, None] = {}  # connections with no request head in progress, oldest first
    closed = {reason: metrics.connections_closed.labels(reason=reason) for reason in REASONS}
    opened = metrics.connections_open
    body = b'{"error": "request head beyond %d bytes or %d header fields"}' % (
        MAX_HEAD_BYTES,
        MAX_HEADERS,
    )
    head_too_large = _HEAD_TOO_LARGE % (len(body), body)

    class GuardedProtocol(HttpToolsProtocol):
        _host: str | None = None  # set while counted against its address
        _raw: asyncio.Transport | None = None  # the TCP transport: closing it ends everything
        _served = False  # uvicorn's connection_made has run
        _timer: asyncio.TimerHandle | None = None  # the idle timer, then the request deadline
        _early = b""  # request bytes that came before the handshake finished
        _receiving = False
        _in_head = False  # a request has begun and its head is not whole yet
        _head_raw = 0  # bytes received while in the head
        _head_size = 0  # the head as parsed: request target and fields
        _head_fields = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) else ""
            if per_client and open_by_client[host] >= per_client:
                return _refuse(transport, "cap")
            if len(every) >= budget and not _evict_one():
                return _refuse(transport, "full")
            open_by_client[host] += 1
            self._host, self._raw = host, transport
            every.add(self)
            waiting[self] = None
            opened.inc()
            self._timer = self.loop.call_later(idle, self._close, "idle")
            if tls is None:
                self._serve(transport)
            else:
                transport.pause_reading()  # the ClientHello is for the TLS layer, not the parser
                self.loop.create_task(self._handshake(transport))

        async def _handshake(self, raw: asyncio.Transport) -> None:
            try:
                # The idle timer closes a stalled handshake: asyncio's own handshake timeout
                # (60 s by default) is left as a backstop, so that the limit has one owner.
                secure = await self.loop.start_tls(raw, self, tls, server_side=True)
            except (OSError, ssl.SSLError, asyncio.TimeoutError, RuntimeError):
                if self._host is not None:  # not closed by a limit already: the handshake failed
                    closed["handshake"].inc()
                    raw.abort()
                    self._forget()
                return
            if self._host is None or secure is None:  # closed by a limit while it shook hands
                raw.abort()
                return
            self._serve(secure)

        def _serve(self, transport: asyncio.Transport) -> None:
            self._served = True
            super().connection_made(OneSend(transport, self.loop))
            early, self._early = self._early, b""
            if early:
                self.data_received(early)

        def connection_lost(self, exc: Exception | None) -> None:
            self._forget()
            if self._served:
                self._served = False
                super().connection_lost(exc)

        def _forget(self) -> None:
            """Stop counting this connection (once; from a limit or from connection_lost)."""
            if self._host is None:
                return
            self._cancel()
            open_by_client[self._host] -= 1
            if not open_by_client[self._host]:
                del open_by_client[self._host]
            self._host = None
            every.discard(self)
            waiting.pop(self, None)
            opened.dec()

        def data_received(self, data: bytes) -> None:
            if not self._served:
                # TLS 1.3 lets a client send its request with its last handshake message: the
                # TLS layer may pass it on before start_tls returns. Held until then (bounded).
                self._early += data
                if len(self._early) > MAX_HEAD_BYTES + (1 << 16):
                    self._close("head")
                return
            if not self._receiving:  # a request's first byte: its deadline starts, once
                self._receiving, self._in_head = True, True
                self._head_raw = self._head_size = self._head_fields = 0
                self._cancel()
                self._timer = self.loop.call_later(deadline, self._close, "deadline")
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                # Everything received so far is head: this bounds what httptools buffers for
                # one field before it calls on_header with it whole.
                self._head_raw += len(data)
                if self._head_raw > MAX_HEAD_BYTES:
                    self._refuse_head()

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_fields += 1
            self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
            super().on_header(name, value)

        def _count_head(self, size: int) -> None:
            """A head that arrived whole in one read is measured as httptools parses it."""
            self._head_size += size
            if self._head_over():
                raise HeadTooLarge  # httptools stops; uvicorn calls send_400_response

        def _head_over(self) -> bool:
            return self._head_size > MAX_HEAD_BYTES or self._head_fields > MAX_HEADERS

        def on_headers_complete(self) -> None:
            self._in_head = False
            waiting.pop(self, None)  # a request in progress is never evicted
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if self._head_over():
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def _refuse_head(self) -> None:
            self._in_head = False
            closed["head"].inc()
            self.transport.write(head_too_large)
            self.transport.close()

        def on_message_complete(self) -> None:
            self._receiving = False
            self._cancel()  # the request is whole: its response takes what it takes
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._host is not None and not self.transport.is_closing():
                waiting[self] = None  # idle between requests: evictable again, newest last

        def timeout_keep_alive_handler(self) -> None:
            if not self.transport.is_closing():
                closed["idle"].inc()
            super().timeout_keep_alive_handler()

        def _close(self, reason: str) -> None:
            self._timer = None
            if self._raw is not None and not self._raw.is_closing():
                closed[reason].inc()
                if self._served:
                    self.transport.close()
                else:
                    self._raw.abort()
                    self._forget()

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _refuse(transport: asyncio.Transport, reason: str) -> None:
        closed[reason].inc()
        transport.abort()  # never served: uvicorn's bookkeeping never sees it

    def _evict_one() -> bool:
        """Close the connection waiting longest without a request head; False if none waits."""
        if not waiting:
            return False
        victim = next(iter(waiting))
        closed["evicted"].inc()
        victim._raw.abort()
        victim._forget()  # counted out now: connection_lost follows in a later loop turn
        return True

    return GuardedProtocol

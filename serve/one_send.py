"""A transport for hp-serve's connections that sends a small answer's head and body together.

uvicorn writes a response's status line and headers, then its body, each at once: two sends,
two TCP segments (the socket has TCP_NODELAY) and two wake-ups of the client for one small
answer. This wrapper holds back one small write until the next write or the end of the event
loop's turn, so a head and a body written in the same turn leave as one send. Everything else
passes through in order, and the memory held stays one head's size: a write beyond
``HOLD_BYTES`` is never held, and one beyond ``JOIN_BYTES`` follows the held bytes as a write of
its own rather than being copied onto them. The real transport's flow control (pause_writing at
its high-water mark) is untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

HOLD_BYTES = 4096  # a response head, or a small answer
JOIN_BYTES = 64 * 1024  # copying more onto the held bytes would cost more than a second send


class OneSend:
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        held, self._held = self._held, None
        if held is not None and len(data) <= JOIN_BYTES:
            self._transport.write(held + bytes(data))
            return
        if held is not None:
            self._transport.write(held)
        if len(data) <= HOLD_BYTES and not self._transport.is_closing():
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)

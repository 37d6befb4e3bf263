"""The per-client connection cap for gRPC, which grpcio cannot give: it accepts connections in
gRPC core and offers Python no accept hook. So the worker looks at its own descriptors instead:
every ``PERIOD_S`` it lists its sockets (/proc/self/fd), asks each (through a duplicate) for its
local port and peer, counts the connections on the gRPC port per client address, and shuts
down the newest beyond ``max_connections_per_client``. gRPC core then sees the connection
end and closes its descriptor itself (this module never closes one it does not own).

The cap is the HTTP one's (`serve/connections.py`): per worker, the connections a client already
held are kept and its new ones closed, each closure counted in
``houseprice_connections_closed_total{reason="cap"}``. It binds within ``PERIOD_S`` of the
accept, not at it, and on Linux only (where /proc is); elsewhere it is off, as docs say."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PERIOD_S = 0.5
FD_FOLDER = "/proc/self/fd"


@dataclass(frozen=True)
class Connection:
    inode: int
    client: str  # the peer's address
    fd: int


def connections_on(port: int, known: dict[int, str | None] | None = None) -> list[Connection]:
    """This process's established TCP connections whose local port is ``port``. ``known``
    (socket inode -> peer, None for a socket that is no such connection) is filled in and kept
    to the sockets present, so each socket is asked once in its life: a socket on ``port`` is
    one accepted there, connected from its first look to its end."""
    known = {} if known is None else known
    found = []
    sockets = own_sockets()
    for inode, fd in sockets.items():
        if inode not in known:
            try:
                known[inode] = _client_of(fd, port)
            except OSError:  # closed since the listing, or no descriptor free: the next look
                continue
        client = known[inode]
        if client is not None:
            found.append(Connection(inode, client, fd))
    for gone in known.keys() - sockets.keys():
        del known[gone]
    return found


def _client_of(fd: int, port: int) -> str | None:
    """The peer's address if ``fd`` is a TCP connection on local ``port``; a duplicate of the
    descriptor is asked, so the original is never closed here; OSError if it cannot be made."""
    with socket.socket(fileno=os.dup(fd)) as twin:
        if twin.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        try:
            local, peer = twin.getsockname(), twin.getpeername()
        except OSError:  # the listening socket, or one not connected
            return None
        return str(peer[0]) if local[1] == port else None


def own_sockets() -> dict[int, int]:
    """Socket inode -> descriptor, for this process's sockets (fstat: ~100x cheaper than
    reading each /proc link)."""
    sockets: dict[int, int] = {}
    for name in os.listdir(FD_FOLDER):
        try:
            status = os.fstat(int(name))
        except OSError:  # closed since the listing (the listing's own descriptor too)
            continue
        if stat.S_ISSOCK(status.st_mode):
            sockets[status.st_ino] = int(name)
    return sockets


def beyond_cap(connections: list[Connection], seen: set[int], cap: int) -> list[Connection]:
    """Per client, the connections beyond ``cap`` newest first out: those seen by an earlier
    look are older than those not, and among new ones a higher descriptor is likely newer."""
    by_client: dict[str, list[Connection]] = {}
    for connection in connections:
        by_client.setdefault(connection.client, []).append(connection)
    over: list[Connection] = []
    for held in by_client.values():
        if len(held) > cap:
            held.sort(key=lambda c: (c.inode not in seen, c.fd))
            over.extend(held[cap:])
    return over


def shut_down(connection: Connection) -> bool:
    """End ``connection`` for both sides without closing its descriptor (gRPC core owns it and
    closes it when it sees the end); False if the descriptor no longer holds that socket."""
    try:
        twin_fd = os.dup(connection.fd)
    except OSError:  # closed since the look
        return False
    twin = socket.socket(fileno=twin_fd)
    try:
        if os.fstat(twin_fd).st_ino != connection.inode:  # the number reused since the look
            return False
        twin.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:  # already ended
        return False
    finally:
        twin.close()  # the duplicate only


class ClientCap:
    """Looks every ``PERIOD_S`` and shuts down connections beyond the cap; ``closed(n)`` counts."""

    def __init__(self, port: int, cap: int, closed: Callable[[int], None]):
        self.port, self.cap, self.closed = port, cap, closed
        self._seen: set[int] = set()  # connections an earlier look kept
        self._shut: set[int] = set()  # connections shut down, until they are gone
        self._known: dict[int, str | None] = {}  # every socket's peer, asked once
        self._task: asyncio.Task | None = None

    def look(self) -> int:
        """One look: the number of connections shut down."""
        present = connections_on(self.port, self._known)
        # A connection shut down by an earlier look may wait for gRPC core to close it: it is
        # neither counted against its client nor shut down (and counted) twice.
        connections = [c for c in present if c.inode not in self._shut]
        over = beyond_cap(connections, self._seen, self.cap)
        shut = {c.inode for c in over if shut_down(c)}
        self._seen = {c.inode for c in connections} - shut
        self._shut = (self._shut & {c.inode for c in present}) | shut
        if shut:
            self.closed(len(shut))
        return len(shut)

    def start(self) -> None:
        if Path(FD_FOLDER).is_dir():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PERIOD_S)
            # In a thread: with a thousand connections a look is milliseconds of system calls
            # (which release the GIL), and the event loop serves meanwhile.
            try:
                await asyncio.to_thread(self.look)
            except OSError:  # no descriptor free to list them (EMFILE): the next look
                continue
